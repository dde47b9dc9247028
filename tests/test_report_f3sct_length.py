"""The fiche F3SCT fits a committee meeting: at most two A4 pages, in PDF and DOCX, for one service and for a
group of four, on a realistic publication (the demo of two Breton départements: 4 services, 12 RPS
indicators, every dimension), and every number of its tables is still a published value.

The publication is built once for the module, inside its own data folder (about half a minute)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import docx
import polars as pl
import pypdf
import pytest

from analytics import demo, views
from analytics.formatting import NOT_COMPUTABLE, SECRET_LEGEND, SECRET_MARK
from analytics.referentials import MAP_ATTRIBUTION
from analytics.reports import render
from analytics.reports.builders import build_report
from analytics.reports.builders.fiche_f3sct import MAX_PAGES, short_label
from analytics.reports.document import Figure, Heading, PageBreak, Paragraph, Report
from analytics.views import NATIONAL
from publication_data import publish_store, using_store
from test_report_builders import close_to, column_values

YEAR = 2024  # complete in a demo ending in May 2025 (the import's « today » is June 2025)
DEPARTEMENTS = ["29", "35"]
GROUP = ["DDTM-29", "DDTM-35", "DIR-35", "DREAL-35"]
COMMENT = "Hausse des demandes liées aux réorganisations ; actions collectives engagées avec les services."
ALERTS = pl.DataFrame({
    "territoire": ["DDTM du Finistère", "DIR Ouest"], "geo_code": ["DDTM-29", "DIR-35"],
    "indicateur": ["rps:situations_souffrance_travail", "ensemble:ensemble"], "periode": ["2024-03", "2024-T2"],
    "gravite": ["forte", "moderee"], "etat": ["confirmee", "a_examiner"],
})
REQUESTS = {"un-service": ["DDTM-29"], "groupe": GROUP}


@dataclass
class Built:
    reports: dict[str, Report]
    pdf: dict[str, bytes]
    docx: dict[str, bytes]
    cells: pl.DataFrame
    agents: pl.DataFrame


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Built:
    folder = tmp_path_factory.mktemp("f3sct-data")
    data = demo.generate(years=2, end="2025-05")
    publish_store(folder, tmp_path_factory.mktemp("f3sct-files"), data.aggregates.filter(pl.col("departement").is_in(DEPARTEMENTS)),
                  data.headcounts.filter(pl.col("departement").is_in(DEPARTEMENTS)))
    with using_store(folder):
        reports = {key: build_report("fiche-f3sct", YEAR, services=codes, alerts=ALERTS, comment=COMMENT)
                   for key, codes in REQUESTS.items()}
        result = Built(reports, {k: render(r, "pdf") for k, r in reports.items()},
                       {k: render(r, "docx") for k, r in reports.items()},
                       views.published_cells(NATIONAL, geo_niveau="service"), views.headcounts(NATIONAL))
    return result


@pytest.mark.parametrize("key", REQUESTS)
def test_the_pdf_fits_in_two_pages_with_what_matters(built, key):
    reader = pypdf.PdfReader(io.BytesIO(built.pdf[key]))
    assert len(reader.pages) <= MAX_PAGES == 2
    text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
    report = built.reports[key]
    assert f"Situations suivies · {YEAR}" in text and "Indicateurs RPS" in text
    assert SECRET_LEGEND in text and "k = 5" in text and "publication n° 1" in text
    assert " ".join(MAP_ATTRIBUTION.split()[:4]) in text
    assert "Hausse des demandes liées aux réorganisations" in text
    assert sum(isinstance(b, Figure) for b in report.blocks) == 1  # the one large trend chart


@pytest.mark.parametrize("key", REQUESTS)
def test_the_docx_holds_no_more_than_two_pages_of_content(built, key):
    report = built.reports[key]
    assert not any(isinstance(b, PageBreak) for b in report.blocks)
    document = docx.Document(io.BytesIO(built.docx[key]))
    body = document.element.body
    assert not body.xpath(".//w:br[@w:type='page']") and not body.xpath(".//w:pageBreakBefore")
    assert len(document.inline_shapes) <= 2
    assert len(document.tables) == len(report.tables()) <= 5
    assert sum(len(t.rows) for t in document.tables) <= 25  # header rows included
    section = document.sections[0]
    usable = section.page_height - section.top_margin - section.bottom_margin
    assert sum(shape.height for shape in document.inline_shapes) < usable / 2  # the chart leaves room on page 1


def test_the_group_shows_each_service_side_by_side_and_only_indicators_with_a_published_case(built):
    report = built.reports["groupe"]
    table = next(t for t in report.tables() if t.title.startswith("Indicateurs RPS · nombre"))
    assert [c.name for c in table.columns[1:]] == GROUP  # codes as headers, spelt out in the legend
    assert all(code in table.legend for code in GROUP)
    from analytics import rps

    labels = {short_label(i.libelle): i.code for i in rps.indicators()}
    cells = built.cells.filter((pl.col("periode") == str(YEAR)) & (pl.col("dimension") == "rps"))
    for row in table.rows:
        found = [cells.filter((pl.col("geo_code") == code) & (pl.col("modalite") == labels[row[0]])).row(0, named=True)
                 for code in GROUP]
        assert list(row[1:]) == [c["valeur"] if c["statut"] == "publie" else SECRET_MARK for c in found]
        assert any(isinstance(v, int) and v > 0 for v in row[1:])
    omitted = [b for b in report.blocks if isinstance(b, Paragraph) and b.text.startswith("Indicateurs sans cas publié")]
    shown = {row[0] for row in table.rows}
    assert len(shown) < len(labels) and omitted  # the demo has indicators without a published case, named
    assert all(label.lower()[:12] not in omitted[0].text.lower() for label in shown)


@pytest.mark.parametrize("key", REQUESTS)
def test_every_number_is_published_or_arithmetic_on_published_values(built, key):
    report = built.reports[key]
    own = built.cells.filter(pl.col("geo_code").is_in(REQUESTS[key]))
    values = set(own["valeur"].drop_nulls().to_list())
    for v in (v for t in report.tables() for v in column_values(t, "count")):
        assert v in (SECRET_MARK, NOT_COMPUTABLE) or (isinstance(v, int) and v in values), v  # never a sum of services
    ordered = sorted(values)
    agents = set(built.agents.filter(pl.col("geo_code").is_in(REQUESTS[key]))["effectif_agents"].to_list())
    allowed = {"share": {a / b for a in ordered for b in ordered if b},
               "change": {(a - b) / b for a in ordered for b in ordered if b},
               "rate": {v * 100 / n for v in ordered for n in agents}}
    for kind, options in allowed.items():
        for v in (v for t in report.tables() for v in column_values(t, kind)):
            assert v in (SECRET_MARK, NOT_COMPUTABLE, "") or close_to(v, options), (kind, v)
    assert [b.text for b in report.blocks if isinstance(b, Heading)][:2] == [f"Chiffres clés {YEAR}",
                                                                            "Indicateurs de risques psychosociaux"]


def test_one_service_reads_each_indicator_as_published_with_its_rate(built):
    from analytics import rps

    table = next(t for t in built.reports["un-service"].tables() if t.title.startswith("Indicateurs RPS"))
    codes = {short_label(i.libelle): i for i in rps.indicators()}
    cells = built.cells.filter((pl.col("geo_code") == "DDTM-29") & (pl.col("periode") == str(YEAR)) & (pl.col("dimension") == "rps"))
    assert table.rows
    for label, count, per_agents, _ in table.rows:
        cell = cells.filter(pl.col("modalite") == codes[label].code).row(0, named=True)
        assert cell["statut"] == "publie" and count == cell["valeur"] > 0
        assert (per_agents == "") == (not codes[label].par_effectif)
