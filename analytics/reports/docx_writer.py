"""A report as a Word document (python-docx): real heading styles, real tables, pictures with their text alternative.

Word builds the navigation pane and the table of contents from the heading styles, and screen readers
read the header row of each table and the description of each picture: hence styles, not bold text.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone

from docx import Document
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor

from analytics.reports.cells import format_cell, is_numeric, table_legend
from analytics.reports.document import Bullets, Figure, Heading, PageBreak, Paragraph, Report, Table

LANGUAGE = "fr-FR"
NOTE_STYLE = "Note"
COMMENT_STYLE = "Intense Quote"  # the CTSS's own words: italic, set apart by a border
GREY = RGBColor(0x59, 0x59, 0x59)
HEADER_FILL = "D9D9D9"
COMMENT_FILL = "F2F2F2"
# What must follow w:shd in a paragraph's and in a cell's properties (ECMA-376 sequence order).
PARAGRAPH_AFTER_SHADING = (
    "w:tabs", "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct", "w:topLinePunct",
    "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd", "w:snapToGrid", "w:spacing", "w:ind",
    "w:contextualSpacing", "w:mirrorIndents", "w:suppressOverlap", "w:jc", "w:textDirection",
    "w:textAlignment", "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr", "w:sectPr",
    "w:pPrChange",
)
CELL_AFTER_SHADING = ("w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText", "w:vAlign", "w:hideMark",
                      "w:headers", "w:cellIns", "w:cellDel", "w:cellMerge", "w:tcPrChange")
# Point sizes (standard, large type): the fiche F3SCT is read in a meeting, hence `large_type`.
SIZES = {
    "Normal": (11, 14),
    NOTE_STYLE: (9, 12),
    "Caption": (9, 12),
    "Footer": (8, 11),
    "Title": (26, 32),
    "Subtitle": (13, 17),
    "Heading 1": (16, 20),
    "Heading 2": (13, 17),
    "Heading 3": (12, 15),
}


def render_docx(report: Report) -> bytes:
    document = Document()
    _setup(document, report)
    document.add_paragraph(report.title, style="Title")
    if report.subtitle:
        document.add_paragraph(report.subtitle, style="Subtitle")
    for block in report.blocks:
        _add_block(document, block, report.large_type)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


# --------------------------------------------------------------------------- document setup


def _setup(document, report: Report) -> None:
    _a4_portrait(document.sections[0])
    _styles(document, report.large_type)
    _default_language(document)
    _footer(document.sections[0], report.footer)
    _properties(document, report)


def _a4_portrait(section) -> None:
    # python-docx's template is US Letter; the ministry prints A4.
    section.page_width, section.page_height = Cm(21), Cm(29.7)
    section.left_margin = section.right_margin = Cm(2)
    section.top_margin, section.bottom_margin = Cm(2), Cm(2)


def _styles(document, large: bool) -> None:
    styles = document.styles
    if NOTE_STYLE not in [s.name for s in styles]:
        note = styles.add_style(NOTE_STYLE, WD_STYLE_TYPE.PARAGRAPH)
        note.base_style = styles["Normal"]
        note.font.color.rgb = GREY
        note.paragraph_format.space_after = Pt(4)
    for name, (standard, big) in SIZES.items():
        styles[name].font.size = Pt(big if large else standard)


def _default_language(document) -> None:
    """French proofing for every run, instead of the template's en-US."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr = defaults.find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), LANGUAGE)


def _footer(section, text: str) -> None:
    footer = section.footer
    footer.is_linked_to_previous = False
    first = footer.paragraphs[0]
    first.text = text
    first.style = "Footer"
    pages = footer.add_paragraph(style="Footer")
    pages.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    pages.add_run("page ")
    _field(pages, "PAGE")
    pages.add_run(" / ")
    _field(pages, "NUMPAGES")


def _field(paragraph, instruction: str) -> None:
    """A complex field with a placeholder result; Word and LibreOffice recompute PAGE and NUMPAGES
    in footers whenever they lay the pages out."""
    _field_char(paragraph, "begin")
    instr = OxmlElement("w:instrText")
    instr.set(qn("xml:space"), "preserve")
    instr.text = f" {instruction} "
    paragraph.add_run()._r.append(instr)
    _field_char(paragraph, "separate")
    paragraph.add_run("1")
    _field_char(paragraph, "end")


def _field_char(paragraph, kind: str) -> None:
    char = OxmlElement("w:fldChar")
    char.set(qn("w:fldCharType"), kind)
    paragraph.add_run()._r.append(char)


def _properties(document, report: Report) -> None:
    props = document.core_properties
    meta = report.metadata
    props.title = report.title
    props.subject = meta.get("subject", report.subtitle)
    props.author = meta.get("author", "Vigie")
    props.keywords = meta.get("keywords", "")
    props.category = report.kind
    props.comments = ""  # the template says « generated by python-docx »
    props.last_modified_by = props.author
    props.language = LANGUAGE
    props.created = props.modified = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)


# --------------------------------------------------------------------------- blocks


def _add_block(document, block, large: bool) -> None:
    if isinstance(block, Heading):
        document.add_paragraph(block.text, style=f"Heading {min(max(block.level, 1), 3)}")
    elif isinstance(block, Paragraph):
        _paragraph(document, block)
    elif isinstance(block, Bullets):
        for item in block.items:
            document.add_paragraph(item, style="List Bullet")
    elif isinstance(block, Table):
        _table(document, block, large)
    elif isinstance(block, Figure):
        _figure(document, block)
    elif isinstance(block, PageBreak):
        document.add_page_break()
    else:
        raise TypeError(f"Bloc de rapport inconnu : {type(block).__name__}")


def _paragraph(document, block: Paragraph) -> None:
    style = {"note": NOTE_STYLE, "comment": COMMENT_STYLE}.get(block.style, "Normal")
    paragraph = document.add_paragraph(block.text, style=style)
    if block.style == "comment":
        _shade(paragraph._p.get_or_add_pPr(), COMMENT_FILL, PARAGRAPH_AFTER_SHADING)


def _caption(document, text: str) -> None:
    caption = document.add_paragraph(text, style="Caption")
    caption.paragraph_format.keep_with_next = True  # never a title alone at the foot of a page


def _table(document, table: Table, large: bool) -> None:
    _caption(document, table.title)
    grid = document.add_table(rows=1, cols=len(table.columns))
    grid.style = "Table Grid"
    grid.alignment = WD_TABLE_ALIGNMENT.CENTER
    header = grid.rows[0]
    _repeat_as_header(header)
    texts = [[c.name for c in table.columns]] + [[format_cell(v, c.kind) for v, c in zip(row, table.columns)]
                                                 for row in table.rows]
    for cell, column in zip(header.cells, table.columns):
        _cell_text(cell, column.name, right=is_numeric(column.kind), bold=True)
        _shade(cell._tc.get_or_add_tcPr(), HEADER_FILL, CELL_AFTER_SHADING)
    for values in texts[1:]:
        row = grid.add_row()
        _cant_split(row)
        for cell, column, text in zip(row.cells, table.columns, values):
            _cell_text(cell, text, right=is_numeric(column.kind))
    _set_widths(grid, _column_widths(texts, _usable_width(document), large))
    legend = table_legend(table)
    if legend:
        document.add_paragraph(legend, style=NOTE_STYLE).paragraph_format.space_before = Pt(3)


def _column_widths(texts: list[list[str]], usable: int, large: bool) -> list[int]:
    """Each column as wide as its longest cell (a header may wrap between words), shrunk to the page if needed."""
    per_char = Cm(0.24 if large else 0.19)
    natural = []
    for j in range(len(texts[0])):
        header = max((len(word) for word in texts[0][j].split()), default=0)
        longest = max([header, *(len(row[j]) for row in texts[1:])])
        natural.append(int(max(longest, 3) * per_char + Cm(0.4)))
    scale = min(1.0, usable / sum(natural))
    return [int(w * scale) for w in natural]


def _set_widths(grid, widths: list[int]) -> None:
    # Word reads the width of each cell; LibreOffice reads the grid columns: set both.
    grid.autofit = False
    for column, width in zip(grid.columns, widths):
        column.width = width
        for cell in column.cells:
            cell.width = width


def _usable_width(document) -> int:
    section = document.sections[-1]
    return section.page_width - section.left_margin - section.right_margin


def _cell_text(cell, text: str, right: bool, bold: bool = False) -> None:
    paragraph = cell.paragraphs[0]
    paragraph.paragraph_format.space_after = Pt(0)
    if right:
        paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    paragraph.add_run(text).bold = bold or None


def _repeat_as_header(row) -> None:
    # tblHeader: Word repeats the row at the top of each page and tells screen readers it is the header.
    trpr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    trpr.append(header)
    _cant_split(row)


def _cant_split(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    cant = OxmlElement("w:cantSplit")
    cant.set(qn("w:val"), "true")
    trpr.insert(0, cant)


def _shade(properties, fill: str, successors: tuple[str, ...]) -> None:
    """Background of a paragraph (pPr) or a cell (tcPr), inserted where the schema wants it."""
    shading = OxmlElement("w:shd")
    shading.set(qn("w:val"), "clear")
    shading.set(qn("w:color"), "auto")
    shading.set(qn("w:fill"), fill)
    properties.insert_element_before(shading, *successors)


def _figure(document, figure: Figure) -> None:
    _caption(document, figure.title)
    section = document.sections[-1]
    width = min(Cm(figure.width_cm), _usable_width(document))
    paragraph = document.add_paragraph()
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    picture = paragraph.add_run().add_picture(io.BytesIO(figure.png), width=width)
    # A tall chart is shrunk to fit one page (less room for its caption), keeping its proportions.
    room = section.page_height - section.top_margin - section.bottom_margin - Cm(3)
    if picture.height > room:
        picture.width, picture.height = int(picture.width * room / picture.height), room
    doc_pr = picture._inline.docPr
    doc_pr.set("descr", figure.alt)  # what a screen reader says instead of the chart
    doc_pr.set("title", figure.title)
