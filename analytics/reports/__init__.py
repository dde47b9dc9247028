"""Reports: builders assemble a neutral `Report` (document.py); writers render it to DOCX, PDF or XLSX bytes."""

from __future__ import annotations

from analytics.reports.document import Report

FORMATS = ("docx", "pdf", "xlsx")
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def render(report: Report, fmt: str) -> bytes:
    """The report as a file in `fmt` (docx, pdf or xlsx). Writers are imported on demand: each pulls a heavy library."""
    if fmt == "docx":
        from analytics.reports.docx_writer import render_docx

        return render_docx(report)
    if fmt == "pdf":
        from analytics.reports.pdf_writer import render_pdf

        return render_pdf(report)
    if fmt == "xlsx":
        from analytics.reports.xlsx_writer import render_xlsx

        return render_xlsx(report)
    raise ValueError(f"Format de rapport inconnu : {fmt!r} (attendu : {', '.join(FORMATS)})")
