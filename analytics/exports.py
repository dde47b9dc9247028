"""Safe exports: what goes into a spreadsheet must not run there."""

from __future__ import annotations

import polars as pl

FORMULA_START = r"^[=+\-@\t\r]"


def neutralise_formulas(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix with a quote every text cell a spreadsheet would read as a formula (OWASP CSV injection)."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        [pl.when(pl.col(c).str.contains(FORMULA_START)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c)).alias(c) for c in text]
    )


def write_cube_csv(table: pl.DataFrame, path) -> None:
    """The protected cube as CSV (`,`, UTF-8): the audit artefact of `python -m analytics protect`."""
    neutralise_formulas(table).write_csv(path)
