"""From raw fine cells to a protected cube: build, suppress, audit, and the cube as a table."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics.disclosure.cube import Cube, build_cube
from analytics.disclosure.published_set import PublishedSet
from analytics.disclosure.suppression import Protection, protect
from analytics.nomenclature import Nomenclature

PUBLISHED, PRIMARY, SECONDARY = "publie", "secret_primaire", "secret_secondaire"
CUBE_COLUMNS = ["geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite", "valeur", "statut"]


@dataclass
class ProtectedCube:
    cube: Cube
    protection: Protection
    seconds: float

    def table(self) -> pl.DataFrame:
        """Every publishable cell with its status; `valeur` is null when secret. No hidden cell."""
        p = self.protection
        status = np.where(p.primary, PRIMARY, np.where(p.secondary, SECONDARY, PUBLISHED))
        cells = self.cube.cells.with_columns(pl.Series("statut", status, dtype=pl.String))
        return cells.filter(pl.col("publiable")).with_columns(
            pl.when(pl.col("statut") == PUBLISHED).then(pl.col("valeur")).otherwise(None).alias("valeur")
        ).select(CUBE_COLUMNS)

    def summary(self) -> dict:
        p, values = self.protection, self.cube.values
        publishable = self.cube.cells["publiable"].to_numpy()
        nonzero = publishable & (values > 0)
        return {
            "cellules_publiables": int(publishable.sum()),
            "secrets_primaires": int(p.primary.sum()),
            "secrets_secondaires": int(p.secondary.sum()),
            "part_secondaire_non_nulles": float(p.secondary.sum() / max(1, nonzero.sum())),
            "cellules_auditees": p.audit.checked,
            "certifiees_par_temoin": p.audit.certified_by_witness,
            "intervalles_exacts": p.audit.exact_lps,
            "echecs_audit": int(p.audit.failures.size),
            "reparations": p.repairs,
            "secondes": round(self.seconds, 2),
        }


def protect_cells(fine: pl.DataFrame, services: pl.DataFrame, nomenclature: Nomenclature, published: PublishedSet, k: int) -> ProtectedCube:
    start = time.perf_counter()
    cube = build_cube(fine, services, nomenclature, published)
    protection = protect(cube, k)
    return ProtectedCube(cube, protection, time.perf_counter() - start)
