"""French régions and départements (COG), their adjacency and the map files shipped in data/.

Codes are always read as text (`01`, `2A`, `971`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import polars as pl

from analytics.settings import DATA_DIR

GEO_DIR = DATA_DIR / "geo"
MAP_ATTRIBUTION = (
    "Fond de carte : IGN – Admin Express COG 2018, via gregoiredavid/france-geojson "
    "(Licence Ouverte Etalab). DROM rapprochés : retraitement Vigie ; échelles et distances non respectées."
)


@dataclass(frozen=True)
class Departement:
    code: str
    nom: str
    code_region: str


@lru_cache(maxsize=1)
def regions() -> pl.DataFrame:
    return pl.read_csv(DATA_DIR / "regions.csv", infer_schema=False).with_columns(
        pl.col("nb_departements").cast(pl.Int32)
    )


@lru_cache(maxsize=1)
def departements() -> pl.DataFrame:
    return pl.read_csv(DATA_DIR / "departements.csv", infer_schema=False)


@lru_cache(maxsize=1)
def departement_region() -> dict[str, str]:
    """Département code -> région code."""
    df = departements()
    return dict(zip(df["code_departement"].to_list(), df["code_region"].to_list()))


@lru_cache(maxsize=1)
def departement_names() -> dict[str, str]:
    df = departements()
    return dict(zip(df["code_departement"].to_list(), df["nom_departement"].to_list()))


@lru_cache(maxsize=1)
def region_names() -> dict[str, str]:
    df = regions()
    return dict(zip(df["code_region"].to_list(), df["nom_region"].to_list()))


@lru_cache(maxsize=1)
def adjacency() -> pl.DataFrame:
    """Pairs of départements sharing a border (each pair once, as shipped)."""
    return pl.read_csv(DATA_DIR / "departements_adjacence.csv", infer_schema=False)


def normalise_departement(code: str) -> str:
    """`1` -> `01`, `2a` -> `2A`: spreadsheets drop leading zeros and change case."""
    code = code.strip().upper()
    if code.isdigit() and len(code) == 1:
        return "0" + code
    return code


@lru_cache(maxsize=2)
def geojson(level: str) -> dict:
    """Simplified map of `region` or `departement` with the overseas insets."""
    name = {"region": "regions-drom-rapproches.geojson", "departement": "departements-drom-rapproches.geojson"}[level]
    return json.loads((GEO_DIR / name).read_text(encoding="utf-8"))
