"""What the « Veille RPS » page shows and does, without Streamlit: the page's only door to the register.

Secrecy (ARCHITECTURE.md, Veille): the register keeps each alert's evidence, computed on raw series;
none of it is shown. About an alert this module gives the categorical facts (where, when, which
indicator, kind, severity band, state) and, as figures, only published cells read from
``analytics.views``: the published value of the alert's cell when it is published and not secret,
and the published series of the territory. The expected band of the chart is computed here, on
published values only, and only over periods where every figure it rests on is published (the
series from its last secret on); an alert that touches a secret or unpublished cell shows no figure
of its own period at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from analytics import views
from analytics.formatting import fr_int, fr_period
from analytics.referentials import departement_names
from analytics.veille import register
from analytics.veille.detect import detect_series
from analytics.veille.personal_data import HELP as COMMENT_HELP, PersonalDataError
from analytics.veille.quarterly import detect_quarters
from analytics.veille.severity import LABELS as SEVERITY_LABELS, RANK as SEVERITY_RANK
from analytics.veille.watch import CLUSTER
from analytics.views import STATUT_PUBLIE, Scope

__all__ = ["COMMENT_HELP", "STATES", "QualificationRefused", "can_qualify", "summary", "listing", "detail",
           "overview", "cluster_table", "qualify", "history", "SORTS"]

STATES = register.STATES
QUALIFYING_ROLES = ("regional", "national")  # the CTSS and the national pôle (admin passes every check)
KIND_LABELS = {"temporelle": "hausse inhabituelle", CLUSTER: "grappe de départements"}
SERVICE_CLUSTER_LABEL = "grappe de services"  # a cluster of the services scan (geo_niveau "service")
LEVEL_LABELS = {"mois": "mois", "trimestre": "trimestre", "annee": "année"}
SORTS = {"gravite": "Gravité", "periode": "Période", "territoire": "Territoire", "etat": "État"}
LIST_COLUMNS = ["Gravité", "Territoire", "Indicateur", "Période", "Type", "État", "Chiffre publié"]


class QualificationRefused(ValueError):
    """A qualification the register refused (French message)."""


def can_qualify(user) -> bool:
    return user.can(*QUALIFYING_ROLES)


def summary(scope: Scope) -> str:
    return register.run_summary(register.watch_run())


def _kind_label(row: dict) -> str:
    if row["kind"] == CLUSTER and row["geo_niveau"] == "service":
        return SERVICE_CLUSTER_LABEL
    return KIND_LABELS.get(row["kind"], row["kind"])


def _service_names() -> dict[str, str]:
    """Service code -> name, for the services published in the publication in force."""
    return dict(views.service_directory().select("code", "libelle").iter_rows())


def _services_text(codes: str, names: dict[str, str]) -> str:
    """The services of a services cluster, by name (the code of a service not published)."""
    return ", ".join(names.get(z, z) for z in codes.split(","))


def _departements_text(zones: str | None) -> str:
    """The départements of a cluster: « Finistère (29), Morbihan (56) »."""
    deps = departement_names()
    return ", ".join(f"{deps.get(z, z)} ({z})" for z in (zones or "").split(","))


def _period_text(row: dict) -> str:
    if row["kind"] == CLUSTER:
        return fr_period(row["debut"]) if row["debut"] == row["fin"] else f"{fr_period(row['debut'])} à {fr_period(row['fin'])}"
    return fr_period(row["periode"])


def _published_value(row: dict, scope: Scope) -> str:
    """The published value of the alert's own cell, or '' (secret, unpublished, or a cluster)."""
    if row["kind"] == CLUSTER or row["secret"]:
        return ""
    cells = views.published_cells(scope, geo_niveau=row["geo_niveau"], periode_niveau=row["periode_niveau"],
                                  periodes=[row["periode"]], dimensions=row["dimension"], modalites=[row["modalite"]])
    cells = cells.filter((pl.col("geo_code") == row["geo_code"]) & (pl.col("statut") == STATUT_PUBLIE))
    return fr_int(cells["valeur"][0]) if cells.height else ""


def listing(scope: Scope, sort: str = "gravite") -> pl.DataFrame:
    """Current alerts of the scope: `id` then LIST_COLUMNS (text), sorted by ``sort`` (SORTS; gravité: most severe first)."""
    return _listing(register.alerts(scope), scope, sort)


def _listing(frame: pl.DataFrame, scope: Scope, sort: str = "gravite") -> pl.DataFrame:
    """``listing`` of the alerts ``frame`` (rows of ``register.alerts``)."""
    schema = {"id": pl.Int64, **{c: pl.String for c in LIST_COLUMNS}}
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    labels = register.indicator_labels()
    names = _service_names()
    rows = []
    for r in frame.iter_rows(named=True):
        rows.append({
            "id": r["id"], "Gravité": SEVERITY_LABELS.get(r["gravite"], r["gravite"]),
            "Territoire": register.territory_label(r["geo_niveau"], r["geo_code"], r["kind"], names),
            "Indicateur": labels.get((r["dimension"], r["modalite"]), r["modalite"]), "Période": _period_text(r),
            "Type": _kind_label(r), "État": STATES.get(r["etat"], r["etat"]),
            "Chiffre publié": _published_value(r, scope),
            "_rang": SEVERITY_RANK.get(r["gravite"], 0), "_mois": r["fin"], "_etat": list(STATES).index(r["etat"]),
        })
    out = pl.DataFrame(rows)
    order = {"gravite": (["_rang", "_mois"], [True, True]), "periode": (["_mois", "_rang"], [True, True]),
             "territoire": (["Territoire", "_rang"], [False, True]), "etat": (["_etat", "_rang"], [False, True])}
    by, descending = order.get(sort, order["gravite"])
    return out.sort(by, descending=descending, maintain_order=True).select(list(schema)).cast(schema)


# --------------------------------------------------------------------------- one alert


@dataclass
class AlertDetail:
    id: int
    titre: str
    faits: list[tuple[str, str]]  # (label, text): categorical facts only
    secret: bool
    etat: str  # state code
    series: pl.DataFrame | None = None  # periode, valeur, statut, attendu, seuil (published values; band where allowed)
    series_title: str = ""
    notes: list[str] = field(default_factory=list)


def _finest_published_level(geo_niveau: str, dimension: str, wanted: str) -> str | None:
    levels = [p for g, p, d in views.available_combinations() if g == geo_niveau and d == dimension]
    if wanted in levels:
        return wanted
    for level in ("mois", "trimestre", "annee"):
        if level in levels:
            return level
    return None


def expected_band(series: pl.DataFrame, level: str) -> pl.DataFrame:
    """Add `attendu` and `seuil` to a published series (periode, valeur, statut), computed from the published
    values after its last secret only (null elsewhere, and where the history is too short)."""
    out = series.with_columns(pl.lit(None, pl.Float64).alias("attendu"), pl.lit(None, pl.Float64).alias("seuil"))
    if level not in ("mois", "trimestre") or series.height == 0:
        return out
    secret = (series["statut"] != STATUT_PUBLIE).to_list()
    start = max((i + 1 for i, s in enumerate(secret) if s), default=0)
    run = series.slice(start)
    if run.height < 4:
        return out
    expected = np.full(series.height, np.nan)
    threshold = np.full(series.height, np.nan)
    values = run["valeur"].cast(pl.Float64).to_numpy()
    if level == "mois":
        found = detect_series(pl.DataFrame({"serie": ["s"] * run.height, "periode": run["periode"], "effectif": values}),
                              since=run["periode"][0], short="nb")  # the watch's own test for short series
        by_period = {p: (a, s) for p, a, s in found.select("periode", "attendu", "seuil").iter_rows()}
        for i, p in enumerate(run["periode"].to_list()):
            expected[start + i], threshold[start + i] = (np.nan if v is None else v for v in by_period.get(p, (None, None)))
    else:
        grid = values[None, :]
        for t in range(run.height):
            e, th, _, _, _ = detect_quarters(grid, t)
            expected[start + t], threshold[start + t] = e[0], th[0]
    return out.with_columns(pl.Series("attendu", expected).fill_nan(None).round(2),
                            pl.Series("seuil", threshold).fill_nan(None))


def detail(alert_id: int, scope: Scope) -> AlertDetail:
    """The categorical facts of an alert and, for a temporal one, the published series of its territory."""
    try:
        row = register.alert_by_id(alert_id, scope)
    except register.RegisterError as exc:
        raise QualificationRefused(str(exc)) from None
    labels = register.indicator_labels()
    names = _service_names()
    where = register.territory_label(row["geo_niveau"], row["geo_code"], row["kind"], names)
    indicator = labels.get((row["dimension"], row["modalite"]), row["modalite"])
    facts = [("Territoire", where), ("Indicateur", indicator), ("Période", _period_text(row)),
             ("Type", _kind_label(row)), ("Gravité", SEVERITY_LABELS.get(row["gravite"], row["gravite"])),
             ("État", STATES.get(row["etat"], row["etat"]))]
    published = _published_value(row, scope)
    if published:
        facts.append(("Chiffre publié de la période", published))
    out = AlertDetail(alert_id, f"{indicator} · {where}", facts, bool(row["secret"]), row["etat"])
    if row["secret"]:
        out.notes.append("Cette alerte touche une cellule couverte par le secret statistique ou non publiée : elle est "
                         "décrite sans aucun chiffre de sa période (lieu, période, indicateur et gravité seulement).")
    if row["kind"] == CLUSTER:
        out.faits.insert(1, ("Départements", _departements_text(row["zones"])))
        if row["geo_niveau"] == "service":
            out.faits.insert(2, ("Services", _services_text(row["geo_code"], names)))
        return out
    level = _finest_published_level(row["geo_niveau"], row["dimension"], row["periode_niveau"])
    if level is None:
        out.notes.append("Aucune série publiée pour ce territoire et cet indicateur.")
        return out
    cells = views.published_cells(scope, geo_niveau=row["geo_niveau"], periode_niveau=level, dimensions=row["dimension"],
                                  modalites=[row["modalite"]]).filter(pl.col("geo_code") == row["geo_code"])
    series = cells.select("periode", "valeur", "statut").sort("periode")
    if level != row["periode_niveau"]:
        out.notes.append(f"Les chiffres de ce territoire sont publiés par {LEVEL_LABELS[level]} seulement : la courbe montre "
                         f"la série publiée, sans valeur attendue (la détection travaille par {LEVEL_LABELS[row['periode_niveau']]}).")
        out.series = expected_band(series, "annee")
    else:
        out.series = expected_band(series, level)
        out.notes.append("La bande « attendu » est calculée sur les seuls chiffres publiés, à partir du dernier secret "
                         "statistique de la série.")
    out.series_title = f"{indicator} · {where} · par {LEVEL_LABELS[level]}"
    return out


def series_table(series: pl.DataFrame) -> pl.DataFrame:
    """The chart's data as shown: Période, Chiffre publié (`s` when secret), Attendu, Seuil d'alerte (text)."""
    from analytics.formatting import fr_cell, fr_float

    return pl.DataFrame({
        "Période": [fr_period(p) for p in series["periode"].to_list()],
        "Chiffre publié": [fr_cell(v, s) for v, s in series.select("valeur", "statut").iter_rows()],
        "Attendu": ["" if a is None else fr_float(a, 1) for a in series["attendu"].to_list()],
        "Seuil d'alerte": ["" if a is None else fr_float(a, 0) for a in series["seuil"].to_list()],
    }, schema={c: pl.String for c in ("Période", "Chiffre publié", "Attendu", "Seuil d'alerte")})


# --------------------------------------------------------------------------- map and clusters


@dataclass
class Overview:
    """What the Veille page shows of the current alerts: the list, the map's severities, the clusters."""
    listing: pl.DataFrame
    severity: pl.DataFrame
    clusters: pl.DataFrame


def overview(scope: Scope, sort: str = "gravite") -> Overview:
    """``listing``, the départements' severity and ``cluster_table`` from one read of the register (a page rerun
    read it once for each)."""
    frame = register.alerts(scope)
    return Overview(_listing(frame, scope, sort), _departement_severity(frame), _cluster_table(frame, scope))


def _departement_severity(frame: pl.DataFrame) -> pl.DataFrame:
    """Most severe alert of ``frame`` (rows of ``register.alerts``) touching each département: geo_code,
    geo_libelle, gravite (label). No figure."""
    schema = {"geo_code": pl.String, "geo_libelle": pl.String, "gravite": pl.String}
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    directory = dict(views.service_directory().select("code", "departement").iter_rows())
    best: dict[str, int] = {}
    for r in frame.iter_rows(named=True):
        if r["kind"] == CLUSTER:
            deps = (r["zones"] or "").split(",")
        elif r["geo_niveau"] == "departement":
            deps = [r["geo_code"]]
        elif r["geo_niveau"] == "service" and r["geo_code"] in directory:
            deps = [directory[r["geo_code"]]]
        else:
            deps = []
        for d in deps:
            best[d] = max(best.get(d, 0), SEVERITY_RANK.get(r["gravite"], 0))
    by_rank = {v: k for k, v in SEVERITY_RANK.items()}
    names = departement_names()
    rows = [(d, names.get(d, d), SEVERITY_LABELS[by_rank[rank]]) for d, rank in sorted(best.items()) if rank]
    return pl.DataFrame(rows, schema=schema, orient="row")


def cluster_table(scope: Scope) -> pl.DataFrame:
    """Current clusters: Départements, Services (those of a services cluster, empty for a cluster of whole
    départements), Indicateur, Période, Gravité, État (text only)."""
    return _cluster_table(register.alerts(scope), scope)


def _cluster_table(frame: pl.DataFrame, scope: Scope) -> pl.DataFrame:
    """``cluster_table`` of the alerts ``frame`` (rows of ``register.alerts``)."""
    schema = {c: pl.String for c in ("Départements", "Services", "Indicateur", "Période", "Gravité", "État")}
    frame = frame.filter(pl.col("kind") == CLUSTER)
    if frame.height == 0:
        return pl.DataFrame(schema=schema)
    clusters = _listing(frame, scope)
    names = _service_names()
    places, services = {}, {}
    for i, level, code, zones in frame.select("id", "geo_niveau", "geo_code", "zones").iter_rows():
        places[i] = _departements_text(zones)
        services[i] = _services_text(code, names) if level == "service" else ""
    return clusters.select(
        pl.col("id").replace_strict(places, return_dtype=pl.String).alias("Départements"),
        pl.col("id").replace_strict(services, return_dtype=pl.String).alias("Services"),
        "Indicateur", "Période", "Gravité", "État").cast(schema)


CLUSTER_WINDOWS = {
    "departements": "départements voisins dont l'indicateur monte ensemble sur le dernier mois ou les deux ou trois "
                    "derniers mois",
    "services": "services déconcentrés (DDT, DDTM, DREAL…) de départements voisins dont l'indicateur monte ensemble "
                "sur un à quatre mois",
}


def cluster_heading(clusters: pl.DataFrame) -> tuple[str, str]:
    """The heading and caption of the clusters' table (``cluster_table``), naming the kinds of clusters it holds:
    clusters of whole départements, of services déconcentrés (a non-empty "Services"), or both."""
    services = clusters.height > 0 and bool((clusters["Services"] != "").any())
    departements = clusters.height == 0 or bool((clusters["Services"] == "").any())
    if services and departements:
        return ("Grappes de départements voisins et de services déconcentrés",
                f"Grappes de {CLUSTER_WINDOWS['departements']}, ou de {CLUSTER_WINDOWS['services']}.")
    if services:
        return "Grappes de services déconcentrés", f"Grappes de {CLUSTER_WINDOWS['services']}."
    return "Grappes de départements voisins", f"Grappes de {CLUSTER_WINDOWS['departements']}."


# --------------------------------------------------------------------------- qualifying


def qualify(alert_id: int, etat: str, commentaire: str, user, scope: Scope) -> None:
    """Record a qualification; QualificationRefused (French message) when the profile, the state or the comment is refused."""
    if not can_qualify(user):
        raise QualificationRefused("votre profil ne permet pas de qualifier les alertes (réservé aux CTSS et au pôle national)")
    try:
        register.qualify(alert_id, etat, commentaire, user.name, scope)
    except (register.RegisterError, PersonalDataError) as exc:
        raise QualificationRefused(str(exc)) from None


def history(alert_id: int, scope: Scope) -> pl.DataFrame:
    """The qualification history as shown: Date, État, Commentaire, Auteur (text)."""
    from zoneinfo import ZoneInfo

    frame = register.history(alert_id, scope)
    paris = ZoneInfo("Europe/Paris")
    return pl.DataFrame({"Date": [d.astimezone(paris).strftime("%d/%m/%Y %H:%M") for d in frame["date"].to_list()], "État": frame["etat"],
                         "Commentaire": frame["commentaire"], "Auteur": frame["auteur"]},
                        schema={"Date": pl.String, "État": pl.String, "Commentaire": pl.String, "Auteur": pl.String})
