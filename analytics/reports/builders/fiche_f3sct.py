"""Fiche F3SCT: one service or a group of services, one year, for a health, safety and working conditions committee.

One or two pages in large type: situations over the published years, the RPS indicators, the leading
problématiques, what changed. Services of a group are shown side by side and never added up: a sum
over a group is not a published cell (it could be differenced against the published ones)."""

from __future__ import annotations

import polars as pl

from analytics import charts, rps, views
from analytics.formatting import NOT_COMPUTABLE
from analytics.reports import figures
from analytics.reports.builders.common import (
    CHANGE, PART, PER_100, SITUATIONS, Progress, ReportError, alert_blocks, alert_frame, basis, change, check_unchanged,
    comment_blocks, footer, incomplete_year_note, modality_rows, no_progress, rate, share, signed_pct, situations, value,
)
from analytics.reports.builders.sections import lower_first
from analytics.reports.document import Block, Column, Heading, Paragraph, Report, Table
from analytics.views import Scope

KIND = "fiche-f3sct"
MAX_SERVICES = 8  # a meeting sheet, not a catalogue
TOP_PROBLEMS = 5


def build(services: list[str] | tuple[str, ...], year: int, *, alerts: pl.DataFrame | None = None,
          comment: str | None = None, progress: Progress = no_progress) -> Report:
    codes = sorted({c.strip() for c in services if c and c.strip()})
    if not codes:
        raise ReportError("Indiquez au moins un service pour la fiche F3SCT.")
    if len(codes) > MAX_SERVICES:
        raise ReportError(f"Une fiche F3SCT porte sur {MAX_SERVICES} services au plus ({len(codes)} demandés).")
    base = basis(year)
    directory = views.service_directory()
    known = dict(directory.select("code", "libelle").iter_rows())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ReportError("Service inconnu ou non publié : " + ", ".join(f"« {c} »" for c in unknown) + ".")
    scope = Scope.services(codes)
    names = [known[c] for c in codes]
    where = names[0] if len(codes) == 1 else f"{len(codes)} services"
    progress(0.1, "Lecture des cellules publiées des services")
    cells = views.published_cells(scope, geo_niveau="service", periode_niveau="annee").filter(pl.col("geo_code").is_in(codes))
    if cells.filter(pl.col("periode") == base.period).height == 0:
        raise ReportError(f"Aucun chiffre de ces services n'est publié pour {year}.")

    blocks: list[Block] = [Paragraph(
        "Fiche pour la formation spécialisée en santé, sécurité et conditions de travail : chiffres publiés sous secret "
        "statistique, sans aucun élément qui désigne une personne." + (
            " Les services sont présentés côte à côte, jamais additionnés." if len(codes) > 1 else "")),
        *incomplete_year_note(base)]

    progress(0.25, "Situations suivies")
    blocks += [Heading("Situations suivies"), situations_table(cells, scope, codes, known, year)]
    trend = cells.filter(pl.col("dimension") == "ensemble").select("periode", "geo_libelle", "valeur", "statut")
    if trend["periode"].n_unique() >= 2:
        chart = charts.trend_chart(trend, f"{SITUATIONS} par année", series="geo_libelle", series_title="Service",
                                   value_title=SITUATIONS, large=True).properties(width=620, height=230)
        blocks.append(figures.figure(chart, "Évolution des situations suivies",
                                     f"Courbe des situations suivies chaque année publiée, {', '.join(names)} ; les "
                                     "interruptions marquent des années couvertes par le secret statistique."))

    progress(0.5, "Indicateurs RPS")
    blocks += [Heading("Indicateurs de risques psychosociaux"), *rps_section(cells, scope, codes, known, year, where)]

    progress(0.7, "Problématiques")
    problems = problems_table(cells, codes, known, year)
    if problems is not None:
        blocks += [Heading("Problématiques les plus fréquentes"), problems]
    year_alerts = alert_frame(alerts, year)
    if year_alerts.height:
        blocks += alert_blocks(year_alerts, year)
    blocks += comment_blocks(comment, "Commentaire du service social")
    check_unchanged(base)
    progress(1.0, "Fiche prête")
    p = base.publication
    return Report(
        kind=KIND,
        title=f"Fiche F3SCT {year} · {where}",
        subtitle=(", ".join(names) + " · " if len(codes) > 1 else "") + f"{base.months_text()} · publication n° {p.number}",
        footer=footer(p),
        blocks=tuple(blocks),
        large_type=True,
        metadata={"subject": f"Fiche F3SCT {year}, {', '.join(codes)}", "author": "Vigie · service social",
                  "keywords": f"F3SCT; RPS; {'; '.join(codes)}; {year}"},
    )


def situations_table(cells: pl.DataFrame, scope: Scope, codes: list[str], known: dict[str, str], year: int) -> Table:
    rated = rps.with_rates(cells.filter(pl.col("dimension") == "ensemble"), scope)
    rows = []
    for code in codes:
        own = rated.filter(pl.col("geo_code") == code)
        now_row = own.filter(pl.col("periode") == str(year))
        if now_row.height == 0:
            rows.append((known[code], NOT_COMPUTABLE, NOT_COMPUTABLE, NOT_COMPUTABLE, NOT_COMPUTABLE))
            continue
        r = now_row.row(0, named=True)
        now, before = value(r["valeur"], r["statut"]), situations(own, year - 1)
        rows.append((known[code], now, before if before is not None else NOT_COMPUTABLE, change(now, before),
                     rate(r["taux"], r["statut"])))
    columns = (Column("Service"), Column(f"Situations {year}", "count"), Column(f"Situations {year - 1}", "count"),
               Column(CHANGE, "change"), Column(PER_100, "rate"))
    return Table(f"{SITUATIONS} · {year}", columns, tuple(rows), sheet="Situations", legend="")


def rps_section(cells: pl.DataFrame, scope: Scope, codes: list[str], known: dict[str, str], year: int, where: str) -> list[Block]:
    indicators = rps.indicators()
    order = {i.code: n for n, i in enumerate(indicators)}
    by_code = {i.code: i for i in indicators}
    rated = rps.with_rates(cells.filter(pl.col("dimension") == "rps"), scope)
    now = rated.filter(pl.col("periode") == str(year))
    if now.height == 0:
        return [Paragraph("Aucun indicateur RPS n'est publié pour ces services et cette année.")]
    before = rated.filter(pl.col("periode") == str(year - 1)).select(
        "geo_code", "modalite", pl.col("valeur").alias("precedent"), pl.col("statut").alias("statut_precedent"))
    frame = (now.join(before, on=["geo_code", "modalite"], how="left")
             .with_columns(pl.col("modalite").replace_strict(order, default=999, return_dtype=pl.Int64).alias("_rang"))
             .sort("geo_code", "_rang"))
    blocks: list[Block] = []
    if len(codes) == 1:
        shown = frame.with_columns(pl.col("modalite").replace_strict({c: i.libelle for c, i in by_code.items()},
                                                                     default=pl.col("modalite"), return_dtype=pl.String).alias("libelle"))
        chart = charts.bar_chart(shown.select("libelle", "valeur", "statut"), "libelle", f"Indicateurs RPS · {year}",
                                 value_title="Nombre", large=True).properties(width=420)
        blocks.append(figures.figure(chart, f"Indicateurs RPS, {year}",
                                     f"Barres horizontales : nombre publié de chaque indicateur RPS, {where}, {year}."))
    else:
        shown = frame.with_columns(pl.col("modalite").replace_strict({c: i.libelle for c, i in by_code.items()},
                                                                     default=pl.col("modalite"), return_dtype=pl.String).alias("libelle"))
        chart = charts.heatmap(shown.select("geo_libelle", "libelle", "valeur", "statut"), "geo_libelle", "libelle",
                               f"Indicateurs RPS par service · {year}", value_title="Nombre", x_title="Service",
                               y_title="Indicateur", large=True)
        blocks.append(figures.figure(chart, f"Indicateurs RPS par service, {year}",
                                     f"Carte de chaleur : nombre publié de chaque indicateur RPS par service, {year} ; "
                                     "les cases grises marquées « s » sont couvertes par le secret statistique."))
    rows, rises, zeros = [], [], []
    for r in frame.iter_rows(named=True):
        indicator = by_code.get(r["modalite"])
        count = value(r["valeur"], r["statut"])
        if count == 0 and r["precedent"] == 0 and r["statut_precedent"] == "publie":
            zeros.append(((f"{known[r['geo_code']]} : " if len(codes) > 1 else "") + lower_first(indicator.libelle if indicator else r["modalite"])))
            continue
        previous = value(r["precedent"], r["statut_precedent"]) if r["statut_precedent"] is not None else None
        per_agents = rate(r["taux"], r["statut"]) if indicator and indicator.par_effectif else ""
        label = indicator.libelle if indicator else r["modalite"]
        moved = change(count, previous)
        rows.append(((known[r["geo_code"]],) if len(codes) > 1 else ()) + (label, count, per_agents, moved))
        if isinstance(moved, float) and moved > 0:
            rises.append((moved, lower_first(label) + (f" ({known[r['geo_code']]})" if len(codes) > 1 else "")))
    columns = ((Column("Service"),) if len(codes) > 1 else ()) + (
        Column("Indicateur"), Column("Nombre", "count"), Column(PER_100, "rate"), Column(CHANGE, "change"))
    blocks.append(Table(f"Indicateurs RPS · {year}", columns, tuple(rows), sheet="Indicateurs RPS",
                        legend="« Pour 100 agents » : pour les seuls indicateurs rapportés à l'effectif ; – : non calculable."))
    if zeros:
        blocks.append(Paragraph("À zéro cette année et l'année précédente : " + " ; ".join(zeros) + ".", style="note"))
    if rises:
        rises.sort(reverse=True)
        blocks.append(Paragraph("Ce qui a changé : " + " ; ".join(f"{label} {signed_pct(moved)}"
                                                                   for moved, label in rises[:3]) + f" par rapport à {year - 1}."))
    return blocks


def problems_table(cells: pl.DataFrame, codes: list[str], known: dict[str, str], year: int) -> Table | None:
    rows = []
    for code in codes:
        own = cells.filter(pl.col("geo_code") == code)
        total = situations(own, year)
        leading = modality_rows(own, "problematique", year).filter(pl.col("valeur") > 0).head(TOP_PROBLEMS)
        for r in leading.iter_rows(named=True):
            rows.append(((known[code],) if len(codes) > 1 else ()) + (r["libelle"], value(r["valeur"], r["statut"]),
                                                                      share(r["valeur"], r["statut"], total)))
    if not rows:
        return None
    columns = ((Column("Service"),) if len(codes) > 1 else ()) + (Column("Problématique"), Column("Nombre", "count"),
                                                                  Column(PART, "share"))
    return Table(f"Les {TOP_PROBLEMS} problématiques les plus fréquentes · {year}", columns, tuple(rows), sheet="Problématiques",
                 legend="Une situation peut porter plusieurs problématiques : les parts ne s'additionnent pas.")
