"""What the three report builders share: the publication and year checked, cells turned into table values,
the footer, the alerts, the CTSS's comment and the method note.

Every number placed in a table is a published cell value (`int`), `s` when the cell is secret, or
arithmetic on published values only: a share of a published number of situations, a change between
two published counts, a rate per 100 agents on a published count (analytics.rps). When one of the
operands is secret the result reads `s`; when it cannot be computed (no headcount, a zero base) `–`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from analytics import dashboard, views
from analytics.dashboard import Filters, Territory
from analytics.formatting import NOT_COMPUTABLE, SECRET_LEGEND, SECRET_MARK, display_rank, fr_month, fr_pct
from analytics.referentials import MAP_ATTRIBUTION
from analytics.reports.document import Block, Bullets, Column, Heading, Paragraph, Table
from analytics.views import STATUT_PUBLIE, PublicationInfo, Scope

Progress = Callable[[float, str], None]
ALERT_STATES = {"a_examiner": "à examiner", "confirmee": "confirmée", "suivie": "suivie", "close": "close",
                "fausse_alerte": "fausse alerte"}  # the register's codes and how a report writes them
SEVERITIES = {"moderee": "modérée", "forte": "forte", "tres_forte": "très forte"}
ALERT_COLUMNS = ("territoire", "geo_code", "indicateur", "periode", "gravite", "etat")
MAX_ALERT_ROWS = 30  # alerts listed in a report, most severe and most recent first
SITUATIONS = "Situations suivies"
PART = "Part des situations"
CHANGE = "Évolution sur un an"
PER_100 = "Pour 100 agents"


def no_progress(fraction: float, label: str) -> None:
    return None


class ReportError(ValueError):
    """A report that cannot be built from the publication in force (French message for the user)."""


# --------------------------------------------------------------------------- publication and year


@dataclass(frozen=True)
class Basis:
    """What a report stands on: the publication in force and the chosen year, with its months."""

    publication: PublicationInfo
    year: int
    months: tuple[str, ...]  # published national months of the year ('2025-01', ...)

    @property
    def period(self) -> str:
        return str(self.year)

    @property
    def complete(self) -> bool:
        return len(self.months) == 12

    def months_text(self) -> str:
        if not self.months:
            return f"année {self.year}"
        return f"{fr_month(self.months[0])} à {fr_month(self.months[-1])}"


def basis(year: int) -> Basis:
    publication = views.latest_publication()
    if publication is None:
        raise ReportError("Aucune publication n'est en vigueur : aucun rapport ne peut être produit.")
    years = views.available_periods("annee")
    if str(year) not in years:
        known = ", ".join(years) or "aucune"
        raise ReportError(f"L'année {year} n'est pas publiée (années publiées : {known}).")
    months = tuple(m for m in views.available_periods("mois") if m.startswith(f"{year}-"))
    return Basis(publication, int(year), months)


def check_unchanged(base: Basis) -> None:
    """A report draws on one publication: fail rather than mix two if a new one arrived meanwhile."""
    now = views.latest_publication()
    if now is None or now.number != base.publication.number:
        raise ReportError("La publication en vigueur a changé pendant la préparation du rapport : relancez-le.")


def footer(publication: PublicationInfo) -> str:
    return (f"Vigie · publication n° {publication.number} du {publication.created_at:%d/%m/%Y} · "
            f"secret statistique k = {publication.k} ({SECRET_LEGEND}) · {MAP_ATTRIBUTION}")


def incomplete_year_note(base: Basis) -> list[Block]:
    if base.complete:
        return []
    return [Paragraph(f"L'année {base.year} n'est couverte que de {base.months_text()} : ses chiffres et ses évolutions "
                      "sur un an comparent une année partielle à l'année précédente.", style="note")]


def method_blocks(base: Basis) -> list[Block]:
    p = base.publication
    return [
        Heading("Sources et méthode"),
        Paragraph(f"Tous les chiffres viennent de la publication n° {p.number} du {p.created_at:%d/%m/%Y} : des agrégats "
                  "anonymes de l'activité du service social, protégés par le secret statistique (code pénal, article 226-13 ; "
                  f"seuil k = {p.k}). Une cellule couverte par le secret, directement ou pour en protéger une autre, "
                  "s'écrit « s » ; une part, une évolution ou un taux qui en dépendrait s'écrit aussi « s ». "
                  "Aucun total qui ne serait pas lui-même publié n'est calculé."),
        Paragraph("Une situation est une personne accompagnée dans la période ; une situation peut porter plusieurs "
                  "problématiques, dont les parts ne s'additionnent donc pas. Les taux « pour 100 agents » rapportent un "
                  "nombre publié à l'effectif des agents du territoire l'année considérée (figé avec la publication) ; "
                  f"« {NOT_COMPUTABLE} » signale un taux ou une évolution qui ne peut être calculé.", style="note"),
    ]


# --------------------------------------------------------------------------- values


def value(valeur, statut) -> int | str:
    """A published count, or `s`."""
    if statut != STATUT_PUBLIE or valeur is None:
        return SECRET_MARK
    return int(valeur)


def share(valeur, statut, total: int | str | None) -> float | str:
    """A published count over a published number of situations."""
    if statut != STATUT_PUBLIE or valeur is None or total == SECRET_MARK:
        return SECRET_MARK
    if not total:
        return NOT_COMPUTABLE
    return valeur / total


def change(now: int | str | None, before: int | str | None) -> float | str:
    """Relative change between two published counts."""
    if now == SECRET_MARK or before == SECRET_MARK:
        return SECRET_MARK
    if now is None or before is None or before == 0:
        return NOT_COMPUTABLE
    return (now - before) / before


def rate(taux, statut) -> float | str:
    if statut != STATUT_PUBLIE:
        return SECRET_MARK
    return NOT_COMPUTABLE if taux is None else float(taux)


def signed_pct(x: float) -> str:
    text = fr_pct(abs(x))
    if round(100 * x, 1) == 0:
        return text
    return ("+" if x > 0 else "\u2212") + text


# --------------------------------------------------------------------------- cells of one territory


def territory_cells(territory: Territory, scope: Scope, years: list[int], dimensions=None) -> pl.DataFrame:
    """Published yearly cells of one territory for the given years (views columns)."""
    filters = Filters(territory, "annee", str(years[0]))
    return dashboard.cells(filters, scope, periodes=[str(y) for y in years], dimensions=dimensions)


def situations(cells: pl.DataFrame, year: int) -> int | str | None:
    """The published number of situations of a year in `cells`, `s`, or None when not published."""
    row = cells.filter((pl.col("dimension") == "ensemble") & (pl.col("periode") == str(year)))
    return value(row["valeur"][0], row["statut"][0]) if row.height else None


def modality_labels(dimension: str) -> dict[str, str]:
    from analytics.nomenclature import default_nomenclature

    return {m.code: m.libelle_court or m.libelle for m in default_nomenclature().dimension(dimension).modalites}


def modality_rows(cells: pl.DataFrame, dimension: str, year: int) -> pl.DataFrame:
    """The modalities of a dimension for `year` with the previous year's value, largest first (secrets after
    the non-zero values, zeros last): modalite, libelle, valeur, statut, precedent, statut_precedent."""
    labels = modality_labels(dimension)
    now = cells.filter((pl.col("dimension") == dimension) & (pl.col("periode") == str(year)))
    before = cells.filter((pl.col("dimension") == dimension) & (pl.col("periode") == str(year - 1))).select(
        "modalite", pl.col("valeur").alias("precedent"), pl.col("statut").alias("statut_precedent"))
    return (now.join(before, on="modalite", how="left")
            .with_columns(pl.col("modalite").replace_strict(labels, default=pl.col("modalite"), return_dtype=pl.String).alias("libelle"))
            .sort(display_rank("valeur"), pl.col("valeur"), descending=[False, True], nulls_last=True)
            .select("modalite", "libelle", "valeur", "statut", "precedent", "statut_precedent"))


def modality_table(cells: pl.DataFrame, dimension: str, year: int, title: str, sheet: str, first: str,
                   limit: int | None = None) -> Table | None:
    """Modalities of a dimension: number, share of the year's published situations, change on a year."""
    rows = modality_rows(cells, dimension, year)
    if rows.height == 0:
        return None
    total = situations(cells, year)
    body = []
    for r in rows.head(limit).iter_rows(named=True) if limit else rows.iter_rows(named=True):
        now = value(r["valeur"], r["statut"])
        before = value(r["precedent"], r["statut_precedent"]) if r["statut_precedent"] is not None else None
        body.append((r["libelle"], now, share(r["valeur"], r["statut"], total), change(now, before)))
    columns = (Column(first), Column("Nombre", "count"), Column(PART, "share"), Column(CHANGE, "change"))
    return Table(title, columns, tuple(body), sheet=sheet, legend="")


def chart_rows(cells: pl.DataFrame, dimension: str, year: int, limit: int | None = None) -> pl.DataFrame:
    """libelle, valeur, statut of a dimension's modalities for a chart (largest first)."""
    rows = modality_rows(cells, dimension, year).select("libelle", "valeur", "statut")
    return rows.head(limit) if limit else rows


# --------------------------------------------------------------------------- RPS indicators


def rps_table(filters: Filters, scope: Scope, title: str, sheet: str) -> tuple[Table | None, pl.DataFrame]:
    """The RPS indicators of a territory and year (analytics.rps), and the frame behind it."""
    from analytics import rps

    frame = rps.indicator_table(filters, scope)
    if frame.height == 0:
        return None, frame
    body = []
    for r in frame.iter_rows(named=True):
        now = value(r["valeur"], r["statut"])
        before = value(r["precedent"], r["statut_precedent"]) if r["statut_precedent"] is not None else None
        per_agents = rate(r["taux"], r["statut"]) if r["par_effectif"] else ""
        body.append((r["libelle"], r["famille"], now, per_agents, change(now, before)))
    columns = (Column("Indicateur"), Column("Famille"), Column("Nombre", "count"), Column(PER_100, "rate"),
               Column(CHANGE, "change"))
    legend = "« Pour 100 agents » : pour les seuls indicateurs rapportés à l'effectif ; – : effectif inconnu ou base nulle."
    return Table(title, columns, tuple(body), sheet=sheet, legend=legend), frame


# --------------------------------------------------------------------------- alerts


def alert_frame(alerts: pl.DataFrame | None, year: int) -> pl.DataFrame:
    """The register's alerts of the year (periode starting with it; the register already chose the scope's), with
    their state and severity in words."""
    if alerts is None or alerts.height == 0:
        return pl.DataFrame(schema={c: pl.String for c in ALERT_COLUMNS})
    missing = [c for c in ALERT_COLUMNS if c not in alerts.columns]
    if missing:
        raise ReportError(f"Registre des alertes : colonnes manquantes ({', '.join(missing)}).")
    frame = alerts.select([pl.col(c).cast(pl.String) for c in ALERT_COLUMNS])
    frame = frame.filter(pl.col("periode").str.starts_with(str(year))).with_columns(
        pl.col("etat").replace(ALERT_STATES), pl.col("gravite").replace(SEVERITIES))
    return frame.sort("periode", "territoire", "indicateur")


def indicator_label(code: str) -> str:
    """The register names an indicator by code (`rps:...`, `problematique:...`, a bare modality) or by label."""
    choices = dashboard.indicator_choices()
    if ":" in code:
        dimension, _, modalite = code.partition(":")
        if (dimension, modalite) in choices:
            return choices[(dimension, modalite)]
    for (_, modalite), label in choices.items():
        if modalite == code:
            return label
    return code


def alert_blocks(alerts: pl.DataFrame, year: int, sheet: str = "Alertes") -> list[Block]:
    """The year's alerts and how they were qualified: categorical only (where, when, which indicator,
    severity, state), never a figure, as the register itself."""
    from analytics.formatting import fr_period, plural

    blocks: list[Block] = [Heading("Alertes de l'année et leur qualification")]
    if alerts.height == 0:
        blocks.append(Paragraph(f"Aucune alerte de la veille n'est enregistrée pour {year} sur ce périmètre."))
        return blocks
    counts = {state: n for state, n in alerts.group_by("etat").len().iter_rows()}
    labels = list(ALERT_STATES.values())
    states = [s for s in labels if s in counts] + sorted(s for s in counts if s not in labels)
    blocks.append(Paragraph(f"{plural(alerts.height, 'alerte')} de la veille en {year} : "
                            + ", ".join(f"{counts[s]} {s}" for s in states) + "."))
    severities = list(SEVERITIES.values())[::-1]  # très forte first
    by_severity = alerts.group_by("gravite", "etat").len()
    blocks.append(Bullets(tuple(
        f"{severity} : {plural(int(group['len'].sum()), 'alerte')} ("
        + ", ".join(f"{n} {state}" for state, n in group.sort("etat").select("etat", "len").iter_rows()) + ")"
        for severity in severities if (group := by_severity.filter(pl.col("gravite") == severity)).height)))
    # A report lists the most severe and most recent alerts; the whole register is on the Veille RPS page.
    rank = {s: i for i, s in enumerate(severities)}
    shown = alerts.with_columns(pl.col("gravite").replace_strict(rank, default=len(rank), return_dtype=pl.Int32).alias("_rang")).sort(
        ["_rang", "periode", "territoire", "indicateur"], descending=[False, True, False, False]).head(MAX_ALERT_ROWS)
    rows = tuple((r["territoire"], indicator_label(r["indicateur"]), fr_period(r["periode"]), r["gravite"], r["etat"])
                 for r in shown.iter_rows(named=True))
    columns = (Column("Territoire"), Column("Indicateur"), Column("Période"), Column("Gravité"), Column("Qualification"))
    title = f"Alertes {year} et leur qualification"
    if alerts.height > MAX_ALERT_ROWS:
        title = f"Alertes {year} les plus graves et les plus récentes ({MAX_ALERT_ROWS} sur {alerts.height})"
    blocks.append(Table(title, columns, rows, sheet=sheet,
                        legend="Une alerte ne donne aucun chiffre : seuls le lieu, la période, l'indicateur et la gravité sont indiqués."))
    if alerts.height > MAX_ALERT_ROWS:
        blocks.append(Paragraph(f"Les {alerts.height - MAX_ALERT_ROWS} autres alertes de {year} sont dans la page « Veille RPS ».",
                                style="note"))
    return blocks


CTSS_COMMENT = "Commentaire de la conseillère ou du conseiller technique"


def closing_blocks(alerts: pl.DataFrame, year: int, comment: str | None, comment_heading: str, base: Basis) -> list[Block]:
    """What ends a bilan or a synthesis: the year's alerts, the comment, the method; the publication checked unchanged."""
    blocks = [*alert_blocks(alerts, year), *comment_blocks(comment, comment_heading), *method_blocks(base)]
    check_unchanged(base)
    return blocks


# --------------------------------------------------------------------------- the comment


def comment_blocks(comment: str | None, heading: str = CTSS_COMMENT) -> list[Block]:
    blocks: list[Block] = [Heading(heading)]
    text = (comment or "").strip()
    if not text:
        blocks.append(Paragraph("Aucun commentaire n'a été enregistré pour ce rapport.", style="note"))
        return blocks
    blocks += [Paragraph(part.strip(), style="comment") for part in text.split("\n\n") if part.strip()]
    return blocks


def highlights_block(items: list[str]) -> list[Block]:
    return [Bullets(tuple(items))] if items else []
