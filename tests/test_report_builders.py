"""The report builders on a real publication (tests/publication_data.py): every number of every table is a
published value or arithmetic on published values, no secret leaks, and the DOCX, PDF and XLSX files hold
what the report says.

The publication is the session's « rps » one (tests/publication_data.py), copied into the module's own data folder;
the reports are built once for the module."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from itertools import product

import docx
import openpyxl
import polars as pl
import pypdf
import pytest

from analytics import rps, views
from analytics.formatting import NOT_COMPUTABLE, SECRET_LEGEND, SECRET_MARK
from analytics.referentials import MAP_ATTRIBUTION
from analytics.reports import render
from analytics.reports.builders import ReportError, build_report, comment_key, file_name
from analytics.reports.builders.common import modality_labels
from analytics.reports.document import Figure, Heading, PageBreak, Paragraph, Report, Table
from analytics.views import NATIONAL
from publication_data import using_store

COMMENT = "Hausse des demandes liées aux réorganisations ; actions collectives engagées avec les services."
ALERTS = pl.DataFrame({
    "territoire": ["Finistère", "Région Bretagne", "DDTM du Finistère"],
    "geo_code": ["29", "53", "DDTM-29"],
    "indicateur": ["rps:situations_souffrance_travail", "ensemble:ensemble", "rps:visites_demande_medecin"],
    "periode": ["2025-02", "2025-T1", "2024-03"],
    "gravite": ["forte", "moderee", "tres_forte"],
    "etat": ["confirmee", "a_examiner", "close"],
})
KINDS = ("bilan-regional", "synthese-nationale", "fiche-f3sct")
FORMATS = ("docx", "pdf", "xlsx")


@dataclass
class Built:
    reports: dict[str, Report]
    files: dict[tuple[str, str], bytes]
    cells: pl.DataFrame  # every published cell (national scope sees all)
    agents: pl.DataFrame
    seconds: dict[str, float]
    publication: int


@pytest.fixture(scope="module")
def built(published_stores, tmp_path_factory) -> Built:
    folder = tmp_path_factory.mktemp("reports-data")
    published_stores.copy("rps", folder)  # a copy: cold caches, so the build time below is measured from scratch
    with using_store(folder):
        requests = {"bilan-regional": {"region": "53"}, "synthese-nationale": {}, "fiche-f3sct": {"services": ["DDTM-29", "DM-29"]}}
        reports, seconds = {}, {}
        for kind, where in requests.items():
            start = time.perf_counter()
            reports[kind] = build_report(kind, 2025, alerts=ALERTS, comment=COMMENT, **where)
            seconds[kind] = time.perf_counter() - start
        files = {(kind, fmt): render(reports[kind], fmt) for kind, fmt in product(KINDS, FORMATS)}
        single = build_report("fiche-f3sct", 2025, services=["DDTM-35"])
        reports["fiche-un-service"] = single
        files[("fiche-un-service", "pdf")] = render(single, "pdf")
        result = Built(reports, files, views.published_cells(NATIONAL), views.headcounts(NATIONAL), seconds,
                       views.latest_publication().number)
    return result


# --------------------------------------------------------------------------- what a table may hold


def numeric_columns(table: Table, kind: str) -> list[int]:
    return [j for j, c in enumerate(table.columns) if c.kind == kind]


def column_values(table: Table, kind: str) -> list:
    return [row[j] for row in table.rows for j in numeric_columns(table, kind)]


def published_values(built: Built) -> set[int]:
    return set(built.cells["valeur"].drop_nulls().to_list())


def close_to(x: float, allowed: set[float]) -> bool:
    return any(abs(x - a) < 1e-9 for a in allowed)


@pytest.mark.parametrize("kind", KINDS)
def test_every_count_is_a_published_value_or_s(built, kind):
    allowed = published_values(built)
    counts = [v for t in built.reports[kind].tables() for v in column_values(t, "count")]
    assert counts, "no count in the report"
    for v in counts:
        assert v in (SECRET_MARK, NOT_COMPUTABLE) or (isinstance(v, int) and v in allowed), v


@pytest.mark.parametrize("kind", KINDS)
def test_shares_changes_and_rates_are_arithmetic_on_published_values_only(built, kind):
    values = sorted(published_values(built))
    shares = {a / b for a in values for b in values if b}
    changes = {(a - b) / b for a in values for b in values if b}
    agents = set(built.agents["effectif_agents"].to_list())
    rates = {v * 100 / n for v in values for n in agents}
    report = built.reports[kind]
    for kind_, allowed in (("share", shares), ("change", changes), ("rate", rates)):
        for v in [v for t in report.tables() for v in column_values(t, kind_)]:
            assert v in (SECRET_MARK, NOT_COMPUTABLE, "") or close_to(v, allowed), (kind_, v)


def _cell(built: Built, level: str, code: str, year: int, dimension="ensemble", modalite="ensemble") -> dict:
    found = built.cells.filter((pl.col("geo_niveau") == level) & (pl.col("geo_code") == code) & (pl.col("periode_niveau") == "annee")
                               & (pl.col("periode") == str(year)) & (pl.col("dimension") == dimension)
                               & (pl.col("modalite") == modalite))
    return found.row(0, named=True)


def _shown(cell: dict):
    return cell["valeur"] if cell["statut"] == "publie" else SECRET_MARK


def _table(report: Report, title_start: str) -> Table:
    return next(t for t in report.tables() if t.title.startswith(title_start))


def test_the_bilan_shows_each_service_as_published(built):
    table = _table(built.reports["bilan-regional"], "Situations suivies par service")
    names = {"DDTM du Finistère": "DDTM-29", "Direction de la mer du Finistère": "DM-29", "DDTM d'Ille-et-Vilaine": "DDTM-35",
             "DREAL Bretagne": "DREAL-BRE"}
    assert {row[0] for row in table.rows} == set(names)  # the région's services only, no Corse
    for row in table.rows:
        code = names[row[0]]
        now, before = _cell(built, "service", code, 2025), _cell(built, "service", code, 2024)
        assert row[2] == _shown(now) and row[3] == _shown(before)
        if SECRET_MARK in (row[2], row[3]):
            assert row[4] == SECRET_MARK  # a change needing a secret is not computed


def _codes(dimension: str) -> dict[str, str]:
    if dimension == "rps":
        return {i.libelle: i.code for i in rps.indicators()}
    return {label: code for code, label in modality_labels(dimension).items()}


@pytest.mark.parametrize("kind, title, level, code, dimension, has_secret", [
    ("bilan-regional", "Problématiques exprimées", "region", "53", "problematique", True),
    ("synthese-nationale", "Problématiques exprimées", "national", "FR", "problematique", False),
    ("bilan-regional", "Indicateurs RPS", "region", "53", "rps", False),
])
def test_a_secret_cell_reads_s_with_its_share_and_change(built, kind, title, level, code, dimension, has_secret):
    table = _table(built.reports[kind], title)
    codes = _codes(dimension)
    count_at = numeric_columns(table, "count")[0]
    secrets = 0
    for row in table.rows:
        cell = _cell(built, level, code, 2025, dimension, codes[row[0]])
        assert row[count_at] == _shown(cell), row
        if cell["statut"] == "s":
            secrets += 1
            assert all(v in (SECRET_MARK, "") for v in row[count_at:]), row
    assert bool(secrets) == has_secret


def test_the_fiche_details_only_the_indicators_with_a_published_case_and_names_the_others(built):
    from analytics.reports.builders.fiche_f3sct import short_label

    report = built.reports["fiche-f3sct"]
    for code in ("DDTM-29", "DM-29"):  # 2025: every RPS cell of both services is secret (DM-29 is small)
        for indicator in ("visites_demande_medecin", "situations_souffrance_travail"):
            assert _cell(built, "service", code, 2025, "rps", indicator)["statut"] == "s"
    assert not any(t.title.startswith("Indicateurs RPS") for t in report.tables())  # no row of « s » only
    notes = [b.text for b in report.blocks if isinstance(b, Paragraph) and b.text.startswith("Indicateurs sans cas publié")]
    assert len(notes) == 1 and "secret statistique (s)" in notes[0]
    for label in ("Visites sur demande au médecin de prévention", "Situations avec souffrance au travail"):
        assert short_label(label).lower()[1:] in notes[0]
    # Services' cells read one by one against the publication: tests/test_report_f3sct_length.py (the demo).


def test_the_activity_table_follows_the_published_years(built):
    table = _table(built.reports["bilan-regional"], "Situations suivies · région Bretagne")
    rows = {row[0]: row for row in table.rows}
    assert set(rows) == {"2024", "2025"}  # 2023 is not published: no line invented
    assert rows["2025"][2] == _shown(_cell(built, "region", "53", 2025))
    now, before = rows["2025"][2], rows["2024"][2]
    assert rows["2025"][3] == pytest.approx((now - before) / before)
    agents = {(g, c, a): n for g, c, a, n in built.agents.iter_rows()}[("region", "53", 2025)]
    assert rows["2025"][4] == pytest.approx(now * 100 / agents)


def test_the_synthesis_puts_every_region_side_by_side_and_france_has_no_rate_without_every_headcount(built):
    report = built.reports["synthese-nationale"]
    regions = _table(report, "Situations suivies par région")
    assert [row[0] for row in regions.rows] == ["Bretagne", "Corse"]
    corse = regions.rows[1]
    assert corse[1] == _shown(_cell(built, "region", "94", 2025))
    assert corse[4] == NOT_COMPUTABLE  # DDT-2A has no 2025 headcount: no rate on a partial denominator
    france = _table(report, "Situations suivies · France")
    assert dict((r[0], r[4]) for r in france.rows)["2025"] == NOT_COMPUTABLE
    assert any(isinstance(b, Figure) and "région" in b.title for b in report.blocks)  # the map of France


def test_the_fiche_shows_services_side_by_side_and_never_their_sum(built):
    report = built.reports["fiche-f3sct"]
    assert report.large_type
    table = _table(report, "Situations suivies")
    assert [row[0] for row in table.rows] == ["DDTM du Finistère", "Direction de la mer du Finistère"]
    assert [row[1] for row in table.rows] == [_shown(_cell(built, "service", c, 2025)) for c in ("DDTM-29", "DM-29")]
    own = built.cells.filter((pl.col("geo_niveau") == "service") & pl.col("geo_code").is_in(["DDTM-29", "DM-29"]))
    allowed = set(own["valeur"].drop_nulls().to_list())
    for t in report.tables():
        for v in column_values(t, "count"):
            assert v in (SECRET_MARK, NOT_COMPUTABLE) or v in allowed, (t.title, v)  # no département total, no sum


def test_the_year_alerts_are_shown_in_words_and_other_years_left_out(built):
    blocks = built.reports["bilan-regional"].blocks
    table = _table(built.reports["bilan-regional"], "Alertes 2025")
    assert [c.kind for c in table.columns] == ["text"] * 5  # categorical only: never a figure
    assert {row[4] for row in table.rows} == {"confirmée", "à examiner"}  # the 2024 alert is not in the 2025 bilan
    assert ("Région Bretagne", "Situations suivies", "1er trimestre 2025", "modérée", "à examiner") in table.rows
    assert any(isinstance(b, Paragraph) and b.text.startswith("2 alertes de la veille en 2025") for b in blocks)


def test_the_comment_is_set_apart_in_every_report(built):
    for kind in KINDS:
        comments = [b for b in built.reports[kind].blocks if isinstance(b, Paragraph) and b.style == "comment"]
        assert [c.text for c in comments] == [COMMENT]


def test_footer_names_the_publication_k_and_the_map_licence(built):
    for report in built.reports.values():
        assert f"publication n° {built.publication}" in report.footer and "k = 5" in report.footer
        assert MAP_ATTRIBUTION in report.footer and SECRET_LEGEND in report.footer


def test_the_national_synthesis_is_built_well_under_30_seconds(built):
    assert built.seconds["synthese-nationale"] < 30


# --------------------------------------------------------------------------- the files


def test_docx_has_the_report_headings_tables_comment_and_footer(built):
    for kind in KINDS:
        report = built.reports[kind]
        document = docx.Document(io.BytesIO(built.files[(kind, "docx")]))
        headings = [p.text for p in document.paragraphs if p.style.name == "Heading 1"]
        assert headings == [b.text for b in report.blocks if isinstance(b, Heading) and b.level == 1]
        assert len(document.tables) == len(report.tables())
        assert [p.text for p in document.paragraphs if p.style.name == "Intense Quote"] == [COMMENT]
        assert len(document.inline_shapes) == sum(isinstance(b, Figure) for b in report.blocks) > 0
        footer = " ".join(p.text for p in document.sections[0].footer.paragraphs)
        assert f"publication n° {built.publication}" in footer
        assert document.core_properties.category == kind


def test_docx_tables_read_s_for_secrets_with_the_legend(built):
    document = docx.Document(io.BytesIO(built.files[("bilan-regional", "docx")]))
    problems = next(t for t in document.tables if t.rows[0].cells[0].text == "Problématique")
    texts = {row.cells[0].text: [c.text for c in row.cells[1:]] for row in problems.rows[1:]}
    assert texts["Souffrance au travail"] == [SECRET_MARK] * 3  # secret in the région in 2025 and 2024
    body = [p.text for p in document.paragraphs]
    assert SECRET_LEGEND in body


def test_pdf_holds_the_title_sections_comment_and_footer(built):
    for kind in KINDS:
        reader = pypdf.PdfReader(io.BytesIO(built.files[(kind, "pdf")]))
        text = " ".join(" ".join(page.extract_text().split()) for page in reader.pages)
        report = built.reports[kind]
        assert " ".join(report.title.split()[:3]) in text
        assert "Hausse des demandes liées aux réorganisations" in text
        assert f"publication n° {built.publication}" in text and "k = 5" in text
        outline = [item.title for item in reader.outline if not isinstance(item, list)]
        assert outline == [b.text for b in report.blocks if isinstance(b, Heading) and b.level == 1]


def test_the_fiche_for_one_service_fits_a_meeting(built):
    reader = pypdf.PdfReader(io.BytesIO(built.files[("fiche-un-service", "pdf")]))
    assert len(reader.pages) <= 2
    for kind in ("fiche-f3sct", "fiche-un-service"):
        assert not any(isinstance(b, PageBreak) for b in built.reports[kind].blocks)
        assert sum(isinstance(b, Figure) for b in built.reports[kind].blocks) <= 2
    reader = pypdf.PdfReader(io.BytesIO(built.files[("fiche-f3sct", "pdf")]))
    assert len(reader.pages) <= 2


def test_xlsx_has_one_sheet_per_table_numbers_as_numbers_and_s_as_text(built):
    allowed = published_values(built)
    for kind in KINDS:
        report = built.reports[kind]
        book = openpyxl.load_workbook(io.BytesIO(built.files[(kind, "xlsx")]))
        assert book.sheetnames[0] == "Sommaire" and len(book.sheetnames) == 1 + len(report.tables())
        for sheet, table in zip(book.worksheets[1:], report.tables()):
            assert sheet["A1"].value == table.title
            counts = numeric_columns(table, "count")
            for i, row in enumerate(sheet.iter_rows(min_row=3, max_row=2 + len(table.rows), values_only=True)):
                for j in counts:
                    cell = row[j]
                    assert cell in (SECRET_MARK, NOT_COMPUTABLE) or (isinstance(cell, int) and cell in allowed), (table.title, cell)
                    assert cell == table.rows[i][j]
            if any(SECRET_MARK in r for r in table.rows):
                legend = [c for c in sheet.iter_rows(values_only=True) if c[0] and SECRET_LEGEND in str(c[0])]
                assert legend, table.title
            assert not any(str(c).startswith("=") for r in sheet.iter_rows(values_only=True) for c in r if c is not None)


# --------------------------------------------------------------------------- refused requests


def test_nothing_is_built_without_a_publication():
    with pytest.raises(ReportError, match="Aucune publication"):
        build_report("synthese-nationale", 2025)


@pytest.mark.parametrize("kind, year, where, message", [
    ("bilan-regional", 2025, {"region": "99"}, "Région inconnue"),
    ("bilan-regional", 2025, {}, "demande une région"),
    ("bilan-regional", 2019, {"region": "53"}, "n'est pas publiée"),
    ("fiche-f3sct", 2025, {"services": ["INCONNU-1"]}, "Service inconnu"),
    ("fiche-f3sct", 2025, {}, "au moins un service"),
    ("rapport-annuel", 2025, {}, "Type de rapport inconnu"),
])
def test_refused_requests_say_why_in_french(published_rps, kind, year, where, message):
    with pytest.raises(ReportError, match=message):
        build_report(kind, year, **where)


def test_comment_keys_and_file_names():
    assert comment_key("bilan-regional", "53") == "53"
    assert comment_key("synthese-nationale") == "FR"
    assert comment_key("fiche-f3sct", services=["DM-29", "DDTM-29", "DM-29"]) == "DDTM-29,DM-29"
    assert file_name("fiche-f3sct", 2025, "pdf", services=["DM-29", "DDTM-29"]) == "fiche-f3sct-DDTM-29-DM-29-2025.pdf"
    assert file_name("bilan-regional", 2025, "docx", region="2A") == "bilan-regional-2A-2025.docx"

