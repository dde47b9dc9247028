"""Real import files for the ingest tests: a small valid dataset and its writers (CSV, XLSX, Parquet).

Everything here produces bytes exactly as a person's tool would write them; tests write those
bytes to `tmp_path` and import the file from disk. No mocks.

The dataset: two services (DDTM-29 in the Finistère, DDT-2A in Corse-du-Sud), three months,
every partition dimension of the preset adding up to `ensemble`, three problématiques (one equal
to `ensemble`, the others below) and two RPS indicators (one of them zero).
"""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from analytics import store
from analytics.nomenclature import TOTAL_CODE, Nomenclature, default_nomenclature

TODAY = date(2025, 6, 15)  # pinned "today" for every import: 2025-06 is the current month
MONTHS = ("2025-01", "2025-02", "2025-03")
# code, département, libellé (accented: encodings matter), type
SERVICES = (
    ("DDTM-29", "29", "DDTM du Finistère", "ddtm"),
    ("DDT-2A", "2A", "DDT de Corse-du-Sud — Ajaccio", "ddt"),
)
AGG_COLUMNS = ["periode", "departement", "service", "libelle_service", "type_service", "dimension", "modalite", "effectif"]
HEAD_COLUMNS = ["annee", "departement", "service", "libelle_service", "type_service", "effectif_agents"]
REQUIRED = ["periode", "departement", "service", "dimension", "modalite", "effectif"]


def nomenclature() -> Nomenclature:
    return default_nomenclature()


def ensemble_value(service_index: int, month_index: int) -> int:
    return 10 + 3 * service_index + month_index


def cell_counts(nomen: Nomenclature, ens: int, rps_seed: int = 0) -> list[tuple[str, str, int]]:
    """(dimension, modalite, effectif) of one coherent service-month whose ensemble is `ens`."""
    cells = [(TOTAL_CODE, TOTAL_CODE, ens)]
    for dim in nomen.by_relation("partition"):
        a = ens // 2
        b = ens - a - 1
        cells += [(dim.code, dim.codes[0], a), (dim.code, dim.codes[1], b), (dim.code, dim.codes[2], 1)]
    for dim in nomen.by_relation("multiple"):
        cells += [(dim.code, dim.codes[0], ens), (dim.code, dim.codes[1], ens // 2), (dim.code, dim.codes[2], 1)]
    for dim in nomen.by_relation("independent"):
        cells += [(dim.code, dim.codes[0], rps_seed), (dim.code, dim.codes[1], 7)]
    return cells


def aggregates_frame(
    months: tuple[str, ...] | list[str] = MONTHS,
    services: tuple[tuple[str, str, str, str], ...] = SERVICES,
    *,
    bump: int = 0,
    nomen: Nomenclature | None = None,
) -> pl.DataFrame:
    """The valid dataset; `bump` shifts every ensemble (a "corrected" version of the same months)."""
    nomen = nomen or nomenclature()
    rows = []
    for si, (code, dep, label, kind) in enumerate(services):
        for mi, month in enumerate(months):
            ens = ensemble_value(si, MONTHS.index(month) if month in MONTHS else mi) + bump
            for dim, mod, n in cell_counts(nomen, ens, rps_seed=si + mi):
                rows.append((month, dep, code, label, kind, dim, mod, n))
    return pl.DataFrame(rows, schema={c: (pl.Int64 if c == "effectif" else pl.String) for c in AGG_COLUMNS}, orient="row")


def headcount_frame(years: tuple[int, ...] = (2024, 2025), *, bump: int = 0) -> pl.DataFrame:
    rows = []
    for si, (code, dep, label, kind) in enumerate(SERVICES):
        for yi, year in enumerate(years):
            rows.append((year, dep, code, label, kind, 320 - 200 * si + 5 * yi + bump))
    return pl.DataFrame(
        rows,
        schema={"annee": pl.Int64, "departement": pl.String, "service": pl.String, "libelle_service": pl.String,
                "type_service": pl.String, "effectif_agents": pl.Int64},
        orient="row",
    )


# --------------------------------------------------------------------------- writers


def csv_bytes(frame: pl.DataFrame, *, sep: str = ";", encoding: str = "utf-8", bom: bool = False, crlf: bool = False) -> bytes:
    text = frame.write_csv(separator=sep, line_terminator="\r\n" if crlf else "\n")
    data = text.encode(encoding)
    return (b"\xef\xbb\xbf" + data) if bom else data


def xlsx_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_excel(buffer)
    return buffer.getvalue()


def parquet_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


# Every accepted container/encoding of the same content: file name -> bytes.
def every_format(frame: pl.DataFrame) -> dict[str, bytes]:
    return {
        "agregats_pv_utf8.csv": csv_bytes(frame, sep=";"),
        "agregats_virgule_bom.csv": csv_bytes(frame, sep=",", bom=True),
        "agregats_pv_bom_crlf.csv": csv_bytes(frame, sep=";", bom=True, crlf=True),
        "agregats_windows1252.csv": csv_bytes(frame, sep=";", encoding="cp1252", crlf=True),
        "agregats_windows1252_virgule.txt": csv_bytes(frame, sep=",", encoding="cp1252"),
        "agregats.xlsx": xlsx_bytes(frame),
        "agregats.parquet": parquet_bytes(frame),
        # Parquet written by a tool that stores counts as floats (3.0 is a whole number).
        "agregats_float.parquet": parquet_bytes(frame.with_columns(pl.col("effectif").cast(pl.Float64))),
    }


# --------------------------------------------------------------------------- hand-written CSV text


def service_month_lines(
    service: str = "DDTM-29", dep: str = "29", month: str = "2025-01", ens: int = 10, nomen: Nomenclature | None = None,
) -> list[list[str]]:
    """One coherent service-month as CSV records (columns REQUIRED), counts as text."""
    nomen = nomen or nomenclature()
    return [[month, dep, service, d, m, str(n)] for d, m, n in cell_counts(nomen, ens)]


def csv_text(records: list[list[str]], header: list[str] | None = None, sep: str = ";") -> str:
    """Records joined as-is (no quoting): line k of the file is records[k - 2]."""
    header = REQUIRED if header is None else header
    return "\n".join(sep.join(r) for r in [header, *records]) + "\n"


# --------------------------------------------------------------------------- store snapshots


TABLES = ("import_batch", "service", "aggregate", "aggregate_replaced", "headcount", "headcount_replaced")


def table_rows(engine: sa.Engine, name: str) -> list[tuple]:
    table = store.metadata.tables[name]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table)).all()
    return sorted((tuple(r) for r in rows), key=repr)


def snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    return {name: table_rows(engine, name) for name in TABLES}


def aggregate_rows(engine: sa.Engine, with_batch: bool = False) -> set[tuple]:
    a = store.aggregate
    cols = [a.c.periode, a.c.service, a.c.dimension, a.c.modalite, a.c.effectif] + ([a.c.batch_id] if with_batch else [])
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(sa.select(*cols)).all()}


def expected_rows(frame: pl.DataFrame) -> set[tuple]:
    return set(frame.select("periode", "service", "dimension", "modalite", "effectif").iter_rows())


def headcount_rows(engine: sa.Engine, with_batch: bool = False) -> set[tuple]:
    h = store.headcount
    cols = [h.c.service, h.c.annee, h.c.effectif_agents] + ([h.c.batch_id] if with_batch else [])
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(sa.select(*cols)).all()}


def service_rows(engine: sa.Engine) -> set[tuple]:
    s = store.service
    with engine.connect() as conn:
        return {tuple(r) for r in conn.execute(sa.select(s.c.code, s.c.departement, s.c.libelle, s.c.type_service)).all()}
