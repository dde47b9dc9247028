"""A tiny dataset for the publication tests, imported through the real import path.

Five services: four in Bretagne (région 53: Finistère 29 and Ille-et-Vilaine 35) and one in
Corse-du-Sud (2A, région 94) so that scopes have something to leave out; two years x three
months; three dimensions only (`ensemble`, the partition `axe`, the multiple `problematique`)
so that protecting a year takes well under a second. Some service-years are small (DM-29,
DREAL-BRE), so there are primary secrets, and secondary ones to protect them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from analytics import store
from analytics.disclosure.protect import protect_cells
from analytics.disclosure.published_set import default_published_set
from analytics.ingest import IMPORTED, import_path
from analytics.nomenclature import TOTAL_CODE, default_nomenclature
from ingest_files import TODAY, csv_bytes, write

YEARS = (2024, 2025)
MONTHS = ("01", "02", "03")
# code, département, libellé, type, base number of situations per month
SERVICES = (
    ("DDTM-29", "29", "DDTM du Finistère", "ddtm", 9),
    ("DM-29", "29", "Direction de la mer du Finistère", "dm", 1),
    ("DDTM-35", "35", "DDTM d'Ille-et-Vilaine", "ddtm", 7),
    ("DREAL-BRE", "35", "DREAL Bretagne", "dreal", 2),
    ("DDT-2A", "2A", "DDT de Corse-du-Sud", "ddt", 6),
)
COLUMNS = ["periode", "departement", "service", "libelle_service", "type_service", "dimension", "modalite", "effectif"]
CELL_KEY = ["geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite"]


def months(year: int) -> list[str]:
    return [f"{year}-{m}" for m in MONTHS]


def frame(years: tuple[int, ...] = YEARS, bump: dict[int, int] | None = None) -> pl.DataFrame:
    """The import file's rows; `bump[year]` adds to every `ensemble` of that year (a corrected file)."""
    nomen = default_nomenclature()
    axe, prob = nomen.dimension("axe").codes, nomen.dimension("problematique").codes
    bump = bump or {}
    rows = []
    for year in years:
        for mi, periode in enumerate(months(year)):
            for code, dep, label, kind, base in SERVICES:
                ens = base + mi + (year - YEARS[0]) + bump.get(year, 0)
                a0 = ens // 2
                cells = [(TOTAL_CODE, TOTAL_CODE, ens), ("axe", axe[0], a0), ("axe", axe[1], ens - a0), ("axe", axe[2], 0),
                         ("problematique", prob[0], ens), ("problematique", prob[1], ens // 3),
                         ("problematique", prob[2], 1 if ens >= 2 else 0)]
                rows += [(periode, dep, code, label, kind, d, m, n) for d, m, n in cells]
    return pl.DataFrame(rows, schema={c: (pl.Int64 if c == "effectif" else pl.String) for c in COLUMNS}, orient="row")


def load(tmp_path: Path, engine: sa.Engine, data: pl.DataFrame, name: str = "agregats.csv", replace: bool = False) -> int:
    report = import_path(write(tmp_path, name, csv_bytes(data)), engine, default_nomenclature(), replace=replace,
                         author="test", today=TODAY)
    assert report.status == IMPORTED, report.message + "\n" + "\n".join(report.issue_lines())
    return report.batch_id


def expected_cube(data: pl.DataFrame, k: int = 5, published=None) -> pl.DataFrame:
    """The protected cube computed directly by analytics.disclosure, year by year (the reference)."""
    published = published or default_published_set()
    nomen = default_nomenclature()
    tables = []
    for year in sorted({p[:4] for p in data["periode"].to_list()}):
        rows = data.filter(pl.col("periode").str.starts_with(year))
        services = rows.select("service", "departement").unique()
        protected = protect_cells(rows.select("periode", "service", "dimension", "modalite", "effectif"), services, nomen, published, k)
        assert protected.protection.audit.ok
        tables.append(protected.table())
    return pl.concat(tables)


def stored_cells(engine: sa.Engine, number: int) -> pl.DataFrame:
    c = store.publication_cell
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c).where(c.c.publication_id == number)).mappings().all()
    schema = {"publication_id": pl.Int64, **{k: pl.String for k in CELL_KEY}, "valeur": pl.Int64, "secret": pl.Boolean}
    return pl.DataFrame([dict(r) for r in rows], schema=schema, orient="row")


def cell_set(cells: pl.DataFrame) -> set[tuple]:
    return set(cells.select(*CELL_KEY, "valeur", "secret").iter_rows())


def preset_sha256() -> str:
    return hashlib.sha256(default_nomenclature().path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- RPS indicators and headcounts

RPS_INDICATORS = ("visites_demande_medecin", "situations_souffrance_travail")  # the first is read per 100 agents
AGENTS = {"DDTM-29": 400, "DM-29": 60, "DDTM-35": 350, "DREAL-BRE": 250, "DDT-2A": 120}
HEADCOUNT_COLUMNS = ["annee", "departement", "service", "libelle_service", "type_service", "effectif_agents"]


def rps_frame(years: tuple[int, ...] = YEARS) -> pl.DataFrame:
    """RPS rows for the same services and months: large in the big services, small (secret) in DM-29 and DREAL-BRE."""
    rows = []
    for year in years:
        for mi, periode in enumerate(months(year)):
            for si, (code, dep, label, kind, base) in enumerate(SERVICES):
                visits = 1 if base < 5 else base // 2 + mi + (year - YEARS[0])
                suffering = 1 if base < 5 else base // 3 + (mi % 2)
                rows += [(periode, dep, code, label, kind, "rps", RPS_INDICATORS[0], visits),
                         (periode, dep, code, label, kind, "rps", RPS_INDICATORS[1], suffering)]
    return pl.DataFrame(rows, schema={c: (pl.Int64 if c == "effectif" else pl.String) for c in COLUMNS}, orient="row")


def headcounts(years: tuple[int, ...] = YEARS, *, missing: tuple[tuple[str, int], ...] = (), bump: int = 0) -> pl.DataFrame:
    """The headcount referential (agents per service and year); `missing` leaves out (service, year) pairs."""
    rows = [(year, dep, code, label, kind, AGENTS[code] + 10 * (year - YEARS[0]) + bump)
            for year in years for code, dep, label, kind, _ in SERVICES if (code, year) not in missing]
    return pl.DataFrame(rows, schema={c: (pl.Int64 if c in ("annee", "effectif_agents") else pl.String) for c in HEADCOUNT_COLUMNS},
                        orient="row")
