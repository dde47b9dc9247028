"""Watch of the published data: every series territory x indicator, tested, with false alarms kept under control.

Called when a publication is recorded (``analytics.veille.publish_hook``) and by the command line,
never by a page: the series are built from the raw aggregates of the store (detection may read raw
series; what is *displayed* about an alert is decided by ``analytics.veille.board``).

Series
    Indicators: every modality of the dimensions ``rps`` and ``problematique``. Territories: the
    nation, each région, each département, and each service whose département has several services
    (alone in its département, a service's series is the département's). Months missing between the
    first and last month of the data count as 0.
Monthly or quarterly
    A series with at least ``MONTHLY_MIN`` cases a month on average is tested month by month
    (``detect_series``: Farrington with 3 years of history, before it the calibrated negative binomial
    test ``ears.nb_short``, short="nb", the seasonal profile pooled over one indicator at one geographic
    level: EARS's normal p-values gave about 80 false alerts a month on a 2-year national demo); one with
    at least ``QUARTERLY_MIN`` case a quarter on average, by complete quarter (``analytics.veille.quarterly``;
    with less than its 2 years, ``nb_short`` on the quarters instead of EARS);
    sparser series are not watched (each single case would be "unusual"). As in Farrington's rule
    (no alarm under 5 cases in 4 weeks), an alert needs ``MIN_CASES`` cases over the months it rests
    on (the month and the month before, or the quarter).
Months evaluated
    The last ``EVAL_MONTHS`` months of the data (and the quarters ending in them).
False alarms
    Each test has a false alarm rate ``alpha`` per series; with thousands of series that would be
    alpha x series false alerts a month. An alert is therefore raised only where Benjamini-Hochberg
    at ``q`` rejects, period by period, across all the series tested for that period (the monthly
    series for a month, the quarterly ones for a quarter): the expected share of false alerts among
    the alerts of a period stays below q, so at most about q x (alerts of the month) are false. Both
    figures are reported (``WatchResult``).
Clusters
    For each indicator, the space-time scan of the départements over the last 1 to 3 months on their
    counts (``scan.scan_counts``): each département expects its share of the 24 months before the
    windows (down to ``SCAN_MIN_REFERENCE`` with a shorter history) times the month's national total (all départements), the variance law of a count comes from
    those 24 months, and the Monte Carlo replicates re-estimate the shares and the totals, so that the
    p-values carry the error of the expectations. The département Farrington baselines were used before:
    on the national demo without any planted rise they gave 5 false clusters in one month (2026-10), and
    false clusters in 13 of 84 months of 7 null demos (the fits run away on sparse series, up to 1e13,
    which set the dispersion of half the indicators at its bound of 10; below one case a month they
    overestimate by 15 to 50 %; the shared seasonal misfit of the two harmonics adds up over a cluster;
    the dispersion came from 3 months only). With the shares: false clusters in 6 of 132 months of 11 null
    demos, the 5 % that Benjamini-Hochberg allows (``analytics.veille.scan`` notes). Only candidate clusters
    expecting at least ``SCAN_MIN_EXPECTED`` case over their window are scanned; p-values from a Gumbel
    fit to the replicate maxima (999 replicates cannot give less than 0.001, while Benjamini-Hochberg at q
    across about a hundred indicators asks 0.05 / 100 of the best one).
    Where the fine rows carry each service's type (``type_service``, as the store and the demo do), a second scan of
    each indicator looks at services (``scan.scan_units`` with ``layers_only``): the services déconcentrés (DDT, DDTM,
    DREAL..., ``service_layers``) of each circular group of neighbouring départements, over 1 to 4 months. It finds
    what the département counts dilute: the demo's Lorraine reorganisation (DDT-57 and DREAL-57, 25 situations for 5.8
    expected over 4 months at 2025-12, p 7e-5) is invisible in the Moselle's counts, which also hold the DIR Est, the
    Cerema and the agence de l'eau. The whole départements are left to the first scan and a service alone to its own
    series: with those candidates too (1 218 instead of 665 nationally) the null maxima grew and the Finistère rise
    lost its power when both scans shared one family (p 0.011 against 0.00056).
    False clusters: each scan is its own family (the most likely cluster of each indicator), under Benjamini-Hochberg
    at a share of q (weighted Bonferroni, ``family_levels``: 0.8 q for the départements, 0.2 q for the services), so a
    month without any rise raises a false cluster with probability at most q in all, as with the département scan
    alone. The secondary clusters of a scan are kept up to the p-value its family reached. A services cluster sharing
    a département with a département cluster raised for the same indicator is the same rise: left out.
    Measured (999 replicates, 5-year national demo, 66 indicators): null demos (``rises=False``, seeds 2026, 7, 11, 3,
    5, 13, ends 2025-12, 2026-04, 2026-10, 2026-11): 24 months, false clusters in 1 (seed 11 at 2025-12, the
    département scan; the services scan alone would have raised one there too at q); p-values of the services scan
    4.6 % <= 0.05, 1.1 % <= 0.01, 0.19 % <= 0.001 (1 584 scans). Each family at q would have raised false clusters
    in 2 of the 24 months, each at q / 2 lost the Finistère at 2026-11 (p 0.0004). Planted rises (seed 2026): the
    Finistère at 2025-12, 2026-10 and 2026-11 (département scan, p 1.4e-5, 3.5e-6, 4e-4); the Lorraine at 2025-12
    (services scan, p 6.6e-5), not at 2026-10 nor 2026-11 (p 0.01 to 0.04: 45 for 21 expected over 4 months, too weak
    for 66 indicators x 665 candidates x 4 windows); on other seeds the Lorraine at 2026-10 (seeds 11 and 3, p 2.6e-5
    and 7.6e-8), not at 2025-12 (seeds 11, 3, 7) nor at 2026-10 with seed 7. The two scans take 16 to 22 s.
Severity and secrecy
    Each alert gets a band (``analytics.veille.severity``) and a flag ``secret``: True when one of the
    cells its test rests on for its period (the month and the month before, the quarter, each
    département of a cluster over its window) is not a published, non-secret cell of the publication.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from analytics.referentials import departement_region
from analytics.veille import scan as spatial
from analytics.veille.detect import SCHEMA as DETECT_SCHEMA, detect_series, fdr_by_period, month_index, month_label
from analytics.veille.multiple import benjamini_hochberg
from analytics.veille.ears import nb_short
from analytics.veille.quarterly import MIN_YEARS, detect_quarters
from analytics.veille.severity import band, ratio

DIMENSIONS = ("rps", "problematique")
EVAL_MONTHS = 12
MONTHLY_MIN = 1.0
QUARTERLY_MIN = 1.0
MIN_CASES = 3  # an alert needs this many cases over the months it rests on (Farrington's rule of 5 cases in 4 weeks)
QUARTER_GUARD = 1  # quarters left out of the baseline of a short quarterly series (the count test's guard band)
ALPHA = 0.01
FDR_Q = 0.05
SCAN_REPLICATES = 999
SCAN_MAX_P = 0.05
SCAN_MIN_REFERENCE = 6  # months of reference at least before the scan's windows (24 when the data allow)
SCAN_MIN_EXPECTED = 1.0  # a candidate cluster must expect at least one case over its window (cf. MIN_CASES)
SERVICE_WINDOWS = spatial.UNIT_WINDOWS  # the services scan: 1 to 4 months (a reorganisation rises over a season)
SERVICE_LAYER = "services_deconcentres"  # the layer the services scan looks at (``service_layers``)
SERVICE_LAYER_LEVELS = ("departemental", "regional")  # levels of the preset's service types in that layer
SERVICE_SHARE = 0.2  # share of q given to the services scan's family (the département scan's keeps the rest)
TEMPORAL, CLUSTER = "temporelle", "grappe"
SCAN_DEPARTEMENTS, SCAN_SERVICES = "balayage", "balayage_services"  # methode of the clusters of each scan
FINE_COLUMNS = ("periode", "service", "departement", "dimension", "modalite", "effectif")  # optionally type_service
ALERT_SCHEMA = {
    "signature": pl.String, "kind": pl.String, "geo_niveau": pl.String, "geo_code": pl.String, "zones": pl.String,
    "dimension": pl.String, "modalite": pl.String, "periode_niveau": pl.String, "periode": pl.String,
    "debut": pl.String, "fin": pl.String, "methode": pl.String, "observe": pl.Float64, "attendu": pl.Float64,
    "seuil": pl.Float64, "p_value": pl.Float64, "gravite": pl.String, "secret": pl.Boolean,
}
_KEY = ("geo_niveau", "geo_code", "dimension", "modalite")


@dataclass
class WatchResult:
    alerts: pl.DataFrame  # ALERT_SCHEMA, one row per alert
    period_min: str | None  # first and last month evaluated
    period_max: str | None
    monthly_series: int = 0
    quarterly_series: int = 0
    unwatched_series: int = 0
    months_evaluated: int = 0
    alpha: float = ALPHA
    fdr_q: float = FDR_Q
    expected_false_alerts: float = 0.0  # per month if every test ran at alpha without control
    expected_false_alerts_fdr: float = 0.0  # per month, upper bound under Benjamini-Hochberg
    cluster_count: int = 0
    cluster_scans: int = 0  # scans (indicator x scan) whose most likely clusters share one Benjamini-Hochberg family
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def series_count(self) -> int:
        return self.monthly_series + self.quarterly_series + self.unwatched_series

    @property
    def alert_count(self) -> int:
        return self.alerts.height


def signature(kind: str, geo_niveau: str, geo_code: str, dimension: str, modalite: str, periode: str) -> str:
    """What identifies an alert from one publication to the next (its qualification history follows it)."""
    return "|".join((kind, geo_niveau, geo_code, dimension, modalite, periode))


def quarter_of(month: str) -> str:
    return f"{month[:4]}-T{(int(month[5:7]) - 1) // 3 + 1}"


def quarter_months(quarter: str) -> list[str]:
    q = int(quarter[-1])
    return [f"{quarter[:4]}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]


# --------------------------------------------------------------------------- series


def territory_series(fine: pl.DataFrame, dimensions=DIMENSIONS) -> pl.DataFrame:
    """Monthly counts per territory and indicator: geo_niveau, geo_code, dimension, modalite, periode, effectif."""
    rows = fine.filter(pl.col("dimension").is_in(list(dimensions))).select(
        "periode", "service", pl.col("departement").cast(pl.String), "dimension", "modalite", pl.col("effectif").cast(pl.Int64))
    rows = rows.with_columns(pl.col("departement").replace_strict(departement_region(), default=None, return_dtype=pl.String)
                             .alias("region"))
    services_per_dep = rows.group_by("departement").agg(pl.col("service").n_unique().alias("_n"))
    shared = services_per_dep.filter(pl.col("_n") > 1)["departement"].to_list()
    levels = [
        ("national", pl.lit("FR")), ("region", pl.col("region")), ("departement", pl.col("departement")),
    ]
    parts = [rows.filter(code.is_not_null() if name != "national" else pl.lit(True))
             .group_by(code.alias("geo_code"), "dimension", "modalite", "periode").agg(pl.col("effectif").sum())
             .with_columns(pl.lit(name).alias("geo_niveau")) for name, code in levels]
    parts.append(rows.filter(pl.col("departement").is_in(shared)).group_by(
        pl.col("service").alias("geo_code"), "dimension", "modalite", "periode").agg(pl.col("effectif").sum())
        .with_columns(pl.lit("service").alias("geo_niveau")))
    return pl.concat([p.select("geo_niveau", "geo_code", "dimension", "modalite", "periode", "effectif") for p in parts])


def _series_key() -> pl.Expr:
    return pl.concat_str([pl.col(c) for c in _KEY], separator="|").alias("serie")


def _split_key(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.col("serie").str.split_exact("|", 3).struct.rename_fields(list(_KEY)).alias("_k")).unnest("_k")


# --------------------------------------------------------------------------- the watch


def watch_frame(fine: pl.DataFrame, published: set[tuple] | None = None, *, alpha: float = ALPHA, q: float = FDR_Q,
                months: int = EVAL_MONTHS, replicates: int = SCAN_REPLICATES, seed: int = 2013) -> WatchResult:
    """Watch the fine rows ``fine`` (FINE_COLUMNS). ``published``: keys (geo_niveau, geo_code, periode_niveau,
    periode, dimension, modalite) of the published non-secret cells; None marks every alert secret."""
    started = time.perf_counter()
    series = territory_series(fine)
    if series.height == 0:
        return WatchResult(pl.DataFrame(schema=ALERT_SCHEMA), None, None, seconds=time.perf_counter() - started)
    first, last = series["periode"].min(), series["periode"].max()
    i_first, i_last = int(month_index(pl.Series([first]))[0]), int(month_index(pl.Series([last]))[0])
    n_months = i_last - i_first + 1
    since_i = max(i_first, i_last - months + 1)
    since = month_label([since_i])[0]
    series = series.with_columns(_series_key())
    totals = series.group_by("serie").agg(pl.col("effectif").sum().alias("total"))
    monthly = totals.filter(pl.col("total") / n_months >= MONTHLY_MIN)["serie"]
    quarterly = totals.filter((pl.col("total") / n_months < MONTHLY_MIN) & (pl.col("total") * 3 / n_months >= QUARTERLY_MIN))["serie"]
    result = WatchResult(pl.DataFrame(schema=ALERT_SCHEMA), since, last, monthly.len(), quarterly.len(),
                         totals.height - monthly.len() - quarterly.len(), i_last - since_i + 1, alpha, q)
    detected = _detect_monthly(series.filter(pl.col("serie").is_in(monthly.implode())), first, last, since, alpha)
    temporal = [_monthly_alerts(detected, q),
                _quarterly_alerts(series.filter(pl.col("serie").is_in(quarterly.implode())), first, last, since, alpha, q)]
    temporal = pl.concat([t for t in temporal if t.height]) if any(t.height for t in temporal) else pl.DataFrame()
    found = watched_clusters(fine, replicates, seed, series=series)
    clusters = raise_clusters(found, q)
    result.cluster_scans = len(found)
    alerts = [a for a in (temporal, clusters) if a.height]
    frame = pl.concat(alerts, how="diagonal_relaxed") if alerts else pl.DataFrame(schema={k: v for k, v in ALERT_SCHEMA.items()
                                                                                          if k not in ("gravite", "secret", "signature")})
    result.alerts = _finish(frame, published)
    tests_per_month = result.monthly_series + result.quarterly_series / 3
    result.expected_false_alerts = alpha * tests_per_month
    temporal_alerts = result.alerts.filter(pl.col("kind") == TEMPORAL).height
    result.cluster_count = result.alerts.filter(pl.col("kind") == CLUSTER).height
    levels = family_levels(q)  # each cluster family's share of q
    raised = result.alerts.filter(pl.col("kind") == CLUSTER)["methode"].to_list()
    result.expected_false_alerts_fdr = (q * temporal_alerts / max(result.months_evaluated, 1)
                                        + sum(levels.get(m, q) for m in raised))
    result.seconds = time.perf_counter() - started
    return result


def _detect_monthly(series: pl.DataFrame, first: str, last: str, since: str, alpha: float) -> pl.DataFrame:
    """detect_series on every series over the whole span of the data (zeros at both ends), with the observed counts."""
    if series.height == 0:
        return pl.DataFrame(schema={**DETECT_SCHEMA, "observe": pl.Float64})
    keys = series.select("serie").unique()
    ends = pl.concat([keys.with_columns(pl.lit(first).alias("periode")), keys.with_columns(pl.lit(last).alias("periode"))])
    data = pl.concat([series.select("serie", "periode", pl.col("effectif").cast(pl.Float64)),
                      ends.with_columns(pl.lit(0.0).alias("effectif"))])
    codes = keys["serie"].to_list()
    out = detect_series(data, since=since, alpha=alpha, short="nb", groups={c: _profile_group(c) for c in codes})
    observed = data.group_by("serie", "periode").agg(pl.col("effectif").sum().alias("observe"))
    return out.join(observed, on=["serie", "periode"], how="left").with_columns(pl.col("observe").fill_null(0.0))


def _profile_group(serie: str) -> str:
    """The series sharing a seasonal profile in the short-history test: one indicator at one geographic level
    (disjoint territories, whose counts are independent; the nation is its own group)."""
    geo_niveau, _, dimension, modalite = serie.split("|", 3)
    return "|".join((geo_niveau, dimension, modalite))


def _monthly_alerts(detected: pl.DataFrame, q: float) -> pl.DataFrame:
    if detected.height == 0:
        return pl.DataFrame()
    p = detected["p_value"].fill_null(np.nan).to_numpy()
    periods = month_index(detected["periode"])
    rejected = fdr_by_period(p, periods, q)
    hits = _split_key(detected.filter(pl.Series(rejected)))
    hits = hits.with_columns(previous=pl.Series(month_label(month_index(hits["periode"]) - 1), dtype=pl.String))
    before = detected.select("serie", pl.col("periode").alias("previous"), pl.col("observe").alias("_before"))
    hits = hits.join(before, on=["serie", "previous"], how="left").filter(
        pl.col("observe") + pl.col("_before").fill_null(0.0) >= MIN_CASES).drop("previous", "_before")
    previous = pl.Series(month_label(month_index(hits["periode"]) - 1), dtype=pl.String) if hits.height else pl.Series([], dtype=pl.String)
    return hits.select(
        pl.lit(TEMPORAL).alias("kind"), *_KEY, pl.lit(None, pl.String).alias("zones"), pl.lit("mois").alias("periode_niveau"),
        "periode", previous.alias("debut"), pl.col("periode").alias("fin"), pl.col("methode"), "observe",
        "attendu", "seuil", "p_value")


def _quarter_grid(series: pl.DataFrame, first: str, last: str):
    """Complete quarters only: (series keys, quarter labels, counts grid)."""
    i_first, i_last = (int(month_index(pl.Series([m]))[0]) for m in (first, last))
    start = i_first + (-i_first) % 3  # first month opening a quarter
    stop = i_last - (i_last + 1) % 3  # last month closing a quarter
    if stop - start + 1 < 3:
        return [], [], np.zeros((0, 0))
    labels = [quarter_of(m) for m in month_label(np.arange(start, stop + 1, 3))]
    keys = sorted(series["serie"].unique().to_list())
    ki = {k: i for i, k in enumerate(keys)}
    idx = month_index(series["periode"])
    keep = (idx >= start) & (idx <= stop)
    grid = np.zeros((len(keys), len(labels)))
    rows = np.array([ki[k] for k in series["serie"].to_list()], dtype=np.int64)
    np.add.at(grid, (rows[keep], (idx[keep] - start) // 3), series["effectif"].to_numpy().astype(float)[keep])
    return keys, labels, grid


def _quarterly_alerts(series: pl.DataFrame, first: str, last: str, since: str, alpha: float, q: float) -> pl.DataFrame:
    if series.height == 0:
        return pl.DataFrame()
    keys, labels, grid = _quarter_grid(series, first, last)
    rows = []
    for t, label in enumerate(labels):
        months = quarter_months(label)
        if months[-1] < since:
            continue
        expected, threshold, _, p_value, method = detect_quarters(grid, t, alpha)
        if method == "ears":  # too short for the same quarters of previous years: the calibrated count test
            expected, threshold, _, _, p_value = nb_short(
                grid, np.arange(len(keys)), np.full(len(keys), t), alpha, groups=[_profile_group(k) for k in keys],
                phase=int(labels[0][-1]) - 1, period=4, guard=QUARTER_GUARD, level=4, window=4 * MIN_YEARS,
                accumulate=False)
            method = "nb"
        for i, key in enumerate(keys):
            rows.append((key, label, months[0], months[-1], method, grid[i, t], expected[i], threshold[i], p_value[i]))
    if not rows:
        return pl.DataFrame()
    tested = pl.DataFrame(rows, schema={"serie": pl.String, "periode": pl.String, "debut": pl.String, "fin": pl.String,
                                        "methode": pl.String, "observe": pl.Float64, "attendu": pl.Float64,
                                        "seuil": pl.Float64, "p_value": pl.Float64}, orient="row")
    periods = np.array([labels.index(p) for p in tested["periode"].to_list()])
    rejected = fdr_by_period(tested["p_value"].to_numpy(), periods, q)
    hits = _split_key(tested.filter(pl.Series(rejected) & (pl.col("observe") >= MIN_CASES)))
    return hits.select(pl.lit(TEMPORAL).alias("kind"), *_KEY, pl.lit(None, pl.String).alias("zones"),
                       pl.lit("trimestre").alias("periode_niveau"), "periode", "debut", "fin", "methode", "observe",
                       "attendu", "seuil", "p_value")


def service_layers(types: dict[str, str | None]) -> dict[str, str]:
    """Service -> layer of the services scan: the services déconcentrés (types of a départemental or régional level in
    the preset: DDT, DDTM, DREAL, DEAL...), without the national networks and public bodies that share their
    départements (DIR, Cerema, agences de l'eau, VNF...) and dilute them in the département counts."""
    from analytics.nomenclature import default_nomenclature

    levels = {code.lower(): t.niveau for code, t in default_nomenclature().service_types.items()}
    return {service: SERVICE_LAYER for service, kind in types.items()
            if kind is not None and levels.get(str(kind).lower()) in SERVICE_LAYER_LEVELS}


def _service_rows(fine: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, str], dict[str, str]] | None:
    """What the services scan reads: (service, dimension, modalite, periode, effectif rows; service -> département;
    service -> layer), or None without service types (no layer to scan)."""
    if "type_service" not in fine.columns:
        return None
    located = fine.filter(pl.col("departement").is_not_null() & pl.col("dimension").is_in(list(DIMENSIONS)))
    services = located.select("service", pl.col("departement").cast(pl.String), "type_service").unique("service")
    layers = service_layers(dict(services.select("service", "type_service").iter_rows()))
    if not layers:
        return None
    departement_of = dict(services.select("service", "departement").iter_rows())
    return located.select("service", "dimension", "modalite", "periode", "effectif"), departement_of, layers


@dataclass(frozen=True)
class Scan:
    """One scan of one indicator: its clusters of p-value <= SCAN_MAX_P, best first (``scan.Cluster``)."""
    methode: str  # SCAN_DEPARTEMENTS or SCAN_SERVICES
    dimension: str
    modalite: str
    clusters: list
    departement_of: dict | None = None  # services scan: service -> département

    @property
    def p_value(self) -> float:
        """The p-value of the most likely cluster (1 without any)."""
        return self.clusters[0].p_value if self.clusters else 1.0


def scan_clusters(departements: pl.DataFrame, zones: list[str], services, first: str, last: str, n_months: int,
                  replicates: int = SCAN_REPLICATES, seed: int = 2013) -> list[Scan]:
    """Two scans of each indicator: its départements (``scan.scan_counts``) and, where the fine rows carry service
    types (``services``, from ``_service_rows``), the services déconcentrés of neighbouring départements
    (``scan.scan_units``, layer candidates only, windows of 1 to 4 months).
    ``departements``: the département series (geo_code, dimension, modalite, periode, effectif)."""
    found: list[Scan] = []
    reference = min(spatial.REFERENCE_MONTHS, n_months - max(spatial.WINDOWS))
    if departements.height and reference >= SCAN_MIN_REFERENCE:
        for (dimension, modalite), part in departements.group_by("dimension", "modalite", maintain_order=True):
            frame = part.select(pl.col("geo_code").alias("zone"), "periode",
                                pl.col("effectif").cast(pl.Float64).alias("observe"))
            clusters = spatial.scan_counts(frame, zones=zones, start=first, end=last, reference=reference,
                                           replicates=replicates, seed=_indicator_seed(seed, dimension, modalite),
                                           max_p=SCAN_MAX_P, min_expected=SCAN_MIN_EXPECTED, p_method="gumbel")
            found.append(Scan(SCAN_DEPARTEMENTS, dimension, modalite, clusters))
    reference = min(spatial.REFERENCE_MONTHS, n_months - max(SERVICE_WINDOWS))
    if services is not None and reference >= SCAN_MIN_REFERENCE:
        rows, departement_of, layers = services
        for (dimension, modalite), part in rows.group_by("dimension", "modalite", maintain_order=True):
            frame = part.group_by(pl.col("service").alias("unit"), "periode").agg(
                pl.col("effectif").sum().cast(pl.Float64).alias("observe"))
            clusters = spatial.scan_units(frame, departement_of, layers=layers, layers_only=True, windows=SERVICE_WINDOWS,
                                          start=first, end=last, reference=reference, replicates=replicates,
                                          seed=_indicator_seed(seed + 1, dimension, modalite), max_p=SCAN_MAX_P,
                                          min_expected=SCAN_MIN_EXPECTED, p_method="gumbel")
            found.append(Scan(SCAN_SERVICES, dimension, modalite, clusters, departement_of))
    return found


def family_levels(q: float) -> dict[str, float]:
    """The Benjamini-Hochberg level of each scan's family: q split between them (weighted Bonferroni), so that a month
    without any rise raises a false cluster with probability at most q in all (see the module notes, "Clusters")."""
    return {SCAN_DEPARTEMENTS: (1.0 - SERVICE_SHARE) * q, SCAN_SERVICES: SERVICE_SHARE * q}


def raise_clusters(found: list[Scan], q: float) -> pl.DataFrame:
    """The clusters raised: Benjamini-Hochberg within each scan's family (``family_levels``) on the most likely
    clusters' p-values, the secondary clusters kept up to the same p-value; at least MIN_CASES cases. A services
    cluster sharing a département with a département cluster raised for the same indicator is left out (the same
    rise, already raised)."""
    levels = family_levels(q)
    cutoffs: dict[str, float] = {}
    for methode, level in levels.items():
        primary = np.array([f.p_value for f in found if f.methode == methode])
        if primary.size:
            _, rejected = benjamini_hochberg(primary, level)
            if rejected.any():
                cutoffs[methode] = float(primary[rejected].max())
    raised: dict[tuple[str, str], set[str]] = {}  # (dimension, modalite) -> départements of its département clusters
    rows = []
    for f in sorted(found, key=lambda f: f.methode != SCAN_DEPARTEMENTS):
        for c in f.clusters:
            if c.p_value > cutoffs.get(f.methode, -1.0) or c.observe < MIN_CASES:
                continue
            if f.methode == SCAN_DEPARTEMENTS:
                deps, level, code = sorted(c.zones), "departement", ",".join(c.zones)
                raised.setdefault((f.dimension, f.modalite), set()).update(c.zones)
            else:
                deps, level, code = sorted({f.departement_of[u] for u in c.zones}), "service", ",".join(c.zones)
                if raised.get((f.dimension, f.modalite), set()) & set(deps):
                    continue
            rows.append((CLUSTER, level, code, f.dimension, f.modalite, ",".join(deps), "mois", c.fin, c.debut, c.fin,
                         f.methode, c.observe, c.attendu, None, c.p_value))
    return pl.DataFrame(rows, schema={"kind": pl.String, "geo_niveau": pl.String, "geo_code": pl.String,
                                      "dimension": pl.String, "modalite": pl.String, "zones": pl.String,
                                      "periode_niveau": pl.String, "periode": pl.String, "debut": pl.String,
                                      "fin": pl.String, "methode": pl.String, "observe": pl.Float64,
                                      "attendu": pl.Float64, "seuil": pl.Float64, "p_value": pl.Float64}, orient="row")


def watched_clusters(fine: pl.DataFrame, replicates: int = SCAN_REPLICATES, seed: int = 2013, *,
                     series: pl.DataFrame | None = None) -> list[Scan]:
    """The watch's cluster scans of the fine rows (``watch_frame``; the bench runs them alone for calibration and
    power). ``series``: the fine rows' ``territory_series`` when already built."""
    series = territory_series(fine) if series is None else series
    departements = series.filter(pl.col("geo_niveau") == "departement")
    first, last = series["periode"].min(), series["periode"].max()
    n_months = int(month_index(pl.Series([last]))[0]) - int(month_index(pl.Series([first]))[0]) + 1
    zones = fine["departement"].cast(pl.String).unique().drop_nulls().to_list()
    return scan_clusters(departements, zones, _service_rows(fine), first, last, n_months, replicates, seed)


def _indicator_seed(seed: int, dimension: str, modalite: str) -> int:
    return seed + zlib.crc32(f"{dimension}|{modalite}".encode()) % 100_000


# --------------------------------------------------------------------------- severity and secrecy


def cells_of(alert: dict) -> list[tuple]:
    """The cells (geo_niveau, geo_code, periode_niveau, periode, dimension, modalite) an alert's test rests on for its period."""
    dim, mod = alert["dimension"], alert["modalite"]
    if alert["kind"] == CLUSTER:
        i0, i1 = (int(month_index(pl.Series([m]))[0]) for m in (alert["debut"], alert["fin"]))
        months = month_label(np.arange(i0, i1 + 1))
        if alert["geo_niveau"] == "service":  # a cluster of services (the services scan)
            return [("service", u, "mois", m, dim, mod) for u in alert["geo_code"].split(",") for m in months]
        return [("departement", z, "mois", m, dim, mod) for z in alert["zones"].split(",") for m in months]
    if alert["periode_niveau"] == "trimestre":
        return [(alert["geo_niveau"], alert["geo_code"], "trimestre", alert["periode"], dim, mod)]
    return [(alert["geo_niveau"], alert["geo_code"], "mois", m, dim, mod) for m in {alert["debut"], alert["fin"]}]


def _finish(frame: pl.DataFrame, published: set[tuple] | None) -> pl.DataFrame:
    if frame.height == 0:
        return pl.DataFrame(schema=ALERT_SCHEMA)
    rows = []
    for a in frame.iter_rows(named=True):
        secret = published is None or any(cell not in published for cell in cells_of(a))
        rows.append({**a, "signature": signature(a["kind"], a["geo_niveau"], a["geo_code"], a["dimension"], a["modalite"],
                                                 a["periode"]),
                     "gravite": band(a["p_value"], a["observe"], a["attendu"]), "secret": secret})
    out = pl.DataFrame(rows, schema_overrides=ALERT_SCHEMA).select(list(ALERT_SCHEMA)).cast(ALERT_SCHEMA)
    return out.with_columns(pl.Series("_ratio", [ratio(o, e) for o, e in out.select("observe", "attendu").iter_rows()])
                            ).sort(["p_value", "_ratio"], descending=[False, True]).drop("_ratio")
