"""Read an import file (CSV, XLSX, Parquet) into a frame of text columns with line numbers.

Nothing is interpreted here beyond the container: every cell stays text so that validation
can report the exact value it refuses. `_ligne` is the line (or sheet row) a person sees
when opening the file: the header is line 1.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analytics.ingest.issues import FileRefused, one_issue

LINE = "_ligne"
MAX_COLUMNS = 40
MAX_FIELD_CHARS = 255
FORMATS = {".csv": "csv", ".txt": "csv", ".xlsx": "xlsx", ".parquet": "parquet", ".pq": "parquet"}
ZIP_MAGIC = b"PK\x03\x04"
PARQUET_MAGIC = b"PAR1"


@dataclass(frozen=True)
class RawTable:
    file_name: str
    format: str
    content_hash: str
    frame: pl.DataFrame  # text columns with normalised names, plus `_ligne`
    encoding: str = ""
    separator: str = ""


def sniff_kind(data: bytes) -> str:
    if data.startswith(ZIP_MAGIC):
        return "classeur Excel (ZIP)"
    if data.startswith(PARQUET_MAGIC):
        return "fichier Parquet"
    if b"\x00" in data[:4096]:
        return "fichier binaire"
    return "texte"


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """UTF-8 (with or without BOM), else Windows-1252, which French spreadsheets still write."""
    if data.startswith(b"\xef\xbb\xbf"):
        data, bom = data[3:], True
    else:
        bom = False
    try:
        return data.decode("utf-8"), "UTF-8 avec BOM" if bom else "UTF-8"
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "Windows-1252"
    except UnicodeDecodeError as exc:
        raise FileRefused(
            one_issue(name, f"encodage illisible : ni UTF-8 ni Windows-1252 (octet {exc.object[exc.start]:#04x} en position {exc.start})")
        ) from None


def detect_separator(header: str) -> str:
    return ";" if header.count(";") >= header.count(",") and ";" in header else ","


def _normalise_header(names: list[str]) -> list[str]:
    return [n.strip().strip("\ufeff").lower() for n in names]


def _csv_rows_slow(text: str, sep: str, name: str) -> pl.DataFrame:
    """Record by record with exact line numbers (quoted newlines, ragged lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader)
    except StopIteration:
        raise FileRefused(one_issue(name, "fichier vide")) from None
    columns = _normalise_header(header)
    rows, lines, problems = [], [], []
    start = reader.line_num + 1
    for record in reader:
        line = start
        start = reader.line_num + 1
        if not any(field.strip() for field in record):
            continue
        if len(record) != len(columns):
            problems.append(
                {"fichier": name, "ligne": line, "colonne": "", "valeur": sep.join(record)[:80],
                 "motif": f"{len(record)} champs au lieu de {len(columns)} (séparateur « {sep} »)"}
            )
            continue
        rows.append(record)
        lines.append(line)
    if problems:
        from analytics.ingest.issues import issue_frame

        raise FileRefused(issue_frame(problems))
    frame = pl.DataFrame(rows, schema=columns, orient="row") if rows else pl.DataFrame(schema={c: pl.String for c in columns})
    return frame.with_columns(pl.Series(LINE, lines, dtype=pl.Int64))


def _refuse_duplicate_header(text: str, sep: str, name: str) -> None:
    """Two columns with the same name: polars would rename one (fast reader) or fail (record reader)."""
    from analytics.ingest.issues import issue_frame

    header = _normalise_header(next(csv.reader(io.StringIO(text, newline=""), delimiter=sep), []))
    doubles = list(dict.fromkeys(c for i, c in enumerate(header) if c in header[:i]))
    if doubles:
        raise FileRefused(issue_frame([
            {"fichier": name, "ligne": 1, "colonne": c, "valeur": c,
             "motif": "colonne en double" if c else "plusieurs colonnes sans nom dans l'en-tête"}
            for c in doubles
        ]))


def read_csv_text(text: str, name: str) -> tuple[pl.DataFrame, str]:
    first_line = text.split("\n", 1)[0]
    if not first_line.strip():
        raise FileRefused(one_issue(name, "fichier vide ou sans ligne d'en-tête", ligne=1))
    sep = detect_separator(first_line)
    _refuse_duplicate_header(text, sep, name)
    frame = None
    if '"' not in text:  # no quoted field can span lines: polars' fast reader keeps line numbers
        try:
            frame = pl.read_csv(io.BytesIO(text.encode("utf-8")), separator=sep, infer_schema=False, has_header=True)
        except pl.exceptions.PolarsError:
            frame = None
    if frame is None:
        return _csv_rows_slow(text, sep, name), sep
    frame.columns = _normalise_header(frame.columns)
    frame = frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))
    return frame, sep


def read_bytes(data: bytes, name: str) -> RawTable:
    """Parse `data` according to the extension of `name`; refuse what is not what it says."""
    ext = Path(name).suffix.lower()
    fmt = FORMATS.get(ext)
    if fmt is None:
        raise FileRefused(one_issue(name, f"extension « {ext or '(aucune)'} » non prise en charge (attendu : .csv, .xlsx, .parquet)"))
    if not data.strip():
        raise FileRefused(one_issue(name, "fichier vide"))
    kind = sniff_kind(data)
    digest = hashlib.sha256(data).hexdigest()
    encoding = separator = ""
    if fmt == "csv":
        if kind != "texte":
            raise FileRefused(one_issue(name, f"le fichier porte l'extension {ext} mais son contenu est un {kind}"))
        text, encoding = decode_text(data, name)
        frame, separator = read_csv_text(text, name)
    elif fmt == "xlsx":
        if kind != "classeur Excel (ZIP)":
            raise FileRefused(one_issue(name, f"le fichier porte l'extension .xlsx mais son contenu est un {kind}"))
        frame = _read_xlsx(data, name)
    else:
        if not data.startswith(PARQUET_MAGIC):
            raise FileRefused(one_issue(name, f"le fichier porte l'extension {ext} mais son contenu est un {kind}"))
        if not data.endswith(PARQUET_MAGIC):
            raise FileRefused(one_issue(name, "fichier Parquet illisible : fichier tronqué (fin de fichier Parquet absente)"))
        frame = _read_parquet(data, name)
    return RawTable(name, fmt, digest, _drop_blank_rows(frame), encoding, separator)


def _read_xlsx(data: bytes, name: str) -> pl.DataFrame:
    try:
        # Keep blank rows until after numbering: `_ligne` must be the sheet row a person sees.
        frame = pl.read_excel(io.BytesIO(data), infer_schema_length=0, raise_if_empty=False, drop_empty_rows=False)
    except Exception as exc:  # fastexcel raises its own types for corrupt workbooks
        raise FileRefused(one_issue(name, f"classeur Excel illisible : {str(exc).splitlines()[0][:200]}")) from None
    frame.columns = _normalise_header(frame.columns)
    return frame.with_row_index(LINE, offset=2).with_columns(pl.col(LINE).cast(pl.Int64))


def _read_parquet(data: bytes, name: str) -> pl.DataFrame:
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as exc:
        raise FileRefused(one_issue(name, f"fichier Parquet illisible : {str(exc).splitlines()[0][:200]}")) from None
    # Whole floats (3.0) print as "3.0" and are accepted as whole numbers by validation.
    frame = frame.with_columns(pl.all().cast(pl.String))
    frame.columns = _normalise_header(frame.columns)
    return frame.with_row_index(LINE, offset=1).with_columns(pl.col(LINE).cast(pl.Int64))


def _drop_blank_rows(frame: pl.DataFrame) -> pl.DataFrame:
    # Spreadsheets often end the header with a separator: an unnamed, empty column is no column.
    empty_unnamed = [c for c in frame.columns if c == "" and frame[c].fill_null("").str.strip_chars().eq("").all()]
    frame = frame.drop(empty_unnamed)
    value_cols = [c for c in frame.columns if c != LINE]
    if not value_cols:
        return frame
    blank = pl.all_horizontal([pl.col(c).is_null() | (pl.col(c).str.strip_chars() == "") for c in value_cols])
    return frame.filter(~blank)


def read_path(path: Path | str) -> RawTable:
    path = Path(path)
    return read_bytes(path.read_bytes(), path.name)
