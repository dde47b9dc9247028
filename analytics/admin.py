"""Administration actions offered to the app (import, history, rollback, templates, publication).

The import page calls these rather than the store or the ingest code directly: what comes
back is a report, a history or a message, never an aggregate value.
"""

from __future__ import annotations

import polars as pl

from analytics import batches, store
from analytics.ingest import ImportReport, Progress, no_progress, import_bytes, issues_csv
from analytics.nomenclature import default_nomenclature
from analytics.templates import headcount_template_csv, template_csv, template_xlsx

__all__ = [
    "ImportReport", "RollbackRefused", "import_upload", "import_history", "rollback_batch", "report_csv",
    "aggregate_template_csv", "aggregate_template_xlsx", "headcount_template_csv", "publish_now", "publications",
]

RollbackRefused = batches.RollbackRefused


def import_upload(data: bytes, file_name: str, *, replace: bool, author: str, progress: Progress = no_progress) -> ImportReport:
    return import_bytes(data, file_name, store.get_engine(), default_nomenclature(), replace=replace, author=author, progress=progress)


def import_history() -> pl.DataFrame:
    return batches.history(store.get_engine())


def rollback_batch(batch_id: int, author: str) -> str:
    return batches.rollback(store.get_engine(), batch_id, author)


def report_csv(report: ImportReport) -> bytes:
    return issues_csv(report)


def aggregate_template_csv() -> bytes:
    return template_csv(default_nomenclature())


def aggregate_template_xlsx() -> bytes:
    return template_xlsx(default_nomenclature())


def publish_now(author: str, progress: Progress = no_progress):
    """Protect the active aggregates and store the next numbered publication (a PublicationOutcome)."""
    from analytics.publications import publish

    return publish(author, progress=progress)


def publications():
    """Every publication, newest first, without any cell value (PublicationInfo)."""
    from analytics.views import publication_history

    return publication_history()
