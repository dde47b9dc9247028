"""Detection over many monthly series: Farrington when 3 years of history exist, EARS C1/C2/C3 or the calibrated
count test otherwise."""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.veille.ears import EARS_WINDOW, ears_c123, nb_short
from analytics.veille.farrington import B_MAX, B_MIN, design, farrington
from analytics.veille.multiple import benjamini_hochberg

FDR_Q = 0.05
# The columns of the `detect` command's file (its tests pin them), then the ones added since.
LEGACY_COLUMNS = ("serie", "periode", "attendu", "seuil", "alerte", "score", "methode")
OUTPUT_COLUMNS = LEGACY_COLUMNS + ("p_value", "alerte_fdr")
SCHEMA = {"serie": pl.Utf8, "periode": pl.Utf8, "attendu": pl.Float64, "seuil": pl.Float64, "alerte": pl.Int8,
          "score": pl.Float64, "methode": pl.Utf8, "p_value": pl.Float64, "alerte_fdr": pl.Int8}


def month_index(periode: pl.Series) -> np.ndarray:
    """'YYYY-MM' -> year * 12 + month - 1 (the strings are assumed already validated)."""
    year = periode.str.slice(0, 4).cast(pl.Int64).to_numpy()
    month = periode.str.slice(5, 2).cast(pl.Int64).to_numpy()
    return year * 12 + month - 1


def month_label(index: np.ndarray) -> list[str]:
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in np.asarray(index, dtype=np.int64)]


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema=SCHEMA)


def fdr_by_period(p_values: np.ndarray, periods: np.ndarray, q: float = FDR_Q) -> np.ndarray:
    """Benjamini-Hochberg at ``q`` across the rows of each period separately (NaN p-values never rejected)."""
    rejected = np.zeros(len(p_values), dtype=bool)
    order = np.argsort(periods, kind="stable")
    bounds = np.flatnonzero(np.diff(periods[order])) + 1
    for rows in np.split(order, bounds):
        if rows.size:
            rejected[rows] = benjamini_hochberg(p_values[rows], q)[1]
    return rejected


SHORT_METHODS = ("ears", "nb")


def detect_series(frame: pl.DataFrame, since: str | None = None, alpha: float = 0.01, short: str = "ears",
                  groups: dict[str, str] | None = None) -> pl.DataFrame:
    """One row per series and month >= ``since`` (default: the last month of the data).

    ``frame`` has columns serie, periode (YYYY-MM), effectif (counts >= 0). Several rows for the same
    series and month are added up; months missing between the first and last month of a series
    count as 0.

    Method: Farrington (``analytics.veille.farrington``) when the series has at least 3 whole years
    before the month (the reference then uses up to 7 years), the month alone and the 2-month
    accumulation combined; otherwise, with ``short``:

    * "ears" (default, the textbook fall-back of the ``detect`` command): EARS C1, C2 and C3 side by
      side (``analytics.veille.ears.ears_c123``): C1 against mean + z(1 - alpha) sd of the 7 months
      before, C2 the same after a guard band of 2 months, C3 the sum of the C2 statistics of the month
      and of the two before, each less 1 and floored at 0, above its (1 - alpha) quantile (1.97 at
      alpha = 0.01, the textbook 2); the month alerts when any of them does. Their normal p-values
      ignore seasonality and the discreteness and overdispersion of small counts: far too small,
      Benjamini-Hochberg cannot control them (a watch of the 2-year national demo without any
      rise by EARS: 61 alerts a month with C1/C2, 220 with C3; see ``analytics.veille.ears``).
      Kept for the command and for comparison;
    * "nb" (what the watch uses): the calibrated negative binomial test ``ears.nb_short``, the
      seasonality pooled over the series of a same ``groups`` label (series code -> label; default:
      all the series share one profile), the month alone and the 2-month accumulation combined.

    Columns:

    * serie, periode;
    * attendu: expected count of the month;
    * seuil: the count of the month above which it alerts (for Farrington, given the count of the
      month before, see ``farrington``; for EARS the lowest of the criteria's, C3's given the two months
      before, -1 when these already make C3 alarm whatever the month's count), so that alerte = 1 <=>
      observed > seuil;
    * alerte (0/1): the per-series test at ``alpha`` (about ``alpha`` false alerts per series and
      month without an outbreak);
    * score: P(count >= observed) for the month alone under the baseline (Farrington), for EARS the
      smaller normal tail of the C1 and C2 statistics;
    * methode: "farrington", "nb", or for EARS the criteria that alerted: "ears_c1", "ears_c2",
      "ears_c3", "ears_c1_c2", ..., "ears_c1_c2_c3"; "ears" when none did;
    * p_value: upper-tail p-value of the test that decides ``alerte`` (alerte = 1 <=> p_value <=
      alpha): for Farrington the combined p-value of the month alone and of the 2-month
      accumulation, for EARS the smallest of the C1, C2 and C3 p-values (``ears.c3_sf`` for C3), for
      "nb" the combined p-value as Farrington's; null when the history is too short for any test;
    * alerte_fdr (0/1): Benjamini-Hochberg at q = 0.05 applied, month by month, across all the
      series of the output to p_value: controls the share of false alerts among the alerts of a
      month instead of the rate per series.
    """
    if short not in SHORT_METHODS:
        raise ValueError(f"short must be one of {SHORT_METHODS}, not {short!r}")
    if frame.height == 0:
        return _empty()
    data = (frame.select(pl.col("serie").cast(pl.Utf8), pl.col("periode").cast(pl.Utf8), pl.col("effectif").cast(pl.Float64))
            .group_by("serie", "periode").agg(pl.col("effectif").sum()))
    series_codes, series_idx = np.unique(data["serie"].to_numpy().astype(str), return_inverse=True)
    months = month_index(data["periode"])
    origin, last = int(months.min()), int(months.max())
    n_series, n_months = series_codes.size, last - origin + 1
    grid = np.zeros((n_series, n_months))
    np.add.at(grid, (series_idx, months - origin), data["effectif"].to_numpy())
    first = np.full(n_series, n_months)
    np.minimum.at(first, series_idx, months - origin)
    final = np.full(n_series, -1)
    np.maximum.at(final, series_idx, months - origin)
    columns = np.arange(n_months)
    known = (columns[None, :] >= first[:, None]) & (columns[None, :] <= final[:, None])
    grid = np.where(known, grid, np.nan)

    start = last - origin if since is None else int(month_index(pl.Series([since]))[0]) - origin
    start = max(start, 0)
    s_idx, t_idx = np.nonzero(known[:, start:])
    t_idx = t_idx + start
    if s_idx.size == 0:
        return _empty()
    observed = grid[s_idx, t_idx]

    expected = np.full(s_idx.size, np.nan)
    threshold = np.full(s_idx.size, np.nan)
    alarm = np.zeros(s_idx.size, dtype=bool)
    score = np.full(s_idx.size, np.nan)
    p_value = np.full(s_idx.size, np.nan)
    # whole years of known history before each month (the months from first to final are all known)
    years = np.minimum((t_idx - first[s_idx]) // 12, B_MAX)
    years = np.where(years >= B_MIN, years, 0)
    method = np.where(years > 0, "farrington", short)

    for b in np.unique(years[years > 0]):
        f = np.nonzero(years == b)[0]
        ref_cols = t_idx[f, None] + design(int(b)).offsets[None, :]
        result = farrington(grid[s_idx[f, None], ref_cols], observed[f], alpha, previous=grid[s_idx[f], t_idx[f] - 1])
        expected[f], threshold[f], alarm[f] = result.expected, result.threshold, result.alarm
        score[f], p_value[f] = result.score, result.p_value
    e = np.nonzero(years == 0)[0]
    if e.size and short == "nb":
        labels = None if groups is None else np.array([groups.get(c, c) for c in series_codes.tolist()], dtype=object)
        ex, th, al, sc, pv = nb_short(grid, s_idx[e], t_idx[e], alpha, groups=labels, phase=origin % 12)
        expected[e], threshold[e], alarm[e], score[e], p_value[e] = ex, th, al, sc, pv
    elif e.size:
        lags = np.arange(-EARS_WINDOW, 1)
        cols = t_idx[e, None] + lags[None, :]
        window = np.where(cols >= 0, grid[s_idx[e, None], np.maximum(cols, 0)], np.nan)
        result = ears_c123(window, alpha)
        expected[e], threshold[e], alarm[e] = result.expected, result.threshold, result.alarm
        score[e], p_value[e] = result.score, result.p_value
        method = method.astype(object)
        method[e] = result.methods()
    fdr = fdr_by_period(p_value, t_idx)

    order = np.lexsort((t_idx, s_idx))
    return pl.DataFrame({
        "serie": series_codes[s_idx[order]].tolist(),
        "periode": month_label(t_idx[order] + origin),
        "attendu": np.round(expected[order], 3),
        "seuil": threshold[order],
        "alerte": alarm[order].astype(np.int8),
        "score": score[order],
        "methode": method[order].tolist(),
        "p_value": p_value[order],
        "alerte_fdr": fdr[order].astype(np.int8),
    }, schema=SCHEMA).with_columns(pl.col("attendu", "seuil", "score", "p_value").fill_nan(None))
