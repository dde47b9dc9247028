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


def table_csv(frame: pl.DataFrame, legend: str | None = None) -> bytes:
    """A shown table as CSV for French spreadsheets (`;`, UTF-8 with BOM), formulas neutralised, legend last."""
    text = neutralise_formulas(frame.cast({c: pl.String for c in frame.columns})).write_csv(separator=";")
    if legend:
        text += neutralise_formulas(pl.DataFrame({"legende": [legend]}))["legende"][0] + "\n"
    return ("\ufeff" + text).encode("utf-8")


def table_xlsx(frame: pl.DataFrame, sheet: str = "Données", legend: str | None = None) -> bytes:
    """A shown table as XLSX: every cell written as text or number, never as a formula; legend under the table."""
    import io

    import xlsxwriter

    buffer = io.BytesIO()
    safe = neutralise_formulas(frame)
    with xlsxwriter.Workbook(buffer, {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False}) as book:
        sheet_ = book.add_worksheet(sheet[:31])
        bold = book.add_format({"bold": True})
        for j, name in enumerate(safe.columns):
            sheet_.write_string(0, j, name, bold)
            sheet_.set_column(j, j, max(12, min(60, len(name) + 4)))
        for i, row in enumerate(safe.iter_rows(), start=1):
            for j, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    sheet_.write_number(i, j, value)
                else:
                    sheet_.write_string(i, j, str(value))
        if legend:
            sheet_.write_string(safe.height + 2, 0, legend)
    return buffer.getvalue()
