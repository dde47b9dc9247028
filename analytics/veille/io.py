"""Reading and checking the series file of `python -m analytics detect` (French messages)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import polars as pl

from analytics.ingest.issues import FileRefused
from analytics.ingest.reading import decode_text, detect_separator

REQUIRED = ("serie", "periode", "effectif")
PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
INTEGER = re.compile(r"^\d+$")


class SeriesInputError(ValueError):
    """Input refused: the message is in French and names the file, the line and the column."""


def read_series_csv(path: Path | str) -> pl.DataFrame:
    path = Path(path)
    try:  # the import's own decoding and separator rules, so both commands read the same files
        text, _ = decode_text(path.read_bytes(), path.name)
    except FileRefused:
        raise SeriesInputError(f"{path.name} : encodage illisible (ni UTF-8 ni Windows-1252)") from None
    delimiter = detect_separator(text.split("\n", 1)[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise SeriesInputError(f"{path.name} : fichier vide (colonnes attendues : {', '.join(REQUIRED)})") from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise SeriesInputError(f"{path.name}, ligne 1 : colonne(s) manquante(s) : {', '.join(missing)} "
                               f"(colonnes attendues : {', '.join(REQUIRED)})")
    pos = {c: header.index(c) for c in REQUIRED}
    series, periods, counts = [], [], []
    for line_no, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        cells = {c: (row[i].strip() if i < len(row) else "") for c, i in pos.items()}
        if not cells["serie"]:
            raise SeriesInputError(f"{path.name}, ligne {line_no}, colonne « serie » : valeur vide")
        if not PERIOD.match(cells["periode"]):
            raise SeriesInputError(f"{path.name}, ligne {line_no}, colonne « periode » : « {cells['periode']} » "
                                   "n'est pas un mois AAAA-MM")
        value = cells["effectif"]
        if not INTEGER.match(value):
            what = "est négatif" if value.startswith("-") else "n'est pas un entier positif ou nul"
            raise SeriesInputError(f"{path.name}, ligne {line_no}, colonne « effectif » : « {value} » {what}")
        series.append(cells["serie"])
        periods.append(cells["periode"])
        counts.append(int(value))
    if not series:
        raise SeriesInputError(f"{path.name} : aucune ligne de données")
    return pl.DataFrame({"serie": series, "periode": periods, "effectif": counts},
                        schema={"serie": pl.Utf8, "periode": pl.Utf8, "effectif": pl.Int64})
