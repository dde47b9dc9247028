"""Bilan régional annuel (instruction du 27 mars 2014): what each CTSS sends to the DREAL and to the national HR
direction for a région and a year."""

from __future__ import annotations

import polars as pl

from analytics import views
from analytics.dashboard import Territory
from analytics.referentials import departement_names, region_names
from analytics.reports import figures
from analytics.reports.builders import sections
from analytics.reports.builders.common import (
    CTSS_COMMENT, Progress, ReportError, alert_frame, basis, closing_blocks, footer, highlights_block, incomplete_year_note,
    no_progress,
)
from analytics.reports.document import Block, Heading, PageBreak, Paragraph, Report
from analytics.views import Scope

KIND = "bilan-regional"


def build(region: str, year: int, *, alerts: pl.DataFrame | None = None, comment: str | None = None,
          progress: Progress = no_progress) -> Report:
    if region not in region_names():
        raise ReportError(f"Région inconnue : « {region} ».")
    base = basis(year)
    name = region_names()[region]
    where = f"région {name}"
    scope, territory = Scope.region(region), Territory("region", region)
    progress(0.05, "Lecture des cellules publiées de la région")
    cells = sections.section_cells(territory, scope, base)
    if cells.filter(pl.col("periode") == base.period).height == 0:
        raise ReportError(f"Aucun chiffre de la région {name} n'est publié pour {year}.")

    blocks: list[Block] = [intro(name, year)]
    rps_section, rps_frame = sections.rps_blocks(territory, scope, base, where)
    year_alerts = alert_frame(alerts, year)
    items = sections.highlights(cells, rps_frame, base, where)
    if year_alerts.height:
        items.append(f"{year_alerts.height} alerte(s) de la veille dans l'année (détail en fin de bilan).")
    blocks += [Heading("L'essentiel"), *highlights_block(items), *incomplete_year_note(base)]

    progress(0.15, "Activité")
    blocks += [Heading("Activité du service social"), sections.activity_table(cells, scope, base, where)]
    trend = sections.trend_figure(territory, scope, base, where)
    if trend is not None:
        blocks.append(trend)
    departements = sections.territories_frame(scope, "departement", base)
    blocks.append(Heading("Par département", level=2))
    if departements.height:
        progress(0.25, "Carte des départements")
        chart = figures.region_map(departements, region, f"Situations suivies par département · {name} · {year}",
                                   value_title="Situations")
        blocks.append(figures.figure(chart, f"Carte des situations suivies par département, {year}",
                                     f"Carte de la région {name} : nombre de situations suivies en {year} dans chaque "
                                     "département ; en gris hachuré, les départements couverts par le secret statistique.",
                                     width_cm=14))
        blocks.append(sections.territories_table(departements, "departement", base, f"Situations suivies par département · {year}",
                                                 "Départements"))
    services = sections.territories_frame(scope, "service", base)
    if services.height:
        blocks.append(Heading("Par service", level=2))
        directory = views.service_directory().filter(pl.col("region") == region)
        dep_of = {c: departement_names().get(d, d) for c, d in directory.select("code", "departement").iter_rows()}
        blocks.append(sections.territories_table(services, "service", base, f"Situations suivies par service · {year}",
                                                 "Services", extra={"Département": dep_of}))

    progress(0.4, "Problématiques")
    blocks += [PageBreak(), *sections.problems_blocks(cells, base, where)]
    by_service = sections.problems_by_territory(scope, "service", base, cells,
                                                f"Problématiques les plus fréquentes de la région, par service · {year}",
                                                "Problématiques par service")
    if by_service is not None:
        blocks.append(by_service)

    progress(0.55, "Axes et niveaux de prévention")
    blocks += sections.partition_blocks(cells, base, where, ("axe", "prevention"),
                                        "Axes d'intervention et niveaux de prévention", chart_dimension="axe")
    progress(0.65, "Modes et origines des demandes")
    blocks += sections.partition_blocks(cells, base, where, ("mode", "origine"), "Modes d'intervention et origine des demandes")
    blocks += sections.partition_blocks(cells, base, where, ("public", "categorie"), "Publics accompagnés")

    progress(0.75, "Indicateurs RPS")
    blocks += rps_section
    progress(0.85, "Alertes")
    blocks += closing_blocks(year_alerts, year, comment, CTSS_COMMENT, base)
    progress(1.0, "Bilan prêt")
    p = base.publication
    return Report(
        kind=KIND,
        title=f"Bilan annuel du service social {year} · {name}",
        subtitle=f"Région {name} · {base.months_text()} · publication n° {p.number}",
        footer=footer(p),
        blocks=tuple(blocks),
        metadata={"subject": f"Bilan régional {year}, région {name}", "author": "Vigie · service social",
                  "keywords": f"bilan régional; service social; {name}; {year}"},
    )


def intro(name: str, year: int) -> Paragraph:
    return Paragraph(f"Bilan annuel d'activité du service social pour la région {name}, {year}, établi sur les seuls "
                     "chiffres publiés sous secret statistique.")
