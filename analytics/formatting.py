"""French number and date formats (1 234 ; 12,5 % ; janv. 2025), shared by app, reports and CLI."""

from __future__ import annotations

NNBSP = "\u202f"  # narrow no-break space: the French thousands separator
MONTHS = ("janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.", "déc.")


def fr_int(n: int | float) -> str:
    return f"{int(round(n)):,}".replace(",", NNBSP)


def fr_float(x: float, digits: int = 1) -> str:
    text = f"{x:,.{digits}f}"
    return text.replace(",", NNBSP).replace(".", ",")


def fr_pct(x: float, digits: int = 1) -> str:
    """0.125 -> '12,5 %'."""
    return f"{fr_float(100 * x, digits)}\u00a0%"


def plural(n: int, word: str, plural_word: str | None = None) -> str:
    return f"{fr_int(n)} {word if abs(n) < 2 else (plural_word or word + 's')}"


def fr_month(periode: str) -> str:
    """'2025-03' -> 'mars 2025'."""
    year, month = periode.split("-")
    return f"{MONTHS[int(month) - 1]} {year}"


def fr_period(code: str | None, short: bool = False) -> str:
    """A period code in French: '2025-03' -> 'mars 2025'; '2025-T2' -> '2e trimestre 2025' ('T2 2025' if short); '2025'."""
    if not code:
        return "aucune période"
    if "-T" in code:
        quarter = code[-1]
        return f"T{quarter} {code[:4]}" if short else f"{quarter}{'er' if quarter == '1' else 'e'} trimestre {code[:4]}"
    if len(code) == 7 and code[4] == "-":
        return fr_month(code)
    return code


def fr_period_range(periods: list[str]) -> str:
    if not periods:
        return "aucune période"
    first, last = min(periods), max(periods)
    if len(first) == 7:
        first, last = fr_month(first), fr_month(last)
    return first if first == last else f"{first} à {last}"


SECRET_MARK = "s"
SECRET_LEGEND = "s : secret statistique"
NOT_COMPUTABLE = "\u2013"  # en dash: a figure derived from published cells that cannot be computed (a rate without headcount)


def fr_cell(value: int | None, statut: str) -> str:
    """A published cell as shown in tables: its value in French format, or `s` when secret.

    Both kinds of secret read `s`: nothing on screen says whether a secret is primary or secondary."""
    if statut != "publie" or value is None:
        return SECRET_MARK
    return fr_int(value)


def display_rank(column: str = "valeur"):
    """Polars expression ordering cells for display: non-zero values, then secrets, then zeros.

    A secret is at least 1 (zeros are published), so it ranks after the non-zero values and before the zeros."""
    import polars as pl

    value = pl.col(column)
    return pl.when(value > 0).then(0).when(value.is_null()).then(1).otherwise(2)
