"""EARS C1, C2, C3 (CDC Early Aberration Reporting System) for short monthly series.

* C1: baseline = the 7 periods just before t; statistic (y_t - mean) / sd; alarm when > 3.
* C2: same with a guard band of 2 periods: baseline t-9 .. t-3; alarm when > 3.
* C3: sum over t, t-1, t-2 of max(0, C2 statistic - 1); alarm when > 2.

The standard deviation is the sample one (ddof = 1), floored at ``SD_FLOOR`` so that a perfectly
flat baseline does not turn a single case into an infinite statistic.
"""

from __future__ import annotations

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
    """Vectorised C1/C2-type detection used as the fall-back of Farrington.

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
    ref = np.where(use_c2[:, None], guarded, recent)
    known = (~np.isnan(ref)).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.nanmean(np.where(known[:, None] > 0, ref, 0.0), axis=1)
        sd = np.sqrt(np.nansum((ref - mean[:, None]) ** 2, axis=1) / np.maximum(known - 1, 1))
    sd = np.maximum(sd, sd_floor)
    ok = known >= 3
    threshold = mean + z * sd
    stat = (observed - mean) / sd
    score = stats.norm.sf(stat)
    alarm = ok & (observed > threshold)
    nan = np.full(N, np.nan)
    return np.where(ok, mean, nan), np.where(ok, threshold, nan), alarm, np.where(ok, score, nan)
