"""End to end in a real Chromium (Debian's /usr/bin/chromium driven by Playwright, tests/browser_support.py) against
`streamlit run`."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from browser_support import open_page, screenshot, streamlit_server

pytestmark = pytest.mark.browser

CSV = (
    "periode;departement;service;libelle_service;dimension;modalite;effectif\n"
    "2025-01;29;DDTM-29;DDTM du Finistère;ensemble;ensemble;6\n"
    "2025-01;29;DDTM-29;DDTM du Finistère;axe;prevention_rps;6\n"
)


def test_first_request_deep_link_to_the_import_page_then_upload(page, tmp_path):
    with streamlit_server(tmp_path / "var") as url:
        open_page(page, f"{url}/import_donnees")  # the very first request after the server started
        expect(page.get_by_role("heading", name="Import des données")).to_be_visible(timeout=30_000)
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
            files=[{"name": "finistere.csv", "mimeType": "text/csv", "buffer": CSV.encode("utf-8")}])
        page.get_by_role("button", name="Importer").click()
        expect(page.get_by_text("Page not found")).to_have_count(0)
        expect(page.get_by_text("Lot 1 importé")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("finistere.csv").first).to_be_visible()
        screenshot(page, "import-reussi")

        open_page(page, f"{url}/accueil")
        expect(page.get_by_text("Premier mois")).to_be_visible(timeout=30_000)
        expect(page.locator("[data-testid='stMetricValue']").get_by_text("janv. 2025").first).to_be_visible()
        screenshot(page, "accueil")


def test_a_deep_link_cannot_bypass_the_role_check(page, tmp_path):
    with streamlit_server(tmp_path / "var", VIGIE_DEFAULT_ROLE="national") as url:
        open_page(page, f"{url}/import_donnees")  # v1 multipage path: runs the page file without app.py
        expect(page.get_by_text("Accès réservé")).to_be_visible(timeout=30_000)
        expect(page.locator("[data-testid='stFileUploader']")).to_have_count(0)
        screenshot(page, "acces-refuse")
        open_page(page, url)  # once app.py has run, the page is not even routable for this profile
        open_page(page, f"{url}/import_donnees")
        expect(page.locator("[data-testid='stFileUploader']")).to_have_count(0)


def test_home_page_loads_without_error(page, tmp_path):
    with streamlit_server(tmp_path / "var") as url:
        open_page(page, url)
        expect(page.get_by_role("heading", name="Vigie")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Aucune donnée n'est chargée")).to_be_visible()
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        sidebar = page.locator("[data-testid='stSidebar']")
        expect(sidebar.get_by_role("link", name="Import des données")).to_be_visible()
        sidebar.get_by_role("link", name="Import des données").click()
        expect(page).to_have_url(f"{url}/import_donnees")
        expect(page.get_by_role("heading", name="Import des données")).to_be_visible(timeout=30_000)


def test_dashboard_deep_link_filters_and_shared_link_in_a_real_browser(page, tmp_path, published_copy):
    published_copy("rps", tmp_path / "var")  # the server's own copy: it may write into its store
    with streamlit_server(tmp_path / "var") as url:
        # First request after the server started: a shared link with its filters.
        open_page(page, f"{url}/vue_ensemble?territoire=region:53&granularite=annee&periode=2025")
        expect(page.get_by_role("heading", name="Vue d'ensemble")).to_be_visible(timeout=30_000)
        expect(page.get_by_text("Page not found")).to_have_count(0)
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        expect(page.get_by_text("Région Bretagne · 2025").first).to_be_visible(timeout=30_000)
        chart = page.locator("[data-testid='stVegaLiteChart']").first
        expect(chart.locator("canvas, svg").first).to_be_visible(timeout=30_000)
        value_2025 = page.locator("[data-testid='stMetricValue']").first.inner_text()
        screenshot(page, "vue-ensemble-bretagne-2025")

        # A filter changes the content and the URL.
        page.get_by_test_id("stSelectbox").filter(has_text="Période").click()
        page.get_by_role("option", name="2024").click()
        expect(page).to_have_url(f"{url}/vue_ensemble?territoire=region%3A53&granularite=annee&periode=2024", timeout=30_000)
        expect(page.get_by_text("Région Bretagne · 2024").first).to_be_visible(timeout=30_000)
        # the metrics are drawn after the caption: wait for them rather than read them at once
        expect(page.locator("[data-testid='stMetricValue']").first).not_to_have_text(value_2025, timeout=30_000)

        # The sidebar link to another page carries the filters.
        page.locator("[data-testid='stSidebar']").get_by_role("link", name="Tendances").click()
        expect(page.get_by_role("heading", name="Tendances")).to_be_visible(timeout=30_000)
        expect(page).to_have_url(f"{url}/tendances?territoire=region%3A53&granularite=annee&periode=2024", timeout=30_000)
        expect(page.locator("[data-testid='stVegaLiteChart']").first.locator("canvas, svg").first).to_be_visible(timeout=30_000)
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        screenshot(page, "tendances-bretagne")

        # The map renders (canvas or SVG inside the chart) with its attribution.
        page.locator("[data-testid='stSidebar']").get_by_role("link", name="Territoires").click()
        expect(page.get_by_role("heading", name="Territoires")).to_be_visible(timeout=30_000)
        expect(page.locator("[data-testid='stVegaLiteChart']").first.locator("canvas, svg").first).to_be_visible(timeout=30_000)
        expect(page.get_by_text("IGN").first).to_be_visible()
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        screenshot(page, "territoires-carte")

        # Every dashboard page loads without an exception.
        for path, heading in (("problematiques", "Problématiques"), ("axes_modes", "Axes et modes d'intervention"),
                              ("vue_ensemble", "Vue d'ensemble"), ("tendances", "Tendances"),
                              ("indicateurs_rps", "Indicateurs RPS")):
            open_page(page, f"{url}/{path}")
            expect(page.get_by_role("heading", name=heading)).to_be_visible(timeout=30_000)
            expect(page.locator("[data-testid='stVegaLiteChart']").first.locator("canvas, svg").first).to_be_visible(timeout=30_000)
            expect(page.locator("[data-testid='stException']")).to_have_count(0)
            screenshot(page, path)

