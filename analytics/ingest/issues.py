"""Validation issues: every refusal names the file, line, column, value and reason, in French."""

from __future__ import annotations

import polars as pl

ISSUE_SCHEMA = {
    "fichier": pl.String,
    "ligne": pl.Int64,
    "colonne": pl.String,
    "valeur": pl.String,
    "motif": pl.String,
}


def issue_frame(rows: list[dict] | None = None) -> pl.DataFrame:
    return pl.DataFrame(rows or [], schema=ISSUE_SCHEMA, orient="row")


def one_issue(fichier: str, motif: str, ligne: int | None = None, colonne: str = "", valeur: str = "") -> pl.DataFrame:
    return issue_frame([{"fichier": fichier, "ligne": ligne, "colonne": colonne, "valeur": valeur, "motif": motif}])


class FileRefused(Exception):
    """The file cannot be read at all; `issues` says why (same shape as validation issues)."""

    def __init__(self, issues: pl.DataFrame):
        self.issues = issues
        super().__init__("; ".join(issues["motif"].to_list()[:3]))


def format_issue(row: dict) -> str:
    where = [row["fichier"]]
    if row.get("ligne") is not None:
        where.append(f"ligne {row['ligne']}")
    if row.get("colonne"):
        where.append(f"colonne « {row['colonne']} »")
    value = f" (valeur « {row['valeur']} »)" if row.get("valeur") not in (None, "") else ""
    return f"{', '.join(where)}{value} : {row['motif']}"
