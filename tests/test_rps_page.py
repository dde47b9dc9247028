"""AppTest: the Indicateurs RPS page on a publication with RPS indicators and headcounts."""

from __future__ import annotations

import polars as pl

from analytics.formatting import fr_float
from analytics.views import NATIONAL, headcounts, published_cells
from publication_data import RPS_INDICATORS
from test_dashboard_pages import chart_tables, published_numbers, run_page

PAGE = "pages/indicateurs_rps.py"
PER_AGENTS, NOT_PER_AGENTS = RPS_INDICATORS


def _cell(level, code, period, indicator):
    cells = published_cells(NATIONAL, geo_niveau=level, periode_niveau="annee", periodes=[period], dimensions="rps",
                            modalites=[indicator])
    return cells.filter(pl.col("geo_code") == code).row(0, named=True)


def _row(table, indicator_label):
    return table[table["Indicateur"] == indicator_label].iloc[0]


def test_nothing_published_says_so():
    at = run_page(PAGE)
    assert any("Aucune publication" in i.value for i in at.info)


def test_a_region_shows_counts_rates_per_100_agents_and_changes(published_rps):
    at = run_page(PAGE, territoire="region:53", granularite="annee", periode="2025")
    table = at.dataframe[0].value
    visits = _cell("region", "53", "2025", PER_AGENTS)
    agents = {(g, c, a): n for g, c, a, n in headcounts(NATIONAL).iter_rows()}[("region", "53", 2025)]
    row = _row(table, "Visites sur demande au médecin de prévention")
    assert row["Nombre"] == str(visits["valeur"])
    assert row["Pour 100 agents"] == fr_float(visits["valeur"] * 100 / agents)
    before = _cell("region", "53", "2024", PER_AGENTS)
    assert row["Évolution sur un an"].endswith("%")
    assert ("+" in row["Évolution sur un an"]) == (visits["valeur"] > before["valeur"])
    # an indicator not read per agents has no rate column value
    assert _row(table, "Situations avec souffrance au travail, relations de travail dégradées ou harcèlement")["Pour 100 agents"] == ""


def test_france_has_no_rate_when_a_service_lacks_its_headcount(published_rps):
    at = run_page(PAGE, territoire="FR", granularite="annee", periode="2025")
    row = _row(at.dataframe[0].value, "Visites sur demande au médecin de prévention")
    assert row["Nombre"] == str(_cell("national", "FR", "2025", PER_AGENTS)["valeur"]) and row["Pour 100 agents"] == "–"


def test_services_compared_show_s_for_secrets_and_charts_send_published_values_only(published_rps):
    at = run_page(PAGE, territoire="region:53", granularite="annee", periode="2025")
    at.radio(key="r_niveau").set_value("service").run()
    assert not at.exception
    comparison = at.dataframe[1].value
    dm = comparison[(comparison["Service"] == "Direction de la mer du Finistère")
                    & (comparison["Indicateur"] == "Visites sur demande au médecin de prévention")].iloc[0]
    assert _cell("service", "DM-29", "2025", PER_AGENTS)["statut"] == "s"
    assert dm["Nombre"] == "s" and dm["Pour 100 agents"] == "s"
    allowed = published_numbers()
    assert chart_tables(at)
    for data in chart_tables(at):
        for column in [c for c, t in data.schema.items() if t.is_integer()]:
            assert set(data[column].drop_nulls().to_list()) <= allowed, column
        assert not {"effectif_agents", "secret", "effectif"} & set(data.columns)


def test_rates_in_the_heatmap_are_published_counts_over_frozen_headcounts(published_rps):
    at = run_page(PAGE, territoire="FR", granularite="annee", periode="2024")
    at.radio(key="r_niveau").set_value("departement").run()
    at.toggle(key="r_taux").set_value(True).run()
    assert not at.exception
    agents = {(c, a): n for g, c, a, n in headcounts(NATIONAL).iter_rows() if g == "departement"}
    cells = published_cells(NATIONAL, geo_niveau="departement", periode_niveau="annee", periodes=["2024"], dimensions="rps",
                            modalites=[PER_AGENTS])
    expected = {v * 100 / agents[(c, 2024)] for c, v in cells.select("geo_code", "valeur").iter_rows() if v is not None}
    rates = [t for data in chart_tables(at) if "taux" in data.columns for t in data["taux"].drop_nulls().to_list()]
    assert rates and all(any(abs(r - e) < 1e-9 for e in expected) for r in rates if r > 0)
    assert any(abs(r - e) < 1e-9 for r in rates for e in expected if e > 0)


def test_a_regional_user_compares_only_its_services(published_rps, monkeypatch):
    at = run_page(PAGE, monkeypatch, scope="53", role="regional")
    assert at.radio(key="r_niveau").options == ["Départements", "Services"]  # formatted labels: no « Régions »
    at.radio(key="r_niveau").set_value("service").run()
    comparison = at.dataframe[1].value
    assert "DDT de Corse-du-Sud" not in set(comparison["Service"])


def test_the_trend_of_an_indicator_is_the_published_series(published_rps):
    at = run_page(PAGE, territoire="FR", granularite="trimestre", periode="2025-T1")
    at.selectbox(key="r_indicateur").set_value(NOT_PER_AGENTS).run()
    assert not at.exception
    series = published_cells(NATIONAL, geo_niveau="national", periode_niveau="trimestre", dimensions="rps",
                             modalites=[NOT_PER_AGENTS])
    trend = at.dataframe[-1].value
    assert list(trend.iloc[:, 1]) == [str(v) if s == "publie" else "s" for v, s in series.select("valeur", "statut").iter_rows()]


def test_the_map_offers_situations_per_100_agents_from_published_counts(published_rps):
    at = run_page("pages/territoires.py", territoire="FR", granularite="annee", periode="2024")
    at.toggle(key="m_taux").set_value(True).run()
    assert not at.exception
    table = at.dataframe[0].value
    regions = published_cells(NATIONAL, geo_niveau="region", periode_niveau="annee", periodes=["2024"], dimensions="ensemble")
    agents = {c: n for g, c, a, n in headcounts(NATIONAL).iter_rows() if g == "region" and a == 2024}
    expected = [fr_float(v * 100 / agents[c]) if s == "publie" else "s" for c, v, s in regions.select("geo_code", "valeur", "statut").iter_rows()]
    assert list(table["Pour 100 agents"]) == expected
    maps = [data for data in chart_tables(at) if "taux" in data.columns]
    assert maps and set(maps[0]["taux"].drop_nulls().round(9).to_list()) <= {round(v * 100 / agents[c], 9) for c, v in
                                                                              regions.select("geo_code", "valeur").iter_rows() if v}
    # an RPS indicator not read per agents offers no rate
    at.selectbox(key="m_indicateur").set_value(("rps", NOT_PER_AGENTS)).run()
    assert not at.exception and not at.toggle


def test_the_service_type_filter_changes_the_indicators_and_narrows_the_comparison(published_rps):
    at = run_page(PAGE, territoire="FR", granularite="annee", periode="2025")
    before = at.dataframe[0].value.to_dict("list")
    at.selectbox(key="f_type").set_value("ddtm").run()
    assert not at.exception
    assert at.selectbox(key="f_territoire").value == "service:DDTM-29"
    table = at.dataframe[0].value
    assert table.to_dict("list") != before
    visits = _cell("service", "DDTM-29", "2025", PER_AGENTS)
    assert _row(table, "Visites sur demande au médecin de prévention")["Nombre"] == ("s" if visits["statut"] == "s" else str(visits["valeur"]))
    at.radio(key="r_niveau").set_value("service").run()
    assert not at.exception
    assert set(at.dataframe[1].value["Service"]) == {"DDTM du Finistère", "DDTM d'Ille-et-Vilaine"}
    assert any("Type de service" in c.value for c in at.caption)
