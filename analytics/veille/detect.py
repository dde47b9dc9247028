"""Detection over many monthly series: Farrington when 3 years of history exist, EARS otherwise."""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.veille.ears import BASELINE, GUARD, ears_batch
from analytics.veille.farrington import design, farrington

OUTPUT_COLUMNS = ("serie", "periode", "attendu", "seuil", "alerte", "score", "methode")


def month_index(periode: pl.Series) -> np.ndarray:
    """'YYYY-MM' -> year * 12 + month - 1 (the strings are assumed already validated)."""
    year = periode.str.slice(0, 4).cast(pl.Int64).to_numpy()
    month = periode.str.slice(5, 2).cast(pl.Int64).to_numpy()
    return year * 12 + month - 1


def month_label(index: np.ndarray) -> list[str]:
    return [f"{i // 12:04d}-{i % 12 + 1:02d}" for i in np.asarray(index, dtype=np.int64)]


def _empty() -> pl.DataFrame:
    return pl.DataFrame(schema={"serie": pl.Utf8, "periode": pl.Utf8, "attendu": pl.Float64, "seuil": pl.Float64,
                                "alerte": pl.Int8, "score": pl.Float64, "methode": pl.Utf8}).with_columns(
        pl.col("attendu", "seuil", "score").fill_nan(None))


def detect_series(frame: pl.DataFrame, since: str | None = None, alpha: float = 0.01) -> pl.DataFrame:
    """One row per series and month >= ``since`` (default: the last month of the data).

    ``frame`` has columns serie, periode (YYYY-MM), effectif (counts >= 0). Several rows for the same
    series and month are added up; months missing between the first and last month of a series
    count as 0.
    """
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

    offsets = design().offsets
    expected = np.full(s_idx.size, np.nan)
    threshold = np.full(s_idx.size, np.nan)
    alarm = np.zeros(s_idx.size, dtype=bool)
    score = np.full(s_idx.size, np.nan)
    ref_cols = t_idx[:, None] + offsets[None, :]
    enough = ref_cols.min(axis=1) >= 0
    enough[enough] = ~np.isnan(grid[s_idx[enough, None], ref_cols[enough]]).any(axis=1)
    method = np.where(enough, "farrington", "ears")

    f = np.nonzero(enough)[0]
    if f.size:
        result = farrington(grid[s_idx[f, None], ref_cols[f]], observed[f], alpha)
        expected[f], threshold[f], alarm[f], score[f] = result.expected, result.threshold, result.alarm, result.score
    e = np.nonzero(~enough)[0]
    if e.size:
        lags = np.arange(-(BASELINE + GUARD), 0)
        cols = t_idx[e, None] + lags[None, :]
        hist = np.where(cols >= 0, grid[s_idx[e, None], np.maximum(cols, 0)], np.nan)
        ex, th, al, sc = ears_batch(hist, observed[e], alpha)
        expected[e], threshold[e], alarm[e], score[e] = ex, th, al, sc

    order = np.lexsort((t_idx, s_idx))
    return pl.DataFrame({
        "serie": series_codes[s_idx[order]].tolist(),
        "periode": month_label(t_idx[order] + origin),
        "attendu": np.round(expected[order], 3),
        "seuil": threshold[order],
        "alerte": alarm[order].astype(np.int8),
        "score": score[order],
        "methode": method[order].tolist(),
    }, schema={"serie": pl.Utf8, "periode": pl.Utf8, "attendu": pl.Float64, "seuil": pl.Float64,
               "alerte": pl.Int8, "score": pl.Float64, "methode": pl.Utf8}).with_columns(
        pl.col("attendu", "seuil", "score").fill_nan(None))
