"""Fiche F3SCT: one service or a group of services, one year, for a health, safety and working conditions committee.

At most two A4 pages in large type, shown in the meeting:
- page 1: the headline figures (situations suivies of the year, the year before, the change, the rate per
  100 agents) and one large trend chart (small multiples, one panel per service: the finest published
  series, months or quarters against the same months a year earlier, else the published years);
- page 2: the RPS indicators as one compact table (services side by side), with only the indicators
  that have at least one published non-zero value (the others are named in a note, with why), the
  rates per 100 agents where a rate applies, what rose most, the leading problématiques, the year's
  alerts and the comment.
Services of a group are shown side by side and never added up: a sum over a group is not a published
cell (it could be differenced against the published ones).

The sheet is laid out to fit: when the PDF of the full sheet runs over two pages (a long comment, many
alerts), the problématiques give way first, then the alerts table (its summary line stays), then what
rose most (the table holds it), then the chart shrinks. Every variant holds the same published numbers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from analytics import rps, views
from analytics.formatting import NOT_COMPUTABLE
from analytics.reports import figures
from analytics.reports.builders.common import (
    CHANGE, PART, PER_100, SITUATIONS, Basis, Progress, ReportError, alert_blocks, alert_frame, basis, change,
    check_unchanged, comment_blocks, footer, incomplete_year_note, modality_rows, no_progress, rate, share, signed_pct,
    situations, value,
)
from analytics.reports.builders.sections import lower_first
from analytics.reports.document import Block, Column, Figure, Heading, Paragraph, Report, Table
from analytics.views import STATUT_PUBLIE, Scope

KIND = "fiche-f3sct"
MAX_SERVICES = 8  # a meeting sheet, not a catalogue
MAX_PAGES = 2  # what the sheet must fit in (PDF and DOCX, A4)
TOP_PROBLEMS = 5  # one service
TOP_PROBLEMS_EACH = 3  # each service of a group ...
MAX_PROBLEM_ROWS = 6  # ... in one table of at most this many problématiques
SUBANNUAL = ("mois", "trimestre")  # the finest published level of the services' series is drawn
CHANGED = "Ce qui a changé : "
# From the full sheet to the most compact: problématiques shown, alerts (2: heading, summary and table; 1: heading
# and summary; 0: the summary line alone), « ce qui a changé » shown, chart width in cm. The first variant whose
# PDF fits in MAX_PAGES is kept, else the last.
VARIANTS = ((True, 2, True, 16.0), (False, 2, True, 16.0), (False, 1, True, 16.0), (False, 1, False, 16.0),
            (False, 1, False, 13.0), (False, 1, False, 11.0), (False, 0, False, 11.0), (False, 0, False, 9.0))


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

    progress(0.25, "Situations suivies")
    intro: list[Block] = [Paragraph(
        "Chiffres publiés sous secret statistique (s), sans élément qui désigne une personne" + (
            " ; services côte à côte, jamais additionnés." if len(codes) > 1 else "."), style="note"),
        *incomplete_year_note(base)]
    headline = [Heading(f"Chiffres clés {year}"), situations_table(cells, scope, codes, known, year)]
    trend = Trend(scope, codes, names, base)

    progress(0.5, "Indicateurs RPS")
    indicators = [Heading("Indicateurs de risques psychosociaux"), *rps_section(cells, scope, codes, known, year, where)]

    progress(0.7, "Problématiques")
    problems = problems_table(cells, codes, known, year)
    year_alerts = alert_frame(alerts, year)
    alert_part = alert_blocks(year_alerts, year) if year_alerts.height else []
    comments = comment_blocks(comment, "Commentaire du service social")
    p = base.publication

    def assemble(with_problems: bool, alert_detail: int, with_changes: bool, chart_width_cm: float) -> Report:
        shown = [b for b in indicators if with_changes or not (isinstance(b, Paragraph) and b.text.startswith(CHANGED))]
        blocks = [*intro, *headline, *trend.blocks(chart_width_cm), *shown]
        if with_problems and problems is not None:
            blocks += [Heading("Problématiques les plus fréquentes"), problems]
        blocks += [b for b in alert_part if alert_detail == 2 or isinstance(b, Paragraph)
                   or (alert_detail == 1 and isinstance(b, Heading))]
        blocks += comments
        return Report(
            kind=KIND,
            title=f"Fiche F3SCT {year} · {where}",
            subtitle=f"Formation spécialisée SSCT · {base.months_text()} · publication n° {p.number}",
            footer=footer(p),
            blocks=tuple(blocks),
            large_type=True,
            metadata={"subject": f"Fiche F3SCT {year}, {', '.join(codes)}", "author": "Vigie · service social",
                      "keywords": f"F3SCT; RPS; {'; '.join(codes)}; {year}"},
        )

    progress(0.8, "Mise en page sur deux pages")
    for variant in VARIANTS:
        report = assemble(*variant)
        if pdf_pages(report) <= MAX_PAGES:
            break
    check_unchanged(base)
    progress(1.0, "Fiche prête")
    return report


def pdf_pages(report: Report) -> int:
    """Pages of the report's PDF (fpdf2 writes one `/Type /Page` dictionary entry per page)."""
    from analytics.reports.pdf_writer import render_pdf

    return len(re.findall(rb"/Type /Page\b(?!s)", render_pdf(report)))


# --------------------------------------------------------------------------- headline figures


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


# --------------------------------------------------------------------------- the trend chart


@dataclass
class Trend:
    """The one trend figure: the services' finest published series of situations, rendered once per width."""

    scope: Scope
    codes: list[str]
    names: list[str]
    base: Basis

    def __post_init__(self) -> None:
        self.level, self.frame = trend_cells(self.scope, self.codes, self.base.year)
        self._figures: dict[float, Figure] = {}

    def blocks(self, width_cm: float) -> list[Block]:
        if self.frame.height == 0:
            return []
        if width_cm not in self._figures:
            self._figures[width_cm] = self._figure(width_cm)
        return [self._figures[width_cm]]

    def _figure(self, width_cm: float) -> Figure:
        year, several = self.base.year, len(self.codes) > 1
        if self.level == "annee":
            title = f"{SITUATIONS} par année publiée"
            caption = f"Situations suivies chaque année publiée jusqu'en {year}"
            shape = ("Barres : situations suivies chaque année publiée" + (", un panneau par service" if several else "")
                     + " ; l'année de la fiche en bleu foncé ; une année couverte par le secret statistique n'a pas de barre "
                     "et porte « s ». ")
        else:
            unit = "mois" if self.level == "mois" else "trimestre"
            title = f"{SITUATIONS} par {unit}, {year} et {year - 1}"
            caption = f"Situations suivies par {unit}, {year} comparé à {year - 1}"
            shape = (f"Courbes : situations suivies par {unit}" + (", un panneau par service" if several else "")
                     + f" ; {year} en trait plein bleu, {year - 1} en tirets orange ; les interruptions marquent des "
                     "périodes couvertes par le secret statistique. ")
        height = 170 if len(self.codes) == 1 else (150 if len(self.codes) <= 4 else 110)
        chart = figures.service_trend(self.frame, year, title, panel_height=height)
        return figures.figure(chart, caption, shape + self._values_text(), width_cm=width_cm)

    def _values_text(self) -> str:
        """The values drawn, in words, for the text alternative (published values and `s` only)."""
        parts = []
        for name in self.names:
            own = self.frame.filter(pl.col("geo_libelle") == name).sort("periode")
            shown = [f"{figures._text(v, s, False)} ({p})" for p, v, s in own.select("periode", "valeur", "statut").iter_rows()]
            if shown:
                parts.append(f"{name} : " + ", ".join(shown))
        return " ; ".join(parts) + "."


def trend_cells(scope: Scope, codes: list[str], year: int) -> tuple[str, pl.DataFrame]:
    """The finest published series of the services' situations: months or quarters of the year and the year
    before when the publication holds them for services, else every published year up to `year`."""
    published = {(g, p, d) for g, p, d in views.available_combinations()}
    for level in SUBANNUAL:
        if ("service", level, "ensemble") not in published:
            continue
        frame = views.published_cells(scope, geo_niveau="service", periode_niveau=level, dimensions="ensemble").filter(
            pl.col("geo_code").is_in(codes) & pl.col("periode").str.slice(0, 4).is_in([str(year), str(year - 1)]))
        if frame.filter(pl.col("periode").str.starts_with(str(year))).height:
            return level, frame.select("geo_code", "geo_libelle", "periode", "valeur", "statut")
    frame = views.published_cells(scope, geo_niveau="service", periode_niveau="annee", dimensions="ensemble").filter(
        pl.col("geo_code").is_in(codes) & (pl.col("periode").cast(pl.Int64, strict=False) <= year))
    if frame["periode"].n_unique() < 2:
        return "annee", frame.clear().select("geo_code", "geo_libelle", "periode", "valeur", "statut")
    return "annee", frame.select("geo_code", "geo_libelle", "periode", "valeur", "statut")


# --------------------------------------------------------------------------- RPS indicators


def short_label(label: str) -> str:
    """An indicator's label up to its parenthesis, colon or first comma (« Accidents de service et de travail
    (nombre, taux de fréquence) » → « Accidents de service et de travail », « Situations graves : suicides, … »
    → « Situations graves »): the compact table is read from afar; the bilan carries the full labels."""
    short = re.split(r"\s*\(|\s+:\s|,\s", label, maxsplit=1)[0].strip()
    return short or label


def service_columns(codes: list[str], known: dict[str, str], kind: str) -> tuple[tuple[Column, ...], str]:
    """One column a service: headed by its name for one or two services, by its code beyond (the names would
    squeeze the indicators' column), the codes then spelt out in the legend."""
    if len(codes) <= 2:
        return tuple(Column(known[c], kind) for c in codes), ""
    return tuple(Column(c, kind) for c in codes), " ; ".join(f"{c} : {known[c]}" for c in codes) + " ; "


def rps_section(cells: pl.DataFrame, scope: Scope, codes: list[str], known: dict[str, str], year: int, where: str) -> list[Block]:
    indicators = rps.indicators()
    rated = rps.with_rates(cells.filter(pl.col("dimension") == "rps"), scope)
    now = rated.filter(pl.col("periode") == str(year))
    if now.height == 0:
        return [Paragraph("Aucun indicateur RPS n'est publié pour ces services et cette année.")]
    before = rated.filter(pl.col("periode") == str(year - 1)).select(
        "geo_code", "modalite", pl.col("valeur").alias("precedent"), pl.col("statut").alias("statut_precedent"))
    frame = now.join(before, on=["geo_code", "modalite"], how="left")
    by_key = {(r["geo_code"], r["modalite"]): r for r in frame.iter_rows(named=True)}
    kept, no_case, secret_only = [], [], []
    for indicator in indicators:
        own = [by_key.get((code, indicator.code)) for code in codes]
        present = [r for r in own if r is not None]
        if not present:
            continue
        if any(r["statut"] == STATUT_PUBLIE and (r["valeur"] or 0) > 0 for r in present):
            kept.append(indicator)
        elif any(r["statut"] != STATUT_PUBLIE for r in present):
            secret_only.append(lower_first(short_label(indicator.libelle)))
        else:
            no_case.append(lower_first(short_label(indicator.libelle)))

    blocks: list[Block] = []
    rises = []
    if kept and len(codes) == 1:
        rows = []
        for indicator in kept:
            r = by_key[(codes[0], indicator.code)]
            count = value(r["valeur"], r["statut"])
            previous = value(r["precedent"], r["statut_precedent"]) if r["statut_precedent"] is not None else None
            moved = change(count, previous)
            rows.append((short_label(indicator.libelle), count, rate(r["taux"], r["statut"]) if indicator.par_effectif else "",
                         moved))
            if isinstance(moved, float) and moved > 0:
                rises.append((moved, lower_first(short_label(indicator.libelle))))
        columns = (Column("Indicateur"), Column("Nombre", "count"), Column(PER_100, "rate"), Column(CHANGE, "change"))
        blocks.append(Table(f"Indicateurs RPS · {year}", columns, tuple(rows), sheet="Indicateurs RPS",
                            legend="« Pour 100 agents » : pour les seuls indicateurs rapportés à l'effectif ; "
                                   "– : non calculable."))
    elif kept:
        rows = []
        for indicator in kept:
            row: list = [short_label(indicator.libelle)]
            for code in codes:
                r = by_key.get((code, indicator.code))
                row.append(value(r["valeur"], r["statut"]) if r is not None else NOT_COMPUTABLE)
                if r is not None and r["statut_precedent"] is not None:
                    moved = change(value(r["valeur"], r["statut"]), value(r["precedent"], r["statut_precedent"]))
                    if isinstance(moved, float) and moved > 0:
                        rises.append((moved, f"{lower_first(short_label(indicator.libelle))} ({known[code]})"))
            rows.append(tuple(row))
        services, names = service_columns(codes, known, "count")
        blocks.append(Table(f"Indicateurs RPS · nombre · {year}", (Column("Indicateur"), *services), tuple(rows),
                            sheet="Indicateurs RPS",
                            legend=names + "services jamais additionnés ; – : non publié."))
        per_agents = [i for i in kept if i.par_effectif]
        rate_rows = []
        for indicator in per_agents:
            row = [short_label(indicator.libelle)]
            for code in codes:
                r = by_key.get((code, indicator.code))
                row.append(rate(r["taux"], r["statut"]) if r is not None else NOT_COMPUTABLE)
            rate_rows.append(tuple(row))
        if any(isinstance(v, float) for row in rate_rows for v in row[1:]):
            services, _ = service_columns(codes, known, "rate")
            blocks.append(Table(f"Indicateurs RPS · pour 100 agents · {year}", (Column("Indicateur"), *services),
                                tuple(rate_rows), sheet="RPS pour 100 agents",
                                legend="Pour les seuls indicateurs rapportés à l'effectif ; – : effectif inconnu."))
    else:
        blocks.append(Paragraph(f"Aucun indicateur RPS n'a de cas publié en {year} pour "
                                + (where if len(codes) == 1 else "ces services") + "."))
    omitted = []
    if no_case:
        omitted.append("à zéro" + (" pour chaque service" if len(codes) > 1 else "") + " : " + ", ".join(no_case))
    if secret_only:
        omitted.append("couverts par le secret statistique (s) ou à zéro : " + ", ".join(secret_only))
    if omitted:
        blocks.append(Paragraph(f"Indicateurs sans cas publié en {year}" + (", non détaillés ici" if kept else "") + " : "
                                + " ; ".join(omitted) + ".", style="note"))
    if rises:
        rises.sort(reverse=True)
        blocks.append(Paragraph(CHANGED + " ; ".join(f"{label} {signed_pct(moved)}"
                                                                   for moved, label in rises[:3]) + f" par rapport à {year - 1}."))
    return blocks


# --------------------------------------------------------------------------- problématiques


def problems_table(cells: pl.DataFrame, codes: list[str], known: dict[str, str], year: int) -> Table | None:
    if len(codes) == 1:
        own = cells.filter(pl.col("geo_code") == codes[0])
        total = situations(own, year)
        leading = modality_rows(own, "problematique", year).filter(pl.col("valeur") > 0).head(TOP_PROBLEMS)
        rows = [(r["libelle"], value(r["valeur"], r["statut"]), share(r["valeur"], r["statut"], total))
                for r in leading.iter_rows(named=True)]
        if not rows:
            return None
        return Table(f"Les {TOP_PROBLEMS} problématiques les plus fréquentes · {year}",
                     (Column("Problématique"), Column("Nombre", "count"), Column(PART, "share")), tuple(rows),
                     sheet="Problématiques",
                     legend="Une situation peut porter plusieurs problématiques : les parts ne s'additionnent pas.")
    # A group: the leading problématiques of each service (never of their sum), side by side.
    per_service = {code: modality_rows(cells.filter(pl.col("geo_code") == code), "problematique", year) for code in codes}
    chosen: list[str] = []
    labels: dict[str, str] = {}
    for rank in range(TOP_PROBLEMS_EACH):
        for code in codes:
            leading = per_service[code].filter(pl.col("valeur") > 0)
            if rank < leading.height:
                r = leading.row(rank, named=True)
                labels[r["modalite"]] = r["libelle"]
                if r["modalite"] not in chosen and len(chosen) < MAX_PROBLEM_ROWS:
                    chosen.append(r["modalite"])
    if not chosen:
        return None
    rows = []
    for modalite in chosen:
        row: list = [labels[modalite]]
        for code in codes:
            found = per_service[code].filter(pl.col("modalite") == modalite)
            row.append(value(found["valeur"][0], found["statut"][0]) if found.height else NOT_COMPUTABLE)
        rows.append(tuple(row))
    services, names = service_columns(codes, known, "count")
    return Table(f"Problématiques les plus fréquentes de chaque service · {year}", (Column("Problématique"), *services),
                 tuple(rows), sheet="Problématiques",
                 legend=names + f"les {TOP_PROBLEMS_EACH} premières de chaque service ; une situation peut porter plusieurs "
                        "problématiques ; – : non publié.")
