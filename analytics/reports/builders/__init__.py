"""Report builders: the publication in force assembled into a neutral `Report` (analytics.reports.document).

`build_report` is the one entry point of the CLI and of the Rapports page; `comment_key` says under which
territory a report's comment is kept (the région, `FR`, or the sorted service codes).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analytics.reports.builders.common import Progress, ReportError, no_progress
from analytics.reports.document import Report

REPORT_TYPES = {
    "bilan-regional": "Bilan régional annuel",
    "synthese-nationale": "Synthèse nationale",
    "fiche-f3sct": "Fiche F3SCT",
}

__all__ = ["REPORT_TYPES", "ReportError", "build_report", "comment_key", "file_name"]


def comment_key(kind: str, region: str | None = None, services: Sequence[str] | None = None) -> str:
    """The territory a report's comment belongs to."""
    if kind == "bilan-regional":
        return region or ""
    if kind == "synthese-nationale":
        return "FR"
    return ",".join(sorted({s.strip() for s in services or () if s and s.strip()}))


def build_report(kind: str, year: int, *, region: str | None = None, services: Sequence[str] | None = None,
                 alerts: pl.DataFrame | None = None, comment: str | None = None, progress: Progress = no_progress) -> Report:
    """Build one report from the publication in force; ReportError (French message) when it cannot be built."""
    if kind == "bilan-regional":
        if not region:
            raise ReportError("Le bilan régional demande une région (--region CODE).")
        from analytics.reports.builders import bilan_regional

        return bilan_regional.build(region, year, alerts=alerts, comment=comment, progress=progress)
    if kind == "synthese-nationale":
        from analytics.reports.builders import synthese_nationale

        return synthese_nationale.build(year, alerts=alerts, comment=comment, progress=progress)
    if kind == "fiche-f3sct":
        if not services:
            raise ReportError("La fiche F3SCT demande au moins un service (--service CODE).")
        from analytics.reports.builders import fiche_f3sct

        return fiche_f3sct.build(list(services), year, alerts=alerts, comment=comment, progress=progress)
    raise ReportError(f"Type de rapport inconnu : « {kind} » (attendu : {', '.join(REPORT_TYPES)}).")


def file_name(kind: str, year: int, fmt: str, region: str | None = None, services: Sequence[str] | None = None) -> str:
    """A download name without spaces or accents trouble: bilan-regional-53-2025.docx."""
    import re

    where = {"bilan-regional": region or "", "synthese-nationale": "FR"}.get(kind, "-".join(sorted(services or ())))
    stem = re.sub(r"[^A-Za-z0-9-]+", "-", f"{kind}-{where}-{year}").strip("-")
    return f"{stem}.{fmt}"
