"""Figures of the watch's cluster scans for the bench (``python -m analytics bench --parts veille``): false clusters
on demos without any rise, planted rises found.

What is measured is what the watch runs (``analytics.veille.watch.watched_clusters`` then ``raise_clusters``): the
département scan and the services scan of every indicator of the national demo (``analytics.demo``), each family
under its own Benjamini-Hochberg. Calibration: demos without any planted rise (``rises=False``), several seeds and
end months; every cluster raised there is false. Power: the demo with its planted rises (seed 2026), at several end
months; a rise is found when a cluster is raised for one of its indicators in one of its départements.
"""

from __future__ import annotations

import time

import polars as pl

from analytics import demo
from analytics.veille.watch import DIMENSIONS, FDR_Q, SCAN_DEPARTEMENTS, SCAN_SERVICES, raise_clusters, watched_clusters

NULL_SEEDS = (2026, 7, 11, 3)
NULL_ENDS = ("2025-12", "2026-04", "2026-10", "2026-11")
PLANTED_SEED = 2026
PLANTED_ENDS = ("2025-12", "2026-10", "2026-11")
REPLICATES = 199  # the watch uses 999; 199 keep the bench within minutes (Gumbel p-values either way)
YEARS = 5


def demo_rows(seed: int, end: str, rises: bool) -> tuple[pl.DataFrame, tuple]:
    """The watched rows of the 5-year national demo (with each service's type, the services scan's layer)."""
    data = demo.generate(years=YEARS, seed=seed, end=end, rises=rises)
    fine = data.aggregates.filter(pl.col("dimension").is_in(list(DIMENSIONS))).select(
        "periode", "service", pl.col("departement").cast(pl.String), "dimension", "modalite", "effectif", "type_service")
    return fine, data.rises


def raised(seed: int, end: str, rises: bool, replicates: int = REPLICATES, q: float = FDR_Q):
    """(clusters raised, planted rises, scans, seconds of the scans) of one demo."""
    fine, planted = demo_rows(seed, end, rises)
    started = time.perf_counter()
    found = watched_clusters(fine, replicates=replicates)
    seconds = time.perf_counter() - started
    return raise_clusters(found, q), planted, len(found), seconds


def rises_found(clusters: pl.DataFrame, planted) -> dict[str, tuple[str, float] | None]:
    """Rise key -> (methode, p-value) of the best cluster raised on it, or None."""
    out: dict[str, tuple[str, float] | None] = {}
    for rise in planted:
        indicators = {m for _, m in rise.indicators}
        hits = [(r["p_value"], r["methode"]) for r in clusters.iter_rows(named=True)
                if r["modalite"] in indicators and set(r["zones"].split(",")) & set(rise.departements)]
        out[rise.key] = (min(hits)[1], min(hits)[0]) if hits else None
    return out


def measure_clusters(null_seeds=NULL_SEEDS, null_ends=NULL_ENDS, planted_ends=PLANTED_ENDS,
                     replicates: int = REPLICATES, q: float = FDR_Q) -> dict:
    """False clusters per null demo month (each family and together) and the planted rises found at each end."""
    months = false_months = 0
    false = {SCAN_DEPARTEMENTS: 0, SCAN_SERVICES: 0}
    seconds = []
    for seed in null_seeds:
        for end in null_ends:
            clusters, _, _, secs = raised(seed, end, False, replicates, q)
            seconds.append(secs)
            months += 1
            false_months += clusters.height > 0
            for methode in false:
                false[methode] += clusters.filter(pl.col("methode") == methode).height
    found = {}
    for end in planted_ends:
        clusters, planted, _, secs = raised(PLANTED_SEED, end, True, replicates, q)
        seconds.append(secs)
        found[end] = rises_found(clusters, planted)
    return {"null_months": months, "false_months": false_months, "false_clusters": false,
            "found": found, "replicates": replicates, "seconds": seconds}
