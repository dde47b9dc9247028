"""A report as a PDF (fpdf2, A4 portrait): DejaVu Sans for French text, bookmarks for headings, tables
whose header row comes back on every page, pictures with their text alternative, footer on every page.

The core PDF fonts only know Latin-1: the narrow no-break space of « 1 234 », the minus sign and
« œ » need a TrueType font, hence DejaVu Sans (Debian package fonts-dejavu-core).
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import MethodReturnValue, XPos, YPos

from analytics.reports.cells import format_cell, is_numeric, table_legend
from analytics.reports.document import Bullets, Figure, Heading, PageBreak, Paragraph, Report, Table

FAMILY = "DejaVu"
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
FONT_DIRS = (
    "/usr/share/fonts/truetype/dejavu",  # Debian, Ubuntu
    "/usr/share/fonts/dejavu",  # Fedora, Arch (older)
    "/usr/share/fonts/TTF",  # Arch
    "/usr/local/share/fonts/dejavu",
    "/usr/local/share/fonts",
)
# Point sizes (standard, large type): the fiche F3SCT is read in a meeting, hence `large_type`.
SIZES = {
    "title": (22, 28), "subtitle": (13, 16), "h1": (16, 20), "h2": (13, 16), "body": (11, 14),
    "note": (9, 12), "caption": (10, 13), "table": (9, 12), "footer": (8, 10),
}
PT_TO_MM = 25.4 / 72
LEADING = 1.35  # line height as a multiple of the font size
BLACK, GREY = (0, 0, 0), (89, 89, 89)
HEADER_FILL, COMMENT_FILL = (217, 217, 217), (242, 242, 242)
PAGE_NUMBER_WIDTH = 28  # mm, right of the footer text
CELL_PADDING = (1.0, 1.5)  # mm: vertical, horizontal


def render_pdf(report: Report) -> bytes:
    pdf = _ReportPDF(report, find_fonts())
    _title(pdf, report)
    for block in report.blocks:
        _add_block(pdf, block)
    return bytes(pdf.output())


def find_fonts(dirs: tuple[str, ...] | list[str] = FONT_DIRS) -> dict[str, Path]:
    """The DejaVu Sans files (regular, bold, oblique) from the first folder that holds all three."""
    for folder in dirs:
        paths = {style: Path(folder) / name for style, name in FONT_FILES.items()}
        if all(p.is_file() for p in paths.values()):
            return paths
    raise RuntimeError(
        "Police DejaVu Sans introuvable (cherchée dans : " + ", ".join(dirs) + "). Elle est nécessaire "
        "pour écrire les rapports PDF en français : installez le paquet Debian fonts-dejavu-core "
        "(apt-get install fonts-dejavu-core)."
    )


class _ReportPDF(FPDF):
    def __init__(self, report: Report, fonts: dict[str, Path]):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.large = report.large_type
        self.footer_text = report.footer
        for style, path in fonts.items():
            self.add_font(FAMILY, style, str(path))
        self.set_margins(20, 20, 20)
        self._metadata(report)
        # The first page opens here: measuring the footer text needs a page, and the footer's height
        # sets the bottom margin of every page.
        self.footer_height = 0.0
        self.add_page()
        self.footer_height = self._footer_height()
        self.set_auto_page_break(True, margin=self.footer_height + 6)

    def size(self, role: str) -> float:
        standard, big = SIZES[role]
        return big if self.large else standard

    def use(self, role: str, style: str = "", color: tuple[int, int, int] = BLACK) -> float:
        """Select the font of a role; returns its line height in mm."""
        self.set_font(FAMILY, style, self.size(role))
        self.set_text_color(*color)
        return self.size(role) * PT_TO_MM * LEADING

    def _footer_height(self) -> float:
        line = self.use("footer")
        lines = self.multi_cell(self.epw - PAGE_NUMBER_WIDTH, line, self.footer_text or " ", dry_run=True,
                                output=MethodReturnValue.LINES)
        return len(lines) * line + 4

    def footer(self) -> None:
        line = self.use("footer", color=GREY)
        self.set_y(-self.footer_height - 4)
        top = self.get_y()
        self.set_draw_color(*GREY)
        self.line(self.l_margin, top, self.w - self.r_margin, top)
        self.set_y(top + 2)
        self.multi_cell(self.epw - PAGE_NUMBER_WIDTH, line, self.footer_text)
        self.set_xy(self.w - self.r_margin - PAGE_NUMBER_WIDTH, top + 2)
        self.cell(PAGE_NUMBER_WIDTH, line, f"page {self.page_no()} / {self.str_alias_nb_pages}", align="R")

    def _metadata(self, report: Report) -> None:
        meta = report.metadata
        self.set_title(report.title)
        self.set_subject(meta.get("subject", report.subtitle))
        self.set_author(meta.get("author", "Vigie"))
        self.set_keywords(meta.get("keywords", ""))
        self.set_creator("Vigie")
        self.set_lang("fr")
        self.page_mode = "USE_OUTLINES"  # the bookmarks pane opens with the document


# --------------------------------------------------------------------------- blocks


def _title(pdf: _ReportPDF, report: Report) -> None:
    line = pdf.use("title", "B")
    pdf.multi_cell(0, line, report.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    if report.subtitle:
        pdf.ln(1)
        line = pdf.use("subtitle", color=GREY)
        pdf.multi_cell(0, line, report.subtitle, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(6)


def _add_block(pdf: _ReportPDF, block) -> None:
    if isinstance(block, Heading):
        _heading(pdf, block)
    elif isinstance(block, Paragraph):
        _paragraph(pdf, block)
    elif isinstance(block, Bullets):
        _bullets(pdf, block)
    elif isinstance(block, Table):
        _table(pdf, block)
    elif isinstance(block, Figure):
        _figure(pdf, block)
    elif isinstance(block, PageBreak):
        pdf.add_page()
    else:
        raise TypeError(f"Bloc de rapport inconnu : {type(block).__name__}")


def _keep_with_next(pdf: _ReportPDF, height: float) -> None:
    # A title never stays alone at the foot of a page: move it with what follows.
    if pdf.will_page_break(height):
        pdf.add_page()


def _heading(pdf: _ReportPDF, block: Heading) -> None:
    level = min(max(block.level, 1), 2)
    body = pdf.use("body")
    line = pdf.use(f"h{level}", "B")
    pdf.ln(3 if level == 1 else 2)
    _keep_with_next(pdf, 2 * line + 3 * body)
    pdf.start_section(block.text, level=level - 1, strict=False)
    pdf.multi_cell(0, line, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)


def _paragraph(pdf: _ReportPDF, block: Paragraph) -> None:
    if block.style == "note":
        line = pdf.use("note", color=GREY)
        pdf.multi_cell(0, line, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    elif block.style == "comment":
        # The CTSS's own words: italic on a shaded block, unlike the figures' commentary.
        line = pdf.use("body", "I")
        # local_context restores the fill colour: fpdf2 tables would otherwise shade every cell with it.
        with pdf.local_context(fill_color=COMMENT_FILL):
            pdf.multi_cell(0, line, block.text, fill=True, padding=(2, 3), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    else:
        line = pdf.use("body")
        pdf.multi_cell(0, line, block.text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(line / 2)


def _bullets(pdf: _ReportPDF, block: Bullets) -> None:
    line = pdf.use("body")
    indent = 6
    for item in block.items:
        _keep_with_next(pdf, line)  # the bullet and the first line of its text on the same page
        pdf.set_x(pdf.l_margin + 2)
        pdf.cell(indent - 2, line, "\u2022")
        pdf.multi_cell(0, line, item, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(line / 2)


def _table(pdf: _ReportPDF, table: Table) -> None:
    line = pdf.use("table")
    caption = pdf.use("caption", "B")
    _keep_with_next(pdf, 2 * caption + 4 * (line + 2 * CELL_PADDING[0]))
    pdf.multi_cell(0, caption, table.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.use("table")
    header = [c.name for c in table.columns]
    body = [[format_cell(v, c.kind) for v, c in zip(row, table.columns)] for row in table.rows]
    widths = _column_widths(pdf, header, body, [is_numeric(c.kind) for c in table.columns])
    pdf.set_draw_color(*GREY)
    with pdf.table(
        col_widths=widths, width=min(sum(widths), pdf.epw), align="LEFT", line_height=line,
        text_align=tuple("RIGHT" if is_numeric(c.kind) else "LEFT" for c in table.columns),
        headings_style=FontFace(emphasis="BOLD", fill_color=HEADER_FILL), repeat_headings=1,
        padding=CELL_PADDING, first_row_as_headings=True,
    ) as grid:
        for cells in [header, *body]:
            grid.row(cells)
    legend = table_legend(table)
    if legend:
        pdf.ln(1)
        note = pdf.use("note", color=GREY)
        pdf.multi_cell(0, note, legend, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _column_widths(pdf: _ReportPDF, header: list[str], body: list[list[str]], numeric: list[bool]) -> tuple[float, ...]:
    """Each column as wide as its longest cell (a header may wrap between words, never inside one).

    When the table is wider than the page, the text columns give way first (labels wrap well,
    numbers do not), each down to its longest word (a word never breaks: « mars 2025 » stays
    readable beside a long label), the widest giving the most; only then does every column shrink."""
    natural = [_natural_width(pdf, name, [row[j] for row in body]) for j, name in enumerate(header)]
    floor = [w if is_number else min(w, _longest_word(pdf, name, [row[j] for row in body]))
             for j, (name, w, is_number) in enumerate(zip(header, natural, numeric))]
    excess = sum(natural) - pdf.epw
    room = sum(w - f for w, f in zip(natural, floor))
    if excess > 0 and room > 0:
        give = min(excess, room)
        natural = [w - give * (w - f) / room for w, f in zip(natural, floor)]
    scale = min(1.0, pdf.epw / sum(natural))
    return tuple(w * scale for w in natural)


def _longest_word(pdf: _ReportPDF, name: str, cells: list[str]) -> float:
    pdf.set_font(style="B")
    longest = max((pdf.get_string_width(word) for word in name.split()), default=0)
    pdf.set_font(style="")
    longest = max([longest, *(pdf.get_string_width(word) for text in cells for word in text.split())])
    return longest + 2 * CELL_PADDING[1] + 1


def _natural_width(pdf: _ReportPDF, name: str, cells: list[str]) -> float:
    pdf.set_font(style="B")
    longest = max((pdf.get_string_width(word) for word in name.split()), default=0)
    pdf.set_font(style="")
    longest = max([longest, *(pdf.get_string_width(text) for text in cells)])
    return longest + 2 * CELL_PADDING[1] + 1


def _figure(pdf: _ReportPDF, figure: Figure) -> None:
    caption = pdf.use("caption", "B")
    title_height = 2 * caption + 2
    width, height = _image_size(figure, pdf.epw, pdf.eph - title_height)
    _keep_with_next(pdf, title_height + height)
    pdf.multi_cell(0, caption, figure.title, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)
    pdf.image(io.BytesIO(figure.png), x=pdf.l_margin + (pdf.epw - width) / 2, w=width, h=height,
              alt_text=figure.alt, title=figure.title)
    pdf.ln(4)


def _image_size(figure: Figure, max_width: float, max_height: float) -> tuple[float, float]:
    """The printed size in mm: `width_cm`, never wider than the text column nor taller than a page."""
    pixels_w, pixels_h = png_size(figure.png)
    width = min(10 * figure.width_cm, max_width)
    height = width * pixels_h / pixels_w
    if height > max_height:
        width, height = width * max_height / height, max_height
    return width, height


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels, read from the PNG header (IHDR)."""
    if png[:8] != b"\x89PNG\r\n\x1a\n" or png[12:16] != b"IHDR":
        raise ValueError("La figure n'est pas une image PNG.")
    return struct.unpack(">II", png[16:24])
