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
    across about a hundred indicators asks 0.05 / 100 of the best one). Benjamini-Hochberg at q across
    indicators on the p-values of the most likely clusters sets the p-value a cluster must reach.
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
TEMPORAL, CLUSTER = "temporelle", "grappe"
FINE_COLUMNS = ("periode", "service", "departement", "dimension", "modalite", "effectif")
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

    temporal = [_monthly_alerts(detected.filter(pl.col("serie").is_in(monthly.implode())), q),
                _quarterly_alerts(series.filter(pl.col("serie").is_in(quarterly.implode())), first, last, since, alpha, q)]
    temporal = pl.concat([t for t in temporal if t.height]) if any(t.height for t in temporal) else pl.DataFrame()
    zones = fine["departement"].cast(pl.String).unique().drop_nulls().to_list()
    clusters = _clusters(series.filter(pl.col("geo_niveau") == "departement"), zones, first, last, n_months, q,
                         replicates, seed)
    alerts = [a for a in (temporal, clusters) if a.height]
    frame = pl.concat(alerts, how="diagonal_relaxed") if alerts else pl.DataFrame(schema={k: v for k, v in ALERT_SCHEMA.items()
                                                                                          if k not in ("gravite", "secret", "signature")})
    result.alerts = _finish(frame, published)
    tests_per_month = result.monthly_series + result.quarterly_series / 3
    result.expected_false_alerts = alpha * tests_per_month
    temporal_alerts = result.alerts.filter(pl.col("kind") == TEMPORAL).height
    result.cluster_count = result.alerts.filter(pl.col("kind") == CLUSTER).height
    result.expected_false_alerts_fdr = q * (temporal_alerts / max(result.months_evaluated, 1) + result.cluster_count)
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


def _clusters(departements: pl.DataFrame, zones: list[str], first: str, last: str, n_months: int, q: float,
              replicates: int, seed: int) -> pl.DataFrame:
    """Scan each indicator's départements (``scan.scan_counts``); BH across indicators on the most likely clusters'
    p-values. ``departements``: the département series (geo_code, dimension, modalite, periode, effectif)."""
    reference = min(spatial.REFERENCE_MONTHS, n_months - max(spatial.WINDOWS))
    if departements.height == 0 or reference < SCAN_MIN_REFERENCE:
        return pl.DataFrame()
    found: list[tuple[str, str, list]] = []
    for (dimension, modalite), part in departements.group_by("dimension", "modalite", maintain_order=True):
        frame = part.select(pl.col("geo_code").alias("zone"), "periode", pl.col("effectif").cast(pl.Float64).alias("observe"))
        indicator_seed = seed + zlib.crc32(f"{dimension}|{modalite}".encode()) % 100_000
        clusters = spatial.scan_counts(frame, zones=zones, start=first, end=last, reference=reference,
                                       replicates=replicates, seed=indicator_seed, max_p=SCAN_MAX_P,
                                       min_expected=SCAN_MIN_EXPECTED, p_method="gumbel")
        found.append((dimension, modalite, clusters))
    if not found:
        return pl.DataFrame()
    primary = np.array([c[0].p_value if c else 1.0 for _, _, c in found])
    _, rejected = benjamini_hochberg(primary, q)
    if not rejected.any():
        return pl.DataFrame()
    cutoff = float(primary[rejected].max())
    rows = []
    for dimension, modalite, clusters in found:
        for c in clusters:
            if c.p_value <= cutoff and c.observe >= MIN_CASES:
                zones_text = ",".join(c.zones)
                rows.append((CLUSTER, "departement", zones_text, dimension, modalite, zones_text, "mois", c.fin, c.debut,
                             c.fin, "balayage", c.observe, c.attendu, None, c.p_value))
    return pl.DataFrame(rows, schema={"kind": pl.String, "geo_niveau": pl.String, "geo_code": pl.String,
                                      "dimension": pl.String, "modalite": pl.String, "zones": pl.String,
                                      "periode_niveau": pl.String, "periode": pl.String, "debut": pl.String,
                                      "fin": pl.String, "methode": pl.String, "observe": pl.Float64,
                                      "attendu": pl.Float64, "seuil": pl.Float64, "p_value": pl.Float64}, orient="row")


# --------------------------------------------------------------------------- severity and secrecy


def cells_of(alert: dict) -> list[tuple]:
    """The cells (geo_niveau, geo_code, periode_niveau, periode, dimension, modalite) an alert's test rests on for its period."""
    dim, mod = alert["dimension"], alert["modalite"]
    if alert["kind"] == CLUSTER:
        i0, i1 = (int(month_index(pl.Series([m]))[0]) for m in (alert["debut"], alert["fin"]))
        months = month_label(np.arange(i0, i1 + 1))
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
