"""Multiple testing across the series watched for one period."""

from __future__ import annotations

import numpy as np


def benjamini_hochberg(p_values, q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Benjamini-Hochberg step-up: (adjusted p-values, rejected mask). NaN p-values are never rejected."""
    p = np.asarray(p_values, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    valid = np.nonzero(~np.isnan(p))[0]
    m = valid.size
    if m == 0:
        return adjusted, np.zeros(p.shape, dtype=bool)
    order = valid[np.argsort(p[valid], kind="stable")]
    ranked = p[order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    adjusted[order] = np.minimum(ranked, 1.0)
    rejected = np.zeros(p.shape, dtype=bool)
    rejected[valid] = adjusted[valid] <= q
    return adjusted, rejected


def expected_false_alerts(alpha: float, n_series: int) -> float:
    """Expected number of false alerts per month when every one of ``n_series`` series is tested at ``alpha``."""
    return float(alpha) * int(n_series)
