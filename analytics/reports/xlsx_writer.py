"""A report as an XLSX workbook (xlsxwriter): a « Sommaire » sheet, then one sheet per table.

Numbers stay numbers, with a number format for their column kind, so that readers can compute with
them; Excel shows them in the reader's locale (« 1 234 », « 12,3 % » in French). Every text cell goes
through `write_string` after formula neutralisation, and the workbook never holds a formula.
"""

from __future__ import annotations

import io
import math
import re

import xlsxwriter

from analytics.exports import FORMULA_START
from analytics.reports.cells import format_cell, is_numeric, table_legend
from analytics.reports.document import Report, Table

SUMMARY_SHEET = "Sommaire"
MAX_SHEET_NAME = 31
FORBIDDEN_IN_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
# Excel format codes are locale-neutral: ',' is the thousands separator and '.' the decimal point
# *in the code*; a French Excel displays « 1 234 » and « 12,3 % ».
NUMBER_FORMATS = {"count": "#,##0", "share": "0.0%", "change": "+0.0%;-0.0%;0.0%", "rate": "0.0"}
MIN_WIDTH, MAX_WIDTH = 8, 60
WORKBOOK_OPTIONS = {"in_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
                    "strings_to_numbers": False}


def render_xlsx(report: Report) -> bytes:
    buffer = io.BytesIO()
    with xlsxwriter.Workbook(buffer, WORKBOOK_OPTIONS) as book:
        _properties(book, report)
        formats = _formats(book)
        summary = book.add_worksheet(SUMMARY_SHEET)
        names = sheet_names([t.sheet for t in report.tables()], taken={SUMMARY_SHEET})
        for table, name in zip(report.tables(), names):
            _table_sheet(book.add_worksheet(name), table, formats)
        _summary(summary, report, names, formats)
    return buffer.getvalue()


def safe_text(text: str) -> str:
    """A text a spreadsheet would read as a formula (= + - @ tab CR first) gets a leading quote."""
    return "'" + text if re.match(FORMULA_START, text) else text


def sheet_names(wanted: list[str], taken: set[str] = frozenset()) -> list[str]:
    """Names Excel accepts: no []:*?/\\, no quote at either end, at most 31 characters, unique regardless of case."""
    seen = {name.casefold() for name in taken}
    names = []
    for i, name in enumerate(wanted, start=1):
        base = FORBIDDEN_IN_SHEET_NAME.sub("", name).strip().strip("'").strip() or f"Tableau {i}"
        if base.casefold() == "history":  # reserved by Excel
            base = f"{base} {i}"
        candidate, n = base[:MAX_SHEET_NAME], 1
        while candidate.casefold() in seen:
            n += 1
            suffix = f" ({n})"
            candidate = base[: MAX_SHEET_NAME - len(suffix)].rstrip() + suffix
        seen.add(candidate.casefold())
        names.append(candidate)
    return names


def _properties(book, report: Report) -> None:
    meta = report.metadata
    book.set_properties({
        "title": report.title,
        "subject": meta.get("subject", report.subtitle),
        "author": meta.get("author", "Vigie"),
        "keywords": meta.get("keywords", ""),
        "category": report.kind,
        "comments": report.footer,
    })


def _formats(book) -> dict:
    formats = {kind: book.add_format({"num_format": code}) for kind, code in NUMBER_FORMATS.items()}
    formats.update(
        title=book.add_format({"bold": True, "font_size": 14}),
        subtitle=book.add_format({"italic": True, "font_size": 12}),
        header=book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1, "bg_color": "#D9D9D9"}),
        header_right=book.add_format({"bold": True, "text_wrap": True, "valign": "top", "bottom": 1,
                                      "bg_color": "#D9D9D9", "align": "right"}),
        text_right=book.add_format({"align": "right"}),  # `s` and `–` aligned with the numbers
        note=book.add_format({"italic": True, "font_color": "#595959"}),
        link=book.add_format({"font_color": "#0563C1", "underline": 1}),
    )
    return formats


def _summary(sheet, report: Report, names: list[str], formats: dict) -> None:
    sheet.write_string(0, 0, safe_text(report.title), formats["title"])
    sheet.write_string(1, 0, safe_text(report.subtitle), formats["subtitle"])
    sheet.write_string(2, 0, safe_text(report.footer), formats["note"])
    sheet.write_string(4, 0, "Feuille", formats["header"])
    sheet.write_string(4, 1, "Tableau", formats["header"])
    for row, (table, name) in enumerate(zip(report.tables(), names), start=5):
        # An internal hyperlink is not a formula: the sheet stays formula-free.
        sheet.write_url(row, 0, f"internal:'{name.replace(chr(39), chr(39) * 2)}'!A1", formats["link"], string=name)
        sheet.write_string(row, 1, safe_text(table.title))
    sheet.set_column(0, 0, _width([name for name in names] + ["Feuille"]))
    sheet.set_column(1, 1, _width([t.title for t in report.tables()] + ["Tableau"]))


def _table_sheet(sheet, table: Table, formats: dict) -> None:
    sheet.write_string(0, 0, safe_text(table.title), formats["title"])
    for j, column in enumerate(table.columns):
        header = formats["header_right"] if is_numeric(column.kind) else formats["header"]
        sheet.write_string(1, j, safe_text(column.name), header)
        texts = [column.name] + [format_cell(row[j], column.kind) for row in table.rows]
        sheet.set_column(j, j, _width(texts))
    for i, row in enumerate(table.rows, start=2):
        for j, (value, column) in enumerate(zip(row, table.columns)):
            _write_cell(sheet, i, j, value, column.kind, formats)
    legend = table_legend(table)
    if legend:
        sheet.write_string(len(table.rows) + 3, 0, safe_text(legend), formats["note"])
    sheet.freeze_panes(2, 0)


def _write_cell(sheet, row: int, col: int, value, kind: str, formats: dict) -> None:
    if value is None:
        return
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if math.isfinite(value):
            sheet.write_number(row, col, value, formats.get(kind))
            return
        value = format_cell(value, kind)  # NaN or infinity: not computable
    text_format = formats["text_right"] if is_numeric(kind) else None
    sheet.write_string(row, col, safe_text(str(value)), text_format)


def _width(texts: list[str]) -> int:
    return max(MIN_WIDTH, min(MAX_WIDTH, max((len(t) for t in texts), default=0) + 2))
