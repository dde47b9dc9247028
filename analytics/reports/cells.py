"""Table cells as French text, shared by the DOCX and PDF writers (the XLSX writer keeps numbers as numbers).

A negative change is written with the true minus sign U+2212 (« −4,5 % »), as French typography
wants, and a positive one with « + »; a change that rounds to zero has no sign (« 0,0 % »).
"""

from __future__ import annotations

import math

from analytics.formatting import NOT_COMPUTABLE, SECRET_LEGEND, SECRET_MARK, fr_float, fr_int, fr_pct
from analytics.reports.document import CellValue, ColumnKind, Table

MINUS = "\u2212"
NUMERIC_KINDS = frozenset({"count", "share", "change", "rate"})


def format_cell(value: CellValue, kind: ColumnKind) -> str:
    """A cell as printed: numbers in French format for their column kind; strings (`s`, `–`, labels) as is."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, float) and not math.isfinite(value):
        return NOT_COMPUTABLE
    if kind == "count":
        return fr_int(value)
    if kind == "share":
        return fr_pct(value)
    if kind == "change":
        return _signed_pct(value)
    if kind == "rate":
        return fr_float(value, 1)
    return str(value)


def _signed_pct(x: float) -> str:
    # The sign follows the rounded figure, so -0.0004 reads « 0,0 % », never « −0,0 % ».
    text = fr_pct(abs(x))
    if round(100 * x, 1) == 0:
        return text
    return ("+" if x > 0 else MINUS) + text


def is_numeric(kind: ColumnKind) -> bool:
    return kind in NUMERIC_KINDS


def has_secret(table: Table) -> bool:
    return any(cell == SECRET_MARK for row in table.rows for cell in row)


def table_legend(table: Table) -> str:
    """The line printed under a table: its own legend, with « s : secret statistique » whenever a cell reads `s`."""
    legend = table.legend.strip()
    if has_secret(table) and SECRET_LEGEND not in legend:
        return f"{SECRET_LEGEND} ; {legend}" if legend else SECRET_LEGEND
    return legend
