"""Load the fictitious demo dataset through the ordinary import path (same validation, same batches)."""

from __future__ import annotations

import io
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from analytics import store
from analytics.ingest import ImportReport, Progress, no_progress, import_bytes
from analytics.nomenclature import default_nomenclature

AGGREGATES_FILE = "vigie-demo-agregats.csv"
HEADCOUNTS_FILE = "vigie-demo-effectifs.csv"


def _csv_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_csv(buffer, separator=";")
    return buffer.getvalue()


def demo_files(years: int, seed: int, end: str | None) -> dict[str, bytes]:
    from analytics.demo import generate

    data = generate(years=years, seed=seed, end=end)
    return {AGGREGATES_FILE: _csv_bytes(data.aggregates), HEADCOUNTS_FILE: _csv_bytes(data.headcounts)}


def write_demo(folder: Path, years: int = 5, seed: int = 2026, end: str | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, content in demo_files(years, seed, end).items():
        (folder / name).write_bytes(content)
        paths.append(folder / name)
    return paths


def load_demo(years: int = 5, seed: int = 2026, end: str | None = None, author: str = "démonstration",
              replace: bool = False, progress: Progress = no_progress) -> list[ImportReport]:
    progress(0.0, f"Génération des données fictives ({years} ans)")
    files = demo_files(years, seed, end)
    engine, nomenclature = store.get_engine(), default_nomenclature()
    return [import_bytes(content, name, engine, nomenclature, replace=replace, author=author, source="demo", progress=progress)
            for name, content in files.items()]


def store_is_empty() -> bool:
    b = store.import_batch
    with store.get_engine().connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(b).where(b.c.kind == "agregats", b.c.status == "actif")).scalar_one() == 0


def ensure_demo_loaded(progress: Progress = no_progress) -> bool:
    """Load the 5-year demo when no aggregates are loaded (first start of `make run`)."""
    if not store_is_empty():
        return False
    reports = load_demo(progress=progress)
    failed = [r for r in reports if not r.ok]
    if failed:
        raise RuntimeError("Échec du chargement de la démonstration : " + "; ".join(failed[0].issue_lines(limit=5)))
    return True
