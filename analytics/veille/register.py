"""The alert register: the alerts of each publication with their evidence, and their qualification history.

- ``record_watch`` stores a publication's watch (``analytics.veille.watch.WatchResult``): one
  ``alert_run`` row and its alerts, in one transaction; a publication already recorded is left as
  it is (idempotent). ``record_failure`` notes a watch that could not run.
- ``qualify`` adds a qualification (état, commentaire, auteur, date) to an alert; the history is
  never rewritten. It follows the alert's signature (kind, territory, indicator, period), so an
  alert found again by the next publication keeps its state.
- ``alerts`` lists the alerts of a publication (the one in force by default) that a scope may see,
  with their latest state: it holds the evidence (raw-based figures) and is for the watch's own use
  and audits; what a page shows goes through ``analytics.veille.board``.
- ``current_alerts(scope, year)``: categorical columns only, for the reports.

Every message is in French.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from analytics import store, views
from analytics.referentials import departement_names, departement_region, region_names
from analytics.veille.personal_data import check_comment
from analytics.veille.severity import LABELS as SEVERITY_LABELS, RANK as SEVERITY_RANK
from analytics.veille.watch import ALERT_SCHEMA, CLUSTER, WatchResult, signature
from analytics.views import Scope

DONE, FAILED = "faite", "echec"
STATES = {"a_examiner": "à examiner", "confirmee": "confirmée", "suivie": "suivie", "close": "close",
          "fausse_alerte": "fausse alerte"}
DEFAULT_STATE = "a_examiner"
CURRENT_COLUMNS = ("territoire", "geo_code", "indicateur", "periode", "gravite", "etat")


class RegisterError(ValueError):
    """A qualification refused (unknown alert or state, alert outside the scope): French message."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _engine(engine: Engine | None) -> Engine:
    return engine or store.get_engine()


# --------------------------------------------------------------------------- recording a watch


def _run_row(number: int, status: str, message: str | None, result: WatchResult | None) -> dict:
    r = result
    return {
        "publication_id": number, "created_at": _now(), "status": status, "message": message,
        "period_min": r.period_min if r else None, "period_max": r.period_max if r else None,
        "series_count": r.series_count if r else 0, "monthly_series": r.monthly_series if r else 0,
        "quarterly_series": r.quarterly_series if r else 0, "unwatched_series": r.unwatched_series if r else 0,
        "alpha": r.alpha if r else 0.0, "fdr_q": r.fdr_q if r else 0.0,
        "expected_false_alerts": r.expected_false_alerts if r else 0.0,
        "expected_false_alerts_fdr": r.expected_false_alerts_fdr if r else 0.0,
        "alert_count": r.alert_count if r else 0, "cluster_count": r.cluster_count if r else 0,
        "seconds": r.seconds if r else 0.0,
    }


SIGNATURE_LENGTH = store.alert.c.signature.type.length  # 400: the column is indexed, so it stays bounded


def stored_signature(row: dict) -> str:
    """The signature an alert is stored under: watch's own (kind|territory|indicator|period) when it fits the column,
    else the same with a SHA-256 digest of the territory (a services cluster naming many services). Deterministic, so
    the history still follows the alert from one publication to the next."""
    if len(row["signature"]) <= SIGNATURE_LENGTH:
        return row["signature"]
    digest = "sha256:" + hashlib.sha256(row["geo_code"].encode("utf-8")).hexdigest()
    return signature(row["kind"], row["geo_niveau"], digest, row["dimension"], row["modalite"], row["periode"])


def record_watch(number: int, result: WatchResult, engine: Engine | None = None) -> bool:
    """Store the watch of publication ``number``; False (nothing written) when it is already recorded."""
    engine = _engine(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(store.alert_run.c.publication_id).where(store.alert_run.c.publication_id == number)).first():
            return False
        conn.execute(sa.insert(store.alert_run), [_run_row(number, DONE, result.notes and "; ".join(result.notes) or None, result)])
        if result.alerts.height:
            now = _now()
            rows = [{**row, "signature": stored_signature(row), "publication_id": number, "created_at": now}
                    for row in result.alerts.select(list(ALERT_SCHEMA)).iter_rows(named=True)]
            conn.execute(sa.insert(store.alert), rows)
    return True


def record_failure(number: int, message: str, engine: Engine | None = None) -> None:
    """Note that the watch of publication ``number`` failed (no alert); kept only if nothing is recorded yet."""
    engine = _engine(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(store.alert_run.c.publication_id).where(store.alert_run.c.publication_id == number)).first():
            return
        conn.execute(sa.insert(store.alert_run), [_run_row(number, FAILED, message[:2000], None)])


def watch_run(number: int | None = None, engine: Engine | None = None) -> dict | None:
    """The watch run of publication ``number`` (default: the publication in force), or None."""
    engine = _engine(engine)
    if number is None:
        info = views.latest_publication(engine)
        if info is None:
            return None
        number = info.number
    with engine.connect() as conn:
        row = conn.execute(sa.select(store.alert_run).where(store.alert_run.c.publication_id == number)).mappings().first()
    return dict(row) if row else None


# --------------------------------------------------------------------------- reading


def _service_departements(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {c: d for c, d in conn.execute(sa.select(store.service.c.code, store.service.c.departement)).all()}


def _service_names(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {c: n for c, n in conn.execute(sa.select(store.service.c.code, store.service.c.libelle)).all() if n}


def _departements_of(row: dict, service_dep: dict[str, str]) -> set[str]:
    level, code = row["geo_niveau"], row["geo_code"]
    if row["kind"] == CLUSTER:
        return set((row["zones"] or code).split(","))
    if level == "departement":
        return {code}
    if level == "service":
        return {service_dep.get(code, "")} - {""}
    return set()


def in_scope(row: dict, scope: Scope, service_dep: dict[str, str]) -> bool:
    """Whether a user of ``scope`` sees an alert: a région sees itself, its départements, their services and the
    clusters touching them; services see themselves, their départements and the clusters touching those."""
    if scope.kind == "national":
        return True
    deps = _departements_of(row, service_dep)
    if scope.kind == "region":
        region = scope.codes[0]
        if row["geo_niveau"] == "region":
            return row["geo_code"] == region
        return any(departement_region().get(d) == region for d in deps)
    if row["geo_niveau"] == "service" and row["kind"] != CLUSTER:
        return row["geo_code"] in scope.codes
    mine = {service_dep.get(c) for c in scope.codes} - {None}
    return row["geo_niveau"] != "region" and row["geo_niveau"] != "national" and bool(deps & mine)


def _latest_states(conn, signatures: list[str]) -> dict[str, str]:
    q = store.alert_qualification
    states: dict[str, str] = {}
    for i in range(0, len(signatures), 500):
        chunk = signatures[i:i + 500]
        rows = conn.execute(sa.select(q.c.signature, q.c.etat).where(q.c.signature.in_(chunk)).order_by(q.c.id)).all()
        states.update({s: e for s, e in rows})
    return states


ALERTS_SCHEMA = {"id": pl.Int64, "publication_id": pl.Int64, **ALERT_SCHEMA, "etat": pl.String}


def alerts(scope: Scope = views.NATIONAL, publication: int | None = None, engine: Engine | None = None) -> pl.DataFrame:
    """Alerts of a publication (default: the one in force) that ``scope`` sees, with their evidence and latest state.

    Not for display: ``observe``, ``attendu``, ``seuil`` and ``p_value`` come from raw series."""
    engine = _engine(engine)
    if publication is None:
        info = views.latest_publication(engine)
        if info is None:
            return pl.DataFrame(schema=ALERTS_SCHEMA)
        publication = info.number
    a = store.alert
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(sa.select(a).where(a.c.publication_id == publication).order_by(a.c.id)).mappings()]
        states = _latest_states(conn, [r["signature"] for r in rows])
    service_dep = _service_departements(engine) if scope.kind != "national" else {}
    kept = [{**{k: r[k] for k in ALERTS_SCHEMA if k != "etat"}, "etat": states.get(r["signature"], DEFAULT_STATE)}
            for r in rows if in_scope(r, scope, service_dep)]
    return pl.DataFrame(kept, schema=ALERTS_SCHEMA, orient="row") if kept else pl.DataFrame(schema=ALERTS_SCHEMA)


def alert_by_id(alert_id: int, scope: Scope, engine: Engine | None = None) -> dict:
    """One alert (evidence included) if ``scope`` sees it; RegisterError otherwise."""
    engine = _engine(engine)
    with engine.connect() as conn:
        row = conn.execute(sa.select(store.alert).where(store.alert.c.id == alert_id)).mappings().first()
        if row is None:
            raise RegisterError(f"alerte n° {alert_id} introuvable")
        row = dict(row)
        row["etat"] = _latest_states(conn, [row["signature"]]).get(row["signature"], DEFAULT_STATE)
    if not in_scope(row, scope, _service_departements(engine)):
        raise RegisterError("cette alerte est hors de votre périmètre")
    return row


# --------------------------------------------------------------------------- qualifying


def qualify(alert_id: int, etat: str, commentaire: str, auteur: str, scope: Scope, engine: Engine | None = None) -> None:
    """Add a qualification to the history of an alert (refused: RegisterError with a French message)."""
    engine = _engine(engine)
    if etat not in STATES:
        raise RegisterError(f"état « {etat} » inconnu (attendu : {', '.join(STATES.values())})")
    commentaire = (commentaire or "").strip()
    check_comment(commentaire)  # PersonalDataError (a ValueError) with a French message
    auteur = (auteur or "").strip()[:120] or "inconnu"
    row = alert_by_id(alert_id, scope, engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(store.alert_qualification), [{
            "alert_id": alert_id, "signature": row["signature"], "etat": etat, "commentaire": commentaire,
            "auteur": auteur, "created_at": _now()}])


HISTORY_SCHEMA = {"date": pl.Datetime("us", "UTC"), "etat": pl.String, "commentaire": pl.String, "auteur": pl.String}


def history(alert_id: int, scope: Scope, engine: Engine | None = None) -> pl.DataFrame:
    """Qualifications of an alert (through its signature, across publications), oldest first: date, etat (label),
    commentaire, auteur."""
    engine = _engine(engine)
    row = alert_by_id(alert_id, scope, engine)
    q = store.alert_qualification
    with engine.connect() as conn:
        rows = conn.execute(sa.select(q.c.created_at, q.c.etat, q.c.commentaire, q.c.auteur)
                            .where(q.c.signature == row["signature"]).order_by(q.c.id)).all()
    data = [(views._utc(d), STATES.get(e, e), c, a) for d, e, c, a in rows]
    return pl.DataFrame(data, schema=HISTORY_SCHEMA, orient="row")


# --------------------------------------------------------------------------- labels and the reports' table


def indicator_labels() -> dict[tuple[str, str], str]:
    from analytics.nomenclature import default_nomenclature

    nomenclature = default_nomenclature()
    out = {}
    for dimension in ("rps", "problematique"):
        for m in nomenclature.dimension(dimension).modalites:
            out[(dimension, m.code)] = m.libelle_court or m.libelle
    return out


def territory_label(geo_niveau: str, geo_code: str, kind: str = "", service_names: dict[str, str] | None = None) -> str:
    deps = departement_names()
    if kind == CLUSTER and geo_niveau == "service":  # services déconcentrés of neighbouring départements
        return "Grappe de services : " + ", ".join((service_names or {}).get(z, z) for z in geo_code.split(","))
    if kind == CLUSTER:
        return "Grappe : " + ", ".join(f"{deps.get(z, z)} ({z})" for z in geo_code.split(","))
    if geo_niveau == "national":
        return views.NATIONAL_LABEL
    if geo_niveau == "region":
        return f"Région {region_names().get(geo_code, geo_code)}"
    if geo_niveau == "departement":
        return f"{deps.get(geo_code, geo_code)} ({geo_code})"
    return (service_names or {}).get(geo_code, geo_code)


def alert_month(periode_niveau: str, periode: str, fin: str) -> str:
    """The month (YYYY-MM) an alert is raised at: its month, or the last month of its quarter."""
    return periode if periode_niveau == "mois" else fin


def current_alerts(scope: Scope, year: int | str, engine: Engine | None = None) -> pl.DataFrame:
    """Alerts of the publication in force raised in ``year`` that ``scope`` sees, most severe first, with EXACTLY the
    columns territoire, geo_code, indicateur, periode (YYYY-MM), gravite (band label), etat (latest state label).

    Categorical only: nothing here is a figure, so it can be shown whatever the secrecy of the cells."""
    engine = _engine(engine)
    frame = alerts(scope, engine=engine)
    schema = {c: pl.String for c in CURRENT_COLUMNS}
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    labels, names = indicator_labels(), _service_names(engine)
    rows = []
    for r in frame.iter_rows(named=True):
        month = alert_month(r["periode_niveau"], r["periode"], r["fin"])
        if month[:4] != str(year):
            continue
        rows.append((territory_label(r["geo_niveau"], r["geo_code"], r["kind"], names), r["geo_code"],
                     labels.get((r["dimension"], r["modalite"]), r["modalite"]), month,
                     SEVERITY_LABELS.get(r["gravite"], r["gravite"]), STATES.get(r["etat"], r["etat"]),
                     -SEVERITY_RANK.get(r["gravite"], 0)))
    out = pl.DataFrame(rows, schema={**schema, "_rang": pl.Int64}, orient="row")
    return out.sort(["_rang", "periode", "territoire"], descending=[False, True, False]).select(list(CURRENT_COLUMNS))


def run_summary(run: dict | None) -> str:
    """The watch of a publication in a French sentence (expected false alerts included)."""
    from analytics.formatting import fr_float, fr_period_range, plural

    if run is None:
        return "La veille n'a pas encore été calculée pour la publication en vigueur."
    if run["status"] != DONE:
        return "La veille n'a pas pu être calculée pour la publication en vigueur : " + (run["message"] or "erreur inconnue") + "."
    months = fr_period_range([p for p in (run["period_min"], run["period_max"]) if p])
    return (f"Veille de {months} : {plural(run['series_count'], 'série')} examinées "
            f"({fr_int_text(run['monthly_series'])} par mois, {fr_int_text(run['quarterly_series'])} par trimestre, "
            f"{fr_int_text(run['unwatched_series'])} trop peu fournies pour être surveillées), "
            f"{plural(run['alert_count'], 'alerte')} dont {plural(run['cluster_count'], 'grappe')}. "
            f"Chaque série testée au risque {fr_float(run['alpha'] * 100, 0)} % donnerait environ "
            f"{fr_float(run['expected_false_alerts'], 0)} fausses alertes par mois ; le contrôle du taux de fausses "
            f"découvertes (Benjamini-Hochberg, {fr_float(run['fdr_q'] * 100, 0)} %) n'en laisse attendre qu'au plus "
            f"{fr_float(run['expected_false_alerts_fdr'], 1)} par mois.")


def fr_int_text(n: int) -> str:
    from analytics.formatting import fr_int

    return fr_int(n)
