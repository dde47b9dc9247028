"""Figures of the spatial scan (analytics.veille.scan) for the bench: speed, calibration, power.

Synthetic but on the real geography: the 101 départements and their adjacency (data/), a fixed
monthly expected count per département (log-normal, median 60, i.e. from about 10 to 400), the
last 3 months scanned. Null datasets draw every count from its expectation (Poisson, or negative
binomial of dispersion phi); injected clusters multiply the expectation of a few adjacent
départements over their last months.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import polars as pl
from scipy import sparse, stats

from analytics import referentials
from analytics.veille import scan as sc

MONTHS = ("2024-10", "2024-11", "2024-12")
BASELINE_SEED = 20240
MEDIAN_EXPECTED, LOG_SD = 60.0, 0.8
# (label, zones, factor, number of last months)
INJECTED = (
    ("Bretagne 22-29-56 ×1,2 sur 2 mois", ("22", "29", "56"), 1.2, 2),
    ("Petite couronne 75-92-93-94 ×1,12 sur 3 mois", ("75", "92", "93", "94"), 1.12, 3),
    ("Puy-de-Dôme ×1,8 sur 1 mois", ("63",), 1.8, 1),
    ("Vallée du Rhône 69-38-26-07-84 ×1,15 sur 2 mois", ("69", "38", "26", "07", "84"), 1.15, 2),
)


def baseline(seed: int = BASELINE_SEED) -> dict[str, float]:
    """Département -> monthly expected count (fixed per seed)."""
    codes = referentials.departements()["code_departement"].to_list()
    rng = np.random.default_rng(seed)
    return dict(zip(codes, np.round(rng.lognormal(np.log(MEDIAN_EXPECTED), LOG_SD, len(codes)), 2).tolist()))


def dataset(rng: np.random.Generator, expected: dict[str, float], *, phi: float = 1.0,
            injected: tuple[str, ...] = (), factor: float = 1.0, months: int = 0) -> pl.DataFrame:
    """One frame zone, periode, observe, attendu: counts drawn around ``expected`` (times ``factor``
    for the ``injected`` zones over the last ``months`` months), ``attendu`` the unscaled expectation."""
    zones = list(expected)
    mu = np.array([[expected[z]] * len(MONTHS) for z in zones])
    truth = mu.copy()
    rows = [i for i, z in enumerate(zones) if z in set(injected)]
    if rows and months:
        truth[np.ix_(rows, range(len(MONTHS) - months, len(MONTHS)))] *= factor
    if phi > 1:
        truth = rng.gamma(truth / (phi - 1), phi - 1)
    counts = rng.poisson(truth).astype(float)
    return pl.DataFrame({"zone": np.repeat(zones, len(MONTHS)).tolist(), "periode": list(MONTHS) * len(zones),
                         "observe": counts.ravel(), "attendu": mu.ravel()})


def _connected(zones: tuple[str, ...], edges: set[tuple[str, str]]) -> bool:
    todo, seen = [zones[0]], {zones[0]}
    while todo:
        z = todo.pop()
        for other in zones:
            if other not in seen and (min(z, other), max(z, other)) in edges:
                seen.add(other)
                todo.append(other)
    return len(seen) == len(zones)


def calibration(datasets: int = 200, replicates: int = 99, seed: int = 1, *, phi: float = 1.0,
                assumed_phi: float | None = None, shape: str = "circulaire") -> dict:
    """p-values of the most likely cluster over null datasets (1 when nothing exceeds its expectation)."""
    rng = np.random.default_rng(seed)
    expected = baseline()
    p = np.ones(datasets)
    for d in range(datasets):
        clusters = sc.scan(dataset(rng, expected, phi=phi), replicates=replicates, seed=seed * 100_003 + d,
                           dispersion=assumed_phi, shape=shape, max_clusters=1)
        if clusters:
            p[d] = clusters[0].p_value
    return {"datasets": datasets, "replicates": replicates, "share_05": float((p <= 0.05).mean()),
            "share_20": float((p <= 0.2).mean()), "ks_p": float(stats.kstest(p, "uniform").pvalue),
            "p_values": p}


def power(zones: tuple[str, ...], factor: float, months: int, datasets: int = 50, replicates: int = 99,
          seed: int = 2, *, phi: float = 1.0, assumed_phi: float | None = None, shape: str = "circulaire",
          alpha: float = 0.05) -> dict:
    """Share of datasets whose most likely cluster has p <= alpha and shares a zone with the injected
    ones; mean recall (injected zones found) and precision (found zones injected) of those clusters."""
    rng = np.random.default_rng(seed)
    expected = baseline()
    edges = set(sc._edges(None))
    found, recall, precision, connected = 0, [], [], True
    for d in range(datasets):
        frame = dataset(rng, expected, phi=phi, injected=zones, factor=factor, months=months)
        clusters = sc.scan(frame, replicates=replicates, seed=seed * 100_003 + d, dispersion=assumed_phi,
                           shape=shape, max_clusters=3)
        connected &= all(_connected(c.zones, edges) for c in clusters)
        if clusters and clusters[0].p_value <= alpha and set(clusters[0].zones) & set(zones):
            found += 1
            hit = len(set(clusters[0].zones) & set(zones))
            recall.append(hit / len(zones))
            precision.append(hit / len(clusters[0].zones))
    return {"power": found / datasets, "recall": float(np.mean(recall)) if recall else 0.0,
            "precision": float(np.mean(precision)) if precision else 0.0, "connected": connected}


# --------------------------------------------------------------------------- the alternative


def agglomerative_statistic(frame: pl.DataFrame, n_clusters: int = 25, window: int = 2) -> float:
    """Best LLR (windows 1-3) among the groups of Ward clustering with the adjacency as connectivity,
    on the standardised residuals of the last ``window`` months; each connected component of the
    adjacency is clustered on its own (scikit-learn would otherwise join the islands)."""
    from sklearn.cluster import AgglomerativeClustering

    zones = sorted(set(frame["zone"].to_list()))
    index = {z: i for i, z in enumerate(zones)}
    grid = frame.pivot(on="periode", index="zone", values=["observe"], sort_columns=True).sort("zone")
    y = grid.drop("zone").to_numpy()
    mu = frame.pivot(on="periode", index="zone", values=["attendu"], sort_columns=True).sort("zone").drop("zone").to_numpy()
    pairs = np.array([(index[a], index[b]) for a, b in sc._edges(None) if a in index and b in index])
    n = len(zones)
    graph = sparse.coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    graph = (graph + graph.T).tocsr()
    count, component = sparse.csgraph.connected_components(graph, directed=False)
    residual = (y[:, -window:].sum(1) - mu[:, -window:].sum(1)) / np.sqrt(mu[:, -window:].sum(1))
    labels = np.empty(n, dtype=np.int64)
    next_label = 0
    for c in range(count):
        members = np.nonzero(component == c)[0]
        k = max(1, round(n_clusters * members.size / n))
        if members.size <= k or members.size == 1:
            labels[members] = next_label + np.arange(members.size)
            next_label += members.size
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = AgglomerativeClustering(n_clusters=k, connectivity=graph[members][:, members], linkage="ward")
            labels[members] = next_label + model.fit_predict(residual[members, None])
        next_label += k
    best = 0.0
    for L in sc.WINDOWS:
        C = np.bincount(labels, y[:, -L:].sum(1))
        B = np.bincount(labels, mu[:, -L:].sum(1))
        best = max(best, float(sc.expectation_llr(C, B).max()))
    return best


def agglomerative_p_value(frame: pl.DataFrame, replicates: int, rng: np.random.Generator) -> float:
    observed = agglomerative_statistic(frame)
    mu = frame["attendu"].to_numpy()
    maxima = np.array([agglomerative_statistic(frame.with_columns(pl.Series("observe", rng.poisson(mu).astype(float))))
                       for _ in range(replicates)])
    return (1 + int((maxima >= observed * (1 - 1e-12)).sum())) / (1 + replicates)


def compare_agglomerative(datasets: int = 20, replicates: int = 49, seed: int = 3) -> dict:
    """Power (p <= 0.05) of the scan and of the agglomerative alternative on the same datasets, and
    the null share of p <= 0.2; and the seconds per dataset of each."""
    rng = np.random.default_rng(seed)
    expected = baseline()
    out = {}
    for label, zones, factor, months in (("nul", (), 1.0, 0), *INJECTED):
        p_scan, p_agglo, t_scan, t_agglo = [], [], 0.0, 0.0
        for d in range(datasets):
            frame = dataset(rng, expected, injected=zones, factor=factor, months=months)
            started = time.perf_counter()
            clusters = sc.scan(frame, replicates=replicates, seed=seed * 100_003 + d, max_clusters=1)
            t_scan += time.perf_counter() - started
            p_scan.append(clusters[0].p_value if clusters else 1.0)
            started = time.perf_counter()
            p_agglo.append(agglomerative_p_value(frame, replicates, rng))
            t_agglo += time.perf_counter() - started
        threshold = 0.2 if label == "nul" else 0.05
        out[label] = {"scan": float(np.mean(np.array(p_scan) <= threshold)),
                      "agglomerative": float(np.mean(np.array(p_agglo) <= threshold)),
                      "scan_seconds": t_scan / datasets, "agglomerative_seconds": t_agglo / datasets}
    return out


# --------------------------------------------------------------------------- bench entry point


def measure_scan(replicates: int = sc.REPLICATES, seed: int = 2024, *, calibration_datasets: int = 200,
                 power_datasets: int = 40, mc_replicates: int = 99) -> dict:
    """Speed of one scan with ``replicates`` Monte Carlo replicates (both candidate shapes), size of
    the candidate sets, calibration (Poisson; negative binomial phi = 2 with and without the
    dispersion given to the scan) and power on the ``INJECTED`` clusters (``mc_replicates`` each)."""
    expected = baseline()
    rng = np.random.default_rng(seed)
    frame = dataset(rng, expected, injected=INJECTED[0][1], factor=INJECTED[0][2], months=INJECTED[0][3])
    out: dict = {"zones": len(expected), "windows": len(sc.WINDOWS), "replicates": replicates}
    for shape in sc.SHAPES:
        sc.scan(frame, replicates=1, shape=shape)  # geography and candidate structure cached
        started = time.perf_counter()
        clusters = sc.scan(frame, replicates=replicates, seed=seed, shape=shape)
        out[f"seconds_{shape}"] = time.perf_counter() - started
        out[f"candidates_{shape}"] = len(sc.candidate_clusters(expected, shape=shape, weights=expected))
        out[f"top_{shape}"] = ",".join(clusters[0].zones) if clusters else ""
    started = time.perf_counter()
    out["calibration_poisson"] = {k: v for k, v in calibration(calibration_datasets, mc_replicates, seed).items()
                                  if k != "p_values"}
    out["calibration_nb2"] = {k: v for k, v in calibration(calibration_datasets, mc_replicates, seed + 1, phi=2.0,
                                                           assumed_phi=2.0).items() if k != "p_values"}
    out["calibration_nb2_poisson_null"] = {k: v for k, v in calibration(calibration_datasets // 4, mc_replicates,
                                                                        seed + 2, phi=2.0).items() if k != "p_values"}
    out["power"] = {}
    for label, zones, factor, months in INJECTED:
        out["power"][label] = {shape: power(zones, factor, months, power_datasets, mc_replicates, seed + 3,
                                            shape=shape) for shape in sc.SHAPES}
    out["power_nb2"] = {label: power(zones, factor, months, power_datasets, mc_replicates, seed + 4, phi=2.0,
                                     assumed_phi=2.0) for label, zones, factor, months in INJECTED}
    out["evaluation_seconds"] = time.perf_counter() - started
    return out
