"""Detection on quarterly counts, for series too sparse to be watched month by month.

A target quarter with at least ``MIN_YEARS`` whole years before it is compared with the same quarter
and its two neighbours in each of the previous years (up to ``MAX_YEARS``; the window of the original
Farrington algorithm, Farrington et al. 1996, without trend: 2 to 5 years of quarters cannot support
one). Mean and quasi-Poisson dispersion phi = max(1, variance / mean) of these reference quarters,
widened by the estimation variance of the mean (phi (1 + 1/n)); the p-value is P(Y >= y) under the
negative binomial of that mean and variance, the threshold its upper ``alpha`` quantile. An empty
reference reads as half a case over the reference (a first case is unusual, not infinitely so).
Shorter histories use EARS C1/C2 (``analytics.veille.ears``) on the previous quarters.
"""

from __future__ import annotations

import numpy as np

from analytics.veille.ears import BASELINE, GUARD, ears_batch
from analytics.veille.farrington import nb_isf, nb_sf

MIN_YEARS, MAX_YEARS = 2, 5
WINDOW = (-1, 0, 1)


def reference_offsets(t: int) -> np.ndarray:
    years = min(MAX_YEARS, t // 4)
    offsets = [-4 * j + k for j in range(1, years + 1) for k in WINDOW]
    return np.array([o for o in offsets if 0 <= t + o < t], dtype=np.int64)


def detect_quarters(grid: np.ndarray, t: int, alpha: float = 0.01):
    """Test column ``t`` of ``grid`` (series x quarters, counts) for every series at once.

    Returns expected, threshold, alarm, p_value (NaN / False where the history is too short) and the method."""
    grid = np.asarray(grid, dtype=float)
    observed = grid[:, t]
    if t // 4 >= MIN_YEARS:
        ref = grid[:, t + reference_offsets(t)]
        n = ref.shape[1]
        mean = ref.mean(axis=1)
        floor = 0.5 / n
        var = ref.var(axis=1, ddof=1)
        phi = np.where(mean > 0, np.maximum(1.0, var / np.maximum(mean, floor)), 1.0)
        mean = np.maximum(mean, floor)
        dispersion = phi * (1.0 + 1.0 / n)
        p_value = nb_sf(observed, mean, dispersion)
        threshold = nb_isf(np.full(mean.shape, alpha), mean, dispersion)
        return mean, threshold, p_value <= alpha, p_value, "trimestrielle"
    width = BASELINE + GUARD
    history = np.full((grid.shape[0], width), np.nan)
    past = grid[:, max(0, t - width):t]
    if past.shape[1]:
        history[:, width - past.shape[1]:] = past
    expected, threshold, alarm, score = ears_batch(history, observed, alpha)
    return expected, threshold, alarm, score, "ears"
