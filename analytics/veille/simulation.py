"""Simulation benchmark in the spirit of Noufaily et al. (2013), adapted to monthly counts.

Baselines: negative binomial with mean mu_t = exp(theta + beta t + sum_j gamma1 cos(2 pi j t / 12)
+ gamma2 sin(2 pi j t / 12)) and variance phi * mu_t, for the 7 weekly parameter sets of the paper
converted to months (theta + log(52/12), beta * 52/12), with or without trend and with 0, 1 or 2
harmonics (42 scenarios); 10 years of months.
Outbreaks: four in the first 8 years (sizes Poisson(k sd) with k drawn in {2, 3, 5, 10}) and one
current outbreak starting in the last 24 months, of size Poisson(k sd), k = 1 .. 10, sd the
baseline's standard deviation at the start month; every case is delayed by a log-normal(0, 0.5)
number of months, truncated to 3 months.
Scores on the last 24 months: false positive rate (alarms at months without outbreak cases /
such months), probability of detection (current outbreaks with at least one alarm during their
months), sensitivity (alarmed outbreak months / outbreak months).

The detector is ``farrington`` as ``detect_series`` runs it on such series: reference as long as
the history allows (7 years for every scored month here), the month alone and the 2-month
accumulation combined at ``alpha``. The same figures for the month alone tested at ``alpha`` (the
score) are given under ``single_month``.
"""

from __future__ import annotations

import numpy as np

from analytics.veille.farrington import available_years, design, farrington

PARAMETER_SETS = (
    (0.1, 0.0025, 0.6, 0.6, 1.5), (-2.0, 0.005, 0.1, 0.3, 2.0), (1.5, 0.003, 0.2, -0.4, 1.0),
    (0.5, 0.002, 0.5, 0.5, 5.0), (2.5, 0.001, 1.0, 0.1, 3.0), (3.75, 0.001, 0.1, -0.1, 1.1),
    (5.0, 0.0001, 0.05, 0.01, 1.2),
)
MONTHS, SCORED = 120, 24
K_VALUES = tuple(range(1, 11))
PAST_K = (2, 3, 5, 10)


def scenarios():
    for theta, beta, g1, g2, phi in PARAMETER_SETS:
        for trend in (False, True):
            for harmonics in (0, 1, 2):
                yield dict(theta=theta + np.log(52 / 12), beta=beta * 52 / 12 if trend else 0.0,
                           gamma1=g1, gamma2=g2, phi=phi, harmonics=harmonics, trend=trend)


def baseline_mean(sc: dict, months: int = MONTHS) -> np.ndarray:
    t = np.arange(1, months + 1, dtype=float)
    eta = sc["theta"] + sc["beta"] * t
    for j in range(1, sc["harmonics"] + 1):
        eta = eta + sc["gamma1"] * np.cos(2 * np.pi * j * t / 12) + sc["gamma2"] * np.sin(2 * np.pi * j * t / 12)
    return np.exp(eta)


def _draw_counts(rng, mu: np.ndarray, phi: float) -> np.ndarray:
    if phi <= 1.0:
        return rng.poisson(mu)
    size = mu / (phi - 1.0)
    return rng.negative_binomial(size, size / (size + mu))


def _outbreak(rng, months: int, start: int, size: int) -> np.ndarray:
    cases = np.zeros(months)
    if size <= 0:
        return cases
    delay = np.minimum(np.floor(rng.lognormal(0.0, 0.5, size)), 2).astype(int)
    np.add.at(cases, np.minimum(start + delay, months - 1), 1)
    return cases


def simulate_series(rng, sc: dict, k: float):
    """One series: (counts, outbreak cases of the current outbreak, past outbreak cases)."""
    mu = baseline_mean(sc)
    counts = _draw_counts(rng, mu, sc["phi"]).astype(float)
    sd = np.sqrt(sc["phi"] * mu)
    past = np.zeros(MONTHS)
    for start in rng.choice(np.arange(0, MONTHS - SCORED - 3), size=4, replace=False):
        past += _outbreak(rng, MONTHS, int(start), int(rng.poisson(rng.choice(PAST_K) * sd[start])))
    start = int(rng.integers(MONTHS - SCORED, MONTHS - 2))
    current = _outbreak(rng, MONTHS, start, int(rng.poisson(k * sd[start])))
    return counts + past + current, current


def farrington_detector(counts: np.ndarray, targets: np.ndarray, alpha: float):
    """(alarms, alarms of the month alone), each (series, targets): Farrington as ``detect_series`` runs it."""
    alarm = np.zeros((counts.shape[0], targets.size), dtype=bool)
    single = np.zeros_like(alarm)
    years = np.array([available_years(int(t)) for t in targets])
    for b in np.unique(years):
        cols = np.nonzero(years == b)[0]
        t = targets[cols]
        offsets = design(int(b)).offsets
        ref = counts[:, t[:, None] + offsets[None, :]].reshape(-1, offsets.size)
        result = farrington(ref, counts[:, t].reshape(-1), alpha, previous=counts[:, t - 1].reshape(-1), thresholds=False)
        alarm[:, cols] = result.alarm.reshape(-1, cols.size)
        single[:, cols] = (result.score <= alpha).reshape(-1, cols.size)
    return alarm, single


def run_simulation(replicates: int = 10, seed: int = 2013, alpha: float = 0.01, detector=None) -> dict:
    """Deterministic per seed. Returns overall and per-k figures for the improved Farrington.

    ``detector(counts, targets, alpha)`` -> alarms (series, targets) replaces it (to score another
    method on the same series); ``single_month`` is then absent."""
    rng = np.random.default_rng(seed)
    targets = np.arange(MONTHS - SCORED, MONTHS)
    series, outbreak_cases, keys = [], [], []
    for _ in range(replicates):
        for s_no, sc in enumerate(scenarios()):
            for k in K_VALUES:
                counts, current = simulate_series(rng, sc, k)
                series.append(counts)
                outbreak_cases.append(current[targets])
                keys.append((s_no, k))
    counts = np.stack(series)
    if detector is None:
        alarm, single = farrington_detector(counts, targets, alpha)
    else:
        alarm, single = np.asarray(detector(counts, targets, alpha), dtype=bool), None
    cases = np.stack(outbreak_cases) > 0
    k_of = np.array([k for _, k in keys])

    def figures(mask, alarm=alarm):
        a, c = alarm[mask], cases[mask]
        quiet = ~c
        has_outbreak = c.any(axis=1)
        detected = (a & c).any(axis=1)
        return {
            "fpr": float((a & quiet).sum() / max(quiet.sum(), 1)),
            "pod": float(detected[has_outbreak].mean()) if has_outbreak.any() else float("nan"),
            "sensitivity": float((a & c).sum() / max(c.sum(), 1)),
        }

    everything = np.ones(len(keys), dtype=bool)
    out = {
        "method": "farrington (Noufaily 2013, monthly, flexible, month + 2-month accumulation)" if detector is None
        else getattr(detector, "__name__", "detector"),
        "replicates": replicates, "seed": seed, "alpha": alpha,
        "series": len(keys), "scored_months": SCORED,
        **figures(everything),
        "by_k": {int(k): figures(k_of == k) for k in K_VALUES},
    }
    if single is not None:
        out["reference_years"] = sorted({available_years(int(t)) for t in targets})
        out["single_month"] = figures(everything, single)
    return out
