"""Import of anonymised aggregates and headcounts: read, validate everything, load in one transaction.

The command line (`python -m analytics import`) and the app's import page both call `import_bytes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import polars as pl
from sqlalchemy.engine import Engine

from analytics import batches
from analytics.formatting import fr_period_range, plural
from analytics.ingest.issues import FileRefused, format_issue, issue_frame
from analytics.ingest.reading import read_bytes
from analytics.ingest.validation import file_kind, validate
from analytics.nomenclature import Nomenclature

Progress = Callable[[float, str], None]

IMPORTED, ALREADY, REFUSED = "importe", "deja_importe", "refuse"


@dataclass
class ImportReport:
    status: str
    file_name: str
    kind: str = ""
    batch_id: int | None = None
    rows: int = 0
    services: int = 0
    periods: list[str] = field(default_factory=list)
    replaced: int = 0
    replaced_summary: str = ""
    message: str = ""
    issues: pl.DataFrame = field(default_factory=issue_frame)

    @property
    def ok(self) -> bool:
        return self.status != REFUSED

    def issue_lines(self, limit: int | None = None) -> list[str]:
        rows = self.issues.head(limit) if limit else self.issues
        return [format_issue(r) for r in rows.iter_rows(named=True)]


def no_progress(_fraction: float, _label: str) -> None:
    pass


def import_bytes(
    data: bytes,
    file_name: str,
    engine: Engine,
    nomenclature: Nomenclature,
    *,
    replace: bool = False,
    author: str = "inconnu",
    source: str = "fichier",
    today: date | None = None,
    progress: Progress = no_progress,
) -> ImportReport:
    """Validate and load one file. Nothing is written unless the whole file is valid."""
    progress(0.05, "Lecture du fichier")
    try:
        raw = read_bytes(data, file_name)
    except FileRefused as refused:
        return ImportReport(REFUSED, file_name, message="Fichier refusé : illisible.", issues=refused.issues)
    progress(0.25, f"Validation de {plural(raw.frame.height, 'ligne')}")
    with engine.connect() as conn:
        known = batches.known_services(conn)
        already = batches.intact_batch_with_hash(conn, raw.content_hash, file_kind(raw.frame.columns))
    checked = validate(raw, nomenclature, known, today)
    if not checked.ok:
        n = checked.issues.height
        return ImportReport(REFUSED, file_name, kind=checked.kind, issues=checked.issues,
                            message=f"Fichier refusé : {plural(n, 'erreur')}. Rien n'a été chargé.")
    periods = (
        sorted(checked.rows["periode"].unique().to_list()) if checked.kind == "agregats"
        else [str(y) for y in sorted(checked.rows["annee"].unique().to_list())]
    )
    base = dict(file_name=file_name, kind=checked.kind, rows=checked.rows.height,
                services=checked.rows["service"].n_unique(), periods=periods)
    if already is not None:
        return ImportReport(ALREADY, batch_id=already, message=f"Fichier identique déjà importé (lot {already}) : rien n'a changé.", **base)
    progress(0.55, "Écriture dans la base")
    meta = batches.BatchMeta(checked.kind, source, file_name, raw.content_hash, author)
    load = batches.load_aggregates if checked.kind == "agregats" else batches.load_headcounts
    try:
        with engine.begin() as conn:
            batch_id, replaced, summary = load(conn, meta, checked.rows, checked.services, replace)
    except batches.BatchConflict as conflict:
        issues = issue_frame([{"fichier": file_name, "ligne": None, "colonne": "", "valeur": "", "motif": str(conflict)}])
        return ImportReport(REFUSED, message="Fichier refusé : données déjà chargées.", issues=issues, **base)
    progress(1.0, "Import terminé")
    what = "agrégats" if checked.kind == "agregats" else "effectifs agents"
    message = (f"Lot {batch_id} importé ({what}) : {plural(checked.rows.height, 'ligne')}, "
               f"{plural(base['services'], 'service')}, période {fr_period_range(periods)}.")
    if replaced:
        message += f" {summary}."
    return ImportReport(IMPORTED, batch_id=batch_id, replaced=replaced, replaced_summary=summary, message=message, **base)


def import_path(path: Path | str, engine: Engine, nomenclature: Nomenclature, **kwargs) -> ImportReport:
    path = Path(path)
    return import_bytes(path.read_bytes(), path.name, engine, nomenclature, **kwargs)


def issues_csv(report: ImportReport) -> bytes:
    """The validation report as CSV (`;`, UTF-8 with BOM for French spreadsheets), formulas neutralised."""
    from analytics.exports import neutralise_formulas

    return b"\xef\xbb\xbf" + neutralise_formulas(report.issues).write_csv(separator=";").encode("utf-8")
