"""The report writers (analytics/reports): a synthetic report rendered to DOCX, PDF and XLSX, then the
files opened again with python-docx, pypdf and openpyxl to check what a reader would get."""

from __future__ import annotations

import io
import re
import zipfile

import altair as alt
import docx
import openpyxl
import polars as pl
import pypdf
import pytest
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from analytics.charts import to_png
from analytics.formatting import NNBSP, SECRET_LEGEND
from analytics.reports import FORMATS, MEDIA_TYPES, render
from analytics.reports.cells import MINUS, format_cell, table_legend
from analytics.reports.docx_writer import render_docx
from analytics.reports.document import Bullets, Column, Figure, Heading, PageBreak, Paragraph, Report, Table
from analytics.reports.pdf_writer import find_fonts, png_size, render_pdf
from analytics.reports.xlsx_writer import render_xlsx, sheet_names

NBSP = "\u00a0"
TITLE = "Bilan régional « Île-de-France » 2025"
SUBTITLE = "Entretiens du service social, janv. 2025 à déc. 2025"
FOOTER = "Publication n° 7 du 3 déc. 2025 — seuil k = 5 — fond de carte © IGN"
COMMENT = "Les agents expriment une inquiétude croissante sur la charge de travail ; l’œuvre sociale est sollicitée « à bout de souffle »."
FORMULA = '=HYPERLINK("http://exemple.invalid","clic")'
ALT = "Diagramme en barres : 1 234 entretiens à Paris, 567 à Créteil."
COLUMNS = (Column("Département"), Column("Entretiens", "count"), Column("Part", "share"),
           Column("Évolution", "change"), Column("Taux pour 1 000 agents", "rate"))
ROWS = (
    ("Paris", 1234, 0.123, 0.045, 3.21),
    ("Créteil", 567, 0.0567, -0.045, 2.0),
    ("Bobigny", "s", "s", "–", "–"),
    (FORMULA, None, 1.0, 0.0, 12.345),
)


@pytest.fixture(scope="module")
def png() -> bytes:
    frame = pl.DataFrame({"site": ["Paris", "Créteil"], "n": [1234, 567]})
    chart = alt.Chart(frame).mark_bar().encode(x="site:N", y="n:Q").properties(width=320, height=160)
    return to_png(chart)


def make_report(png: bytes, large_type: bool = False, figure_width_cm: float = 16.0) -> Report:
    table = Table("Tableau 1 : entretiens par département", COLUMNS, ROWS, sheet="Entretiens: [2025]")
    other = Table("Tableau 2 : sans secret", (Column("Motif"), Column("Nombre", "count")),
                  (("Logement", 10), ("Santé", 20)), sheet="Entretiens: [2025]", legend="")
    return Report(
        kind="bilan-regional", title=TITLE, subtitle=SUBTITLE, footer=FOOTER, large_type=large_type,
        metadata={"author": "Service social — CTSS", "subject": "Bilan régional", "keywords": "entretiens"},
        blocks=(
            Heading("Synthèse"),
            Paragraph("Le nombre d’entretiens progresse à Paris ; Créteil recule."),
            Paragraph("Source : Vigie, cellules publiées.", style="note"),
            Paragraph(COMMENT, style="comment"),
            Bullets(("1 234 entretiens à Paris", "Bobigny : secret statistique")),
            Heading("Détail par département", level=2),
            table,
            other,
            PageBreak(),
            Heading("Graphiques"),
            Figure("Figure 1 : entretiens par site", png, ALT, width_cm=figure_width_cm),
        ),
    )


@pytest.fixture(scope="module")
def report(png) -> Report:
    return make_report(png)


# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize("value, kind, expected", [
    (1234, "count", f"1{NNBSP}234"),
    (1234567.4, "count", f"1{NNBSP}234{NNBSP}567"),
    (0.123, "share", f"12,3{NBSP}%"),
    (1.0, "share", f"100,0{NBSP}%"),
    (0.045, "change", f"+4,5{NBSP}%"),
    (-0.045, "change", f"{MINUS}4,5{NBSP}%"),
    (-0.0004, "change", f"0,0{NBSP}%"),
    (0.0, "change", f"0,0{NBSP}%"),
    (3.21, "rate", "3,2"),
    (1234.56, "rate", f"1{NNBSP}234,6"),
    ("s", "count", "s"),
    ("–", "share", "–"),
    ("Paris", "text", "Paris"),
    (None, "count", ""),
    (float("nan"), "rate", "–"),
    (2025, "text", "2025"),
])
def test_cells_are_written_in_french(value, kind, expected):
    assert format_cell(value, kind) == expected


def test_the_minus_sign_is_the_true_minus():
    assert format_cell(-0.1, "change").startswith("\u2212") and "-" not in format_cell(-0.1, "change")


def test_the_secret_legend_is_added_whenever_a_table_has_a_secret():
    with_secret = Table("t", (Column("a"), Column("n", "count")), (("x", "s"),), sheet="t", legend="Champ : agents en poste")
    assert table_legend(with_secret) == f"{SECRET_LEGEND} ; Champ : agents en poste"
    without = Table("t", (Column("a"), Column("n", "count")), (("x", 3),), sheet="t", legend="")
    assert table_legend(without) == ""
    default = Table("t", (Column("a"),), (("s",),), sheet="t")
    assert table_legend(default) == SECRET_LEGEND


# --------------------------------------------------------------------------- dispatch


def test_render_dispatches_on_the_format(report):
    assert set(FORMATS) == set(MEDIA_TYPES) == {"docx", "pdf", "xlsx"}
    assert render(report, "pdf").startswith(b"%PDF-")
    for fmt in ("docx", "xlsx"):
        assert zipfile.is_zipfile(io.BytesIO(render(report, fmt)))
    assert MEDIA_TYPES["pdf"] == "application/pdf"
    with pytest.raises(ValueError, match="Format de rapport inconnu"):
        render(report, "odt")


# --------------------------------------------------------------------------- DOCX


@pytest.fixture(scope="module")
def word(report) -> docx.document.Document:
    return docx.Document(io.BytesIO(render_docx(report)))


def paragraphs_in(document, style: str) -> list[str]:
    return [p.text for p in document.paragraphs if p.style.name == style]


def test_docx_uses_real_heading_styles(word):
    assert paragraphs_in(word, "Title") == [TITLE]
    assert paragraphs_in(word, "Subtitle") == [SUBTITLE]
    assert paragraphs_in(word, "Heading 1") == ["Synthèse", "Graphiques"]
    assert paragraphs_in(word, "Heading 2") == ["Détail par département"]
    assert paragraphs_in(word, "List Bullet") == ["1 234 entretiens à Paris", "Bobigny : secret statistique"]


def test_docx_sets_the_comment_and_the_note_apart(word):
    comment = next(p for p in word.paragraphs if p.text == COMMENT)
    assert comment.style.name == "Intense Quote" and comment.style.font.italic
    note = next(p for p in word.paragraphs if p.text.startswith("Source : Vigie"))
    assert note.style.name == "Note" and note.style.font.size < word.styles["Normal"].font.size


def test_docx_tables_hold_french_formatted_values(word):
    grid = word.tables[0]
    cells = [[c.text for c in row.cells] for row in grid.rows]
    assert cells[0] == [c.name for c in COLUMNS]
    assert cells[1] == ["Paris", f"1{NNBSP}234", f"12,3{NBSP}%", f"+4,5{NBSP}%", "3,2"]
    assert cells[2][3] == f"{MINUS}4,5{NBSP}%"
    assert cells[3] == ["Bobigny", "s", "s", "–", "–"]
    assert cells[4] == [FORMULA, "", f"100,0{NBSP}%", f"0,0{NBSP}%", "12,3"]


def test_docx_table_header_repeats_and_numbers_are_right_aligned(word):
    grid = word.tables[0]
    header = grid.rows[0]
    assert header._tr.trPr.find(qn("w:tblHeader")) is not None
    assert all(run.bold for cell in header.cells for run in cell.paragraphs[0].runs)
    assert grid.rows[1]._tr.trPr.find(qn("w:tblHeader")) is None
    paris = grid.rows[1].cells
    assert paris[0].paragraphs[0].alignment is None
    assert all(c.paragraphs[0].alignment == WD_ALIGN_PARAGRAPH.RIGHT for c in paris[1:])


def test_docx_table_title_above_and_legend_below(word):
    body = list(word.element.body.iterchildren())
    first = word.tables[0]._tbl
    i = body.index(first)
    before = docx.text.paragraph.Paragraph(body[i - 1], word)
    after = docx.text.paragraph.Paragraph(body[i + 1], word)
    assert before.text == "Tableau 1 : entretiens par département" and before.style.name == "Caption"
    assert after.text == SECRET_LEGEND
    # The second table has no secret and an empty legend: no legend line under it.
    j = body.index(word.tables[1]._tbl)
    assert SECRET_LEGEND not in docx.text.paragraph.Paragraph(body[j + 1], word).text


def test_docx_footer_on_every_page_with_page_numbers(word):
    assert len(word.sections) == 1
    footer = word.sections[0].footer
    assert not footer.is_linked_to_previous
    assert FOOTER in [p.text for p in footer.paragraphs]
    instructions = [t.text.strip() for t in footer._element.iter(qn("w:instrText"))]
    assert instructions == ["PAGE", "NUMPAGES"]


def test_docx_picture_has_its_alt_text_and_fits_the_page(word, png):
    assert len(word.inline_shapes) == 1
    shape = word.inline_shapes[0]
    assert shape._inline.docPr.get("descr") == ALT
    assert shape.width == Cm(16)
    pixels_w, pixels_h = png_size(png)
    assert abs(shape.height / shape.width - pixels_h / pixels_w) < 0.01
    caption = [p.text for p in word.paragraphs if p.style.name == "Caption"]
    assert "Figure 1 : entretiens par site" in caption


def test_docx_a_wide_figure_is_narrowed_to_the_text_column(png):
    document = docx.Document(io.BytesIO(render_docx(make_report(png, figure_width_cm=40))))
    section = document.sections[0]
    assert document.inline_shapes[0].width <= section.page_width - section.left_margin - section.right_margin


def test_docx_page_break_and_a4(word):
    breaks = [br for br in word.element.body.iter(qn("w:br")) if br.get(qn("w:type")) == "page"]
    assert len(breaks) == 1
    assert abs(word.sections[0].page_width - Cm(21)) < Cm(0.01)


def test_docx_core_properties(word):
    props = word.core_properties
    assert props.title == TITLE
    assert props.author == "Service social — CTSS"
    assert props.subject == "Bilan régional"
    assert props.language == "fr-FR"
    assert "python-docx" not in (props.comments + props.last_modified_by)


def test_docx_large_type(png, word):
    large = docx.Document(io.BytesIO(render_docx(make_report(png, large_type=True))))
    assert word.styles["Normal"].font.size == Pt(11)
    assert large.styles["Normal"].font.size == Pt(14)
    assert large.styles["Heading 1"].font.size > word.styles["Heading 1"].font.size


# --------------------------------------------------------------------------- PDF


@pytest.fixture(scope="module")
def pdf_bytes(report) -> bytes:
    return render_pdf(report)


@pytest.fixture(scope="module")
def pdf(pdf_bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(io.BytesIO(pdf_bytes))


def pdf_text(reader: pypdf.PdfReader) -> str:
    return "\n".join(page.extract_text() for page in reader.pages)


def test_pdf_holds_the_text_in_french(pdf):
    text = re.sub(r"[ \n]+", " ", pdf_text(pdf))  # long lines wrap: compare across line ends
    assert TITLE in pdf.pages[0].extract_text()
    for expected in (SUBTITLE, f"1{NNBSP}234", SECRET_LEGEND, "Tableau 1 : entretiens par département",
                     "Figure 1 : entretiens par site", "l’œuvre sociale"):
        assert expected in text, expected
    # fpdf2 keeps « 12,3 % » on one line but draws U+00A0 with the space glyph, so it reads back as a space.
    assert re.search(f"12,3[{NBSP} ]%", text) and re.search(f"{MINUS}4,5[{NBSP} ]%", text)
    assert text.index("Synthèse") < text.index("Tableau 1") < text.index("Graphiques")


def test_pdf_footer_and_page_number_on_every_page(pdf):
    pages = len(pdf.pages)
    assert pages > 1  # the page break
    for number, page in enumerate(pdf.pages, start=1):
        text = page.extract_text()
        assert FOOTER in text
        assert f"page {number} / {pages}" in text


def test_pdf_page_break_puts_the_figure_on_a_new_page(pdf):
    texts = [page.extract_text() for page in pdf.pages]
    assert "Tableau 1" in texts[0] and "Graphiques" not in texts[0]
    assert any("Graphiques" in t for t in texts[1:])


def test_pdf_long_table_repeats_its_header_row_on_every_page():
    rows = tuple((f"Département n° {i}", 100 + i, i / 200, 0.01, 1.5) for i in range(150))
    table = Table("Long tableau", COLUMNS, rows, sheet="Long")
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(Report("synthese-nationale", "Synthèse", "", FOOTER, (table,)))))
    assert len(reader.pages) > 2
    for page in reader.pages:
        assert re.search(r"Département\s+Entretiens\s+Part\s+Évolution", page.extract_text())


def test_pdf_bookmarks_follow_the_headings(pdf):
    outline = pdf.outline
    assert [item.title for item in outline if not isinstance(item, list)] == ["Synthèse", "Graphiques"]
    assert [item.title for item in outline[1]] == ["Détail par département"]


def test_pdf_metadata(pdf):
    assert pdf.metadata.title == TITLE
    assert pdf.metadata.author == "Service social — CTSS"
    assert pdf.metadata.subject == "Bilan régional"
    assert pdf.trailer["/Root"]["/Lang"] == "fr"


def figure_alts(node) -> list[str]:
    node = node.get_object()
    if isinstance(node, pypdf.generic.ArrayObject):
        return [alt for child in node for alt in figure_alts(child)]
    if not isinstance(node, pypdf.generic.DictionaryObject):
        return []
    found = [str(node["/Alt"])] if node.get("/S") == "/Figure" and "/Alt" in node else []
    return found + (figure_alts(node["/K"]) if "/K" in node else [])


def drawn_image_widths(reader: pypdf.PdfReader) -> list[float]:
    """Widths in points of the images painted on the pages (the `w 0 0 h x y cm /I1 Do` operators)."""
    widths = []
    for page in reader.pages:
        content = page.get_contents().get_data().decode("latin-1")
        widths += [float(w) for w in re.findall(r"([\d.]+) 0 0 [\d.]+ [\d.]+ [\d.]+ cm\s*/I\w+ Do", content)]
    return widths


def test_pdf_figure_with_alt_text_at_its_width(pdf):
    assert sum(len(page.images) for page in pdf.pages) == 1
    assert figure_alts(pdf.trailer["/Root"]["/StructTreeRoot"]) == [ALT]
    assert drawn_image_widths(pdf) == [pytest.approx(160 * 72 / 25.4, abs=0.1)]


def test_pdf_a_wide_figure_never_exceeds_the_text_column(png):
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(make_report(png, figure_width_cm=40))))
    (width,) = drawn_image_widths(reader)
    assert width <= (210 - 40) * 72 / 25.4 + 0.1


def test_pdf_large_type_has_bigger_text(png, pdf_bytes):
    def font_sizes(data: bytes) -> set[float]:
        reader = pypdf.PdfReader(io.BytesIO(data))
        contents = "".join(p.get_contents().get_data().decode("latin-1") for p in reader.pages)
        return {float(size) for size in re.findall(r"/F\d+ ([\d.]+) Tf", contents)}

    standard, large = font_sizes(pdf_bytes), font_sizes(render_pdf(make_report(png, large_type=True)))
    assert 11 in standard and 14 not in standard
    assert 14 in large and max(large) > max(standard)


def test_pdf_fonts_missing_raise_a_french_error_naming_the_package(tmp_path):
    with pytest.raises(RuntimeError, match="fonts-dejavu-core") as error:
        find_fonts([str(tmp_path)])
    assert "Police DejaVu Sans introuvable" in str(error.value)
    assert set(find_fonts()) == {"", "B", "I"}


def test_png_size_rejects_what_is_not_a_png():
    with pytest.raises(ValueError, match="PNG"):
        png_size(b"GIF89a" + bytes(30))


# --------------------------------------------------------------------------- XLSX


@pytest.fixture(scope="module")
def xlsx_bytes(report) -> bytes:
    return render_xlsx(report)


@pytest.fixture(scope="module")
def book(xlsx_bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(xlsx_bytes))


def column_a(sheet) -> list:
    return [row[0] for row in sheet.iter_rows(min_col=1, max_col=1, values_only=True)]


def test_xlsx_sheets_summary_first_then_one_per_table(book):
    # Both tables asked for « Entretiens: [2025] »: forbidden characters stripped, then made unique.
    assert book.sheetnames == ["Sommaire", "Entretiens 2025", "Entretiens 2025 (2)"]
    summary = book["Sommaire"]
    assert [summary["A1"].value, summary["A2"].value, summary["A3"].value] == [TITLE, SUBTITLE, FOOTER]
    assert [summary["A6"].value, summary["B6"].value] == ["Entretiens 2025", "Tableau 1 : entretiens par département"]
    assert [summary["A7"].value, summary["B7"].value] == ["Entretiens 2025 (2)", "Tableau 2 : sans secret"]
    assert summary["A6"].hyperlink.location == "'Entretiens 2025'!A1"


def test_xlsx_table_sheet_layout(book):
    sheet = book["Entretiens 2025"]
    assert sheet["A1"].value == "Tableau 1 : entretiens par département"
    assert [c.value for c in sheet[2]] == [c.name for c in COLUMNS]
    assert sheet["A3"].value == "Paris"
    assert SECRET_LEGEND in column_a(sheet)[len(ROWS) + 2:]
    assert SECRET_LEGEND not in column_a(book["Entretiens 2025 (2)"])


def test_xlsx_numbers_are_numbers_with_their_format(book):
    sheet = book["Entretiens 2025"]
    count, share, change, rate = sheet["B3"], sheet["C3"], sheet["D3"], sheet["E3"]
    assert count.value == 1234 and count.data_type == "n" and count.number_format == "#,##0"
    assert share.value == pytest.approx(0.123) and share.data_type == "n" and "0.0%" in share.number_format
    assert change.value == pytest.approx(0.045) and "0.0%" in change.number_format
    assert sheet["D4"].value == pytest.approx(-0.045)
    assert rate.value == pytest.approx(3.21) and rate.number_format == "0.0"
    assert sheet["B6"].value is None  # an empty cell stays empty


def test_xlsx_secrets_are_text_and_formulas_are_neutralised(book, xlsx_bytes):
    sheet = book["Entretiens 2025"]
    assert [c.value for c in sheet[5]] == ["Bobigny", "s", "s", "–", "–"]
    assert all(c.data_type == "s" for c in sheet[5])
    assert sheet["A6"].value == "'" + FORMULA and sheet["A6"].data_type == "s"
    cells = [c for ws in book.worksheets for row in ws.iter_rows() for c in row]
    assert cells and not [c.coordinate for c in cells if c.data_type == "f"]
    with zipfile.ZipFile(io.BytesIO(xlsx_bytes)) as archive:
        sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
        assert len(sheets) == 3
        assert not any(re.search(rb"<f[ >]", archive.read(n)) for n in sheets)


def test_xlsx_formula_text_in_titles_is_neutralised_too(png):
    report = Report("fiche-f3sct", "+33 1 23 45 67 89", "@annuaire", "-", blocks=(
        Table("=1+1", (Column("-"), Column("n", "count")), (("@x", 1),), sheet="t"),))
    book = openpyxl.load_workbook(io.BytesIO(render_xlsx(report)))
    summary, table = book["Sommaire"], book["t"]
    assert [summary["A1"].value, summary["A2"].value, summary["A3"].value] == ["'+33 1 23 45 67 89", "'@annuaire", "'-"]
    assert [table["A1"].value, table["A2"].value, table["A3"].value] == ["'=1+1", "'-", "'@x"]


def test_xlsx_column_widths_are_set(book):
    sheet = book["Entretiens 2025"]
    widths = {key: dim.width for key, dim in sheet.column_dimensions.items()}
    assert all(8 <= widths[col] <= 60 for col in "ABCDE")
    assert widths["A"] >= len(FORMULA)


def test_xlsx_properties(book):
    assert book.properties.title == TITLE
    assert book.properties.creator == "Service social — CTSS"


def test_sheet_names_follow_excel_rules():
    names = sheet_names(["a/b\\c?d*e:f[g]h", "x" * 40, "x" * 40, "SOMMAIRE", "'quoted'", "", "History"],
                        taken={"Sommaire"})
    assert names[0] == "abcdefgh"
    assert names[1] == "x" * 31 and len(names[2]) == 31 and names[2].endswith(" (2)")
    assert names[3] == "SOMMAIRE (2)"
    assert names[4] == "quoted"
    assert names[5] == "Tableau 6"
    assert names[6] != "History"
    assert len({n.casefold() for n in names} | {"sommaire"}) == len(names) + 1
