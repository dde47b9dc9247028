"""The neutral shape of a report: what the builders assemble and the DOCX, PDF and XLSX writers render.

A builder (bilan régional, synthèse nationale, fiche F3SCT) turns published cells into these blocks;
a writer never computes a figure, it only lays out what it is given. Numbers stay numbers until a
writer formats them (French formats in DOCX/PDF, numeric cells in XLSX); a secret is the text `s`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Union

from analytics.formatting import SECRET_LEGEND

# How a numeric column is written: a count (« 1 234 »), a share in [0, 1] (« 12,3 % »),
# a relative change (« +4,5 % »), a rate with one decimal (« 3,2 »).
ColumnKind = Literal["text", "count", "share", "change", "rate"]
CellValue = Union[int, float, str, None]  # str for labels, `s` (secret) and `–` (not computable); None: empty


@dataclass(frozen=True)
class Column:
    name: str
    kind: ColumnKind = "text"


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1  # 1 = section, 2 = subsection


@dataclass(frozen=True)
class Paragraph:
    text: str
    style: Literal["body", "note", "comment"] = "body"  # note: small print; comment: the CTSS's own words


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[CellValue, ...], ...]
    sheet: str  # XLSX sheet name (≤ 31 characters, unique within a report)
    legend: str = SECRET_LEGEND


@dataclass(frozen=True)
class Figure:
    title: str
    png: bytes  # rendered offline (vl-convert)
    alt: str  # text alternative: what the chart shows, in words
    width_cm: float = 16.0


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Union[Heading, Paragraph, Bullets, Table, Figure, PageBreak]


@dataclass(frozen=True)
class Report:
    kind: Literal["bilan-regional", "synthese-nationale", "fiche-f3sct"]
    title: str
    subtitle: str
    footer: str  # publication number and date, k, map attribution: printed on every page
    blocks: tuple[Block, ...]
    large_type: bool = False  # fiche F3SCT: larger body text, read in a meeting
    metadata: dict[str, str] = field(default_factory=dict)  # author, subject, keywords for the file properties

    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]
