"""EARS C1, C2, C3 (CDC Early Aberration Reporting System) for short monthly series.

* C1: baseline = the 7 periods just before t; statistic (y_t - mean) / sd; alarm when > 3.
* C2: same with a guard band of 2 periods: baseline t-9 .. t-3; alarm when > 3.
* C3: sum over t, t-1, t-2 of max(0, C2 statistic - 1), each C2 statistic against its own baseline;
  alarm when > 2. Textbook C3: the current period counts (R's ``surveillance::earsC`` drops it, its C3
  alarm only looks at t-1 and t-2), and a C3 that the two previous periods already push above its
  threshold alarms whatever the current count (the signal persists two periods after a rise).

The standard deviation is the sample one (ddof = 1), floored at ``SD_FLOOR`` so that a perfectly
flat baseline does not turn a single case into an infinite statistic.

``ears_c123`` runs the three side by side, as the ``detect`` command does for series with less than
3 years; ``ears_batch`` is the older C1-or-C2 batch form (the quarterly fall-back of ``quarterly``).
Their thresholds follow ``alpha`` so that it means what it means for Farrington: C1 and C2 alarm when
the statistic exceeds z(1 - alpha) (3 is alpha = 0.00135), C3 when it exceeds the (1 - alpha) quantile
of a sum of three independent max(0, Z - 1), Z standard normal (``c3_sf``, ``c3_threshold``): 1.97 at
alpha = 0.01, the textbook 2 being alpha = 0.0093.

These textbook methods ignore seasonality and the discreteness and overdispersion of small counts, and
their baselines of 7 periods make the estimated sd a noisy one: their p-values are far too small (8 to
11 % of p <= 0.01 on stationary seasonal negative binomial series; 6 % of C3 > 1.97 on iid normal
series) and Benjamini-Hochberg cannot control them. Measured at alpha = 0.01 on the series of
``simulation`` cut to their last 35 months (10 replicates, seeds 2013 / 7): false positive rate
11.4 / 11.3 % for ``ears_batch``'s C1-or-C2, 13.6 / 13.6 % for C1 | C2, 24.8 / 25.0 % for C1 | C2 | C3
(14.2 % without C3's persistence), probability of detection 55.0 / 52.8 % -> 65.2 / 63.0 %; ``nb_short``
2.2 %, 56.3 / 55.3 %. On the 2-year national demo without rises a watch by EARS would raise 61 temporal
alerts a month with C1/C2, 220 with C3 (after Benjamini-Hochberg), by ``nb_short`` none: ``nb_short`` is
the test the watch uses for series with less than 3 years, EARS only serves the ``detect`` command.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

BASELINE = 7
GUARD = 2
SD_FLOOR = 1.0
C12_THRESHOLD = 3.0
C3_THRESHOLD = 2.0


def _statistic(y: np.ndarray, t: int, lag: int, baseline: int = BASELINE, sd_floor: float = SD_FLOOR):
    start, end = t - lag - baseline, t - lag
    if start < 0:
        return np.nan, np.nan, np.nan
    ref = y[start:end]
    mean = float(ref.mean())
    sd = max(float(ref.std(ddof=1)), sd_floor)
    return (float(y[t]) - mean) / sd, mean, sd


def c1(y, t: int, threshold: float = C12_THRESHOLD) -> tuple[float, bool]:
    stat, _, _ = _statistic(np.asarray(y, dtype=float), t, 0)
    return stat, bool(stat > threshold)


def c2(y, t: int, threshold: float = C12_THRESHOLD) -> tuple[float, bool]:
    stat, _, _ = _statistic(np.asarray(y, dtype=float), t, GUARD)
    return stat, bool(stat > threshold)


def c3(y, t: int, threshold: float = C3_THRESHOLD) -> tuple[float, bool]:
    y = np.asarray(y, dtype=float)
    total = 0.0
    for i in range(3):
        stat, _, _ = _statistic(y, t - i, GUARD)
        if np.isnan(stat):
            return np.nan, False
        total += max(0.0, stat - 1.0)
    return total, bool(total > threshold)


def ears_batch(history: np.ndarray, observed: np.ndarray, alpha: float = 0.01, sd_floor: float = SD_FLOOR):
    """Vectorised C1-or-C2 detection: the fall-back of the quarterly detector (``quarterly``; ``ears_c123`` is
    the one of ``detect_series``).

    ``history``: (N, H) previous counts, NaN where unknown, last column = t-1. Uses C2 (guard band
    of 2 periods, 7-period baseline) when 9 months are known, otherwise C1 on the known months
    (at least 3). The threshold is mean + z(1-alpha) * sd so that ``alpha`` has the same meaning as
    for Farrington; the score is the normal upper tail of the statistic.
    Returns expected, threshold, alarm, score (NaN / False where too little history).
    """
    history = np.asarray(history, dtype=float)
    observed = np.asarray(observed, dtype=float)
    N, H = history.shape
    z = stats.norm.isf(alpha)
    guarded = history[:, max(H - GUARD - BASELINE, 0):H - GUARD] if H >= GUARD + BASELINE else np.full((N, BASELINE), np.nan)
    recent = history[:, max(H - BASELINE, 0):]
    use_c2 = ~np.isnan(guarded).any(axis=1) if guarded.shape[1] == BASELINE else np.zeros(N, dtype=bool)
    mean, sd, known = _moments(np.where(use_c2[:, None], guarded, recent), sd_floor)
    ok = known >= 3
    threshold = mean + z * sd
    stat = (observed - mean) / sd
    score = stats.norm.sf(stat)
    alarm = ok & (observed > threshold)
    nan = np.full(N, np.nan)
    return np.where(ok, mean, nan), np.where(ok, threshold, nan), alarm, np.where(ok, score, nan)


# --------------------------------------------------------------------------- C1, C2 and C3 side by side

C3_STEP, C3_RANGE = 0.005, 40.0  # grid of the null distribution of C3 (its density underflows before 40)
EARS_WINDOW = BASELINE + GUARD + 2  # periods before t that C3 needs (the baseline of the C2 statistic of t - 2)
EARS_CRITERIA = ("c1", "c2", "c3")


@lru_cache(maxsize=1)
def _c3_null() -> tuple[np.ndarray, np.ndarray]:
    """Grid c and P(S >= c) for S = sum of three independent max(0, Z - 1), Z standard normal.

    S has a mass Phi(1)^3 at 0 and, above, the density 3 Phi(1)^2 f + 3 Phi(1) f*f + f*f*f, f(x) = phi(x + 1)
    (x > 0); the convolutions and the tail integral by the trapezoidal rule."""
    x = np.arange(0.0, C3_RANGE + C3_STEP / 2, C3_STEP)
    f = stats.norm.pdf(x + 1.0)

    def convolve(a, b):  # trapezoidal rule for (a * b)(x_i) = integral over [0, x_i] of a(u) b(x_i - u)
        full = np.convolve(a, b)[: x.size]
        return C3_STEP * (full - 0.5 * (a[0] * b + b[0] * a))

    p0 = stats.norm.cdf(1.0)
    f2 = convolve(f, f)
    density = 3 * p0 ** 2 * f + 3 * p0 * f2 + convolve(f2, f)
    pieces = 0.5 * C3_STEP * (density[1:] + density[:-1])
    sf = np.append(np.cumsum(pieces[::-1])[::-1], 0.0)
    sf[0] = 1.0  # P(S >= 0)
    return x, sf


def c3_sf(value) -> np.ndarray:
    """P(C3 >= value) when the three C2 statistics are independent standard normals (1 at 0; 0 beyond 40)."""
    x, sf = _c3_null()
    value = np.asarray(value, dtype=float)
    with np.errstate(divide="ignore"):
        log_sf = np.log(sf)
    out = np.exp(np.interp(value, x, log_sf, right=-np.inf))
    return np.where(value <= 0, 1.0, out)


def c3_threshold(alpha: float) -> float:
    """The C3 value above which the C3 p-value is below ``alpha`` (1.97 at 0.01; textbook 2: alpha 0.0093)."""
    x, sf = _c3_null()
    keep = sf > 0
    return float(np.interp(-np.log(alpha), -np.log(sf[keep]), x[keep]))


@dataclass(frozen=True)
class EarsBatch:
    expected: np.ndarray  # mean of the C2 baseline, of the C1 one when C2 cannot run
    threshold: np.ndarray  # count of t above which one criterion alarms (-1 when C3 alarms whatever it is)
    alarm: np.ndarray
    score: np.ndarray  # the month alone: min of the C1 and C2 normal tails
    p_value: np.ndarray  # min of the three criteria's p-values: alarm <=> p_value <= alpha
    statistics: np.ndarray  # (N, 3) C1, C2, C3 (NaN where they cannot run)
    fired: np.ndarray  # (N, 3) bool

    def methods(self) -> np.ndarray:
        """"ears_c1", "ears_c3", "ears_c1_c2_c3"... (the criteria that alarmed), "ears" when none did."""
        names = np.array(["ears"] * self.alarm.size, dtype=object)
        for i, label in enumerate(EARS_CRITERIA):
            names = np.where(self.fired[:, i], names + "_" + label, names)
        return names


def _moments(ref: np.ndarray, sd_floor: float):
    """Mean and sd (ddof = 1, floored at ``sd_floor``) of each row's known values, and how many are known."""
    known = (~np.isnan(ref)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nansum(ref, axis=1) / np.maximum(known, 1)
        sd = np.sqrt(np.nansum((ref - mean[:, None]) ** 2, axis=1) / np.maximum(known - 1, 1))
    return mean, np.maximum(sd, sd_floor), known


def ears_c123(window: np.ndarray, alpha: float = 0.01, sd_floor: float = SD_FLOOR) -> EarsBatch:
    """C1, C2 and C3 side by side for many series; alarm when any of them alarms.

    ``window``: (N, EARS_WINDOW + 1) counts of t - 11 .. t (last column = the tested period), NaN where
    unknown. C1 runs on the known periods of t - 7 .. t - 1 (at least 3, as ``ears_batch``), C2 on a complete
    baseline t - 9 .. t - 3, C3 when the C2 statistics of t, t - 1 and t - 2 can all be computed.
    Thresholds: z(1 - alpha) for C1 and C2, ``c3_threshold(alpha)`` for C3; p-values: normal tails for C1
    and C2, ``c3_sf`` for C3."""
    window = np.asarray(window, dtype=float)
    N, W = window.shape
    if W != EARS_WINDOW + 1:
        raise ValueError(f"window must hold {EARS_WINDOW + 1} periods, not {W}")
    t = W - 1
    y = window[:, t]
    z, h = stats.norm.isf(alpha), c3_threshold(alpha)
    nan = np.full(N, np.nan)

    m1, sd1, known1 = _moments(window[:, t - BASELINE:t], sd_floor)
    ok1 = (known1 >= 3) & ~np.isnan(y)
    s1 = np.where(ok1, (y - m1) / sd1, nan)

    c2_stats, c2_means, c2_sds = [], [], []
    for lag in range(3):  # C2 statistics of t, t - 1, t - 2
        end = t - lag - GUARD
        ref = window[:, end - BASELINE:end]
        mean, sd, known = _moments(ref, sd_floor)
        ok = (known == BASELINE) & ~np.isnan(window[:, t - lag])
        c2_stats.append(np.where(ok, (window[:, t - lag] - mean) / sd, nan))
        c2_means.append(mean)
        c2_sds.append(sd)
    s2, m2, sd2 = c2_stats[0], c2_means[0], c2_sds[0]
    ok2 = ~np.isnan(s2)
    previous = np.maximum(c2_stats[1] - 1.0, 0.0) + np.maximum(c2_stats[2] - 1.0, 0.0)  # NaN if either is
    ok3 = ok2 & ~np.isnan(previous)
    s3 = np.where(ok3, np.maximum(s2 - 1.0, 0.0) + previous, nan)

    fired = np.stack([ok1 & (s1 > z), ok2 & (s2 > z), ok3 & (s3 > h)], axis=1)
    alarm = fired.any(axis=1)
    p1 = np.where(ok1, stats.norm.sf(s1), np.inf)
    p2 = np.where(ok2, stats.norm.sf(s2), np.inf)
    p3 = np.where(ok3, c3_sf(np.where(ok3, s3, 0.0)), np.inf)
    score = np.minimum(p1, p2)
    p_value = np.minimum(score, p3)
    # the count of t above which a criterion alarms; C3: max(0, s2 - 1) > h - previous
    t1 = np.where(ok1, m1 + z * sd1, np.inf)
    t2 = np.where(ok2, m2 + z * sd2, np.inf)
    t3 = np.where(ok3, np.where(previous > h, -1.0, m2 + sd2 * (1.0 + h - previous)), np.inf)
    threshold = np.minimum(np.minimum(t1, t2), t3)
    any_ok = ok1 | ok2
    expected = np.where(ok2, m2, np.where(ok1, m1, nan))
    return EarsBatch(
        expected=expected,
        threshold=np.where(any_ok, threshold, nan),
        alarm=alarm,
        score=np.where(any_ok, score, nan),
        p_value=np.where(any_ok, p_value, nan),
        statistics=np.stack([s1, s2, s3], axis=1),
        fired=fired,
    )


# --------------------------------------------------------------------------- calibrated short-history test

SHORT_WINDOW = 36  # months of reference at most (Farrington takes over with 3 whole years)
SHORT_LEVEL = 12  # the level is the deseasonalised mean of the last SHORT_LEVEL reference months
SHORT_MIN_KNOWN = 3  # known reference months needed for a test
SEASON_PRIOR = 10.0  # prior precision of a calendar-month factor (log scale): 1 / 0.32^2
SINGLE_SHARE = 0.1  # as Farrington: share of alpha given to the month alone, the rest to the 2-period sum
IPF_ROUNDS = 12
EMPTY_LEVEL = 0.5  # an empty level window reads as half a case over it


def _group_sum(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    out = np.zeros((n_groups,) + values.shape[1:])
    np.add.at(out, groups, values)
    return out


def _seasonal_fit(Y: np.ndarray, pos: np.ndarray, groups: np.ndarray, n_groups: int, period: int):
    """Poisson fit of y_it = a_i s_{g(i), pos(t)} by iterative proportional fitting, one seasonal profile per group.

    The calendar-period factors get a gamma prior of precision ``SEASON_PRIOR`` around 1 (in effective cases,
    i.e. counts divided by the group's dispersion): a period never observed, or observed on a handful of
    cases, stays near 1. Returns s (groups, period), Var(log s) (groups, period), group dispersion (groups,)."""
    known = ~np.isnan(Y)
    Y0 = np.where(known, Y, 0.0)
    onehot = (pos[:, None] == np.arange(period)[None, :]).astype(float)  # (W, P)
    Ym = _group_sum(Y0 @ onehot, groups, n_groups)  # (G, P) cases per group and calendar period
    cells = _group_sum(known.astype(float) @ onehot, groups, n_groups)
    s = np.ones((n_groups, period))
    phi_g = np.ones(n_groups)
    for _ in range(IPF_ROUNDS):
        S = s[groups][:, pos]
        denom = (S * known).sum(axis=1)
        a = np.where(denom > 0, Y0.sum(axis=1) / np.maximum(denom, 1e-300), 0.0)
        Am = _group_sum((a[:, None] * known) @ onehot, groups, n_groups)
        prior = SEASON_PRIOR * phi_g[:, None]
        s = (Ym + prior) / (Am + prior)
        mu = a[:, None] * s[groups][:, pos]
        pearson = np.where(known & (mu > 0), (Y0 - mu) ** 2 / np.maximum(mu, 1e-12), 0.0).sum(axis=1)
        n_cells = known.sum(axis=1)
        used = (a > 0).astype(float)
        df = (_group_sum(n_cells * used, groups, n_groups) - _group_sum(used, groups, n_groups)
              - (cells > 0).sum(axis=1))
        phi_g = np.maximum(1.0, _group_sum(pearson * used, groups, n_groups) / np.maximum(df, 1.0))
    var_log_s = 1.0 / (Ym / phi_g[:, None] + SEASON_PRIOR)
    return s, var_log_s, pearson, n_cells


def nb_short(grid: np.ndarray, s_idx: np.ndarray, t_idx: np.ndarray, alpha: float = 0.01, groups=None,
             phase: int = 0, period: int = 12, guard: int = GUARD, level: int = SHORT_LEVEL,
             window: int = SHORT_WINDOW, accumulate: bool = True):
    """Count-based test for short series (less than 3 years), calibrated so that Benjamini-Hochberg holds.

    ``grid``: (series, periods) counts, NaN where unknown (a series is known on one contiguous run);
    rows (``s_idx``, ``t_idx``) to test; ``groups``: one label per series of ``grid``, the series sharing a
    seasonal profile (default: all); ``phase``: calendar position (0 .. period-1) of column 0.

    For a target period t the reference is the known periods from t - guard - window to t - guard - 1
    (the guard band keeps an outbreak under way out of its own baseline, as EARS C2):

    * seasonality: a calendar-period factor per group, fitted with the series' levels on the reference
      (Poisson model y = a_i s_month, iterative proportional fitting, gamma prior around 1): with 12
      months or more the same month of last year carries the seasonal peak or trough, pooled over the
      series of the group (pass disjoint series, e.g. one geographic level of one indicator: the
      variance of the factor assumes their counts independent); before, the factor is near 1;
    * level: deseasonalised mean of the last ``level`` reference periods (at least ``EMPTY_LEVEL`` case);
    * dispersion: the series' own Pearson statistic over the whole reference (against its mean level there and
      the group's seasonal factors), the prediction being averaged over its sampling distribution (chi2
      with n - 1 df, each point floored at 1: ``farrington.Predictive``),
      widened by the estimation variance of the level and of the seasonal factor;
    * p-values: exact upper tails P(Y >= y) of the negative binomial predictive of the period alone (the
      ``score``) and, with ``accumulate``, of the sum of t - 1 and t when y_t exceeds its expectation;
      combined as Farrington's (weighted Bonferroni, share ``SINGLE_SHARE`` to the period alone).
      The threshold is the count of t above which the test alerts, given the count of t - 1.

    Returns expected, threshold, alarm, score, p_value (NaN / False where fewer than ``SHORT_MIN_KNOWN``
    reference periods are known).
    """
    from analytics.veille.farrington import Predictive  # farrington imports nothing from here

    grid = np.asarray(grid, dtype=float)
    s_idx, t_idx = np.asarray(s_idx, dtype=np.int64), np.asarray(t_idx, dtype=np.int64)
    n = s_idx.size
    groups = np.zeros(grid.shape[0], dtype=np.int64) if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1].ravel()
    n_groups = int(groups.max()) + 1 if groups.size else 1
    expected, threshold, score, p_value = (np.full(n, np.nan) for _ in range(4))
    alarm = np.zeros(n, dtype=bool)
    for t in np.unique(t_idx):
        rows = np.nonzero(t_idx == t)[0]
        cols = np.arange(max(0, t - guard - window), max(0, t - guard))
        if cols.size == 0:
            continue
        pos = (cols + phase) % period
        Y = grid[:, cols]
        s, var_log_s, pearson, n_cells = _seasonal_fit(Y, pos, groups, n_groups, period)
        series = s_idx[rows]
        g = groups[series]
        ref = Y[series][:, -level:]
        known = ~np.isnan(ref)
        n_known = known.sum(axis=1)
        ok = (n_known >= SHORT_MIN_KNOWN) & (~np.isnan(Y[series]).all(axis=1))
        ok &= ~np.isnan(grid[series, t])
        if not ok.any():
            continue
        rows, series, g, ref, known, n_known = rows[ok], series[ok], g[ok], ref[ok], known[ok], n_known[ok]
        # the dispersion from every reference period (more degrees of freedom than the level's window)
        df = np.maximum(n_cells[series] - 1, 1).astype(float)
        phi = pearson[series] / df
        S = s[g][:, pos[-level:]]
        cases = np.where(known, ref, 0.0).sum(axis=1)
        exposure = (S * known).sum(axis=1)
        a = np.maximum(cases, EMPTY_LEVEL) / exposure
        mu_ref = a[:, None] * S
        phi_floor = np.maximum(phi, 1.0)
        level_mu = (mu_ref * known).sum(axis=1)
        p_t = (t + phase) % period
        mu = a * s[g, p_t]
        unit = mu ** 2 / level_mu + mu ** 2 * var_log_s[g, p_t] / phi_floor
        single = Predictive(mu, phi, df, unit)
        y = grid[series, t]
        p1 = single.sf(y)
        expected[rows], score[rows] = mu, p1
        if accumulate and t >= 1 and not np.isnan(grid[series, t - 1]).any():
            p_prev = (t - 1 + phase) % period
            mu_prev = a * s[g, p_prev]
            total = mu + mu_prev
            unit2 = total ** 2 / level_mu + (mu ** 2 * var_log_s[g, p_t] + mu_prev ** 2 * var_log_s[g, p_prev]) / phi_floor
            both = Predictive(total, phi, df, unit2)
            y_prev = grid[series, t - 1]
            p2 = np.where(y > mu, both.sf(y + y_prev), 1.0)
            p = np.minimum(1.0, np.minimum(p1 / SINGLE_SHARE, p2 / (1.0 - SINGLE_SHARE)))
            q1 = single.quantile(SINGLE_SHARE * alpha)
            q2 = both.quantile((1.0 - SINGLE_SHARE) * alpha)
            threshold[rows] = np.minimum(q1, np.maximum(q2 - y_prev, np.floor(mu)))
        else:
            p = p1
            threshold[rows] = single.quantile(alpha)
        p_value[rows] = p
        alarm[rows] = p <= alpha
    return expected, threshold, alarm, score, p_value
