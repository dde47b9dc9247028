"""Synthèse nationale annuelle: the national document presented to the comité central d'action sociale, built from
the same publication as the regional bilans, with every région side by side."""

from __future__ import annotations

import polars as pl

from analytics import charts
from analytics.dashboard import NATIONAL as FRANCE
from analytics.reports import figures
from analytics.reports.builders import sections
from analytics.reports.builders.common import (
    Progress, ReportError, alert_frame, basis, change, closing_blocks, footer, highlights_block, incomplete_year_note,
    no_progress, signed_pct, value,
)
from analytics.reports.document import Block, Heading, PageBreak, Paragraph, Report
from analytics.views import NATIONAL

KIND = "synthese-nationale"
WHERE = "France"


def build(year: int, *, alerts: pl.DataFrame | None = None, comment: str | None = None,
          progress: Progress = no_progress) -> Report:
    base = basis(year)
    progress(0.05, "Lecture des cellules publiées nationales")
    cells = sections.section_cells(FRANCE, NATIONAL, base)
    if cells.filter(pl.col("periode") == base.period).height == 0:
        raise ReportError(f"Aucun chiffre national n'est publié pour {year}.")
    regions = sections.territories_frame(NATIONAL, "region", base)
    rps_section, rps_frame = sections.rps_blocks(FRANCE, NATIONAL, base, WHERE)
    year_alerts = alert_frame(alerts, year)

    items = sections.highlights(cells, rps_frame, base, WHERE) + regional_highlights(regions)
    if year_alerts.height:
        items.append(f"{year_alerts.height} alerte(s) de la veille dans l'année (détail en fin de synthèse).")
    blocks: list[Block] = [
        Paragraph(f"Synthèse nationale de l'activité du service social en {year}, établie à partir des chiffres publiés sous "
                  "secret statistique pour chaque région ; elle accompagne les bilans régionaux des conseillères et "
                  "conseillers techniques."),
        Heading("Faits marquants"), *highlights_block(items), *incomplete_year_note(base),
    ]

    progress(0.15, "Activité nationale")
    blocks += [Heading("Activité du service social"), sections.activity_table(cells, NATIONAL, base, WHERE)]
    trend = sections.trend_figure(FRANCE, NATIONAL, base, WHERE)
    if trend is not None:
        blocks.append(trend)

    progress(0.25, "Les régions côte à côte")
    blocks += [PageBreak(), Heading("Les régions côte à côte")]
    if regions.height:
        chart = charts.choropleth(regions, "region", "valeur", f"Situations suivies par région · {year}", value_title="Situations")
        blocks.append(figures.figure(chart, f"Carte des situations suivies par région, {year}",
                                     f"Carte de France des régions, outre-mer rapprochés : nombre de situations suivies en {year} ; "
                                     "en gris hachuré, les régions couvertes par le secret statistique.", width_cm=15))
        blocks.append(sections.territories_table(regions, "region", base, f"Situations suivies par région · {year}", "Régions"))
    progress(0.35, "Carte des départements")
    departements = sections.territories_frame(NATIONAL, "departement", base)
    if departements.height:
        rated = departements.filter(pl.col("taux").is_not_null()).height > 0
        column = "taux" if rated else "valeur"
        unit = "pour 100 agents" if rated else "nombre"
        chart = charts.choropleth(departements, "departement", column, f"Situations suivies par département ({unit}) · {year}",
                                  value_title="Pour 100 agents" if rated else "Situations", rate=rated)
        blocks.append(figures.figure(chart, f"Carte des situations suivies par département ({unit}), {year}",
                                     f"Carte de France des départements, outre-mer rapprochés : situations suivies en {year} "
                                     f"({unit}) ; en gris hachuré, les départements couverts par le secret statistique.", width_cm=15))

    progress(0.5, "Problématiques")
    blocks += [PageBreak(), *sections.problems_blocks(cells, base, WHERE)]
    by_region = sections.problems_by_territory(NATIONAL, "region", base, cells,
                                               f"Problématiques les plus fréquentes, par région · {year}", "Problématiques par région")
    if by_region is not None:
        blocks.append(by_region)

    progress(0.65, "Axes, prévention, modes, origines, publics")
    blocks += sections.partition_blocks(cells, base, WHERE, ("axe", "prevention"), "Axes d'intervention et niveaux de prévention",
                                        chart_dimension="axe")
    axes = sections.partition_by_territory(NATIONAL, "region", "axe", base, f"Axes d'intervention par région · {year}", "Axes par région")
    if axes is not None:
        blocks.append(axes)
    blocks += sections.partition_blocks(cells, base, WHERE, ("mode", "origine"), "Modes d'intervention et origine des demandes")
    blocks += sections.partition_blocks(cells, base, WHERE, ("public", "categorie"), "Publics accompagnés")

    progress(0.8, "Indicateurs RPS")
    blocks += rps_section
    rates = sections.rps_rates_by_territory(NATIONAL, "region", base, f"Indicateurs RPS pour 100 agents, par région · {year}",
                                            "RPS par région")
    if rates is not None:
        blocks.append(rates)
    progress(0.9, "Alertes")
    blocks += closing_blocks(year_alerts, year, comment, "Commentaire du pôle national du service social", base)
    progress(1.0, "Synthèse prête")
    p = base.publication
    return Report(
        kind=KIND,
        title=f"Synthèse nationale du service social {year}",
        subtitle=f"France entière et régions · {base.months_text()} · publication n° {p.number}",
        footer=footer(p),
        blocks=tuple(blocks),
        metadata={"subject": f"Synthèse nationale {year}", "author": "Vigie · service social",
                  "keywords": f"synthèse nationale; service social; comité central d'action sociale; {year}"},
    )


def regional_highlights(regions: pl.DataFrame) -> list[str]:
    """The strongest regional rise and fall, between two published counts."""
    moves = []
    for r in regions.iter_rows(named=True):
        moved = change(value(r["valeur"], r["statut"]),
                       value(r["precedent"], r["statut_precedent"]) if r["statut_precedent"] is not None else None)
        if isinstance(moved, float):
            moves.append((moved, r["geo_libelle"]))
    if len(moves) < 2:
        return []
    moves.sort()
    items = [f"Plus forte hausse régionale des situations suivies : {moves[-1][1]} ({signed_pct(moves[-1][0])})."]
    if moves[0][0] < 0:
        items.append(f"Plus forte baisse : {moves[0][1]} ({signed_pct(moves[0][0])}).")
    return items

