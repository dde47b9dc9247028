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
        order = {"national": 0, "region": 1, "departement": 2, "service": 3, "annee": 0, "trimestre": 1, "mois": 2}
        return cells.filter(pl.col("publiable")).with_columns(
            pl.when(pl.col("statut") == PUBLISHED).then(pl.col("valeur")).otherwise(None).alias("valeur"),
            pl.col("geo_niveau").replace_strict(order, return_dtype=pl.Int8).alias("_g"),
            pl.col("periode_niveau").replace_strict(order, return_dtype=pl.Int8).alias("_p"),
        ).sort("_g", "geo_code", "_p", "periode", "cell").select(CUBE_COLUMNS)

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
            "secondaires_rendus": p.given_back,
            "audits_secondes": [{phase: round(t, 2) for phase, t in phases.items()} for phases in (p.audit_seconds or [])],
            "secondes": round(self.seconds, 2),
        }


def protect_cells(fine: pl.DataFrame, services: pl.DataFrame, nomenclature: Nomenclature, published: PublishedSet, k: int,
                  progress=None) -> ProtectedCube:
    """Build the cube, suppress and audit; `progress(fraction, label)` hears of the audit's phases."""
    start = time.perf_counter()
    cube = build_cube(fine, services, nomenclature, published)
    protection = protect(cube, k, progress)
    return ProtectedCube(cube, protection, time.perf_counter() - start)


@dataclass
class FileOutcome:
    protected: ProtectedCube | None = None
    refused: object | None = None  # an ImportReport when the file is refused


def protect_file(path, k: int, published: PublishedSet, progress=lambda f, label: None) -> FileOutcome:
    """Validate an import-format file exactly as the import does (without the store), then protect it."""
    from pathlib import Path

    from analytics.ingest import REFUSED, ImportReport
    from analytics.ingest.issues import FileRefused
    from analytics.ingest.reading import read_bytes
    from analytics.ingest.validation import validate_aggregates
    from analytics.nomenclature import default_nomenclature

    path = Path(path)
    nomenclature = default_nomenclature()
    progress(0.05, "Lecture du fichier")
    try:
        raw = read_bytes(path.read_bytes(), path.name)
    except FileRefused as refused:
        return FileOutcome(refused=ImportReport(REFUSED, path.name, message="Fichier refusé : illisible.", issues=refused.issues))
    progress(0.15, "Validation")
    checked = validate_aggregates(raw, nomenclature, pl.DataFrame(schema={"code": pl.String, "departement": pl.String}))
    if not checked.ok:
        return FileOutcome(refused=ImportReport(REFUSED, path.name, kind="agregats", issues=checked.issues,
                                                message=f"Fichier refusé : {checked.issues.height} erreur(s)."))
    progress(0.3, "Secret statistique : masquage et audit")
    protected = protect_cells(checked.rows, checked.services.select("service", "departement"), nomenclature, published, k,
                              progress=lambda f, label: progress(0.3 + 0.65 * f, label))
    progress(1.0, "Terminé")
    return FileOutcome(protected=protected)
