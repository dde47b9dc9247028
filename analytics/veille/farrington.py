"""Improved Farrington algorithm (Noufaily et al. 2013) adapted to monthly counts, "flexible" variant.

For a target month t the reference data are every month from t - 12*b to t - 7 (the last 6 months
before t excluded, as Noufaily's 26 weeks), with b = as many whole years as the series has, between
``B_MIN`` = 3 and ``B_MAX`` = 7 (monthly data have 52/12 times fewer points a year than weekly
ones: with 3 years, 30 months, the dispersion and the trend are poorly estimated; on the benchmark
of ``simulation`` 7 years both raise the detection rate and bring the false alarm rate down).
A quasi-Poisson log-linear model is fitted by IRLS (numpy, batched) with:

* seasonality: two harmonics of period 12 (``season="harmonic"``, 4 parameters), replaced by the
  12-level calendar-month factor when a quasi-likelihood F test of the harmonics against that
  factor (nested, 7 more parameters; both fitted without down-weighting) rejects them at
  ``SEASON_P`` = 1 % (``season="auto"``), so that a sharp pattern (a closed month...) is not
  smoothed away. The earlier design (a 5-month window around the month of t and one level per
  other month, on 3 years) flattened the seasonal peak and lost both power and calibration.
  Only where every calendar month holds on average ``MONTH_MIN_MEAN`` = 1 case per reference year:
  on sparse series the F test has no large-sample footing (a calendar month without a single case
  in the reference fits exactly, the factor looks significant, and that month is predicted at 0 --
  alerts on 1 to 4 cases with p < 1e-20 on the national demo);
* a linear trend, always kept (``TREND_P`` None). Noufaily keep it only when significant (p < 0.05):
  on the simulation (10 replicates, seeds 2013 / 7) that gives FPR 0.69 % / 0.73 %, POD 54.5 % /
  52.6 % (always kept: 0.58 % / 0.61 %, 52.8 % / 50.9 %) and removes the near-zero predictions of
  chance declines on 5-year series, but on stationary 60-month negative binomial series it gives
  1.7 % of p < 0.01 (the trends kept by chance are the overestimated ones): rejected for now. The
  original rule against extrapolation (no prediction above the largest reference count,
  ``EXTRAPOLATION_RULE``) stays off: on the monthly simulation it raised the FPR to 1.6-1.8 %. Only a
  run-away fit (prediction above ``RUNAWAY`` = 5 times the largest reference count + 1) is refitted
  on its level alone: on a sparse reference whose few cases all fall in its last months (zeros, then
  1, 1, 1) the trend and the harmonics separate the data and the prediction reached exp(30) = 1e13
  (0.8 % of the département series of the national demo under one case a month; without the trend
  the harmonics still separate, and predict 1e-6 at the calendar months without a case).
  ``HARMONIC_P`` (harmonics kept only when an F test against no season rejects) is off too: on
  sparse series the dropped seasonality biases every département the same way (national August
  trough, September peak), which raised false clusters when the space-time scan summed the
  départements' Farrington baselines;
* down-weighting of past outbreaks (Noufaily): scaled Anscombe residuals s_i > 2.58 get the weight
  gamma * s_i^-2, the others gamma, gamma such that the weights sum to n, and the model is refitted;
  this is done twice (``ROUNDS``): the first fit, pulled up by the past outbreaks, hides the
  moderate ones;
* dispersion phi = max(1, weighted Pearson statistic / (n - p) / c), c = 0.967 the share of the
  dispersion that the down-weighting removes from a normal sample without outbreak (a consistency
  correction: without it the weights shrink the dispersion of every series).

Prediction distribution: negative binomial with mean mu0 and variance phi * mu0 (Poisson when
phi = 1) widened by the estimation variance of mu0 (delta method), and averaged over the sampling
distribution of the dispersion (phi ~ phi_hat * df / chi2_df, ``PHI_QUADRATURE`` equal-probability
points, each floored at 1): a plug-in phi_hat, estimated from 30 to 80 months, understates the tail.

Tests (``previous`` given, i.e. the count of month t - 1):

* the month alone: p1 = P(Y_t >= y_t) (the ``score``);
* the 2-month accumulation: p2 = P(Y_{t-1} + Y_t >= y_{t-1} + y_t) under the same model (both
  months predicted by the fit made for t), only when y_t > mu0 (a normal month does not alert
  because the month before was high: that month had its own test); an outbreak whose cases spread
  over two months is seen with about sqrt(2) times the signal of each month alone;
* combined p-value (weighted Bonferroni): p = min(1, p1 / f, p2 / (1 - f)), f = ``SINGLE_SHARE``;
  an alarm is raised when p <= alpha. The threshold ``seuil`` is the count of month t above which
  the alarm is raised given y_{t-1}: min(q1, max(q2 - y_{t-1}, floor(mu0))), q1 and q2 the upper
  quantiles at f * alpha and (1 - f) * alpha, so that alarm <=> observed > threshold.

Without ``previous`` only the month alone is tested, at alpha.

Everything is vectorised over many (series, month) problems at once, in chunks of ``CHUNK`` rows
(the temporaries then stay in the cache instead of being allocated anew at each iteration): the
design matrix depends only on the relative position of the reference months and on b.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

B_MIN, B_MAX, EXCLUDED = 3, 7, 6
HARMONICS = 2
SEASON_P = 0.01
HARMONIC_P = None  # None: the harmonics are always kept; a number: kept only if their F test against no season is below
MONTH_MIN_MEAN = 1.0  # the month factor needs on average this many cases per reference month of each calendar month
RESIDUAL_LIMIT = 2.58
ROUNDS = 2  # Noufaily refit once; a second round catches the moderate past outbreaks the first fit hid
TREND_P = None  # None: the trend is always kept; a number: kept only if its p-value is below (Noufaily: 0.05)
EXTRAPOLATION_RULE = False  # the original's 'no prediction above the largest reference count'
RUNAWAY = 5.0  # a prediction above RUNAWAY x (largest reference count + 1) is refitted on the level alone
SINGLE_SHARE = 0.1  # share of alpha given to the month alone; the rest goes to the 2-month accumulation
PHI_QUADRATURE = 8
MAX_RELATIVE_VARIANCE = 4.0  # cap of Var(log mu0_hat): beyond, the prediction says nothing anyway
CHUNK = 512


def _one_blas_thread():
    """The batched fits are many small products: BLAS threads only add overhead (3-4 times slower on 2 cores)."""
    try:
        from threadpoolctl import threadpool_limits  # installed with scikit-learn
    except ImportError:  # pragma: no cover
        return nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
SEASONS = ("harmonic", "month", "none")


@dataclass(frozen=True)
class Design:
    offsets: np.ndarray  # offsets of the reference months relative to t (negative integers)
    X: np.ndarray  # (n, p) with trend column (last)
    X_no_trend: np.ndarray  # (n, p - 1)
    trend_column: int
    x_pred: np.ndarray  # (2, p): rows of month t and month t - 1
    x_pred_no_trend: np.ndarray  # (2, p - 1)
    years: int
    season: str


def _rows(offsets: np.ndarray, season: str, trend: bool) -> np.ndarray:
    offsets = np.asarray(offsets, dtype=np.int64)
    columns = [np.ones(offsets.size)]
    if season == "harmonic":
        for j in range(1, HARMONICS + 1):
            columns += [np.cos(2 * np.pi * j * offsets / 12), np.sin(2 * np.pi * j * offsets / 12)]
    elif season == "none":
        pass
    elif season == "month":
        position = np.mod(offsets, 12)  # 0 = same calendar month as t
        columns += [(position == d).astype(float) for d in range(1, 12)]
    else:
        raise ValueError(f"unknown season {season!r}")
    if trend:
        columns.append(offsets / 12.0)  # years, relative to t: the prediction at t uses trend = 0
    return np.column_stack(columns)


@lru_cache(maxsize=32)
def design(b: int = B_MIN, excluded: int = EXCLUDED, season: str = "harmonic") -> Design:
    """Shared design: intercept (= level of month t), seasonality, trend; reference t-12b .. t-excluded-1."""
    if b < 1 or 12 * b <= excluded + 1:
        raise ValueError("reference too short")
    offsets = np.arange(-12 * b, -excluded, dtype=np.int64)
    X = _rows(offsets, season, True)
    targets = np.array([0, -1])
    return Design(offsets=offsets, X=X, X_no_trend=_rows(offsets, season, False), trend_column=X.shape[1] - 1,
                  x_pred=_rows(targets, season, True), x_pred_no_trend=_rows(targets, season, False),
                  years=b, season=season)


def years_of(n_reference: int, excluded: int = EXCLUDED) -> int:
    b, rest = divmod(n_reference + excluded, 12)
    if rest or b < 1:
        raise ValueError(f"{n_reference} reference months do not make whole years (12 b - {excluded})")
    return b


@lru_cache(maxsize=8)
def _outer(X_bytes: bytes, n: int, p: int) -> np.ndarray:
    X = np.frombuffer(X_bytes).reshape(n, p)
    return (X[:, :, None] * X[:, None, :]).reshape(n, p * p)


def _xx(X: np.ndarray) -> np.ndarray:
    """Row-wise outer products of X, (n, p*p): X'WX for many weight vectors is then one product."""
    return _outer(np.ascontiguousarray(X).tobytes(), *X.shape)


def _irls(X: np.ndarray, Y: np.ndarray, weights: np.ndarray, iterations: int = 40, mu=None):
    """Batched Poisson IRLS with prior weights. X (n, p) shared, Y and weights (N, n)."""
    N, n = Y.shape
    p = X.shape[1]
    XX = _xx(X)
    ridge = 1e-8 * np.eye(p)
    mu = (np.maximum(Y, 0.0) + 0.5) if mu is None else mu.copy()
    eta = np.log(mu)
    beta = np.zeros((N, p))
    active = np.arange(N)
    for _ in range(iterations):
        if active.size == 0:
            break
        m, y = mu[active], Y[active]
        z = eta[active] + (y - m) / m
        W = weights[active] * m
        A = (W @ XX).reshape(-1, p, p) + ridge
        new = np.linalg.solve(A, ((W * z) @ X)[..., None])[..., 0]
        change = np.max(np.abs(new - beta[active]), axis=1)
        beta[active] = new
        eta_new = np.clip(new @ X.T, -30.0, 30.0)
        eta[active] = eta_new
        mu[active] = np.exp(eta_new)
        active = active[change >= 1e-7]
    A = ((weights * mu) @ XX).reshape(-1, p, p) + ridge
    return beta, mu, A


def _pearson(Y, mu, weights, p):
    """Raw (not floored) Pearson dispersion."""
    return np.sum(weights * (Y - mu) ** 2 / mu, axis=1) / max(Y.shape[1] - p, 1)


def _deviance(Y, mu):
    safe = np.where(Y > 0, Y, 1.0)
    return 2.0 * np.sum(np.where(Y > 0, Y * np.log(safe / mu), 0.0) - (Y - mu), axis=1)


def _down_weights(X, Y, mu, A, raw):
    """Noufaily's weights: gamma * s^-2 for scaled Anscombe residuals s > RESIDUAL_LIMIT, gamma elsewhere, sum n."""
    N, n = Y.shape
    Ainv = np.linalg.inv(A)
    leverage = np.clip((Ainv.reshape(N, -1) @ _xx(X).T) * mu, 0.0, 0.999)
    anscombe = 1.5 * (np.cbrt(Y) ** 2 - np.cbrt(mu) ** 2) / mu ** (1.0 / 6.0)
    scaled = anscombe / np.sqrt(np.maximum(raw, 1.0)[:, None] * (1.0 - leverage))
    weights = np.where(scaled > RESIDUAL_LIMIT, 1.0 / np.maximum(scaled, 1e-12) ** 2, 1.0)
    return weights * (n / weights.sum(axis=1, keepdims=True))


@lru_cache(maxsize=4)
def _consistency(limit: float) -> float:
    """E[w s^2] / E[w] for s ~ N(0, 1) and Noufaily's weights (1 below ``limit``, s^-2 above): the share of
    the dispersion that the down-weighting removes from a sample without outbreak (0.967 at 2.58)."""
    from scipy.integrate import quad

    inverse_square_tail = quad(lambda x: stats.norm.pdf(x) / x ** 2, limit, np.inf)[0]
    return float((1.0 - limit * stats.norm.pdf(limit)) / (stats.norm.cdf(limit) + inverse_square_tail))


def _fit_reweighted(X: np.ndarray, Y: np.ndarray, reweight: bool = True, first=None):
    """Fit, then ``ROUNDS`` times: down-weight the outlying reference months (past outbreaks) and refit.

    Returns beta, A (weighted X'WX), raw dispersion (corrected by ``_consistency``). ``first``: an
    unweighted fit already made."""
    p = X.shape[1]
    ones = np.ones_like(Y)
    beta, mu, A = _irls(X, Y, ones) if first is None else first
    raw = _pearson(Y, mu, ones, p)
    if not reweight:
        return beta, A, raw
    for _ in range(ROUNDS):
        weights = _down_weights(X, Y, mu, A, raw)
        beta, mu, A = _irls(X, Y, weights, mu=mu)
        raw = _pearson(Y, mu, weights, p) / _consistency(RESIDUAL_LIMIT)
    return beta, A, raw


def _predictions(beta, A, x_pred):
    """mu at t and t - 1, and the unit estimation variances (per unit of phi) of mu_t and of mu_{t-1} + mu_t."""
    Ainv = np.linalg.inv(A)
    mu = np.exp(np.clip(beta @ x_pred.T, -30.0, 30.0))  # (N, 2)
    g1 = mu[:, :1] * x_pred[0]
    g2 = g1 + mu[:, 1:2] * x_pred[1]
    v1 = np.einsum("nj,njk,nk->n", g1, Ainv, g1)
    v2 = np.einsum("nj,njk,nk->n", g2, Ainv, g2)
    return mu, v1, v2, Ainv


def _fit_design(d: Design, Y: np.ndarray, reweight: bool, first=None):
    """Noufaily's procedure for one design: mu_t, mu_{t-1}, raw phi, df, unit variances, trend kept."""
    n, p = d.X.shape
    beta, A, raw = _fit_reweighted(d.X, Y, reweight, first)
    mu, v1, v2, Ainv = _predictions(beta, A, d.x_pred)
    df = np.full(Y.shape[0], float(max(n - p, 1)))
    keep = np.ones(Y.shape[0], dtype=bool)
    if TREND_P is not None:
        k = d.trend_column
        se = np.sqrt(np.maximum(Ainv[:, k, k] * np.maximum(raw, 1.0), 1e-300))
        keep = 2.0 * stats.t.sf(np.abs(beta[:, k] / se), df=max(n - p, 1)) < TREND_P
    if EXTRAPOLATION_RULE:
        keep &= mu[:, 0] <= Y.max(axis=1)
    runaway = mu[:, 0] > RUNAWAY * (Y.max(axis=1) + 1.0)  # a fit run away on a separated sparse reference
    drop = np.nonzero(~keep & ~runaway)[0]
    if drop.size:
        beta2, A2, raw2 = _fit_reweighted(d.X_no_trend, Y[drop], reweight)
        mu[drop], v1[drop], v2[drop], _ = _predictions(beta2, A2, d.x_pred_no_trend)
        raw[drop] = raw2
        df[drop] = max(n - p + 1, 1)
    flat = np.nonzero(runaway)[0]
    if flat.size:  # the level alone: without trend the harmonics still separate (1e-6 where no case fell)
        level = design(d.years, -int(d.offsets[-1]) - 1, "none")
        beta2, A2, raw2 = _fit_reweighted(level.X_no_trend, Y[flat], reweight)
        mu[flat], v1[flat], v2[flat], _ = _predictions(beta2, A2, level.x_pred_no_trend)
        raw[flat] = raw2
        df[flat] = max(n - 1, 1)
        keep[flat] = False
    return mu, raw, df, v1, v2, keep


# --------------------------------------------------------------------------- negative binomial tails


def _nb_apply(nbinom_fn, poisson_fn, x, mean, dispersion) -> np.ndarray:
    """Evaluate an NB(mean, variance dispersion * mean) function where overdispersed, the Poisson one elsewhere."""
    x, mean, dispersion = np.broadcast_arrays(np.asarray(x, dtype=float), np.maximum(mean, 1e-12),
                                              np.asarray(dispersion, dtype=float))
    over = dispersion > 1.0 + 1e-9
    out = np.empty(x.shape)
    size = mean[over] / (dispersion[over] - 1.0)
    out[over] = nbinom_fn(x[over], size, size / (size + mean[over]))
    out[~over] = poisson_fn(x[~over], mean[~over])
    return out


def nb_sf(y: np.ndarray, mean: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """P(Y >= y) for Y ~ NB(mean, variance dispersion * mean); Poisson when dispersion <= 1."""
    tail = _nb_apply(lambda v, n, p: stats.nbinom.sf(v - 1, n, p), lambda v, m: stats.poisson.sf(v - 1, m), y, mean, dispersion)
    return np.clip(tail, 0.0, 1.0)


def nb_isf(level: np.ndarray, mean: np.ndarray, dispersion: np.ndarray) -> np.ndarray:
    """Smallest integer q with P(Y > q) <= level, same distribution as ``nb_sf``."""
    return _nb_apply(stats.nbinom.isf, stats.poisson.isf, level, mean, dispersion)


@lru_cache(maxsize=64)
def _phi_ratios(df: float, points: int) -> np.ndarray:
    return df / stats.chi2.ppf((np.arange(points) + 0.5) / points, df)


class Predictive:
    """Mixture over the dispersion of NB(mean, phi_q * (1 + estimation)) for many rows."""

    def __init__(self, mean, raw_phi, df, unit_variance, points: int = PHI_QUADRATURE):
        self.mean = np.maximum(np.asarray(mean, dtype=float), 1e-12)
        raw_phi = np.asarray(raw_phi, dtype=float)
        values, which = np.unique(np.broadcast_to(np.asarray(df, dtype=float), self.mean.shape), return_inverse=True)
        ratios = np.stack([_phi_ratios(float(v), points) for v in values])[which.ravel()]
        phi = np.maximum(raw_phi[:, None] * ratios, 1.0)  # (N, Q)
        estimation = np.minimum(phi * (np.asarray(unit_variance, dtype=float) / self.mean)[:, None],
                                MAX_RELATIVE_VARIANCE * self.mean[:, None])
        self.dispersion = phi + estimation

    def sf(self, y, rows=slice(None)) -> np.ndarray:
        """P(Y >= y), y (N,) or for the given rows."""
        y = np.asarray(y, dtype=float)
        return nb_sf(y[:, None], self.mean[rows, None], self.dispersion[rows]).mean(axis=1)

    def quantile(self, level) -> np.ndarray:
        """Smallest integer q with P(Y > q) <= level, by bisection between the quantiles of the least and
        the most dispersed components (the mixture's lies between its components'; checked, widened if not)."""
        level = np.broadcast_to(np.asarray(level, dtype=float), self.mean.shape)
        low = self.dispersion.min(axis=1)
        high = self.dispersion.max(axis=1)
        lo, hi = nb_isf(level, self.mean, low), nb_isf(level, self.mean, high)
        lo = np.where(self.sf(lo) <= level, 0.0, lo)  # lo - 1 must be too low
        for _ in range(64):
            bad = np.nonzero(self.sf(hi + 1.0) > level)[0]
            if bad.size == 0:
                break
            hi[bad] = 2.0 * hi[bad] + 1.0
        for _ in range(80):  # bisection on integers
            todo = np.nonzero(hi > lo)[0]
            if todo.size == 0:
                break
            mid = np.floor((lo[todo] + hi[todo]) / 2.0)
            ok = self.sf(mid + 1.0, todo) <= level[todo]
            hi[todo] = np.where(ok, mid, hi[todo])
            lo[todo] = np.where(ok, lo[todo], mid + 1.0)
        return hi


# --------------------------------------------------------------------------- the algorithm


@dataclass
class FarringtonResult:
    expected: np.ndarray  # mu0, expected count of month t
    threshold: np.ndarray  # alarm <=> observed > threshold (NaN if thresholds=False)
    alarm: np.ndarray
    score: np.ndarray  # P(Y_t >= observed): the month alone
    p_value: np.ndarray  # combined p-value (= score without ``previous``); alarm <=> p_value <= alpha
    phi: np.ndarray  # dispersion (floored at 1)
    trend_kept: np.ndarray
    season: np.ndarray  # "harmonic", "month" or "none"
    expected_previous: np.ndarray  # mu of month t - 1 from the same fit (NaN without ``previous``)
    p_accumulated: np.ndarray  # p2 with the y_t > mu0 guard (NaN without ``previous``)


def _choose_season(Y: np.ndarray, b: int, excluded: int, first_h):
    """True where the 12-level month factor fits significantly better than the two harmonics.

    Only where every calendar month holds on average ``MONTH_MIN_MEAN`` cases per reference year: with
    sparser counts the deviance F test has no large-sample footing (a calendar month without any case
    fits exactly, which makes the factor look significant) and the factor predicts 0 for such a month."""
    dm = design(b, excluded, "month")
    n, pm = dm.X.shape
    ph = design(b, excluded, "harmonic").X.shape[1]
    if n - pm < 10:
        return np.zeros(Y.shape[0], dtype=bool), None
    first_m = _irls(dm.X, Y, np.ones_like(Y))
    phi_m = np.maximum(_pearson(Y, first_m[1], 1.0, pm), 1.0)
    F = (_deviance(Y, first_h[1]) - _deviance(Y, first_m[1])) / (pm - ph) / phi_m
    position = np.mod(dm.offsets, 12)
    per_month = np.stack([Y[:, position == d].mean(axis=1) for d in range(12)], axis=1)
    dense = per_month.min(axis=1) >= MONTH_MIN_MEAN
    return (stats.f.sf(F, pm - ph, n - pm) < SEASON_P) & dense, first_m


def _harmonics_significant(Y: np.ndarray, b: int, excluded: int, first_h) -> tuple[np.ndarray, tuple]:
    """True where the harmonics fit significantly better (quasi-likelihood F test at ``HARMONIC_P``) than no season."""
    dh, d0 = design(b, excluded, "harmonic"), design(b, excluded, "none")
    n, ph = dh.X.shape
    p0 = d0.X.shape[1]
    first_0 = _irls(d0.X, Y, np.ones_like(Y))
    if HARMONIC_P is None:
        return np.ones(Y.shape[0], dtype=bool), first_0
    phi_h = np.maximum(_pearson(Y, first_h[1], 1.0, ph), 1.0)
    F = np.maximum(_deviance(Y, first_0[1]) - _deviance(Y, first_h[1]), 0.0) / (ph - p0) / phi_h
    return stats.f.sf(F, ph - p0, n - ph) < HARMONIC_P, first_0


def _fit_all(Y, todo, b, excluded, season, reweight, mu, raw, df, v1, v2, trend_kept, month):
    """Fill the per-row outputs for the rows ``todo``, chunk by chunk."""
    for start in range(0, todo.size, CHUNK):
        rows = todo[start:start + CHUNK]
        y = Y[rows]
        dh = design(b, excluded, "harmonic" if season == "auto" else season)
        first = _irls(dh.X, y, np.ones_like(y))
        chosen, first_m = (_choose_season(y, b, excluded, first) if season == "auto"
                           else (np.zeros(rows.size, dtype=bool), None))
        # 0: harmonics, 1: month factor, 2: no season
        kind = np.where(chosen, 1, 0)
        first_0 = None
        if season == "auto" and HARMONIC_P is not None:
            keep_h, first_0 = _harmonics_significant(y, b, excluded, first)
            kind = np.where(chosen, 1, np.where(keep_h, 0, 2))
        month[rows] = kind if season == "auto" else (1 if season == "month" else (2 if season == "none" else 0))
        for k, base, d in ((0, first, dh), (1, first_m, design(b, excluded, "month")),
                           (2, first_0, design(b, excluded, "none"))):
            sel = np.nonzero(kind == k)[0]
            if sel.size == 0:
                continue
            fit0 = tuple(a[sel] for a in base)
            out = _fit_design(d, y[sel], reweight, fit0)
            r = rows[sel]
            mu[r], raw[r], df[r], v1[r], v2[r], trend_kept[r] = out


def farrington(reference: np.ndarray, observed: np.ndarray, alpha: float = 0.01, previous: np.ndarray | None = None,
               excluded: int = EXCLUDED, reweight: bool = True, season: str = "auto",
               single_share: float = SINGLE_SHARE, thresholds: bool = True) -> FarringtonResult:
    """Run the improved Farrington on many problems at once.

    ``reference``: (N, n) counts at the months ``design(b).offsets`` relative to each target month,
    with n = 12 b - ``excluded`` (b is deduced from n); ``observed``: (N,) counts of the target
    months; ``previous``: (N,) counts of the months before them, to add the 2-month accumulation.
    ``season``: "auto" (harmonics unless the month factor is significantly better), "harmonic", "month".
    """
    Y = np.asarray(reference, dtype=float)
    if Y.ndim == 1:
        Y = Y[None, :]
    observed = np.atleast_1d(np.asarray(observed, dtype=float))
    N, n = Y.shape
    b = years_of(n, excluded)
    if season not in ("auto",) + SEASONS:
        raise ValueError(f"unknown season {season!r}")
    mu = np.zeros((N, 2))
    raw = np.ones(N)
    df = np.ones(N)
    v1 = np.zeros(N)
    v2 = np.zeros(N)
    trend_kept = np.zeros(N, dtype=bool)
    month = np.zeros(N, dtype=np.int8)  # 0 harmonic, 1 month factor, 2 no season
    empty = Y.sum(axis=1) == 0
    todo = np.nonzero(~empty)[0]
    with _one_blas_thread():
        _fit_all(Y, todo, b, excluded, season, reweight, mu, raw, df, v1, v2, trend_kept, month)
    expected = mu[:, 0]
    single = Predictive(expected, raw, df, v1)
    score = single.sf(observed)
    score = np.where(empty, np.where(observed > 0, 0.0, 1.0), score)
    accumulate = previous is not None
    share = single_share if accumulate else 1.0
    p_acc = np.full(N, np.nan)
    if accumulate:
        previous = np.atleast_1d(np.asarray(previous, dtype=float))
        both = Predictive(mu.sum(axis=1), raw, df, v2)
        total = observed + previous
        p2 = np.where(empty, np.where(total > 0, 0.0, 1.0), both.sf(total))
        p_acc = np.where(observed > expected, p2, 1.0)
        p_value = np.minimum(score / share, p_acc / (1.0 - share)) if share > 0 else p_acc
    else:
        p_value = score
    p_value = np.clip(p_value, 0.0, 1.0)
    threshold = np.full(N, np.nan)
    if thresholds:
        q1 = single.quantile(share * alpha) if share > 0 else np.full(N, np.inf)
        if accumulate:
            q2 = both.quantile((1.0 - share) * alpha)
            threshold = np.minimum(q1, np.maximum(q2 - previous, np.floor(expected)))
        else:
            threshold = q1
        # An empty reference (no case in the reference years): expected 0, any case is above the threshold 0.
        threshold = np.where(empty, 0.0, threshold)
    alarm = p_value <= alpha
    phi = np.where(empty, 1.0, np.maximum(raw, 1.0))
    return FarringtonResult(expected=expected, threshold=threshold, alarm=alarm, score=score, p_value=p_value,
                            phi=phi, trend_kept=trend_kept, season=np.array(["harmonic", "month", "none"])[month],
                            expected_previous=mu[:, 1] if accumulate else np.full(N, np.nan), p_accumulated=p_acc)


def available_years(t: int, first: int = 0, excluded: int = EXCLUDED) -> int:
    """Reference years usable for target index t when the series starts at index ``first`` (0 if < B_MIN)."""
    b = min(B_MAX, (t - first) // 12)
    return b if b >= B_MIN and 12 * b > excluded + 1 else 0


def farrington_series(counts: np.ndarray, t: int, alpha: float = 0.01, reweight: bool = True,
                      accumulate: bool = False, **options) -> FarringtonResult:
    """Convenience: one series (1-D counts, index 0 = first month), target index t, longest reference available."""
    counts = np.asarray(counts, dtype=float)
    b = available_years(t)
    if b == 0:
        raise ValueError("not enough history for Farrington")
    idx = t + design(b).offsets
    previous = np.array([counts[t - 1]]) if accumulate else None
    return farrington(counts[idx][None, :], np.array([counts[t]]), alpha, previous=previous, reweight=reweight, **options)
