"""Geography and period levels of the cube, and their codes."""

from __future__ import annotations

import polars as pl

GEO_LEVELS = ("service", "departement", "region", "national")
PERIOD_LEVELS = ("mois", "trimestre", "annee")
NATIONAL_CODE = "FR"


def period_expr(level: str, month: pl.Expr) -> pl.Expr:
    """'2025-03' -> '2025-03' (mois), '2025-T1' (trimestre), '2025' (annee)."""
    if level == "mois":
        return month
    year = month.str.slice(0, 4)
    if level == "annee":
        return year
    quarter = ((month.str.slice(5, 2).cast(pl.Int32) - 1) // 3 + 1).cast(pl.String)
    return pl.concat_str([year, pl.lit("-T"), quarter])
