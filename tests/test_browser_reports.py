"""End to end in Chromium: the Rapports page reached by a first deep link, a comment saved, a PDF bilan prepared with
its progress bar and downloaded, then opened."""

from __future__ import annotations

import io

import pypdf
import pytest
from playwright.sync_api import expect

from browser_support import open_page, screenshot, streamlit_server

pytestmark = pytest.mark.browser
COMMENT = "Les équipes ont porté deux actions collectives de prévention des risques psychosociaux."


def test_a_regional_bilan_is_downloaded_from_the_app(page, tmp_path, published_copy):
    published_copy("rps", tmp_path / "var")  # its own copy: the comment is saved into the store
    with streamlit_server(tmp_path / "var", VIGIE_USER="Claire (CTSS)") as url:
        open_page(page, f"{url}/rapports")  # the first request after the server started: a deep link
        expect(page.get_by_role("heading", name="Rapports")).to_be_visible(timeout=60_000)
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
        expect(page.get_by_text("Bilan régional annuel").first).to_be_visible()

        field = page.get_by_role("textbox", name="Commentaire joint au rapport")
        field.fill(COMMENT)
        field.press("Control+Enter")
        page.get_by_role("button", name="Enregistrer le commentaire").click()
        expect(page.get_by_text("Commentaire enregistré")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Enregistré par Claire (CTSS)")).to_be_visible()

        page.get_by_text("PDF", exact=True).click()
        page.get_by_role("button", name="Préparer le rapport").click()
        download_button = page.locator("[data-testid='stDownloadButton']")
        expect(download_button).to_be_visible(timeout=120_000)
        screenshot(page, "rapports-bilan-pret")
        with page.expect_download(timeout=60_000) as info:
            download_button.get_by_role("button").click()
        download = info.value
        assert download.suggested_filename == "bilan-regional-53-2025.pdf"
        data = open(download.path(), "rb").read()
        assert data.startswith(b"%PDF-")
        text = " ".join(" ".join(p.extract_text().split()) for p in pypdf.PdfReader(io.BytesIO(data)).pages)
        assert "Bilan annuel du service social 2025 · Bretagne" in text
        assert COMMENT in text
        assert "publication n° 1" in text
        expect(page.locator("[data-testid='stException']")).to_have_count(0)
