"""analytics.dashboard: filters in the URL, headline figures from published cells only, tables and downloads."""

from __future__ import annotations

import io

import openpyxl
import polars as pl
import pytest

from analytics import dashboard, views
from analytics.dashboard import Filters, Territory
from analytics.exports import table_csv, table_xlsx
from analytics.views import NATIONAL, Scope, published_cells
from publication_data import frame


@pytest.fixture
def published(published_engine, monkeypatch):
    """The session's publication of the small dataset (SQLite, PostgreSQL), served to analytics.dashboard, only read;
    returns its rows."""
    engine = published_engine("situations")
    monkeypatch.setattr(views.store, "get_engine", lambda: engine)
    return frame()


def test_filters_round_trip_through_the_url():
    f = Filters(Territory("departement", "29"), "trimestre", "2025-T1", "ddtm")
    assert f.to_query() == {"territoire": "departement:29", "granularite": "trimestre", "periode": "2025-T1", "type_service": "ddtm"}
    assert Filters.from_query(f.to_query()) == f
    assert Filters.from_query({"territoire": "nimporte", "granularite": "siecle"}) == Filters()
    assert Territory.parse("FR") == dashboard.NATIONAL and Territory.parse("region:53") == Territory("region", "53")
    with pytest.raises(dashboard.FilterError):
        Territory.parse("canton:12")


def test_periods_one_year_earlier_and_their_labels():
    assert [dashboard.previous_year(p) for p in ("2025", "2025-T2", "2025-03")] == ["2024", "2024-T2", "2024-03"]
    assert dashboard.period_label("2025-03") == "mars 2025"
    assert dashboard.period_label("2025-T1") == "1er trimestre 2025"
    assert dashboard.period_label("2025-T3") == "3e trimestre 2025"


def test_resolve_keeps_the_choice_inside_the_scope_and_what_is_published(published):
    region = Scope.region("53")
    keys = [k for k, _ in dashboard.territory_options(region)]
    assert keys[0] == "region:53" and "FR" not in keys and "service:DDT-2A" not in keys
    assert {"departement:29", "departement:35", "service:DDTM-29"} <= set(keys)
    # A Corsican service asked for by a Breton user falls back to the région; the latest year is chosen.
    resolved = dashboard.resolve(Filters(Territory("service", "DDT-2A"), "annee"), region)
    assert resolved.territory == Territory("region", "53") and resolved.period == "2025"
    # Services are published by year only (default published set): a monthly level is not offered.
    assert dashboard.granularities(Territory("service", "DDTM-29")) == ["annee"]
    assert dashboard.resolve(Filters(Territory("service", "DDTM-29"), "mois"), NATIONAL).granularity == "annee"
    assert dashboard.granularities(dashboard.NATIONAL) == ["annee", "trimestre", "mois"]


def test_headline_is_made_of_published_values(published):
    f = dashboard.resolve(Filters(dashboard.NATIONAL, "annee", "2025"), NATIONAL)
    figures = dashboard.headline(f, NATIONAL)
    cells = published_cells(NATIONAL, geo_niveau="national", periode_niveau="annee", dimensions="ensemble")
    by_year = dict(cells.select("periode", "valeur").iter_rows())
    assert figures.situations == by_year["2025"] == published.filter(
        pl.col("periode").str.starts_with("2025") & (pl.col("dimension") == "ensemble"))["effectif"].sum()
    assert figures.previous == by_year["2024"]
    assert figures.change == pytest.approx((by_year["2025"] - by_year["2024"]) / by_year["2024"])
    shares = figures.problematiques.filter(pl.col("valeur").is_not_null())
    assert (shares["part"] - shares["valeur"] / figures.situations).abs().max() < 1e-12
    assert figures.problematiques["valeur"].drop_nulls().to_list() == sorted(figures.problematiques["valeur"].drop_nulls(), reverse=True)


def test_secrets_rank_after_non_zero_values_and_before_zeros(published):
    f = Filters(Territory("service", "DREAL-BRE"), "annee", "2025")
    order = dashboard.headline(f, NATIONAL).problematiques
    ranks = [0 if v and v > 0 else 1 if v is None else 2 for v in order["valeur"].to_list()]
    assert 1 in ranks and ranks == sorted(ranks)


def test_a_secret_stays_s_and_no_share_is_estimated_from_it(published):
    secret = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee").filter(pl.col("statut") == "s")
    assert secret.height, "the small dataset has secrets at service level"
    row = secret.row(0, named=True)
    f = Filters(Territory("service", row["geo_code"]), "annee", row["periode"])
    figures = dashboard.headline(f, NATIONAL)
    table = figures.problematiques if row["dimension"] == "problematique" else figures.axes
    if row["dimension"] in ("problematique", "axe"):
        hit = table.filter(pl.col("modalite") == row["modalite"])
        assert hit["valeur"][0] is None and hit["part"][0] is None
        shown = dashboard.display_table(hit, {"libelle": "Libellé", "valeur": "Situations"}, share="part")
        assert shown.row(0) == (hit["libelle"][0], "s", "s")
    else:
        assert figures.situations is None and figures.situations_secret and figures.change is None


def test_granularity_advice_points_to_the_coarser_level_when_most_cells_are_secret(published):
    monthly = dashboard.resolve(Filters(Territory("region", "94"), "trimestre"), NATIONAL)
    share = dashboard.secret_share(dashboard.cells(monthly, NATIONAL))
    advice = dashboard.granularity_advice(monthly, NATIONAL)
    assert advice == ("annee" if share > dashboard.MOSTLY_SECRET else None)
    assert dashboard.granularity_advice(dashboard.resolve(Filters(dashboard.NATIONAL, "annee"), NATIONAL), NATIONAL) is None


def test_downloads_hold_the_shown_table_with_formulas_neutralised():
    table = pl.DataFrame({"Territoire": ["=HYPERLINK(\"x\")", "Finistère"], "Situations": ["1 234", "s"]})
    csv = table_csv(table, "s : secret statistique").decode("utf-8")
    assert csv.startswith("\ufeffTerritoire;Situations\n")
    assert "'=HYPERLINK" in csv and "\nFinistère;s\n" in csv and csv.rstrip().endswith("s : secret statistique")
    book = openpyxl.load_workbook(io.BytesIO(table_xlsx(table, "Données", "s : secret statistique")))
    sheet = book.active
    assert [c.value for c in sheet[1]] == ["Territoire", "Situations"]
    assert sheet["A2"].value == "'=HYPERLINK(\"x\")" and sheet["A2"].data_type == "s"
    assert sheet["B3"].value == "s" and sheet["A5"].value == "s : secret statistique"


def test_a_service_type_narrows_the_territories_to_its_published_services(published):
    region = Scope.region("53")
    assert dashboard.service_types() == ["ddt", "ddtm", "dm", "dreal"]
    assert dashboard.service_types(region) == ["ddtm", "dm", "dreal"]  # DDT-2A is in Corse
    assert [k for k, _ in dashboard.territory_options(NATIONAL, "ddtm")] == ["service:DDTM-29", "service:DDTM-35"]
    assert [k for k, _ in dashboard.territory_options(region, "ddt")] == [k for k, _ in dashboard.territory_options(region)]
    assert dashboard.services_of_type(NATIONAL, "ddtm", Territory("departement", "35")) == ["DDTM-35"]
    assert dashboard.services_of_type(Scope.services(["DM-29"]), "ddtm") == []
    assert dashboard.service_type_label("ddtm") == "Direction départementale des territoires et de la mer (DDTM)"
    assert dashboard.service_type_label(None) == "Tous les types" and dashboard.service_type_label("inconnu") == "INCONNU"
