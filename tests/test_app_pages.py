"""AppTest: the app shell, the home page and the import page, on a real SQLite store."""

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analytics.ingest import import_bytes
from analytics.nomenclature import default_nomenclature
from analytics.store import get_engine

ROOT = Path(__file__).resolve().parents[1]
HEADER = "periode;departement;service;libelle_service;dimension;modalite;effectif\n"


def _valid_csv(months=("2025-01", "2025-02"), service="DDTM-29", dep="29", n=6) -> bytes:
    lines = [HEADER]
    for month in months:
        lines.append(f"{month};{dep};{service};DDTM du Finistère;ensemble;ensemble;{n}\n")
        lines.append(f"{month};{dep};{service};DDTM du Finistère;axe;prevention_rps;{n}\n")
    return "".join(lines).encode("utf-8")


def _app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60).run()
    assert not at.exception
    if page:
        at.switch_page(page).run()
        assert not at.exception
    return at


def test_home_on_an_empty_store_says_nothing_is_loaded():
    at = _app()
    assert at.title[0].value == "Vigie"
    assert any("Aucune donnée n'est chargée" in i.value for i in at.info)


def test_home_describes_what_is_loaded_without_any_count_of_situations():
    report = import_bytes(_valid_csv(n=7), "agregats-finistere.csv", get_engine(), default_nomenclature(), author="Camille")
    assert report.ok
    at = _app()
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Premier mois"], metrics["Dernier mois"], metrics["Mois chargés"]) == ("janv. 2025", "févr. 2025", "2")
    assert (metrics["Services"], metrics["Départements"], metrics["Régions"]) == ("1", "1", "1")
    text = " ".join(m.value for m in at.markdown)
    assert "agregats-finistere.csv" in text and "Camille" in text
    assert "7" not in " ".join(metrics.values())  # the raw count never reaches the page
    assert not at.warning  # no demo banner for a real file


def test_home_flags_demo_data_as_fictitious():
    report = import_bytes(_valid_csv(), "vigie-demo-agregats.csv", get_engine(), default_nomenclature(), source="demo")
    assert report.ok
    at = _app()
    assert any("Données fictives" in w.value for w in at.warning)


def test_navigation_offers_the_import_page_to_the_admin_only(monkeypatch):
    from analytics.auth import User
    from analytics.navigation import PAGES, visible_pages

    assert [p.title for p in visible_pages(User("a", "admin", "FR"))] == [p.title for p in PAGES]
    assert "Import des données" not in [p.title for p in visible_pages(User("n", "national", "FR"))]
    assert all((ROOT / p.file).is_file() for p in PAGES)
    monkeypatch.setenv("VIGIE_DEFAULT_ROLE", "national")
    # A first deep link may run the page file without app.py (notes §0.1): the page guards itself.
    at = AppTest.from_file(str(ROOT / "pages" / "import_donnees.py"), default_timeout=60).run()
    assert not at.exception
    assert any("Accès réservé" in e.value for e in at.error)
    assert not at.get("file_uploader")


def test_import_page_loads_a_file_and_shows_it_in_the_history():
    at = _app("pages/import_donnees.py")
    at.file_uploader[0].set_value(("finistere.csv", _valid_csv(), "text/csv"))
    at.button[0].click().run()
    assert not at.exception
    assert any("Lot 1 importé" in s.value for s in at.success)
    history = at.dataframe[-1].value
    assert list(history["Fichier"]) == ["finistere.csv"]
    assert list(history["État"]) == ["actif"]


def test_import_page_refuses_a_bad_file_and_offers_the_error_report():
    bad = _valid_csv().replace(b"2025-02;", b"2025-13;")
    at = _app("pages/import_donnees.py")
    at.file_uploader[0].set_value(("erreurs.csv", bad, "text/csv"))
    at.button[0].click().run()
    assert any("Fichier refusé" in e.value for e in at.error)
    issues = at.dataframe[0].value
    assert list(issues["Ligne"]) == [4, 5]
    assert list(issues["Colonne"]) == ["periode", "periode"]
    assert any(d.label.startswith("Télécharger le rapport") for d in at.get("download_button"))
    assert at.dataframe[-1].value is issues or "Aucun import" in " ".join(c.value for c in at.caption)


def test_import_page_rolls_back_a_batch():
    import_bytes(_valid_csv(), "finistere.csv", get_engine(), default_nomenclature())
    at = _app("pages/import_donnees.py")
    at.checkbox(key="rollback_confirm").check().run()
    at.button(key="rollback_go").click().run()
    assert not at.exception
    assert any("Lot 1 annulé" in s.value for s in at.success)
    assert list(at.dataframe[-1].value["État"]) == ["annulé"]


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "pages").glob("*.py")))
def test_every_page_file_starts_with_its_guard(page):
    """streamlit-notes §0.1: a first deep link may run a page without app.py."""
    import ast

    tree = ast.parse((ROOT / "pages" / page).read_text(encoding="utf-8"))
    body = tree.body[1:] if ast.get_docstring(tree) is not None else tree.body
    assert ast.unparse(body[0]) == "from analytics.auth import require"
    assert ast.unparse(body[1]) == "user = require(__file__)"
