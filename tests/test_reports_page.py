"""AppTest: the Rapports page, its scopes, the comment kept with the publication (and refused with personal data),
the report produced with it."""

from __future__ import annotations

import io

import docx
import pytest

from analytics import report_comments
from analytics.publications import publish
from analytics.store import get_engine
from analytics.views import latest_publication
from publication_data import frame, load
from test_dashboard_pages import run_page

PAGE = "pages/rapports.py"


def test_nothing_published_says_so():
    at = run_page(PAGE)
    assert any("Aucune publication" in i.value for i in at.info)
    assert not at.button


def test_a_national_user_chooses_any_report_and_region(published_rps):
    at = run_page(PAGE)
    assert at.radio(key="r_type").options == ["Bilan régional annuel", "Synthèse nationale", "Fiche F3SCT"]
    assert at.selectbox(key="r_region").options == ["Bretagne", "Corse"]
    assert at.selectbox(key="r_annee").options == ["2025", "2024"]


def test_a_regional_user_has_its_region_only_and_no_national_synthesis(published_rps, monkeypatch):
    at = run_page(PAGE, monkeypatch, scope="53", role="regional")
    assert at.radio(key="r_type").options == ["Bilan régional annuel", "Fiche F3SCT"]
    assert not [s for s in at.selectbox if s.key == "r_region"]
    assert at.text_input(key="r_region_fixe").value == "Bretagne"
    at.radio(key="r_type").set_value("fiche-f3sct").run()
    services = at.multiselect(key="r_services").options
    assert "DDTM du Finistère (DDTM-29)" in services and "DDT de Corse-du-Sud (DDT-2A)" not in services


def test_a_local_user_makes_a_fiche_on_its_own_service(published_rps, monkeypatch):
    at = run_page(PAGE, monkeypatch, scope="DDTM-29", role="local")
    assert at.radio(key="r_type").options == ["Fiche F3SCT"]
    assert at.multiselect(key="r_services").options == ["DDTM du Finistère (DDTM-29)"]


def test_the_comment_is_saved_then_in_the_report_downloaded(published_rps_copy, monkeypatch):
    monkeypatch.setenv("VIGIE_USER", "Claire, CTSS Bretagne")
    at = run_page(PAGE)
    text = "Les réorganisations pèsent sur les équipes ; deux actions collectives ont été menées."
    at.text_area[0].set_value(text).run()
    at.button(key="r_enregistrer").click().run()
    assert not at.exception
    assert any("Commentaire enregistré" in s.value for s in at.success)
    saved = report_comments.read_comment(published_rps_copy, "bilan-regional", "53", 2025)
    assert saved.text == text and saved.author == "Claire, CTSS Bretagne" and not saved.inherited
    assert any("Enregistré par Claire, CTSS Bretagne" in c.value for c in at.caption)
    at.button(key="r_preparer").click().run()
    assert not at.exception and not at.error
    ready = at.session_state["r_fichier"]
    assert ready["name"] == "bilan-regional-53-2025.docx"
    assert [b.label for b in at.get("download_button")] == ["Télécharger bilan-regional-53-2025.docx"]
    document = docx.Document(io.BytesIO(ready["data"]))
    assert text in [p.text for p in document.paragraphs if p.style.name == "Intense Quote"]


def test_personal_data_is_refused_and_a_name_is_warned_about(published_rps):  # shared: a refusal writes nothing
    at = run_page(PAGE)
    at.text_area[0].set_value("Voir avec M. Durand, joignable au 06 12 34 56 78.").run()
    assert any("civilité" in w.value for w in at.warning)
    at.button(key="r_enregistrer").click().run()
    assert any("numéro de téléphone" in e.value for e in at.error)
    assert report_comments.read_comment(published_rps, "bilan-regional", "53", 2025) is None


def test_a_comment_of_an_earlier_publication_is_offered_for_the_new_one(published_rps_copy, tmp_path):
    report_comments.save_comment(published_rps_copy, "synthese-nationale", "FR", 2025, "Texte de la première publication.", "Pôle national")
    load(tmp_path, get_engine(), frame(bump={2025: 1}), name="corrige.csv", replace=True)
    assert publish("Camille", engine=get_engine()).ok
    newer = latest_publication().number
    found = report_comments.read_comment(newer, "synthese-nationale", "FR", 2025)
    assert found.text == "Texte de la première publication." and found.inherited and found.publication == published_rps_copy
    at = run_page(PAGE)
    at.radio(key="r_type").set_value("synthese-nationale").run()
    assert at.text_area[0].value == "Texte de la première publication."
    assert any(f"pour la publication n° {published_rps_copy}" in c.value for c in at.caption)
    history = report_comments.comment_history(newer, "synthese-nationale", "FR", 2025)
    assert [c.publication for c in history] == [published_rps_copy]


@pytest.mark.parametrize("text, problem", [
    ("écrire à jean.dupont@example.org", "une adresse électronique"),
    ("appeler le 01.23.45.67.89", "un numéro de téléphone"),
    ("NIR 1 85 05 78 006 084 36", "un numéro de sécurité sociale"),
])
def test_identifiers_are_found(text, problem):
    assert report_comments.personal_data_problems(text) == [problem]


def test_collective_trends_raise_nothing():
    text = "Hausse de 12 % des situations liées à la charge de travail en 2025 ; 3 actions collectives au T2."
    assert report_comments.personal_data_problems(text) == [] and report_comments.personal_data_warnings(text) == []
