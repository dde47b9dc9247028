"""Spatial veille: clusters of neighbouring départements (or of their services) rising together over the last months.

Prospective space-time scan (Kulldorff 2001 for the prospective space-time form; expectation-based
statistic as Neill et al. 2005, "Detecting significant multidimensional spatial clusters"), on the
monthly counts of one indicator, each zone's expectation conditioned on each month's total
(``scan_counts`` on départements, ``scan_units`` on services; both used by the watch).

Candidate clusters (space)
    Connected sets of adjacent zones, connected by construction. From each zone (the centre), the
    set is grown one zone at a time by adding, among the zones adjacent to the current set, the one
    whose centroid is nearest the centre's (Kulldorff's circles made to follow borders; the hop
    count replaces the centroid distance when some zone has no shape in data/geo). ``circulaire``
    (default): every prefix of this growth, up to ``max_zones`` zones (8) and ``max_share`` of the
    total expected count (50 %, Kulldorff's default; a single zone is always a candidate).
    ``flexible`` (Tango & Takahashi 2005): every connected subset, containing the centre, of its
    first ``max_zones`` grown zones -- irregular shapes (a valley, a coast) at the price of ~9 times
    more candidates. Overseas départements have no neighbours: they only form singletons.
Time windows
    Prospective: windows ending at the last month of the data, of 1, 2 or 3 months (1 to 4 for the services).
Statistic
    Expectation-based Poisson log-likelihood ratio, for C observed and B expected in the cluster
    over the window: LLR = C log(C / B) - (C - B) if C > B, else 0 (only rises are sought), divided by
    phi_S, the expected-weighted mean over the cluster of the count's variance-to-mean ratio
    (``count_dispersion``), so that erratic counts do not dominate through their noise alone.
Null model and p-values
    R replicates (999) of every count, drawn from the null (see "Conditional scan" below). For each
    replicate the maximum LLR over all candidates x windows is kept; a cluster's p-value is
    (1 + #{replicate maxima >= its LLR}) / (1 + R), or the tail of a Gumbel law fitted to the maxima --
    the same maximum distribution for the most likely cluster and for the secondary ones
    (non-overlapping in space with every better cluster, Kulldorff's default), which makes the
    secondary p-values conservative. ``min_expected`` (the watch uses 1 case over the window) leaves
    out the candidates expecting fewer cases: otherwise the null maxima are dominated by the zones
    expecting a few hundredths of a case (2 cases where 0.04 are expected give LLR 6.7), which costs
    power on real clusters. The computation is vectorised: candidate sums are a sparse
    (candidates x zones) product.

Conditional scan on counts (``scan_counts``, what the watch uses)
    The first scan took its expectations from elsewhere (the départements' Farrington baselines) and its null
    treated them as exact (Poisson or negative binomial draws around them, a dispersion from the Pearson
    residuals of the months before). On the national demo without any planted rise those baselines made a
    poor input: below one
    case a month the fits overestimate by 15 to 50 % and some run away (1e13 on a sparse reference whose
    few cases close it), the seasonal misfit of their two harmonics (August trough, September peak) is
    shared by every département and adds up over a cluster, and the null ignored their estimation error:
    5 false clusters in one month, 0.36 % of p <= 0.001 over 84 null months. ``scan_counts`` takes the
    counts instead and conditions on each month's total over every zone (as Kulldorff's space-time
    permutation scan): zone z expects (T_z + prior) / sum (T + prior) x O_m in a scanned month m, T_z
    its count over the ``reference`` (24) months before the scanned ones, O_m the month's total. Every
    effect shared by the zones (season, national trend, a national fluctuation) cancels out; a rise of
    the whole nation is the national series' business (temporal watch), and a cluster's own excess
    raises O_m by its share only (a few percent for a région). Variance of a count:
    ``count_dispersion`` (a mu + b mu², moments on the reference table: the demo's counts are
    Poisson below 4 expected cases and up to 6.5 times the mean around 40 for the indicators drawn per
    agent). The Monte Carlo replicates draw the reference totals and the scanned months from that law
    and recompute their own shares and totals before the statistic: the p-values carry the error of the
    expectations. Measured over 11 null national demos x 12 months x 66 indicators (8 712 scans, 499
    replicates): 4.8 % of p <= 0.05, 0.93 % of p <= 0.01, 0.09 % of p <= 0.001; Benjamini-Hochberg at
    0.05 across the indicators of a month retained 11 clusters, in 6 of the 132 months (4.5 %, the q
    that the complete null allows). With the Farrington baselines (7 of those demos, 99 replicates):
    0.36 % of p <= 0.001 and 23 clusters in 13 of 84 months (15 %).
Measured before (the expectation-based scan on given baselines, retired: its synthetic bench and its tests went with it)
    One scan with 999 replicates: 0.05 s with the 689 circular candidates, 0.25 to 0.3 s with the 6 189
    flexible ones (x 3 windows); the circular candidates did as well as or better than the flexible ones on
    three of four injected clusters (and found them more precisely), the flexible ones only gained on an
    elongated 5-département chain (0.88 vs 0.83), hence the circular default. The calibration and power of the
    scans the watch runs are measured on the national demo by ``analytics.veille.scan_bench`` (bench, part veille).

Scan on services (``scan_units``; the watch scans its layer candidates, ``layers_only``)
    The units are services, each attached to its département; the expectations are conditioned on the
    monthly totals as in ``scan_counts``. Candidates: for each circular candidate of départements, all its
    services (the département cluster), the services of each ``layers`` label among them (the watch's layer:
    the services déconcentrés, types of a départemental or régional level in the nomenclature, apart from the
    national networks sharing their départements), and every service alone; with ``layers_only``, the layer
    candidates only (665 nationally instead of 1 218). Windows 1 to 4 months. On the 5-year national demo (seed
    2026, 999 replicates, all 66 indicators) ending 2025-12 it finds the planted Lorraine rise
    (reorganisation_changement, DDT-57 + DREAL-57 over 4 months, 25 for 5.8 expected, p 7.6e-5 with every
    candidate, 6.6e-5 with the layer alone; with windows of 1 to 3 months p 0.015; the département scan does not
    see it); ending 2026-10 it only points at it (p 0.01 to 0.02, the five services of the rise with a few
    neighbours). With every candidate the null maxima grow, and the Finistère rise lost power when this scan
    replaced the département one (situations_souffrance_travail at 2025-12: p 0.011 against 0.00056): the watch
    therefore keeps ``scan_counts`` for the départements and adds this scan on the layer alone, as its own
    false-alarm family (``analytics.veille.watch`` notes, "Clusters", for its calibration on null demos).

Why not scikit-learn's AgglomerativeClustering with a connectivity matrix
    It partitions *every* zone into contiguous groups from a feature (the zones' ratios or
    standardised residuals): the number of groups or a distance threshold must be chosen, it has no
    notion of "no cluster", it groups zones by similar features rather than by the evidence of
    their pooled counts (on ratios, 3 for 1 expected weighs like 300 for 100), it joins
    the islands of the adjacency (Corsica, overseas) unless each component is clustered apart, and
    it gives no p-value -- a Monte Carlo over the whole clustering is needed for one.
    Measured with that wrapper (then in the scan's bench, now retired: Ward on the standardised
    residuals of the last 2 months, 25 groups, the best group by the same LLR over windows 1-3,
    p-value against the same maximum over null replicates re-clustered; 30 datasets, 49
    replicates), its power was lower on every injected cluster -- 0.47 / 0.53 / 0.23 / 0.53 against
    0.63 / 0.63 / 0.50 / 0.67 for the scan, without even requiring its group to touch the injected
    zones -- and it was 30 to 50 times slower (0.3 s against 0.01 s per dataset). The scan gives
    calibrated p-values directly and is kept.

Input errors raise ``ValueError`` with a French message (user-facing).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl
from scipy import sparse

from analytics import referentials
from analytics.veille.detect import month_index, month_label

WINDOWS = (1, 2, 3)
UNIT_WINDOWS = (1, 2, 3, 4)  # scan_units: a rise over a season (4 months) is not cut to its last 3
MAX_ZONES = 8
MAX_SHARE = 0.5
REPLICATES = 999
P_METHODS = ("monte_carlo", "gumbel")
MAX_DISPERSION = 10.0  # bound of the Poisson term of the count dispersion (a variance 10 times the mean)
MAX_QUADRATIC = 1.0  # bound of the quadratic term of the count dispersion (variance mu + mu² at most)
REFERENCE_MONTHS = 24  # months before the scanned ones that give each zone its share (scan_counts)
SHARE_PRIOR = 0.5  # cases added to each zone's reference total: a zone without any case keeps a small share
MAX_CLUSTERS = 10
SHAPES = ("circulaire", "flexible")
REQUIRED = ("zone", "periode", "observe")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
BATCH_CELLS = 300_000  # candidates x windows x replicates per Monte Carlo batch: cache-sized (measured best)
PROJECTION_LATITUDE = 46.5  # degrees: longitudes are shrunk by cos(latitude) before distances


@dataclass(frozen=True)
class Cluster:
    zones: tuple[str, ...]
    debut: str  # first month of the window (YYYY-MM)
    fin: str  # last month of the window (= the last month of the data)
    observe: float
    attendu: float
    ratio: float
    llr: float
    p_value: float


@dataclass(frozen=True)
class _Candidates:
    zones: tuple[str, ...]
    members: tuple[tuple[int, ...], ...]  # indices into zones
    matrix: sparse.csr_matrix  # (candidates, zones) of 0/1


# --------------------------------------------------------------------------- geography


def _candidates_of(zones, members: tuple[tuple[int, ...], ...]) -> "_Candidates":
    """Candidate clusters as a 0/1 matrix (candidates x zones)."""
    rows = np.repeat(np.arange(len(members)), [len(m) for m in members])
    cols = np.fromiter((i for m in members for i in m), dtype=np.int64, count=rows.size)
    matrix = sparse.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(len(members), len(zones)))
    return _Candidates(zones, members, matrix)


@lru_cache(maxsize=1)
def centroids() -> dict[str, tuple[float, float]]:
    """Département code -> (x, y) centroid of its shape (longitude x cos(46.5°), latitude)."""
    shrink = math.cos(math.radians(PROJECTION_LATITUDE))
    out = {}
    for feature in referentials.geojson("departement")["features"]:
        geometry = feature["geometry"]
        polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
        area = cx = cy = 0.0
        for polygon in polygons:
            ring = np.asarray(polygon[0], dtype=float)
            x, y = ring[:, 0] * shrink, ring[:, 1]
            cross = x[:-1] * y[1:] - x[1:] * y[:-1]
            a = cross.sum() / 2.0
            if abs(a) < 1e-12:
                continue
            area += a
            cx += ((x[:-1] + x[1:]) * cross).sum() / 6.0
            cy += ((y[:-1] + y[1:]) * cross).sum() / 6.0
        if abs(area) > 1e-12:
            out[str(feature["properties"]["code"])] = (cx / area, cy / area)
    return out


def _edges(adjacency: pl.DataFrame | None) -> tuple[tuple[str, str], ...]:
    adjacency = referentials.adjacency() if adjacency is None else adjacency
    missing = [c for c in ("departement_a", "departement_b") if c not in adjacency.columns]
    if missing:
        raise ValueError(f"table d'adjacence : colonne(s) manquante(s) : {', '.join(missing)} "
                         "(colonnes attendues : departement_a, departement_b)")
    a = adjacency["departement_a"].cast(pl.Utf8).to_list()
    b = adjacency["departement_b"].cast(pl.Utf8).to_list()
    pairs = set()
    for x, y in zip(a, b):
        if x is None or y is None:
            raise ValueError("table d'adjacence : code de département vide")
        x, y = referentials.normalise_departement(x), referentials.normalise_departement(y)
        if x != y:
            pairs.add((min(x, y), max(x, y)))
    return tuple(sorted(pairs))


def _known_zones(edges: tuple[tuple[str, str], ...]) -> set[str]:
    known = set(referentials.departements()["code_departement"].to_list())
    for x, y in edges:
        known.update((x, y))
    return known


# --------------------------------------------------------------------------- candidate clusters


def _distances(zones: tuple[str, ...], neighbours: list[set[int]]) -> np.ndarray:
    """Centroid distances when every zone has a shape, otherwise hop counts in the adjacency graph."""
    shapes = centroids()
    if all(z in shapes for z in zones):
        xy = np.array([shapes[z] for z in zones])
        return np.sqrt(((xy[:, None, :] - xy[None, :, :]) ** 2).sum(axis=2))
    n = len(zones)
    hops = np.full((n, n), np.inf)
    for start in range(n):
        hops[start, start] = 0
        frontier, depth = [start], 0
        while frontier:
            depth += 1
            nxt = []
            for i in frontier:
                for j in neighbours[i]:
                    if hops[start, j] == np.inf:
                        hops[start, j] = depth
                        nxt.append(j)
            frontier = nxt
    return hops


def _growth(centre: int, neighbours: list[set[int]], dist: np.ndarray, limit: int) -> list[int]:
    """Zones added from ``centre``: each time the zone nearest the centre among those adjacent to the set."""
    order, inside = [centre], {centre}
    frontier = set(neighbours[centre])
    while len(order) < limit and frontier:
        nxt = min(frontier, key=lambda j: (dist[centre, j], j))
        order.append(nxt)
        inside.add(nxt)
        frontier |= neighbours[nxt]
        frontier -= inside
    return order


def _connected_subsets(order: list[int], neighbours: list[set[int]]) -> list[tuple[int, ...]]:
    """Connected subsets of ``order`` containing order[0] (bit masks over the local positions)."""
    n = len(order)
    local = [sum(1 << k for k in range(n) if order[k] in neighbours[order[i]]) for i in range(n)]
    out = []
    for mask in range(1 << (n - 1)):
        full = 1 | (mask << 1)
        reach, previous = 1, 0
        while reach != previous:
            previous = reach
            grow = reach
            bits = reach
            while bits:
                low = bits & -bits
                grow |= local[low.bit_length() - 1]
                bits ^= low
            reach = grow & full
        if reach == full:
            out.append(tuple(order[k] for k in range(n) if full >> k & 1))
    return out


@lru_cache(maxsize=32)
def _structure(zones: tuple[str, ...], edges: tuple[tuple[str, str], ...], max_zones: int, shape: str) -> _Candidates:
    index = {z: i for i, z in enumerate(zones)}
    neighbours: list[set[int]] = [set() for _ in zones]
    for x, y in edges:
        if x in index and y in index:
            neighbours[index[x]].add(index[y])
            neighbours[index[y]].add(index[x])
    dist = _distances(zones, neighbours)
    seen: dict[tuple[int, ...], None] = {}
    for centre in range(len(zones)):
        order = _growth(centre, neighbours, dist, max_zones)
        if shape == "circulaire":
            sets = [order[:k] for k in range(1, len(order) + 1)]
        else:
            sets = _connected_subsets(order, neighbours)
        for s in sets:
            seen.setdefault(tuple(sorted(s)), None)
    return _candidates_of(zones, tuple(seen))


def _check_shape(shape: str, max_zones: int, max_share: float) -> None:
    if shape not in SHAPES:
        raise ValueError(f"forme de cluster inconnue : « {shape} » (valeurs possibles : {', '.join(SHAPES)})")
    if not isinstance(max_zones, int | np.integer) or max_zones < 1:
        raise ValueError(f"nombre maximal de zones par cluster invalide : {max_zones} (entier ≥ 1 attendu)")
    if not 0 < max_share <= 1:
        raise ValueError(f"part maximale de l'attendu invalide : {max_share} (entre 0 exclu et 1 attendu)")


def _filtered(structure: _Candidates, weights: np.ndarray | None, max_share: float) -> _Candidates:
    """Keep singletons and the candidates holding at most ``max_share`` of the total weight."""
    if weights is None or max_share >= 1:
        return structure
    total = float(weights.sum())
    # No weight at all (no case in the reference months): no share to compare, singletons only.
    share = structure.matrix @ weights / total if total > 0 else np.full(len(structure.members), np.inf)
    sizes = np.diff(structure.matrix.indptr)
    keep = np.nonzero((sizes == 1) | (share <= max_share + 1e-12))[0]
    if keep.size == len(structure.members):
        return structure
    return _Candidates(structure.zones, tuple(structure.members[k] for k in keep), structure.matrix[keep])


def candidate_clusters(zones: Iterable[str], adjacency: pl.DataFrame | None = None, *, max_zones: int = MAX_ZONES,
                       shape: str = "circulaire", weights: Mapping[str, float] | None = None,
                       max_share: float = MAX_SHARE) -> list[tuple[str, ...]]:
    """The candidate clusters over ``zones`` (each a sorted tuple of codes, all connected).

    ``weights`` (zone -> expected count) enables the ``max_share`` limit; without it only
    ``max_zones`` bounds the candidates.
    """
    _check_shape(shape, max_zones, max_share)
    edges = _edges(adjacency)
    codes = tuple(sorted({referentials.normalise_departement(str(z)) for z in zones}))
    unknown = sorted(set(codes) - _known_zones(edges))
    if unknown:
        raise ValueError(f"zone(s) inconnue(s) : {', '.join(unknown)} (ni département du référentiel ni zone de "
                         "la table d'adjacence)")
    structure = _structure(codes, edges, int(max_zones), shape)
    w = None if weights is None else np.array([float(weights.get(z, 0.0)) for z in codes])
    structure = _filtered(structure, w, max_share)
    return [tuple(codes[i] for i in m) for m in structure.members]


# --------------------------------------------------------------------------- statistic


def expectation_llr(observed, expected, dispersion=1.0) -> np.ndarray:
    """Expectation-based Poisson LLR: C log(C/B) - (C - B) when C > B, else 0; divided by the dispersion."""
    C = np.asarray(observed, dtype=float)
    B = np.asarray(expected, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = C * np.log(C / B) - (C - B)
        return np.where(C > B, value / np.asarray(dispersion, dtype=float), 0.0)


def _window_sums(values: np.ndarray, windows: tuple[int, ...]) -> np.ndarray:
    """(..., months) -> (..., windows): sums over the last L months, months ordered oldest first."""
    tail = np.cumsum(values[..., ::-1], axis=-1)
    return tail[..., [L - 1 for L in windows]]


# --------------------------------------------------------------------------- input


def _month_index(label: str) -> int:
    return int(label[:4]) * 12 + int(label[5:7]) - 1


def _check_month(label: str) -> str:
    if not isinstance(label, str) or not PERIOD.match(label.strip()):
        raise ValueError(f"mois invalide : « {label} » (format AAAA-MM attendu)")
    return label.strip()


def _clean(frame: pl.DataFrame, edges: tuple[tuple[str, str], ...]) -> pl.DataFrame:
    """zone (normalised), periode, observe of one indicator, checked (French messages)."""
    missing = [c for c in REQUIRED if c not in frame.columns]
    if missing:
        raise ValueError(f"colonne(s) manquante(s) : {', '.join(missing)} (colonnes attendues : {', '.join(REQUIRED)})")
    if frame.height == 0:
        raise ValueError("aucune ligne de données")
    for c in REQUIRED:
        nulls = frame[c].null_count()
        if nulls:
            raise ValueError(f"colonne « {c} » : {nulls} valeur(s) vide(s)")
    try:
        data = frame.select(
            pl.col("zone").cast(pl.Utf8).map_elements(referentials.normalise_departement, return_dtype=pl.Utf8),
            pl.col("periode").cast(pl.Utf8).str.strip_chars(),
            pl.col("observe").cast(pl.Float64),
        )
    except (pl.exceptions.InvalidOperationError, pl.exceptions.ComputeError):
        raise ValueError("colonne « observe » : valeurs numériques attendues") from None
    bad_period = data.filter(~pl.col("periode").str.contains(PERIOD.pattern))
    if bad_period.height:
        raise ValueError(f"colonne « periode » : « {bad_period['periode'][0]} » n'est pas un mois AAAA-MM")
    unknown = sorted(set(data["zone"].unique().to_list()) - _known_zones(edges))
    if unknown:
        shown = ", ".join(unknown[:10]) + (" …" if len(unknown) > 10 else "")
        raise ValueError(f"zone(s) inconnue(s) : {shown} (ni département du référentiel ni zone de la table "
                         "d'adjacence)")
    wrong = data.filter(~((pl.col("observe") >= 0) & pl.col("observe").is_finite()))
    if wrong.height:
        row = wrong.row(0, named=True)
        raise ValueError(f"colonne « observe » : {row['observe']} pour la zone {row['zone']} et le mois "
                         f"{row['periode']} : la valeur doit être un effectif positif ou nul "
                         f"({wrong.height} ligne(s) concernée(s))")
    duplicated = data.filter(pl.struct("zone", "periode").is_duplicated())
    if duplicated.height:
        row = duplicated.row(0, named=True)
        raise ValueError(f"plusieurs lignes pour la zone {row['zone']} et le mois {row['periode']} "
                         "(une seule ligne par zone et par mois, pour un seul indicateur)")
    return data


def _check_windows(windows: Sequence[int]) -> tuple[int, ...]:
    try:
        out = tuple(sorted({int(L) for L in windows}))
    except (TypeError, ValueError):
        raise ValueError(f"fenêtres temporelles invalides : {windows!r} (durées en mois, entiers ≥ 1)") from None
    if not out or out[0] < 1 or any(float(L) != int(L) for L in windows):
        raise ValueError(f"fenêtres temporelles invalides : {windows!r} (durées en mois, entiers ≥ 1)")
    return out


# --------------------------------------------------------------------------- scan


@dataclass
class _Problem:
    zones: tuple[str, ...]
    months: list[str]  # the last max(windows) months, oldest first
    windows: tuple[int, ...]
    observed: np.ndarray  # (Z, M), 0 where no row
    expected: np.ndarray  # (Z, M), 0 where no row
    phi: np.ndarray  # (Z, M)
    candidates: _Candidates
    # the conditional null: reference totals of the zones, their dispersion, the prior of the shares
    reference: np.ndarray  # (Z,)
    reference_phi: np.ndarray  # (Z,)
    prior: float


def _cluster_dispersion(problem: _Problem, A: sparse.csr_matrix, B: np.ndarray) -> np.ndarray:
    """(K, W) expected-weighted mean dispersion of each candidate over each window (1 when B = 0)."""
    weighted = A @ _window_sums(problem.phi * problem.expected, problem.windows)
    return np.divide(weighted, B, out=np.ones_like(B), where=B > 0)


def _draw(rng: np.random.Generator, mu: np.ndarray, phi: np.ndarray, n: int) -> np.ndarray:
    """(n, Z, M) counts: Poisson(mu), or gamma-Poisson (mean mu, variance phi mu) where phi > 1."""
    over = (phi > 1.0 + 1e-12) & (mu > 0)
    lam = np.broadcast_to(mu, (n, *mu.shape)).copy()
    if over.any():
        scale = phi[over] - 1.0
        lam[:, over] = rng.gamma(mu[over] / scale, scale, size=(n, int(over.sum())))
    return rng.poisson(lam).astype(float)


def gumbel_p_value(value: float, maxima: np.ndarray) -> float:
    """P(max >= value) under a Gumbel law fitted by moments to the replicate maxima (Abrams et al. 2010)."""
    sd = float(np.std(maxima, ddof=1)) if maxima.size > 1 else 0.0
    if sd <= 0:
        return 1.0 if value <= float(maxima.max(initial=0.0)) else 1.0 / (1 + maxima.size)
    scale = sd * math.sqrt(6.0) / math.pi
    location = float(np.mean(maxima)) - 0.5772156649015329 * scale
    return float(-math.expm1(-math.exp(-(value - location) / scale)))


def _maxima(problem: _Problem, replicates: int, seed, min_expected: float = 0.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    A = problem.candidates.matrix
    K, W, Z = A.shape[0], len(problem.windows), len(problem.zones)
    B = A @ _window_sums(problem.expected, problem.windows)  # (K, W)
    inv_phi = (1.0 / _cluster_dispersion(problem, A, B))[:, :, None]
    batch = max(1, min(replicates, BATCH_CELLS // max(1, K * W)))
    maxima = np.empty(replicates)
    for start in range(0, replicates, batch):
        n = min(batch, replicates - start)
        y = _draw(rng, problem.expected, problem.phi, n)  # (n, Z, M)
        sums = _window_sums(y, problem.windows)  # (n, Z, W)
        C = (A @ sums.transpose(1, 2, 0).reshape(Z, W * n)).reshape(K, W, n)
        # the replicate's own expectations: its shares re-estimated, its monthly totals
        totals = _draw(rng, problem.reference[:, None], problem.reference_phi[:, None], n)[:, :, 0] + problem.prior
        shares = totals / totals.sum(axis=1, keepdims=True)  # (n, Z)
        expected = shares[:, :, None] * y.sum(axis=1, keepdims=True)  # (n, Z, M)
        B3 = (A @ _window_sums(expected, problem.windows).transpose(1, 2, 0).reshape(Z, W * n)).reshape(K, W, n)
        eligible = (B3 >= min_expected) & (B3 > 0)  # B = 0 (no case in the window): C = 0 too, LLR 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = C / B3
            llr = C * np.log(ratio) - (C - B3)
        llr = np.where((ratio > 1.0) & eligible, llr, 0.0) * inv_phi
        maxima[start:start + n] = llr.max(axis=(0, 1))
    return maxima


def _check_options(replicates, p_method: str) -> None:
    if p_method not in P_METHODS:
        raise ValueError(f"méthode de p-valeur inconnue : « {p_method} » (valeurs possibles : {', '.join(P_METHODS)})")
    if not isinstance(replicates, int | np.integer) or replicates < 1:
        raise ValueError(f"nombre de réplications Monte-Carlo invalide : {replicates} (entier ≥ 1 attendu)")


def _scan_problem(problem: _Problem, replicates: int, seed, max_clusters: int, max_p: float, min_expected: float,
                  p_method: str) -> list[Cluster]:
    A = problem.candidates.matrix
    C = A @ _window_sums(problem.observed, problem.windows)
    B = A @ _window_sums(problem.expected, problem.windows)
    llr = expectation_llr(C, B, _cluster_dispersion(problem, A, B))  # (K, W)
    llr = np.where(B >= min_expected, llr, 0.0)
    flat = llr.ravel()
    order = np.argsort(-flat, kind="stable")
    order = order[flat[order] > 0]
    if order.size == 0:
        return []
    maxima = np.sort(_maxima(problem, int(replicates), seed, min_expected))
    W = len(problem.windows)
    used: set[int] = set()
    clusters: list[Cluster] = []
    for k in order:
        if len(clusters) >= max_clusters:
            break
        cand, w = divmod(int(k), W)
        members = problem.candidates.members[cand]
        if used.intersection(members):
            continue
        used.update(members)
        value = float(flat[k])
        exceed = maxima.size - np.searchsorted(maxima, value * (1 - 1e-12), side="left")
        p_value = (1 + int(exceed)) / (1 + maxima.size)
        if p_method == "gumbel":
            p_value = gumbel_p_value(value, maxima)
        if p_value > max_p:
            break  # the next clusters have smaller LLRs, hence p-values at least as large
        length = problem.windows[w]
        clusters.append(Cluster(
            zones=tuple(problem.zones[i] for i in members), debut=problem.months[-length], fin=problem.months[-1],
            observe=float(C[cand, w]), attendu=float(B[cand, w]), ratio=float(C[cand, w] / B[cand, w]),
            llr=value, p_value=p_value))
    return clusters


# --------------------------------------------------------------------------- conditional scan on counts


@dataclass(frozen=True)
class CountDispersion:
    """Variance of a zone-month count around its conditional expectation mu: ``poisson`` x mu + ``quadratic`` x mu²."""
    poisson: float = 1.0
    quadratic: float = 0.0

    def phi(self, mu: np.ndarray) -> np.ndarray:
        return self.poisson + self.quadratic * np.asarray(mu, dtype=float)


def count_dispersion(reference: np.ndarray, max_poisson: float = MAX_DISPERSION,
                     max_quadratic: float = MAX_QUADRATIC) -> CountDispersion:
    """Moment estimate of Var(y) = a mu + b mu² on a (zones, months) table of counts, mu the independence fit.

    mu_zm = T_z O_m / N (T_z zone totals, O_m month totals): the zones keep their shares month after month.
    The squared residuals, divided by the expected shrinkage of a fitted residual ((1 - mu/T_z)(1 - mu/O_m)),
    are regressed on mu and mu² with the moment equations sum r² = a sum mu + b sum mu² and
    sum r²/mu = a n + b sum mu (each cell weighs its own variance: a few large zones do not set ``a``, the
    many small ones do not set ``b``); a is kept within [1, ``max_poisson``] and b within [0, ``max_quadratic``],
    the other refitted when one is bounded. The quadratic term is what a gamma-Poisson (negative binomial)
    count carries: on the national demo, 1.0 x mu below 4 expected cases, 1.25 x mu around 10 and up to
    6.5 x mu around 40 for the indicators drawn per agent (gamma shape 6)."""
    Y = np.asarray(reference, dtype=float)
    T, O = Y.sum(axis=1), Y.sum(axis=0)
    total = T.sum()
    if total <= 0:
        return CountDispersion()
    mu = np.outer(T, O) / total
    cell = mu > 0
    shrink = (1.0 - np.divide(mu, T[:, None], out=np.zeros_like(mu), where=T[:, None] > 0)) * \
             (1.0 - np.divide(mu, O[None, :], out=np.zeros_like(mu), where=O[None, :] > 0))
    cell &= shrink > 0.05
    if cell.sum() < 3:
        return CountDispersion()
    m, r2 = mu[cell], (Y[cell] - mu[cell]) ** 2 / shrink[cell]
    s_r2, s_r2m = r2.sum(), (r2 / m).sum()
    n, s_m, s_m2 = float(m.size), m.sum(), (m * m).sum()
    det = s_m * s_m - s_m2 * n
    a, b = ((s_r2 * s_m - s_r2m * s_m2) / det, (s_r2m * s_m - s_r2 * n) / det) if abs(det) > 1e-12 else (s_r2 / s_m, 0.0)
    if b < 0:
        a, b = s_r2 / s_m, 0.0
    if a < 1:
        a, b = 1.0, max(0.0, (s_r2 - s_m) / s_m2)
    a = min(max(a, 1.0), max_poisson)
    b = min(max(b, 0.0), max_quadratic)
    return CountDispersion(float(a), float(b))


def _check_conditional(windows: Sequence[int], reference, prior) -> tuple[int, ...]:
    """The options shared by ``scan_counts`` and ``scan_units``: the windows (checked), the reference and the prior."""
    windows = _check_windows(windows)
    if not prior >= 0:
        raise ValueError(f"a priori des parts invalide : {prior} (nombre ≥ 0 attendu)")
    if not isinstance(reference, int | np.integer) or reference < 2:
        raise ValueError(f"nombre de mois de référence invalide : {reference} (entier ≥ 2 attendu)")
    return windows


def _count_grid(rows: np.ndarray, periodes: pl.Series, counts: np.ndarray, n: int, windows: tuple[int, ...],
                reference: int, start: str | None, end: str | None, after_end: bool) -> tuple[np.ndarray, list[str]]:
    """The (n zones, reference + scanned months) grid of counts (0 where no row) and the scanned months, oldest
    first: row k of the data is zone ``rows[k]`` at month ``periodes[k]`` (checked YYYY-MM) with ``counts[k]``."""
    months_idx = month_index(periodes)
    last, span, first = _scanned_months(months_idx, end, start, windows, reference, after_end)
    keep = (months_idx >= first) & (months_idx <= last)
    grid = np.zeros((n, span + reference))
    np.add.at(grid, (rows[keep], months_idx[keep] - first), counts[keep])
    return grid, month_label(np.arange(last - span + 1, last + 1))


def _conditional_problem(codes: tuple[str, ...], grid: np.ndarray, reference: int, months: list[str],
                         windows: tuple[int, ...], structure: _Candidates, max_share: float, prior: float,
                         dispersion: CountDispersion | None) -> _Problem:
    """The conditional null of ``scan_counts`` and ``scan_units``: ``grid`` (zones, reference + scanned months)."""
    ref, window = grid[:, :reference], grid[:, reference:]
    law = count_dispersion(ref) if dispersion is None else dispersion
    totals = ref.sum(axis=1)
    shares = (totals + prior) / (totals.sum() + prior * len(codes))
    expected = shares[:, None] * window.sum(axis=0)[None, :]
    mu_ref = np.outer(totals, ref.sum(axis=0)) / max(totals.sum(), 1e-300)
    reference_phi = np.divide(law.poisson * totals + law.quadratic * (mu_ref ** 2).sum(axis=1), totals,
                              out=np.ones_like(totals), where=totals > 0)
    candidates = _filtered(structure, expected.sum(axis=1), max_share)
    return _Problem(codes, months, windows, window, expected, law.phi(expected), candidates,
                    reference=totals, reference_phi=reference_phi, prior=float(prior))


def _scanned_months(months_idx: np.ndarray, end: str | None, start: str | None, windows, reference: int,
                    after_end: bool) -> tuple[int, int, int]:
    """(last month, longest window, first month needed) of a scan, refusing a history shorter than the
    windows plus the reference months (and, when `after_end`, a month after the announced end)."""
    last = int(months_idx.max()) if end is None else _month_index(_check_month(end))
    if after_end and int(months_idx.max()) > last:
        raise ValueError(f"mois postérieur à la fin annoncée ({end}) : {month_label([months_idx.max()])[0]}")
    span = max(windows)
    first = last - span - reference + 1
    known = int(months_idx.min()) if start is None else min(int(months_idx.min()), _month_index(_check_month(start)))
    if known > first:
        raise ValueError(f"historique trop court : {span + reference} mois attendus (les {span} mois balayés et "
                         f"{reference} mois de référence avant eux), {last - known + 1} fournis")
    return last, span, first


def scan_counts(frame: pl.DataFrame, adjacency: pl.DataFrame | None = None, *, zones: Iterable[str] | None = None,
                windows: Sequence[int] = WINDOWS, reference: int = REFERENCE_MONTHS, max_zones: int = MAX_ZONES,
                max_share: float = MAX_SHARE, shape: str = "circulaire", dispersion: CountDispersion | None = None,
                replicates: int = REPLICATES, seed: int | None = None, max_clusters: int = MAX_CLUSTERS,
                max_p: float = 1.0, min_expected: float = 0.0, p_method: str = "monte_carlo",
                prior: float = SHARE_PRIOR, start: str | None = None, end: str | None = None) -> list[Cluster]:
    """Space-time scan of monthly counts, each zone's expectation its share of the month's total.

    ``frame``: zone, periode (YYYY-MM), observe (counts >= 0) for one indicator, at least the last
    max(windows) + ``reference`` months (missing rows count as 0); ``zones``: zones without any row that
    must still be scanned (with 0 everywhere); ``start``: the first month of the data when the frame's rows may
    begin later (an indicator without any case in its first months), ``end`` its last month when they may stop
    earlier (the windows end there). The expectation of zone z in a scanned month m is
    (T_z + prior) / sum (T + prior) x O_m: T_z the zone's count over the ``reference`` months before the
    scanned ones, O_m the month's total over every zone (see the module notes, "Conditional scan").
    ``dispersion``: the variance law of a zone-month count, by default ``count_dispersion`` of the
    reference months. The Monte Carlo replicates draw the reference totals and the scanned months
    from that law, then recompute their own shares and monthly totals: the p-values carry the
    estimation error of the expectations.

    Only clusters with observe > attendu are returned, most likely first, then the secondary ones (no zone shared
    with a better one), at most ``max_clusters``, with a p-value <= ``max_p``. ``min_expected``: candidate (cluster,
    window) pairs expecting fewer cases are not scanned, in the data and in the replicates alike (see the module
    notes: without it the null maxima are dominated by zones expecting a few hundredths of a case).
    ``p_method``: "monte_carlo" (rank among the replicate maxima) or "gumbel" (tail of a Gumbel distribution
    fitted by moments to the maxima, Abrams, Kleinman & Kulldorff 2010, as SaTScan: p-values below 1 / (R + 1),
    needed when many scans share one Benjamini-Hochberg family). ``adjacency``: pairs departement_a,
    departement_b (default: the départements of data/); ``shape``: "circulaire" or "flexible" (module notes).
    """
    _check_options(replicates, p_method)
    _check_shape(shape, max_zones, max_share)
    windows = _check_conditional(windows, reference, prior)
    edges = _edges(adjacency)
    data = _clean(frame, edges)
    codes = set(data["zone"].to_list())
    if zones is not None:
        extra = {referentials.normalise_departement(str(z)) for z in zones}
        unknown = sorted(extra - _known_zones(edges))
        if unknown:
            raise ValueError(f"zone(s) inconnue(s) : {', '.join(unknown[:10])} (ni département du référentiel ni zone "
                             "de la table d'adjacence)")
        codes |= extra
    codes = tuple(sorted(codes))
    zi = {z: i for i, z in enumerate(codes)}
    rows = np.array([zi[z] for z in data["zone"].to_list()], dtype=np.int64)
    grid, months = _count_grid(rows, data["periode"], data["observe"].to_numpy(), len(codes), windows, reference, start,
                               end, after_end=True)
    structure = _structure(codes, edges, int(max_zones), shape)
    problem = _conditional_problem(codes, grid, reference, months, windows, structure, max_share, prior, dispersion)
    return _scan_problem(problem, replicates, seed, max_clusters, max_p, min_expected, p_method)


# --------------------------------------------------------------------------- conditional scan on units (services)


@lru_cache(maxsize=8)
def _unit_structure(units: tuple[str, ...], departements: tuple[str, ...], layers: tuple[str | None, ...],
                    edges: tuple[tuple[str, str], ...], max_zones: int, layers_only: bool = False) -> _Candidates:
    """Candidates over units (services) each attached to a département: for every circular département candidate,
    all its units, then the units of each layer among them; and every unit alone. ``layers_only``: the layer
    candidates only."""
    codes = tuple(sorted(set(departements)))
    by_dep: dict[str, list[int]] = {}
    for k, d in enumerate(departements):
        by_dep.setdefault(d, []).append(k)
    structure = _structure(codes, edges, int(max_zones), "circulaire")
    seen: dict[tuple[int, ...], None] = {} if layers_only else {(k,): None for k in range(len(units))}
    for members in structure.members:
        inside = [k for d in members for k in by_dep.get(codes[d], [])]
        if not layers_only:
            seen.setdefault(tuple(sorted(inside)), None)
        grouped: dict[str, list[int]] = {}
        for k in inside:
            if layers[k] is not None:
                grouped.setdefault(layers[k], []).append(k)
        for part in grouped.values():
            seen.setdefault(tuple(sorted(part)), None)
    return _candidates_of(units, tuple(seen))


def scan_units(frame: pl.DataFrame, departement_of: Mapping[str, str], adjacency: pl.DataFrame | None = None, *,
               layers: Mapping[str, str] | None = None, windows: Sequence[int] = UNIT_WINDOWS,
               reference: int = REFERENCE_MONTHS, max_zones: int = MAX_ZONES, max_share: float = MAX_SHARE,
               dispersion: CountDispersion | None = None, replicates: int = REPLICATES, seed: int | None = None,
               max_clusters: int = MAX_CLUSTERS, max_p: float = 1.0, min_expected: float = 0.0,
               p_method: str = "monte_carlo", prior: float = SHARE_PRIOR, start: str | None = None,
               end: str | None = None, layers_only: bool = False) -> list[Cluster]:
    """``scan_counts`` on units (services) rather than départements: a cluster is a set of services.

    ``frame``: unit, periode (YYYY-MM), observe (counts >= 0) for one indicator; ``departement_of``: every unit
    scanned -> its département (units without any row are scanned with 0 everywhere). Each unit expects its share
    of the ``reference`` months before the windows times the month's total over every unit, as ``scan_counts``;
    the count dispersion is estimated and the replicates re-estimate shares and totals in the same way.

    Candidates (see the module notes, "Scan on services"): for each circular candidate of ``max_zones``
    départements (``candidate_clusters``), the set of all the units of those départements (what ``scan_counts`` scans, the
    expectation now summed over services) and, with ``layers`` (unit -> label; units without a label belong to
    no layer), the units of each label among them -- e.g. the services déconcentrés of neighbouring départements
    without the national networks that share their départements; and every unit alone (a service in a
    département shared with others). ``layers_only`` (what the watch scans, which leaves the whole départements to
    ``scan_counts`` and a service alone to its own series): only the layer candidates. ``max_share`` bounds every
    candidate but the single units. The returned clusters' ``zones`` are unit codes, sorted."""
    _check_options(replicates, p_method)
    _check_shape("circulaire", max_zones, max_share)
    windows = _check_conditional(windows, reference, prior)
    missing = [c for c in ("unit", "periode", "observe") if c not in frame.columns]
    if missing:
        raise ValueError(f"colonne(s) manquante(s) : {', '.join(missing)} (colonnes attendues : unit, periode, observe)")
    edges = _edges(adjacency)
    known = _known_zones(edges)
    deps = {str(u): referentials.normalise_departement(str(d)) for u, d in departement_of.items()}
    unknown = sorted({d for d in deps.values() if d not in known})
    if unknown:
        raise ValueError(f"département(s) inconnu(s) : {', '.join(unknown[:10])} (ni département du référentiel ni "
                         "zone de la table d'adjacence)")
    data = frame.select(pl.col("unit").cast(pl.Utf8), pl.col("periode").cast(pl.Utf8).str.strip_chars(),
                        pl.col("observe").cast(pl.Float64))
    if data.height == 0:
        raise ValueError("aucune ligne de données")
    stray = sorted(set(data["unit"].drop_nulls().to_list()) - set(deps))
    if stray:
        raise ValueError(f"unité(s) sans département : {', '.join(stray[:10])}")
    bad = data.filter(~pl.col("periode").str.contains(PERIOD.pattern) | pl.col("periode").is_null())
    if bad.height:
        raise ValueError(f"colonne « periode » : « {bad['periode'][0]} » n'est pas un mois AAAA-MM")
    wrong = data.filter(~((pl.col("observe") >= 0) & pl.col("observe").is_finite()))
    if wrong.height:
        raise ValueError(f"colonne « observe » : {wrong['observe'][0]} : effectif positif ou nul attendu")
    units = tuple(sorted(deps))
    ui = {u: i for i, u in enumerate(units)}
    rows = np.array([ui[u] for u in data["unit"].to_list()], dtype=np.int64)
    grid, months = _count_grid(rows, data["periode"], data["observe"].to_numpy(), len(units), windows, reference, start,
                               end, after_end=False)
    labels = tuple(None if layers is None else layers.get(u) for u in units)
    if layers_only and all(label is None for label in labels):
        raise ValueError("aucune unité dans une couche : « layers_only » demande des couches (layers)")
    structure = _unit_structure(units, tuple(deps[u] for u in units), labels, edges, int(max_zones), bool(layers_only))
    problem = _conditional_problem(units, grid, reference, months, windows, structure, max_share, prior, dispersion)
    return _scan_problem(problem, replicates, seed, max_clusters, max_p, min_expected, p_method)
