"""Validation of import files, rule by rule, on real files written to disk.

Each refusal is checked for the exact line a person sees (header = line 1), the column, and a
key phrase of the French reason. A refused file writes nothing (checked in test_ingest_loading).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from analytics import store
from analytics.ingest import ALREADY, IMPORTED, REFUSED, ImportReport, import_path, issues_csv
from ingest_files import (
    HEAD_COLUMNS,
    REQUIRED,
    TODAY,
    aggregate_rows,
    aggregates_frame,
    csv_bytes,
    csv_text,
    headcount_frame,
    nomenclature,
    parquet_bytes,
    service_month_lines,
    service_rows,
    write,
    xlsx_bytes,
)

NOMEN = nomenclature()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> sa.Engine:
    """A fresh SQLite store (validation does not depend on the dialect; the store-dependent rules use `engine`)."""
    eng = store.make_engine(f"sqlite:///{tmp_path / 'validation.sqlite'}")
    store.upgrade(eng)
    yield eng
    eng.dispose()


def run(tmp_path: Path, engine: sa.Engine, data: bytes | str, name: str = "agregats.csv", **kwargs) -> ImportReport:
    if isinstance(data, str):
        data = data.encode("utf-8")
    kwargs.setdefault("today", TODAY)
    return import_path(write(tmp_path, name, data), engine, NOMEN, **kwargs)


def describe(report: ImportReport) -> str:
    return report.message + "\n" + "\n".join(report.issue_lines())


def refused(report: ImportReport) -> ImportReport:
    assert report.status == REFUSED, describe(report)
    assert not report.ok
    assert report.batch_id is None
    assert report.issues.height >= 1
    assert report.message.startswith("Fichier refusé")
    return report


def imported(report: ImportReport) -> ImportReport:
    assert report.status == IMPORTED, describe(report)
    assert report.issues.is_empty()
    return report


def assert_issue(report: ImportReport, ligne: int | None, colonne: str, phrase: str, valeur: str | None = None) -> dict:
    """Exactly one issue of `report` has this line, column and reason phrase (and value, if given)."""
    matches = [
        r for r in report.issues.iter_rows(named=True)
        if r["ligne"] == ligne and r["colonne"] == colonne and phrase in r["motif"]
        and (valeur is None or r["valeur"] == valeur)
    ]
    assert len(matches) == 1, f"issue attendue ligne={ligne} colonne={colonne!r} « {phrase} » ; trouvé :\n{describe(report)}"
    assert matches[0]["fichier"] == report.file_name
    return matches[0]


def base(month: str = "2025-01", ens: int = 10, service: str = "DDTM-29", dep: str = "29") -> list[list[str]]:
    return service_month_lines(service, dep, month, ens, NOMEN)


def line_of(records: list[list[str]], index: int) -> int:
    """File line of records[index] in csv_text(records) (header is line 1)."""
    return index + 2 if index >= 0 else len(records) + index + 2


def rps(modalite_index: int = 0, effectif: str = "2", month: str = "2025-01") -> list[str]:
    dim = NOMEN.by_relation("independent")[0]
    return [month, "29", "DDTM-29", dim.code, dim.codes[modalite_index], effectif]


AXE = NOMEN.dimension("axe")
PROB = NOMEN.by_relation("multiple")[0]


# --------------------------------------------------------------------------- the base is valid


def test_base_service_month_is_valid(tmp_path, sqlite_store):
    report = imported(run(tmp_path, sqlite_store, csv_text(base())))
    assert report.rows == len(base())


# --------------------------------------------------------------------------- columns


def test_missing_column(tmp_path, sqlite_store):
    records = [r[:5] for r in base()]
    report = refused(run(tmp_path, sqlite_store, csv_text(records, header=REQUIRED[:5])))
    assert_issue(report, 1, "effectif", "colonne obligatoire manquante")
    assert report.issues.height == 1


def test_unknown_column(tmp_path, sqlite_store):
    records = [[*r, "note"] for r in base()]
    report = refused(run(tmp_path, sqlite_store, csv_text(records, header=[*REQUIRED, "commentaire"])))
    issue = assert_issue(report, 1, "commentaire", "colonne inconnue")
    assert "periode, departement, service" in issue["motif"]  # the expected columns are listed
    assert report.issues.height == 1


def test_misspelt_column_is_unknown_and_the_real_one_missing(tmp_path, sqlite_store):
    header = [*REQUIRED[:5], "efectif"]
    report = refused(run(tmp_path, sqlite_store, csv_text(base(), header=header)))
    assert_issue(report, 1, "efectif", "colonne inconnue")
    assert_issue(report, 1, "effectif", "colonne obligatoire manquante")


def test_header_names_are_trimmed_and_case_insensitive(tmp_path, sqlite_store):
    header = [" Periode", "DEPARTEMENT ", "Service", "Dimension", "Modalite", "Effectif"]
    imported(run(tmp_path, sqlite_store, csv_text(base(), header=header)))


# --------------------------------------------------------------------------- periode


@pytest.mark.parametrize("value", ["2025-13", "25-01", "2025/01", "2025-1", "janv. 2025", "2025-00",
                                   "٢٠٢٥-01"])  # Arabic-Indic digits: used to be dropped silently
def test_period_not_yyyy_mm(tmp_path, sqlite_store, value):
    records = base() + [[value, "35", "DDT-35", "ensemble", "ensemble", "4"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "periode", "période attendue au format AAAA-MM", valeur=value)
    assert report.issues.height == 1


def test_period_empty(tmp_path, sqlite_store):
    records = base() + [["", "35", "DDT-35", "ensemble", "ensemble", "4"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "periode", "valeur manquante")
    assert report.issues.height == 1


def test_future_period_refused_current_month_accepted(tmp_path, sqlite_store):
    records = base() + [["2025-07", "35", "DDT-35", "ensemble", "ensemble", "4"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "periode", "période future (le mois en cours est 2025-06)", valeur="2025-07")
    assert report.issues.height == 1
    current = base() + base("2025-06", 7)
    imported(run(tmp_path, sqlite_store, csv_text(current), name="courant.csv"))


def test_period_before_2000(tmp_path, sqlite_store):
    records = base() + [["1999-12", "35", "DDT-35", "ensemble", "ensemble", "4"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "periode", "année hors de la plage plausible")


# --------------------------------------------------------------------------- departement


@pytest.mark.parametrize("value", ["99", "20", "975", "2C", "290"])
def test_unknown_departement(tmp_path, sqlite_store, value):
    records = base() + [["2025-01", value, "DDT-XX", "ensemble", "ensemble", "4"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "departement", "département inconnu", valeur=value.upper())
    assert report.issues.height == 1


def test_departement_normalisations_accepted(tmp_path, sqlite_store):
    records = (
        base()
        + service_month_lines("DDT-01", "1", "2025-01", 6, NOMEN)  # Ain written without its leading zero
        + service_month_lines("ddt-2a", "2a", "2025-01", 8, NOMEN)  # lower case code and département
        + service_month_lines("DEAL-971", " 971 ", "2025-01", 5, NOMEN)  # spaces around
    )
    imported(run(tmp_path, sqlite_store, csv_text(records)))
    deps = {code: dep for code, dep, _label, _type in service_rows(sqlite_store)}
    assert deps == {"DDTM-29": "29", "DDT-01": "01", "DDT-2A": "2A", "DEAL-971": "971"}


# --------------------------------------------------------------------------- service


def test_empty_service(tmp_path, sqlite_store):
    records = base() + [["2025-01", "35", "", "ensemble", "ensemble", "4"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "service", "service vide")
    assert report.issues.height == 1


def test_service_code_with_spaces_refused(tmp_path, sqlite_store):
    records = base() + [["2025-01", "35", "DDT 35", "ensemble", "ensemble", "4"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "service", "code de service invalide")


def test_service_in_two_departements_within_the_file(tmp_path, sqlite_store):
    records = base() + base("2025-02", 12, "DDTM-29", "56")
    first_56 = line_of(records, len(base()))
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, first_56, "departement",
                 "le service DDTM-29 figure déjà dans le département 29 (ligne 2) : un service appartient à un seul département",
                 valeur="56")
    assert report.issues.height == 1


def test_service_in_another_departement_than_in_the_store(tmp_path, engine):
    imported(run(tmp_path, engine, csv_text(base()), name="janvier.csv"))
    records = base("2025-02", 12, "DDTM-29", "56")
    report = refused(run(tmp_path, engine, csv_text(records), name="fevrier.csv"))
    assert_issue(report, 2, "departement", "le service DDTM-29 est rattaché au département 29 dans la base", valeur="56")
    assert report.issues.height == 1


# --------------------------------------------------------------------------- dimension, modalite


def test_unknown_dimension(tmp_path, sqlite_store):
    records = base() + [["2025-01", "29", "DDTM-29", "axes", "prevention_rps", "4"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    issue = assert_issue(report, line_of(records, -1), "dimension", "dimension inconnue", valeur="axes")
    assert "ensemble, problematique, axe" in issue["motif"]
    assert report.issues.height == 1


def test_empty_dimension_is_refused_not_dropped(tmp_path, sqlite_store):
    """An empty dimension must be reported; it used to be dropped silently and the file loaded without it."""
    records = base() + [["2025-01", "29", "DDTM-29", "", "violences_physiques", "4"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "dimension", "valeur manquante")
    assert aggregate_rows(sqlite_store) == set()


@pytest.mark.parametrize("dimension, modalite", [
    ("axe", "prevention_rpss"),  # typo
    ("axe", "individuel"),  # a code of another dimension
    ("ensemble", "total"),
    ("axe", ""),
])
def test_unknown_modalite_for_its_dimension(tmp_path, sqlite_store, dimension, modalite):
    records = base() + [["2025-01", "29", "DDTM-29", dimension, modalite, "0"]]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "modalite", f"modalité inconnue pour la dimension « {dimension} »")
    assert report.issues.height == 1


def test_dimension_and_modalite_are_case_insensitive(tmp_path, sqlite_store):
    records = [[m, d, s, dim.upper(), mod.upper(), n] for m, d, s, dim, mod, n in base()]
    imported(run(tmp_path, sqlite_store, csv_text(records)))
    assert ("2025-01", "DDTM-29", "axe", AXE.codes[0], 5) in aggregate_rows(sqlite_store)


# --------------------------------------------------------------------------- effectif


@pytest.mark.parametrize("value, phrase", [
    ("-1", "nombre négatif"),
    ("- 3", "nombre négatif"),
    ("2.5", "nombre non entier"),
    ("2,5", "nombre non entier"),
    ("abc", "nombre entier attendu"),
    ("1e3", "nombre entier attendu"),
    ("1 000", "nombre entier attendu"),
    ("٣", "nombre entier attendu"),  # an Arabic-Indic digit: \d matches it, Int64 does not
    ("", "valeur manquante"),
])
def test_count_not_a_whole_number(tmp_path, sqlite_store, value, phrase):
    records = base() + [rps(2, value)]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "effectif", phrase)
    assert report.issues.height == 1


def test_whole_numbers_written_as_decimals_accepted(tmp_path, sqlite_store):
    records = base() + [rps(2, "3.0"), rps(3, "4,00"), rps(4, "007")]
    imported(run(tmp_path, sqlite_store, csv_text(records)))
    rows = aggregate_rows(sqlite_store)
    dim = NOMEN.by_relation("independent")[0]
    assert {("2025-01", "DDTM-29", dim.code, dim.codes[i], n) for i, n in ((2, 3), (3, 4), (4, 7))} <= rows


@pytest.mark.parametrize("value", ["100001", "2500000", "99999999999999999999"])
def test_absurd_count(tmp_path, sqlite_store, value):
    records = base() + [rps(2, value)]
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "effectif", "valeur aberrante")
    assert report.issues.height == 1
    assert aggregate_rows(sqlite_store) == set()


def test_overflowing_ensemble_is_refused_not_dropped(tmp_path, sqlite_store):
    """A count beyond 64 bits on the ensemble line used to vanish: the file loaded without its ensemble."""
    records = base()
    records[0][5] = "99999999999999999999"
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, 2, "effectif", "valeur aberrante")
    assert aggregate_rows(sqlite_store) == set()


def test_count_at_the_maximum_accepted(tmp_path, sqlite_store):
    imported(run(tmp_path, sqlite_store, csv_text(base() + [rps(2, "100000")])))


# --------------------------------------------------------------------------- duplicates


def test_duplicate_key_names_the_first_line(tmp_path, sqlite_store):
    records = base()
    first = next(i for i, r in enumerate(records) if r[3] == "rps")
    dup = list(records[first])
    dup[3], dup[4], dup[5] = " RPS ", dup[4].upper(), "9"  # same key once normalised, other count
    records.append(dup)
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, -1), "modalite", f"doublon de la ligne {line_of(records, first)}")
    assert report.issues.height == 1


def test_same_cell_in_two_months_is_not_a_duplicate(tmp_path, sqlite_store):
    imported(run(tmp_path, sqlite_store, csv_text(base() + base("2025-02", 11))))


# --------------------------------------------------------------------------- relations to ensemble


def test_partition_not_adding_up(tmp_path, sqlite_store):
    records = base()  # ensemble 10 on line 2
    i = next(k for k, r in enumerate(records) if r[3] == "axe")
    records[i][5] = str(int(records[i][5]) - 1)
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, 2, "effectif",
                 "dimension « axe » : la somme des modalités (9) diffère de l'ensemble (10) pour DDTM-29 en 2025-01",
                 valeur="10")
    assert report.issues.height == 1


def test_partition_missing_in_one_service_month_sums_to_zero(tmp_path, sqlite_store):
    second = [r for r in base("2025-02", 12) if r[3] != "mode"]
    records = base() + second
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, len(base())), "effectif",
                 "dimension « mode » : la somme des modalités (0) diffère de l'ensemble (12) pour DDTM-29 en 2025-02")
    assert report.issues.height == 1


def test_multiple_response_above_ensemble(tmp_path, sqlite_store):
    records = base()
    i = next(k for k, r in enumerate(records) if r[3] == PROB.code)
    assert records[i][5] == "10"  # equal to ensemble: accepted in the base
    records[i][5] = "11"
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, i), "effectif", "plus que l'ensemble (10)", valeur="11")
    assert report.issues.height == 1


def test_rows_without_ensemble_for_their_service_month(tmp_path, sqlite_store):
    orphan = [r for r in base("2025-02", 12) if r[3] != "ensemble"]
    records = base() + orphan
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, line_of(records, len(base())), "dimension",
                 "aucune ligne « ensemble » pour DDTM-29 en 2025-02")
    assert report.issues.height == 1


# --------------------------------------------------------------------------- the container


XLSX = xlsx_bytes(aggregates_frame(["2025-01"]))
PARQUET = parquet_bytes(aggregates_frame(["2025-01"]))
CSV = csv_bytes(aggregates_frame(["2025-01"]))


@pytest.mark.parametrize("name, data, phrase", [
    ("agregats.xlsx", CSV, "porte l'extension .xlsx mais son contenu est un texte"),
    ("agregats.csv", XLSX, "porte l'extension .csv mais son contenu est un classeur Excel (ZIP)"),
    ("agregats.parquet", CSV, "porte l'extension .parquet mais son contenu est un texte"),
    ("agregats.csv", PARQUET, "porte l'extension .csv mais son contenu est un fichier Parquet"),
    ("agregats.xlsx", PARQUET, "porte l'extension .xlsx mais son contenu est un fichier Parquet"),
    ("agregats.parquet", XLSX, "porte l'extension .parquet mais son contenu est un classeur Excel (ZIP)"),
    ("agregats.csv", b"\x00\x01\x02binaire", "contenu est un fichier binaire"),
    ("agregats.csv", "periode;service\n".encode("utf-16"), "contenu est un fichier binaire"),
    ("agregats.xlsx", XLSX[: len(XLSX) // 2], "classeur Excel illisible"),
    ("agregats.parquet", PARQUET[:-8] + b"PAR1", "fichier Parquet illisible"),
    ("agregats.pdf", CSV, "extension « .pdf » non prise en charge"),
    ("agregats", CSV, "extension « (aucune) » non prise en charge"),
])
def test_file_not_what_its_name_says(tmp_path, sqlite_store, name, data, phrase):
    report = refused(run(tmp_path, sqlite_store, data, name=name))
    assert_issue(report, None, "", phrase)
    assert report.issues.height == 1
    assert report.message == "Fichier refusé : illisible."


def test_truncated_parquet_says_so(tmp_path, sqlite_store):
    """A Parquet file cut short starts with PAR1 but does not end with it: the reason must not say
    « extension .parquet mais son contenu est un fichier Parquet » (self-contradictory)."""
    report = refused(run(tmp_path, sqlite_store, PARQUET[: len(PARQUET) // 2], name="agregats.parquet"))
    motif = report.issues["motif"][0]
    assert "illisible" in motif or "tronqué" in motif, motif
    assert "mais son contenu est un fichier Parquet" not in motif


def test_undecodable_text(tmp_path, sqlite_store):
    # 0x81 is undefined in Windows-1252 and invalid in UTF-8.
    data = csv_text(base()).encode("cp1252") + b"\x81\n"
    report = refused(run(tmp_path, sqlite_store, data))
    assert_issue(report, None, "", "encodage illisible")


@pytest.mark.parametrize("data, phrase", [
    (b"", "fichier vide"),
    (b"\n \r\n\t\n", "fichier vide"),
    (b"\xef\xbb\xbf", "fichier vide"),
])
def test_empty_file(tmp_path, sqlite_store, data, phrase):
    report = refused(run(tmp_path, sqlite_store, data))
    assert phrase in report.issues["motif"][0]
    assert report.issues.height == 1


@pytest.mark.parametrize("tail", ["", "\n\n;;;;;\n"])
def test_header_only(tmp_path, sqlite_store, tail):
    report = refused(run(tmp_path, sqlite_store, ";".join(REQUIRED) + "\n" + tail))
    assert_issue(report, 2, "", "aucune ligne de données")
    assert report.issues.height == 1


def test_header_only_xlsx(tmp_path, sqlite_store):
    report = refused(run(tmp_path, sqlite_store, xlsx_bytes(aggregates_frame(["2025-01"]).clear()), name="vide.xlsx"))
    assert_issue(report, 2, "", "aucune ligne de données")


def test_absurdly_long_value(tmp_path, sqlite_store):
    header = [*REQUIRED, "libelle_service"]
    records = [[*r, "DDTM du Finistère"] for r in base()]
    records[3][6] = "x" * 300
    report = refused(run(tmp_path, sqlite_store, csv_text(records, header=header)))
    issue = assert_issue(report, 5, "libelle_service", "valeur anormalement longue (300 caractères, au plus 255)")
    assert issue["valeur"] == "x" * 80  # the value is shown, truncated
    assert report.issues.height == 1


def test_control_character_in_a_value(tmp_path, sqlite_store):
    header = [*REQUIRED, "libelle_service"]
    records = [[*r, "DDTM du Finistère"] for r in base()]
    records[1][6] = "DDTM\x07"
    report = refused(run(tmp_path, sqlite_store, csv_text(records, header=header)))
    assert_issue(report, 3, "libelle_service", "caractère de contrôle")


def test_too_many_columns(tmp_path, sqlite_store):
    header = REQUIRED + [f"x{i}" for i in range(54)]
    records = [[*r, *["1"] * 54] for r in base()]
    report = refused(run(tmp_path, sqlite_store, csv_text(records, header=header)))
    assert_issue(report, 1, "", "fichier aberrant : 60 colonnes (au plus 40)", valeur="60")
    assert report.issues.height == 1


@pytest.mark.parametrize("quoted", [False, True], ids=["fast_reader", "record_reader"])
def test_duplicated_column(tmp_path, sqlite_store, quoted):
    """Used to crash with polars' DuplicateError when the file had a quote (record reader), and to
    report an invented column « service_duplicated_0 » otherwise."""
    header = [*REQUIRED, " Service"]
    records = [[*r, r[2]] for r in base()]
    if quoted:
        records[0][2] = '"DDTM-29"'
    report = refused(run(tmp_path, sqlite_store, csv_text(records, header=header)))
    assert_issue(report, 1, "service", "colonne en double")
    assert report.issues.height == 1


def test_several_unnamed_columns(tmp_path, sqlite_store):
    records = [[*r, "", ""] for r in base()]
    report = refused(run(tmp_path, sqlite_store, csv_text(records, header=[*REQUIRED, "", ""])))
    assert_issue(report, 1, "", "plusieurs colonnes sans nom")


def test_bad_type_service(tmp_path, sqlite_store):
    header = [*REQUIRED, "type_service"]
    records = [[*r, "DDTM"] for r in base()]  # upper case is accepted
    records[4][6] = "préfecture"
    report = refused(run(tmp_path, sqlite_store, csv_text(records, header=header)))
    assert_issue(report, 6, "type_service", "type de service inconnu de la nomenclature", valeur="préfecture")
    # Knock-on issues are allowed (the line is not counted, the service has two types) but stay on that line
    # or on the ensemble line of its service-month.
    assert set(report.issues["ligne"].to_list()) <= {2, 6}


def test_type_service_matched_without_case(tmp_path, sqlite_store):
    header = [*REQUIRED, "type_service"]
    records = [[*r, "DdTm"] for r in base()]
    imported(run(tmp_path, sqlite_store, csv_text(records, header=header)))
    assert {t for *_x, t in service_rows(sqlite_store)} == {"ddtm"}


# --------------------------------------------------------------------------- all errors at once


def test_every_error_reported_at_once(tmp_path, sqlite_store):
    records = base()
    records[1][0] = "2025-13"  # line 3: period
    records[2][1] = "99"  # line 4: département
    records[3][3] = "axes"  # line 5: dimension
    i = next(k for k, r in enumerate(records) if r[3] == PROB.code)
    records[i][5] = "-4"  # negative count
    records.append(list(records[-1]))  # duplicate of the previous line
    records.append(["2025-02", "29", "DDTM-29", "ensemble", "ensemble", "12,5"])  # non-whole count
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, 3, "periode", "période attendue au format AAAA-MM")
    assert_issue(report, 4, "departement", "département inconnu")
    assert_issue(report, 5, "dimension", "dimension inconnue")
    assert_issue(report, line_of(records, i), "effectif", "nombre négatif")
    assert_issue(report, line_of(records, -2), "modalite", f"doublon de la ligne {line_of(records, -3)}")
    assert_issue(report, line_of(records, -1), "effectif", "nombre non entier")
    assert report.issues.height >= 6
    assert f"{report.issues.height} erreurs" in report.message
    # Sorted by line, so that a person can walk through the file.
    lines = [x for x in report.issues["ligne"].to_list() if x is not None]
    assert lines == sorted(lines)


# --------------------------------------------------------------------------- the errors CSV


def test_issues_csv_is_semicolon_separated_and_neutralises_formulas(tmp_path, sqlite_store):
    formula = '=HYPERLINK("http://exemple.invalid/x","clic")'
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")
    writer.writerow(REQUIRED)
    writer.writerows(base())
    writer.writerow(["2025-01", "35", formula, "ensemble", "ensemble", "4"])
    writer.writerow(["2025-01", "29", "DDTM-29", "rps", NOMEN.by_relation("independent")[0].codes[3], "-2"])
    report = refused(run(tmp_path, sqlite_store, buffer.getvalue(), name="+agregats.csv"))

    data = issues_csv(report)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    assert text.splitlines()[0] == "fichier;ligne;colonne;valeur;motif"
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert all(len(r) == 5 for r in rows)
    body = rows[1:]
    assert len(body) == report.issues.height
    service_issue = next(r for r in body if r[2] == "service")
    assert service_issue[1] == str(len(base()) + 2)
    assert service_issue[3].startswith("'=")
    assert "HYPERLINK" in service_issue[3].upper()
    negative = next(r for r in body if r[2] == "effectif")
    assert negative[3] == "'-2"
    assert all(r[0] == "'+agregats.csv" for r in body)
    for r in body:
        for cell in r:
            assert not cell.startswith(("=", "+", "-", "@")), r


# --------------------------------------------------------------------------- line numbers


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_quoted_multiline_fields_keep_exact_line_numbers(tmp_path, sqlite_store, newline):
    header = [*REQUIRED, "libelle_service"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator=newline)
    writer.writerow(header)
    records = [[*r, "DDTM du Finistère"] for r in base()]
    records[0][6] = "DDTM du Finistère" + newline + "(Quimper)" + newline + "site principal"  # 3 physical lines
    records[5][6] = 'DDTM "mer et littoral"' + newline + "Brest"  # 2 physical lines, quotes inside
    bad = rps(2, "-1") + ["marqueur-erreur"]
    writer.writerows(records + [bad])
    text = buffer.getvalue()
    expected = text[: text.index("marqueur-erreur")].count("\n") + 1
    assert expected == len(records) + 2 + 3  # header, records, and the 3 extra physical lines
    report = refused(run(tmp_path, sqlite_store, text))
    assert_issue(report, expected, "effectif", "nombre négatif")
    assert report.issues.height == 1
    # The multi-line value itself is kept whole.
    fixed = text.replace(";-1;marqueur-erreur", ";1;marqueur-erreur")
    imported(run(tmp_path, sqlite_store, fixed, name="corrige.csv"))
    libelle = {label for code, _d, label, _t in service_rows(sqlite_store) if code == "DDTM-29"}
    assert libelle == {records[0][6]}


def test_blank_lines_do_not_shift_line_numbers(tmp_path, sqlite_store):
    records = base()
    text = csv_text(records[:3]) + "\n\n" + csv_text(records[3:] + [rps(2, "abc")], header=[]).lstrip("\n")
    # lines: 1 header, 2-4 records, 5-6 blank, then records[3:] from line 7
    expected = 1 + 3 + 2 + len(records[3:]) + 1
    report = refused(run(tmp_path, sqlite_store, text))
    assert_issue(report, expected, "effectif", "nombre entier attendu")


@pytest.mark.parametrize("quoted", [False, True], ids=["fast_reader", "record_reader"])
def test_ragged_line_with_too_many_fields(tmp_path, sqlite_store, quoted):
    records = base()
    if quoted:
        records[0][2] = '"DDTM-29"'
    records.insert(4, [*rps(3), "en trop"])
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert_issue(report, 6, "", "7 champs au lieu de 6 (séparateur « ; »)")
    assert report.issues.height == 1


def test_ragged_line_with_too_few_fields_is_reported_at_its_line(tmp_path, sqlite_store):
    records = base()
    records.insert(4, rps(3)[:5])
    report = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert {r["ligne"] for r in report.issues.iter_rows(named=True)} == {6}, describe(report)


def test_xlsx_errors_name_the_sheet_row_even_after_blank_rows(tmp_path, sqlite_store):
    """`_ligne` is the sheet row a person sees: blank rows in the sheet must not shift it."""
    import xlsxwriter

    buffer = io.BytesIO()
    records = base()
    with xlsxwriter.Workbook(buffer) as workbook:
        sheet = workbook.add_worksheet("donnees")
        sheet.write_row(0, 0, REQUIRED)
        for i, r in enumerate(records[:4]):
            sheet.write_row(1 + i, 0, r[:5] + [int(r[5])])
        # rows 6 and 7 (1-based) left blank
        for i, r in enumerate(records[4:]):
            sheet.write_row(7 + i, 0, r[:5] + [int(r[5])])
        bad_row = 7 + len(records[4:])
        sheet.write_row(bad_row, 0, rps(2, "x")[:5] + [-3])
    report = refused(run(tmp_path, sqlite_store, buffer.getvalue(), name="agregats.xlsx"))
    assert_issue(report, bad_row + 1, "effectif", "nombre négatif")


def test_parquet_errors_name_the_row_number(tmp_path, sqlite_store):
    frame = aggregates_frame(["2025-01"], SERVICES_ONE).with_columns(pl.col("effectif").cast(pl.String))
    frame = pl.concat([frame, pl.DataFrame([["2025-01", "29", "DDTM-29", "", "", "rps", "violences_physiques", "abc"]],
                                           schema=frame.schema, orient="row")])
    report = refused(run(tmp_path, sqlite_store, parquet_bytes(frame), name="agregats.parquet"))
    assert_issue(report, frame.height, "effectif", "nombre entier attendu")  # row numbers start at 1


SERVICES_ONE = (("DDTM-29", "29", "DDTM du Finistère", "ddtm"),)


# --------------------------------------------------------------------------- headcounts


def test_headcount_rules(tmp_path, sqlite_store):
    frame = headcount_frame().with_columns(pl.all().cast(pl.String))
    bad = pl.DataFrame(
        [["25", "29", "DDTM-29", "", "", "10"],
         ["2025", "29", "DDTM-29", "", "", "11"],
         ["2024", "99", "DDT-99", "", "", "10"],
         ["2024", "35", "DDT-35", "", "", "-3"],
         ["2031", "35", "DDT-35", "", "", "4"],
         ["2024", "56", "DDTM-56", "", "", "300000"],
         ["٢٠٢٤", "56", "DDTM-56", "", "", "30"]],  # Arabic-Indic digits: used to be dropped silently
        schema=frame.schema, orient="row")
    data = csv_bytes(pl.concat([frame, bad]))
    report = refused(run(tmp_path, sqlite_store, data, name="effectifs.csv"))
    assert report.kind == "effectifs"
    n = frame.height + 1  # last valid line
    assert_issue(report, n + 1, "annee", "année attendue sur quatre chiffres")
    first_2025 = 2 + frame["annee"].to_list().index("2025")
    assert_issue(report, n + 2, "annee", f"doublon de la ligne {first_2025}")
    assert_issue(report, n + 3, "departement", "département inconnu")
    assert_issue(report, n + 4, "effectif_agents", "nombre négatif")
    assert_issue(report, n + 5, "annee", "année hors de la plage plausible (2000 à 2026)")
    assert_issue(report, n + 6, "effectif_agents", "valeur aberrante")
    assert_issue(report, n + 7, "annee", "année attendue sur quatre chiffres")


def test_headcount_missing_column(tmp_path, sqlite_store):
    data = csv_bytes(headcount_frame().drop("departement"))
    report = refused(run(tmp_path, sqlite_store, data, name="effectifs.csv"))
    assert_issue(report, 1, "departement", "colonne obligatoire manquante")


def test_headcount_columns_are_recognised(tmp_path, sqlite_store):
    report = imported(run(tmp_path, sqlite_store, csv_bytes(headcount_frame()), name="effectifs.csv"))
    assert report.kind == "effectifs"
    assert list(headcount_frame().columns) == HEAD_COLUMNS


def test_identical_refused_file_is_refused_again(tmp_path, sqlite_store):
    """A refused file leaves no trace: submitting it again gives the same refusal (not deja_importe)."""
    records = base() + [rps(2, "-1")]
    first = refused(run(tmp_path, sqlite_store, csv_text(records)))
    second = refused(run(tmp_path, sqlite_store, csv_text(records)))
    assert second.status != ALREADY
    assert first.issues.equals(second.issues)


def test_a_trailing_separator_from_a_spreadsheet_is_not_a_column(tmp_path):
    """Excel often writes `…;effectif;`: an unnamed, empty last column is ignored."""
    from analytics.ingest.reading import read_bytes

    text = "periode;departement;service;dimension;modalite;effectif;\n2025-01;29;DDTM-29;ensemble;ensemble;3;\n"
    raw = read_bytes(text.encode("utf-8"), "export-excel.csv")
    assert [c for c in raw.frame.columns if c != "_ligne"] == ["periode", "departement", "service", "dimension", "modalite", "effectif"]
