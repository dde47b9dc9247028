"""Import templates to download: the expected columns, example rows, and the codes to use."""

from __future__ import annotations

import io

import polars as pl

from analytics.exports import neutralise_formulas
from analytics.nomenclature import Nomenclature
from analytics.referentials import departements

EXAMPLE_SERVICE = ("29", "DDTM-29", "DDTM du Finistère", "ddtm")


def aggregate_example(nomenclature: Nomenclature) -> pl.DataFrame:
    """One coherent service-month: partitions add up to `ensemble`, problématiques do not exceed it."""
    dep, code, label, kind = EXAMPLE_SERVICE
    rows = [("ensemble", "ensemble", 6)]
    for dim in nomenclature.by_relation("partition"):
        first, second = dim.codes[0], dim.codes[1]
        rows += [(dim.code, first, 4), (dim.code, second, 2)]
    multiple = nomenclature.by_relation("multiple")
    if multiple:
        rows += [(multiple[0].code, c, n) for c, n in zip(multiple[0].codes[:3], (3, 2, 1))]
    independent = nomenclature.by_relation("independent")
    if independent:
        rows.append((independent[0].code, independent[0].codes[0], 1))
    return pl.DataFrame(
        [("2025-01", dep, code, label, kind, d, m, n) for d, m, n in rows],
        schema=["periode", "departement", "service", "libelle_service", "type_service", "dimension", "modalite", "effectif"],
        orient="row",
    )


def headcount_example() -> pl.DataFrame:
    dep, code, label, kind = EXAMPLE_SERVICE
    return pl.DataFrame([(2025, dep, code, label, kind, 320)],
                        schema=["annee", "departement", "service", "libelle_service", "type_service", "effectif_agents"], orient="row")


def codes_frame(nomenclature: Nomenclature) -> pl.DataFrame:
    relation_fr = {"total": "total", "partition": "partition (somme = ensemble)", "multiple": "réponses multiples (chacune ≤ ensemble)",
                   "independent": "indépendante"}
    return pl.DataFrame(
        [(d.code, relation_fr[d.relation], m.code, m.libelle) for d in nomenclature.dimensions.values() for m in d.modalites],
        schema=["dimension", "relation", "modalite", "libelle"], orient="row",
    )


def template_csv(nomenclature: Nomenclature) -> bytes:
    buffer = io.BytesIO()
    aggregate_example(nomenclature).write_csv(buffer, separator=";")
    return b"\xef\xbb\xbf" + buffer.getvalue()


def headcount_template_csv() -> bytes:
    buffer = io.BytesIO()
    headcount_example().write_csv(buffer, separator=";")
    return b"\xef\xbb\xbf" + buffer.getvalue()


def template_xlsx(nomenclature: Nomenclature) -> bytes:
    import xlsxwriter

    buffer = io.BytesIO()
    types = pl.DataFrame([(t.code, t.libelle) for t in nomenclature.service_types.values()], schema=["type_service", "libelle"], orient="row")
    with xlsxwriter.Workbook(buffer) as workbook:
        sheets = {
            "donnees": aggregate_example(nomenclature),
            "codes": codes_frame(nomenclature),
            "types_service": types,
            "departements": departements().select("code_departement", "nom_departement", "code_region", "nom_region"),
        }
        for sheet, frame in sheets.items():
            neutralise_formulas(frame).write_excel(workbook=workbook, worksheet=sheet, autofit=True)
    return buffer.getvalue()
