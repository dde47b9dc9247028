"""Severity band of an alert (« modérée », « forte », « très forte ») from its p-value and its observed/expected ratio.

Both must be strong for a strong band: a tiny p-value on a large series with a 10 % rise stays
« modérée », and so does a doubling of 2 cases into 4 whose p-value is only just below the threshold.
The band is what a person reads about an alert that touches a secret cell: it says how unusual the
rise is without any figure.
"""

from __future__ import annotations

import math

MODERATE, STRONG, VERY_STRONG = "moderee", "forte", "tres_forte"
BANDS = (MODERATE, STRONG, VERY_STRONG)
LABELS = {MODERATE: "modérée", STRONG: "forte", VERY_STRONG: "très forte"}
RANK = {MODERATE: 1, STRONG: 2, VERY_STRONG: 3}
P_LIMITS = (1e-3, 1e-4)  # p-value at or below: forte, très forte
RATIO_LIMITS = (1.5, 2.0)  # observed / expected at or above: forte, très forte
EXPECTED_FLOOR = 0.5  # an expected count below half a case is read as half a case for the ratio


def ratio(observed: float, expected: float) -> float:
    return float(observed) / max(float(expected), EXPECTED_FLOOR)


def band(p_value: float, observed: float, expected: float) -> str:
    """The band code (``BANDS``) of an alert."""
    p = 1.0 if p_value is None or math.isnan(p_value) else float(p_value)
    r = ratio(observed, expected)
    by_p = 1 + sum(p <= limit for limit in P_LIMITS)
    by_ratio = 1 + sum(r >= limit for limit in RATIO_LIMITS)
    return BANDS[min(by_p, by_ratio) - 1]


def label(code: str) -> str:
    return LABELS.get(code, code)
