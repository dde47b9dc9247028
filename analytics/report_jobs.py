"""One report made end to end, for the CLI and the Rapports page: the request checked against the user's scope,
the year's alerts from the register, the comment kept with the publication, the builder, the writer.

analytics.reports never reads the store; this module gathers what the builders are given (alerts, comment)
from the modules that do (analytics.veille.register, analytics.report_comments).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from analytics import views
from analytics.reports import render
from analytics.reports.builders import REPORT_TYPES, ReportError, build_report, comment_key, file_name
from analytics.reports.builders.common import Progress, no_progress
from analytics.reports.document import Report
from analytics.views import Scope

_CACHE_SIZE = 8
_built: OrderedDict[tuple, Report] = OrderedDict()
_lock = threading.Lock()


@dataclass(frozen=True)
class ReportRequest:
    kind: str
    year: int
    region: str | None = None
    services: tuple[str, ...] = ()

    def scope(self) -> Scope:
        if self.kind == "bilan-regional":
            if not self.region:
                raise ReportError("Le bilan régional demande une région.")
            return Scope.region(self.region)
        if self.kind == "fiche-f3sct":
            if not self.services:
                raise ReportError("La fiche F3SCT demande au moins un service.")
            return Scope.services(self.services)
        return views.NATIONAL

    @property
    def territory(self) -> str:
        return comment_key(self.kind, self.region, self.services)

    def file_name(self, fmt: str) -> str:
        return file_name(self.kind, self.year, fmt, self.region, self.services)


def allowed(request: ReportRequest, user_scope: Scope) -> bool:
    """May a user of `user_scope` produce this report? National: all; a région: its bilan and fiches of its
    services; services: a fiche on some of their own services."""
    if user_scope.kind == "national":
        return True
    if request.kind == "synthese-nationale":
        return False
    directory = views.service_directory()
    if user_scope.kind == "region":
        if request.kind == "bilan-regional":
            return request.region == user_scope.codes[0]
        mine = set(directory.filter(pl.col("region") == user_scope.codes[0])["code"].to_list())
        return set(request.services) <= mine
    return request.kind == "fiche-f3sct" and set(request.services) <= set(user_scope.codes)


def current_alerts(scope: Scope, year: int) -> pl.DataFrame | None:
    """The register's alerts of the scope and year (territoire, geo_code, indicateur, periode, gravite, etat),
    or None while no register is installed."""
    try:
        from analytics.veille.register import current_alerts as register_alerts
    except ImportError:
        return None
    return register_alerts(scope, year)


def stored_comment(publication: int, request: ReportRequest) -> str | None:
    from analytics.report_comments import read_comment

    found = read_comment(publication, request.kind, request.territory, request.year)
    return found.text if found else None


def build(request: ReportRequest, progress: Progress = no_progress) -> Report:
    """The report of the publication in force, with its alerts and comment (cached per publication and comment:
    the three formats of one report are built once)."""
    if request.kind not in REPORT_TYPES:
        raise ReportError(f"Type de rapport inconnu : « {request.kind} » (attendu : {', '.join(REPORT_TYPES)}).")
    publication = views.latest_publication()
    if publication is None:
        raise ReportError("Aucune publication n'est en vigueur : aucun rapport ne peut être produit.")
    scope = request.scope()
    alerts = current_alerts(scope, request.year)
    comment = stored_comment(publication.number, request)
    from analytics.settings import get_settings

    key = (get_settings().database_url, publication.number, str(publication.created_at), request, comment,
           None if alerts is None else _frame_key(alerts))
    with _lock:
        if key in _built:
            _built.move_to_end(key)
            progress(1.0, "Rapport prêt")
            return _built[key]
    report = build_report(request.kind, request.year, region=request.region, services=request.services,
                          alerts=alerts, comment=comment, progress=progress)
    with _lock:
        _built[key] = report
        while len(_built) > _CACHE_SIZE:
            _built.popitem(last=False)
    return report


def make(request: ReportRequest, fmt: str, progress: Progress = no_progress) -> bytes:
    report = build(request, lambda f, label: progress(0.9 * f, label))
    progress(0.92, "Mise en page du document")
    data = render(report, fmt)
    progress(1.0, "Document prêt")
    return data


def _frame_key(frame: pl.DataFrame) -> tuple:
    return tuple(frame.sort(frame.columns).iter_rows())


def clear_cache() -> None:
    with _lock:
        _built.clear()


def parse_services(values: Sequence[str] | None) -> tuple[str, ...]:
    """`--service A B` or `--service A,B`: the sorted distinct codes."""
    codes = {part.strip() for value in values or () for part in value.split(",") if part.strip()}
    return tuple(sorted(codes))
