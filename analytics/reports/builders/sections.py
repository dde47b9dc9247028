"""Sections shared by the bilan régional and the synthèse nationale: activity over three years, territories
side by side, problématiques, the partitions (axes, prevention levels, modes, origins, publics), RPS indicators.

Each function returns report blocks built from published cells of one territory (or of the territories
of one level); none sums cells: a total that is not itself a published cell is never shown.
"""

from __future__ import annotations

import polars as pl

from analytics import charts, dashboard, rps, views
from analytics.dashboard import PARTITION_TITLES, Filters, Territory
from analytics.formatting import SECRET_MARK, fr_int, fr_period
from analytics.reports import figures
from analytics.reports.builders.common import (
    CHANGE, PART, PER_100, SITUATIONS, Basis, change, chart_rows, modality_labels, modality_rows, modality_table, rate, rps_table,
    share, signed_pct, situations, territory_cells, value,
)
from analytics.reports.document import Block, Bullets, Column, Heading, Paragraph, Table
from analytics.views import Scope

PARTITION_SHEETS = {"axe": "Axes", "prevention": "Prévention", "mode": "Modes", "origine": "Origines", "public": "Publics",
                    "categorie": "Catégories"}
FIRST_COLUMN = {"axe": "Axe d'intervention", "prevention": "Niveau de prévention", "mode": "Mode d'intervention",
                "origine": "Origine de la demande", "public": "Public", "categorie": "Catégorie"}
TOP_PROBLEMS_CHART = 15
LEVEL_LABELS = {"region": "Région", "departement": "Département", "service": "Service"}


# --------------------------------------------------------------------------- activity


def activity_table(cells: pl.DataFrame, scope: Scope, base: Basis, where: str, sheet: str = "Activité") -> Table:
    """Situations of the territory in each of the three years up to `base.year`, their change and rate per 100 agents."""
    ensemble = rps.with_rates(cells.filter(pl.col("dimension") == "ensemble"), scope)
    published = set(views.available_periods("annee"))
    months = views.available_periods("mois")
    rows = []
    for year in (base.year - 2, base.year - 1, base.year):
        if str(year) not in published:
            continue
        now = ensemble.filter(pl.col("periode") == str(year))
        if now.height == 0:
            continue
        r = now.row(0, named=True)
        count = value(r["valeur"], r["statut"])
        before = situations(cells, year - 1)
        covered = [m for m in months if m.startswith(f"{year}-")]
        span = f"{fr_period(covered[0])} à {fr_period(covered[-1])}" if covered else str(year)
        rows.append((str(year), span, count, change(count, before), rate(r["taux"], r["statut"])))
    columns = (Column("Année"), Column("Mois couverts"), Column(SITUATIONS, "count"), Column(CHANGE, "change"),
               Column(PER_100, "rate"))
    return Table(f"{SITUATIONS} · {where}, {base.year - 2} à {base.year}", columns, tuple(rows), sheet=sheet, legend="")


def trend_figure(territory: Territory, scope: Scope, base: Basis, where: str, large: bool = False):
    """The territory's situations over the three years, at the finest published level among quarter and month."""
    levels = dashboard.granularities(territory)
    level = "trimestre" if "trimestre" in levels else ("mois" if "mois" in levels else "annee")
    series = dashboard.series(Filters(territory, level, None), scope)
    series = series.filter(pl.col("periode").str.slice(0, 4).cast(pl.Int32).is_between(base.year - 2, base.year))
    if series.height < 2:
        return None
    label = dashboard.GRANULARITY_LABELS[level].lower()
    chart = charts.trend_chart(series, f"{SITUATIONS} par {label} · {where}", value_title=SITUATIONS, large=large)
    return figures.figure(chart, f"Évolution des situations suivies par {label}, {base.year - 2} à {base.year}",
                          f"Courbe des situations suivies par {label} pour {where} de {base.year - 2} à {base.year} ; "
                          "les interruptions marquent des périodes couvertes par le secret statistique.")


# --------------------------------------------------------------------------- territories side by side


def territories_frame(scope: Scope, level: str, base: Basis, codes: list[str] | None = None) -> pl.DataFrame:
    """Situations of each territory of `level` in the year and the year before, with rates:
    geo_code, geo_libelle, valeur, statut, taux, precedent, statut_precedent."""
    cells = views.published_cells(scope, geo_niveau=level, periode_niveau="annee",
                                  periodes=[str(base.year), str(base.year - 1)], dimensions="ensemble")
    if codes is not None:
        cells = cells.filter(pl.col("geo_code").is_in(codes))
    rated = rps.with_rates(cells, scope)
    now = rated.filter(pl.col("periode") == str(base.year)).select("geo_code", "geo_libelle", "valeur", "statut", "taux")
    before = rated.filter(pl.col("periode") == str(base.year - 1)).select(
        "geo_code", pl.col("valeur").alias("precedent"), pl.col("statut").alias("statut_precedent"))
    return now.join(before, on="geo_code", how="left").sort("geo_code")


def territories_table(frame: pl.DataFrame, level: str, base: Basis, title: str, sheet: str,
                      extra: dict[str, dict[str, str]] | None = None) -> Table:
    """One row per territory: situations of the year and the year before, change, rate per 100 agents.
    `extra`: {column name: {geo_code: text}} added after the name (e.g. the département of a service)."""
    extra = extra or {}
    rows = []
    for r in frame.iter_rows(named=True):
        now = value(r["valeur"], r["statut"])
        before = value(r["precedent"], r["statut_precedent"]) if r["statut_precedent"] is not None else None
        texts = tuple(column.get(r["geo_code"], "") for column in extra.values())
        rows.append((r["geo_libelle"], *texts, now, before if before is not None else "–", change(now, before),
                     rate(r["taux"], r["statut"])))
    columns = (Column(LEVEL_LABELS[level]), *(Column(name) for name in extra), Column(f"Situations {base.year}", "count"),
               Column(f"Situations {base.year - 1}", "count"), Column(CHANGE, "change"), Column(PER_100, "rate"))
    return Table(title, columns, tuple(rows), sheet=sheet, legend="")


# --------------------------------------------------------------------------- problématiques


def problems_blocks(cells: pl.DataFrame, base: Basis, where: str, large: bool = False) -> list[Block]:
    total = situations(cells, base.year)
    blocks: list[Block] = [Heading("Problématiques exprimées"),
                           Paragraph("Une situation peut porter plusieurs problématiques : chaque part rapporte le nombre de "
                                     "situations concernées au nombre de situations suivies, et les parts ne s'additionnent pas.")]
    rows = chart_rows(cells, "problematique", base.year, TOP_PROBLEMS_CHART)
    if rows.height:
        as_share = isinstance(total, int) and total > 0
        chart = charts.bar_chart(rows, "libelle", f"Problématiques les plus fréquentes · {where} · {base.year}", share=as_share,
                                 total=total if as_share else None, value_title=PART if as_share else "Nombre", large=large)
        blocks.append(figures.figure(chart, f"Les {TOP_PROBLEMS_CHART} problématiques les plus fréquentes en {base.year}",
                                     f"Barres horizontales : part des situations suivies portant chacune des "
                                     f"{TOP_PROBLEMS_CHART} problématiques les plus fréquentes, {where}, {base.year}."))
    table = modality_table(cells, "problematique", base.year, f"Problématiques exprimées · {where} · {base.year}",
                           "Problématiques", "Problématique")
    if table is not None:
        blocks.append(table)
    return blocks


def problems_by_territory(scope: Scope, level: str, base: Basis, region_cells: pl.DataFrame, title: str, sheet: str,
                          codes: list[str] | None = None, top: int = 6) -> Table | None:
    """Territories × the `top` most frequent problématiques of `region_cells`: share of each territory's situations."""
    leading = modality_rows(region_cells, "problematique", base.year).filter(pl.col("valeur") > 0).head(top)
    if leading.height == 0:
        return None
    matrix = dashboard.problem_matrix(scope, level, str(base.year))
    if codes is not None:
        matrix = matrix.filter(pl.col("geo_code").is_in(codes))
    if matrix.height == 0:
        return None
    totals = views.published_cells(scope, geo_niveau=level, periode_niveau="annee", periodes=[str(base.year)], dimensions="ensemble")
    total = {c: value(v, s) for c, v, s in totals.select("geo_code", "valeur", "statut").iter_rows()}
    wanted = leading["modalite"].to_list()
    rows = []
    for code, part in matrix.filter(pl.col("modalite").is_in(wanted)).group_by("geo_code", "libelle_territoire", maintain_order=True):
        cells = {r["modalite"]: share(r["valeur"], r["statut"], total.get(code[0])) for r in part.iter_rows(named=True)}
        rows.append((code[1], *(cells.get(m, "–") for m in wanted)))
    columns = (Column(LEVEL_LABELS[level]), *(Column(label, "share") for label in leading["libelle"].to_list()))
    return Table(title, columns, tuple(sorted(rows, key=lambda r: r[0])), sheet=sheet,
                 legend="Part des situations suivies du territoire.")


# --------------------------------------------------------------------------- partitions


def partition_blocks(cells: pl.DataFrame, base: Basis, where: str, dimensions: tuple[str, ...], heading: str,
                     chart_dimension: str | None = None, large: bool = False) -> list[Block]:
    blocks: list[Block] = [Heading(heading)]
    present = set(cells["dimension"].to_list())
    total = situations(cells, base.year)
    for dim in dimensions:
        if dim not in present:
            continue
        if dim == chart_dimension:
            rows = chart_rows(cells, dim, base.year)
            as_share = isinstance(total, int) and total > 0
            chart = charts.bar_chart(rows, "libelle", f"{PARTITION_TITLES[dim]} · {where} · {base.year}", share=as_share,
                                     total=total if as_share else None, value_title=PART if as_share else "Nombre", large=large)
            blocks.append(figures.figure(chart, f"{PARTITION_TITLES[dim]}, {base.year}",
                                         f"Barres horizontales : répartition des situations suivies par "
                                         f"{FIRST_COLUMN[dim].lower()}, {where}, {base.year}.", width_cm=15))
        table = modality_table(cells, dim, base.year, f"{PARTITION_TITLES[dim]} · {where} · {base.year}",
                               PARTITION_SHEETS[dim], FIRST_COLUMN[dim])
        if table is not None:
            blocks.append(table)
    if len(blocks) == 1:
        blocks.append(Paragraph("Aucune de ces répartitions n'est publiée pour ce territoire et cette année."))
    return blocks


def partition_by_territory(scope: Scope, level: str, dimension: str, base: Basis, title: str, sheet: str,
                           codes: list[str] | None = None) -> Table | None:
    """Territories × the modalities of a partition: share of each territory's published situations."""
    cells = views.published_cells(scope, geo_niveau=level, periode_niveau="annee", periodes=[str(base.year)],
                                  dimensions=["ensemble", dimension])
    if codes is not None:
        cells = cells.filter(pl.col("geo_code").is_in(codes))
    parts = cells.filter(pl.col("dimension") == dimension)
    if parts.height == 0:
        return None
    labels = modality_labels(dimension)
    modalities = [m for m in labels if m in set(parts["modalite"].to_list())]
    rows = []
    for (code, name), group in cells.group_by("geo_code", "geo_libelle", maintain_order=True):
        total = situations(group, base.year)
        by = {r["modalite"]: share(r["valeur"], r["statut"], total) for r in group.filter(pl.col("dimension") == dimension).iter_rows(named=True)}
        rows.append((name, *(by.get(m, "–") for m in modalities)))
    columns = (Column(LEVEL_LABELS[level]), *(Column(labels[m], "share") for m in modalities))
    return Table(title, columns, tuple(sorted(rows, key=lambda r: r[0])), sheet=sheet,
                 legend="Part des situations suivies du territoire.")


# --------------------------------------------------------------------------- RPS


def rps_blocks(territory: Territory, scope: Scope, base: Basis, where: str, large: bool = False) -> tuple[list[Block], pl.DataFrame]:
    filters = Filters(territory, "annee", base.period)
    table, frame = rps_table(filters, scope, f"Indicateurs RPS · {where} · {base.year}", "Indicateurs RPS")
    blocks: list[Block] = [Heading("Indicateurs de risques psychosociaux")]
    if table is None:
        blocks.append(Paragraph("Aucun indicateur RPS n'est publié pour ce territoire et cette année."))
        return blocks, frame
    chart = charts.bar_chart(frame.select("libelle", "valeur", "statut"), "libelle", f"Indicateurs RPS · {where} · {base.year}",
                             value_title="Nombre", large=large)
    blocks.append(figures.figure(chart, f"Indicateurs RPS, {base.year}",
                                 f"Barres horizontales : nombre publié de chaque indicateur RPS, {where}, {base.year}."))
    blocks.append(table)
    readings = [(i.libelle, i.hausse_signifie) for i in rps.indicators() if i.hausse_signifie
                and i.code in set(frame["modalite"].to_list())]
    if readings:
        blocks += [Heading("Comment lire une hausse", level=2),
                   Bullets(tuple(f"{name} : {lower_first(meaning).rstrip('.')}." for name, meaning in readings))]
    return blocks, frame


def rps_rates_by_territory(scope: Scope, level: str, base: Basis, title: str, sheet: str,
                           codes: list[str] | None = None) -> Table | None:
    """Territories × the RPS indicators read per 100 agents."""
    per_agents = [i for i in rps.indicators() if i.par_effectif]
    matrix = rps.matrix(scope, level, base.period)
    if codes is not None:
        matrix = matrix.filter(pl.col("geo_code").is_in(codes))
    matrix = matrix.filter(pl.col("modalite").is_in([i.code for i in per_agents]))
    if matrix.height == 0:
        return None
    present = [i for i in per_agents if i.code in set(matrix["modalite"].to_list())]
    rows = []
    for (code, name), group in matrix.group_by("geo_code", "libelle_territoire", maintain_order=True):
        by = {r["modalite"]: rate(r["taux"], r["statut"]) for r in group.iter_rows(named=True)}
        rows.append((name, *(by.get(i.code, "–") for i in present)))
    columns = (Column(LEVEL_LABELS[level]), *(Column(i.libelle, "rate") for i in present))
    return Table(title, columns, tuple(sorted(rows, key=lambda r: r[0])), sheet=sheet,
                 legend="Pour 100 agents ; – : effectif inconnu.")


# --------------------------------------------------------------------------- highlights


def highlights(cells: pl.DataFrame, rps_frame: pl.DataFrame, base: Basis, where: str) -> list[str]:
    """A few sentences on published values only: situations and their change, leading problématiques and axis,
    the strongest rises among RPS indicators."""
    items = []
    now, before = situations(cells, base.year), situations(cells, base.year - 1)
    if isinstance(now, int):
        text = f"{fr_int(now)} situations suivies en {base.year} ({where})"
        moved = change(now, before)
        if isinstance(moved, float):
            text += f", {signed_pct(moved)} par rapport à {base.year - 1}"
        items.append(text + ".")
    elif now == SECRET_MARK:
        items.append(f"Le nombre de situations suivies en {base.year} est couvert par le secret statistique.")
    problems = modality_rows(cells, "problematique", base.year).filter(pl.col("valeur") > 0).head(3)
    if problems.height and isinstance(now, int) and now > 0:
        items.append("Problématiques les plus fréquentes : " + ", ".join(
            f"{lower_first(r['libelle'])} ({share_text(r['valeur'], now)})"
            for r in problems.iter_rows(named=True)) + ".")
    axes = modality_rows(cells, "axe", base.year).filter((pl.col("valeur") > 0) & (pl.col("modalite") != "non_renseigne")).head(1)
    if axes.height and isinstance(now, int) and now > 0:
        r = axes.row(0, named=True)
        items.append(f"Axe d'intervention principal le plus fréquent : {lower_first(r['libelle'])} ({share_text(r['valeur'], now)} des situations).")
    if rps_frame.height:
        rises = rps_frame.filter(pl.col("evolution").is_not_null() & (pl.col("evolution") > 0)).sort("evolution", descending=True).head(2)
        if rises.height:
            items.append("Plus fortes hausses des indicateurs RPS : " + ", ".join(
                f"{lower_first(r['libelle'])} ({signed_pct(r['evolution'])})" for r in rises.iter_rows(named=True)) + ".")
    return items


def lower_first(text: str) -> str:
    """« Conditions de travail » -> « conditions de travail » inside a sentence; acronyms (« PDP ») unchanged."""
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def share_text(count: int, total: int) -> str:
    from analytics.formatting import fr_pct

    return fr_pct(count / total)


def section_cells(territory: Territory, scope: Scope, base: Basis) -> pl.DataFrame:
    """Every published yearly cell of the territory for the three years up to the base year and the one before them."""
    return territory_cells(territory, scope, [base.year - 3, base.year - 2, base.year - 1, base.year])
