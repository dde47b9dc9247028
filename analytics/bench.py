"""`python -m analytics bench`: the figures that say whether Vigie is fast enough on this machine.

Each measure runs the real code path in a fresh subprocess (its own store, its own memory),
so that the figures are end to end and the peak memory is the import's own.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import polars as pl

from analytics.formatting import fr_float, fr_int


@dataclass
class Measure:
    key: str
    label: str
    value: float
    unit: str
    goal: str = ""
    ok: bool | None = None


def bench_file(rows: int, folder: Path) -> tuple[Path, int]:
    """A valid import file of about `rows` rows, cut at whole months so every rule still holds."""
    from analytics.demo import generate

    per_year = generate(years=1, seed=7, end="2026-10", include_zeros=True).aggregates.height
    years = max(1, -(-rows // per_year))
    frame = generate(years=years, seed=7, end="2026-10", include_zeros=True).aggregates
    per_month = frame.group_by("periode").len().sort("periode").with_columns(pl.col("len").cum_sum().alias("cum"))
    keep = per_month.filter(pl.col("cum").shift(1, fill_value=0) < rows)["periode"]
    frame = frame.filter(pl.col("periode").is_in(keep.implode()))
    path = folder / f"bench-{frame.height}.csv"
    frame.write_csv(path, separator=";")
    return path, frame.height


def measure_import(path: Path, rows: int) -> list[Measure]:
    with tempfile.TemporaryDirectory(prefix="vigie-bench-store-") as store_dir:
        env = {**os.environ, "VIGIE_DATA_DIR": store_dir}
        env.pop("VIGIE_DATABASE_URL", None)
        subprocess.run([sys.executable, "-c", "from analytics.store import get_engine; get_engine()"], env=env, check=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "analytics", "import", str(path)], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
        if done.returncode != 0:
            raise RuntimeError(f"l'import mesuré a échoué : {done.stderr[-2000:]}")
    return [
        Measure("import_rows", "Import CSV vers SQLite : lignes", rows, "lignes"),
        Measure("import_seconds", "Import CSV vers SQLite : durée de bout en bout", seconds, "s",
                "< 20 s pour 1 million de lignes", seconds < 20 * rows / 1_000_000),
        Measure("import_rows_per_s", "Import CSV vers SQLite : débit", rows / seconds, "lignes/s", "> 50 000 lignes/s", rows / seconds > 50_000),
        Measure("import_peak_mb", "Import CSV vers SQLite : mémoire maximale (RSS)", peak_mb, "Mo"),
    ]


def _fmt(m: Measure) -> str:
    if m.unit in ("lignes", "lignes/s"):
        return f"{fr_int(m.value)} {m.unit}"
    return f"{fr_float(m.value, 1)} {m.unit}"


def run_bench(as_json: bool = False, rows: int = 1_000_000) -> int:
    print(f"Génération d'un fichier d'environ {fr_int(rows)} lignes…", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="vigie-bench-") as folder:
        path, actual = bench_file(rows, Path(folder))
        print(f"Import mesuré ({fr_int(actual)} lignes, {fr_float(path.stat().st_size / 1e6, 1)} Mo)…", file=sys.stderr)
        measures = measure_import(path, actual)
    if as_json:
        print(json.dumps([asdict(m) for m in measures], ensure_ascii=False, indent=2))
        return 0
    width = max(len(m.label) for m in measures)
    print(f"{'Mesure':<{width}}  {'Valeur':>18}  Objectif")
    for m in measures:
        verdict = "" if m.ok is None else (" ✓" if m.ok else " ✗")
        print(f"{m.label:<{width}}  {_fmt(m):>18}  {m.goal}{verdict}")
    return 0
