"""`python -m analytics report`: the file written, the stored comment in it, exit codes 0 / 1 / 2, French messages."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import docx
import openpyxl
import pypdf
import pytest

from analytics import report_comments
from analytics.cli import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, main

ROOT = Path(__file__).resolve().parents[1]


def test_a_regional_bilan_in_word_carries_the_stored_comment(published_rps_copy, tmp_path, capsys):
    report_comments.save_comment(published_rps_copy, "bilan-regional", "53", 2025, "Mobilisation des équipes sur la prévention.", "CTSS Bretagne")
    out = tmp_path / "bilans" / "bretagne.docx"
    code = main(["report", "--type", "bilan-regional", "--year", "2025", "--region", "53", "--format", "docx", "--output", str(out)])
    assert code == EXIT_OK
    assert f"Rapport écrit dans {out}" in capsys.readouterr().out
    document = docx.Document(io.BytesIO(out.read_bytes()))
    assert document.paragraphs[0].text.startswith("Bilan annuel du service social 2025")
    assert "Mobilisation des équipes sur la prévention." in [p.text for p in document.paragraphs if p.style.name == "Intense Quote"]


def test_the_national_synthesis_as_a_workbook(published_rps, tmp_path):
    out = tmp_path / "synthese.xlsx"
    assert main(["report", "--type", "synthese-nationale", "--year", "2025", "--format", "xlsx", "--output", str(out)]) == EXIT_OK
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[0] == "Sommaire" and "Régions" in book.sheetnames


def test_a_fiche_for_two_services_as_pdf_through_the_real_command(published_rps, tmp_path):
    out = tmp_path / "fiche.pdf"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "analytics", "report", "--type", "fiche-f3sct", "--year", "2025",
                           "--service", "DDTM-29", "DM-29", "--format", "pdf", "--output", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == EXIT_OK, done.stderr
    assert "[100 %] Document prêt" in done.stderr
    text = " ".join(page.extract_text() for page in pypdf.PdfReader(out).pages)
    assert "Fiche F3SCT 2025" in " ".join(text.split()) and "DDTM du Finistère" in text


@pytest.mark.parametrize("argv, message", [
    (["--type", "bilan-regional", "--year", "2025", "--region", "99"], "région inconnue"),
    (["--type", "bilan-regional", "--year", "2025"], "demande une région"),
    (["--type", "bilan-regional", "--year", "2031", "--region", "53"], "L'année 2031 n'est pas publiée"),
    (["--type", "fiche-f3sct", "--year", "2025"], "au moins un service"),
    (["--type", "fiche-f3sct", "--year", "2025", "--service", "XYZ-00"], "Service inconnu"),
])
def test_refused_requests_exit_1_with_a_french_message(published_rps, tmp_path, capsys, argv, message):
    out = tmp_path / "r.pdf"
    assert main(["report", *argv, "--format", "pdf", "--output", str(out)]) == EXIT_REFUSED
    assert message.lower() in capsys.readouterr().err.lower()
    assert not out.exists()


def test_without_a_publication_the_report_is_refused(tmp_path, capsys):
    assert main(["report", "--type", "synthese-nationale", "--year", "2025", "--format", "pdf",
                 "--output", str(tmp_path / "s.pdf")]) == EXIT_REFUSED
    assert "Aucune publication" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [
    ["--type", "rapport", "--year", "2025", "--format", "pdf", "--output", "x.pdf"],
    ["--type", "synthese-nationale", "--year", "deux-mille", "--format", "pdf", "--output", "x.pdf"],
    ["--type", "synthese-nationale", "--year", "2025", "--format", "odt", "--output", "x.odt"],
    ["--type", "synthese-nationale", "--year", "2025", "--format", "pdf"],
])
def test_usage_errors_exit_2_in_french(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["report", *argv])
    assert stop.value.code == EXIT_USAGE
    assert "erreur d'utilisation" in capsys.readouterr().err
