"""`python -m analytics import | history | rollback` as a person runs them: real processes, real files,
a store in a temporary VIGIE_DATA_DIR. Exit codes: 0 success, 1 refused, 2 usage error."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ingest_files import aggregates_frame, csv_bytes, csv_text, service_month_lines, write

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(tmp_path: Path):
    data_dir = tmp_path / "donnees"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    env.update(VIGIE_DATA_DIR=str(data_dir), VIGIE_USER="Camille Test", PYTHONIOENCODING="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "analytics", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, encoding="utf-8", timeout=120)

    run.data_dir = data_dir
    return run


def test_import_history_rollback(tmp_path, cli):
    data = csv_bytes(aggregates_frame())
    path = write(tmp_path, "agregats_T1.csv", data)

    done = cli("import", str(path))
    assert done.returncode == 0, done.stderr
    assert "Lot 1 importé (agrégats) : 144 lignes, 2 services, période janv. 2025 à mars 2025." in done.stdout
    assert "Import de" in done.stderr  # progress goes to stderr, the result to stdout
    assert (cli.data_dir / "vigie.sqlite").is_file()  # the store lives in VIGIE_DATA_DIR

    again = cli("import", str(path))
    assert again.returncode == 0
    assert "déjà importé (lot 1)" in again.stdout

    listed = cli("history")
    assert listed.returncode == 0, listed.stderr
    line = next(x for x in listed.stdout.splitlines() if x.startswith("lot    1"))
    for part in ("actif", "agregats", "144 lignes", "2025-01 à 2025-03", "agregats_T1.csv", "Camille Test",
                 hashlib.sha256(data).hexdigest()[:12]):
        assert part in line, (part, line)
    assert len(listed.stdout.strip().splitlines()) == 1  # the identical re-import made no batch

    undone = cli("rollback", "1")
    assert undone.returncode == 0, undone.stderr
    assert undone.stdout.strip() == "Lot 1 annulé : 144 lignes retirées."

    twice = cli("rollback", "1")
    assert twice.returncode == 1
    assert "Annulation refusée : le lot 1 est déjà annulé" in twice.stderr

    missing = cli("rollback", "42")
    assert missing.returncode == 1
    assert "lot 42 introuvable" in missing.stderr

    assert "annule" in cli("history").stdout


def test_refused_file_exit_1_with_french_report_and_errors_csv(tmp_path, cli):
    records = service_month_lines()
    records[3][5] = "-2"  # line 5
    records.append(["2025-13", "29", "DDTM-29", "ensemble", "ensemble", "4"])  # line 26
    path = write(tmp_path, "agregats_faux.csv", csv_text(records).encode())
    out = tmp_path / "rapport" / "erreurs.csv"
    out.parent.mkdir()

    done = cli("import", str(path), "--errors-csv", str(out))
    assert done.returncode == 1
    assert done.stdout == ""
    assert "Fichier refusé" in done.stderr and "Rien n'a été chargé" in done.stderr
    assert "agregats_faux.csv, ligne 5, colonne « effectif » (valeur « -2 ») : nombre négatif" in done.stderr
    assert "agregats_faux.csv, ligne 26, colonne « periode » (valeur « 2025-13 ») : période attendue au format AAAA-MM" in done.stderr
    assert f"Rapport d'erreurs écrit dans {out}" in done.stderr

    rows = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["fichier", "ligne", "colonne", "valeur", "motif"]
    body = {(r[1], r[2]) for r in rows[1:]}
    assert {("5", "effectif"), ("26", "periode")} <= body

    assert cli("history").stdout.strip() == "Aucun import."  # nothing was written


def test_max_errors_truncates_the_listing(tmp_path, cli):
    records = service_month_lines()
    records += [["2025-01", "29", "DDTM-29", "rps", "violences_physiques", v] for v in ("a", "b", "c")]
    path = write(tmp_path, "beaucoup.csv", csv_text(records).encode())
    done = cli("import", str(path), "--max-errors", "1")
    assert done.returncode == 1
    assert "… et " in done.stderr and "--errors-csv" in done.stderr


def test_several_files_load_the_good_ones_and_exit_1(tmp_path, cli):
    good = write(tmp_path, "bon.csv", csv_bytes(aggregates_frame(["2025-01"])))
    bad = write(tmp_path, "mauvais.xlsx", b"periode;service\n")
    done = cli("import", str(good), str(bad))
    assert done.returncode == 1
    assert "Lot 1 importé" in done.stdout
    assert "mauvais.xlsx" in done.stderr and "porte l'extension .xlsx" in done.stderr


def test_replace_option(tmp_path, cli):
    assert cli("import", str(write(tmp_path, "base.csv", csv_bytes(aggregates_frame())))).returncode == 0
    correction = write(tmp_path, "correction.csv", csv_bytes(aggregates_frame(["2025-03"], bump=2)))
    refused = cli("import", str(correction))
    assert refused.returncode == 1
    assert "2 mois-services de ce fichier sont déjà chargés (lots 1)" in refused.stderr
    assert "--replace" in refused.stderr
    replaced = cli("import", "--replace", str(correction))
    assert replaced.returncode == 0, replaced.stderr
    assert "Lot 2 importé" in replaced.stdout and "2 mois-services remplacés" in replaced.stdout


@pytest.mark.parametrize("args, phrase", [
    (("import", "/nonexistent/absent.csv"), "Fichier introuvable : /nonexistent/absent.csv"),
    (("import", "--frobnicate", "x.csv"), "erreur d'utilisation"),
    (("import",), "erreur d'utilisation"),
    (("frobnicate",), "erreur d'utilisation"),
    ((), "erreur d'utilisation"),
    (("rollback", "un"), "erreur d'utilisation"),
])
def test_usage_errors_exit_2(tmp_path, cli, args, phrase):
    done = cli(*args)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert phrase in done.stderr
    assert not (cli.data_dir / "vigie.sqlite").exists()  # a usage error touches no store
