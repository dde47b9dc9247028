"""AppTest: the dashboard pages on a real publication, for several scopes.

Each test checks content: a known published value appears, a known secret shows `s`, and the data
sent with each chart (notes §0.2: the whole frame goes to the browser) holds only published
values and only the columns the chart shows."""

from __future__ import annotations

import io
import json
from pathlib import Path

import polars as pl
import pyarrow as pa
import pytest
from streamlit.testing.v1 import AppTest

from analytics.dashboard import value_text
from analytics.publications import publish
from analytics.store import get_engine
from analytics.views import NATIONAL, published_cells
from publication_data import frame, load

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("pages/vue_ensemble.py", "pages/tendances.py")


def run_page(page: str, monkeypatch=None, scope: str | None = None, role: str | None = None, **query) -> AppTest:
    if monkeypatch is not None and scope:
        monkeypatch.setenv("VIGIE_DEFAULT_SCOPE", scope)
    if monkeypatch is not None and role:
        monkeypatch.setenv("VIGIE_DEFAULT_ROLE", role)
    at = AppTest.from_file(str(ROOT / page), default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def chart_tables(at: AppTest) -> list[pl.DataFrame]:
    """The datasets each chart of the page sends to the browser."""
    out = []
    for chart in at.get("vega_lite_chart"):
        for dataset in chart.proto.datasets:
            table = pa.ipc.open_stream(io.BytesIO(dataset.data.data)).read_all()
            out.append(pl.from_arrow(table))
        spec = json.loads(chart.proto.spec)
        for inline in spec.get("datasets", {}).values():  # data inlined in the spec (maps) counts too
            if inline and isinstance(inline[0], dict) and inline[0].get("type") == "Feature":
                assert all(set(f.get("properties", {})) <= {"code", "nom"} for f in inline)  # geometry, no figure
                continue
            out.append(pl.DataFrame(inline))
    return out


def shown_values(at: AppTest) -> set[str]:
    texts = set()
    for df in at.dataframe:
        for column in df.value.columns:
            texts |= {str(v) for v in df.value[column].tolist()}
    return texts


def published_numbers() -> set[int]:
    return set(published_cells(NATIONAL)["valeur"].drop_nulls().to_list())


@pytest.mark.parametrize("page", PAGES)
def test_every_page_says_so_when_nothing_is_published(page):
    at = run_page(page)
    assert any("Aucune publication" in i.value for i in at.info)
    assert not at.get("vega_lite_chart")


def test_overview_shows_the_published_national_figure_and_its_change(published_situations):
    at = run_page("pages/vue_ensemble.py", territoire="FR", granularite="annee", periode="2025")
    cells = published_cells(NATIONAL, geo_niveau="national", periode_niveau="annee", dimensions="ensemble")
    by_year = dict(cells.select("periode", "valeur").iter_rows())
    metric = {m.label: m for m in at.metric}
    assert metric["Situations suivies"].value == value_text(by_year["2025"], "publie")
    assert metric["Même période un an plus tôt"].value == value_text(by_year["2024"], "publie")
    assert "%" in metric["Situations suivies"].delta
    assert any("Publication n° 1" in c.value and "k = 5" in c.value for c in at.caption)
    assert at.query_params["territoire"] == ["FR"] or at.query_params["territoire"] == "FR"


def test_overview_shows_s_for_a_secret_and_charts_carry_only_published_values(published_situations):
    secret = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee", dimensions="problematique").filter(
        pl.col("statut") == "s").row(0, named=True)
    at = run_page("pages/vue_ensemble.py", territoire=f"service:{secret['geo_code']}", granularite="annee", periode=secret["periode"])
    assert "s" in shown_values(at)
    allowed = published_numbers()
    for table in chart_tables(at):
        numeric = [c for c, t in table.schema.items() if t.is_integer()]
        for column in numeric:
            assert set(table[column].drop_nulls().to_list()) <= allowed, column
        assert not {"statut_detail", "secret", "effectif"} & set(table.columns)


def test_regional_user_cannot_see_another_region(published_situations, monkeypatch):
    at = run_page("pages/vue_ensemble.py", monkeypatch, scope="53", role="regional", territoire="service:DDT-2A")
    options = at.selectbox(key="f_territoire").options
    assert not any("2A" in o for o in options)
    assert at.selectbox(key="f_territoire").value == "region:53"


def test_trends_draw_the_series_with_gaps_at_secrets(published_situations):
    at = run_page("pages/tendances.py", territoire="region:53", granularite="trimestre")
    assert at.get("vega_lite_chart")
    cells = published_cells(NATIONAL, geo_niveau="region", periode_niveau="trimestre", dimensions="ensemble").filter(
        pl.col("geo_code") == "53")
    table = at.dataframe[0].value
    assert list(table.iloc[:, 1]) == [value_text(v, s) for v, s in cells.select("valeur", "statut").iter_rows()]
    allowed = published_numbers()
    for data in chart_tables(at):
        for column in [c for c, t in data.schema.items() if t.is_integer()]:
            assert set(data[column].drop_nulls().to_list()) <= allowed


def test_a_filter_change_changes_the_content_and_the_url(published_situations):
    at = run_page("pages/vue_ensemble.py", territoire="FR", granularite="annee", periode="2025")
    before = {m.label: m.value for m in at.metric}["Situations suivies"]
    at.selectbox(key="f_periode").select("2024").run()
    assert not at.exception
    after = {m.label: m.value for m in at.metric}["Situations suivies"]
    assert before != after
    assert "2024" in str(at.query_params["periode"])


def test_territories_map_carries_published_values_and_s_only(published_situations):
    at = run_page("pages/territoires.py")
    assert at.get("vega_lite_chart")
    assert any("IGN" in c.value for c in at.caption)  # the map attribution is shown
    regions = published_cells(NATIONAL, geo_niveau="region", periode_niveau="annee", periodes=["2025"], dimensions="ensemble")
    table = at.dataframe[0].value
    assert list(table["Code"]) == regions["geo_code"].to_list()
    assert list(table.iloc[:, 2]) == [value_text(v, s) for v, s in regions.select("valeur", "statut").iter_rows()]
    allowed = published_numbers()
    for data in chart_tables(at):
        for column in [c for c, t in data.schema.items() if t.is_integer()]:
            assert set(data[column].drop_nulls().to_list()) <= allowed
    at.radio(key="m_niveau").set_value("departement").run()
    assert not at.exception
    deps = published_cells(NATIONAL, geo_niveau="departement", periode_niveau="annee", periodes=["2025"], dimensions="ensemble")
    assert list(at.dataframe[0].value["Code"]) == deps["geo_code"].to_list()


def test_problematiques_heatmap_shares_are_published_ratios_and_secrets_read_s(published_situations):
    at = run_page("pages/problematiques.py")
    at.radio(key="p_niveau").set_value("service").run()
    assert not at.exception and at.get("vega_lite_chart")
    cells = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee", periodes=["2025"],
                            dimensions=["ensemble", "problematique"])
    table = at.dataframe[0].value
    secret = cells.filter((pl.col("statut") == "s") & (pl.col("dimension") == "problematique")).row(0, named=True)
    row = table[(table["Service"] == secret["geo_libelle"])]
    assert "s" in set(row["Situations"])
    total = dict(cells.filter(pl.col("dimension") == "ensemble").select("geo_code", "valeur").iter_rows())
    assert any("part" in data.columns for data in chart_tables(at))
    for data in chart_tables(at):
        if "part" in data.columns:
            published_shares = {v / total[c] for c, v in cells.filter(pl.col("dimension") == "problematique")
                                .select("geo_code", "valeur").iter_rows() if v is not None and total.get(c)}
            assert all(any(abs(p - q) < 1e-12 for q in published_shares) for p in data["part"].drop_nulls().to_list())
            assert set(data.filter(pl.col("statut") == "s")["part"].to_list()) <= {None}


def test_axes_and_modes_show_each_published_partition_with_s_for_secrets(published_situations):
    secret = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee", dimensions="axe").filter(
        pl.col("statut") == "s").row(0, named=True)
    at = run_page("pages/axes_modes.py", territoire=f"service:{secret['geo_code']}", granularite="annee", periode=secret["periode"])
    assert at.get("vega_lite_chart")
    axes = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee", periodes=[secret["periode"]],
                           dimensions="axe").filter(pl.col("geo_code") == secret["geo_code"])
    table = at.dataframe[0].value
    assert sorted(table["Situations"]) == sorted(value_text(v, s) for v, s in axes.select("valeur", "statut").iter_rows())
    assert "s" in set(table["Situations"])
    allowed = published_numbers()
    for data in chart_tables(at):
        for column in [c for c, t in data.schema.items() if t.is_integer()]:
            assert set(data[column].drop_nulls().to_list()) <= allowed


def test_overview_shows_s_when_the_same_period_a_year_earlier_is_secret(tmp_path):
    # One situation fewer every month of 2024: the smallest service's 2024 total falls under k (a primary secret).
    engine = get_engine()
    load(tmp_path, engine, frame(bump={2024: -1}))
    assert publish("Camille", engine=engine).ok
    ensembles = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee", dimensions="ensemble")
    secret = ensembles.filter((pl.col("statut") == "s") & (pl.col("periode") == "2024"))
    assert secret.height, "the dataset has a secret service-year in 2024"
    code = secret["geo_code"][0]
    at = run_page("pages/vue_ensemble.py", territoire=f"service:{code}", granularite="annee", periode="2025")
    metric = {m.label: m for m in at.metric}
    assert metric["Même période un an plus tôt"].value == "s"
    assert not metric["Situations suivies"].delta  # no change is computed from a secret


def _content(at: AppTest) -> list:
    """What a page shows: its tables, metrics, subheaders and messages (to see a filter change it)."""
    return ([df.value.to_dict("list") for df in at.dataframe] + [(m.label, m.value) for m in at.metric]
            + [h.value for h in at.subheader] + [i.value for i in at.info])


@pytest.mark.parametrize("page", ["pages/vue_ensemble.py", "pages/axes_modes.py", "pages/tendances.py"])  # RPS: test_rps_page
def test_the_service_type_filter_lists_its_services_changes_the_content_and_stays_in_the_url(published_situations, page):
    at = run_page(page, territoire="FR", granularite="annee", periode="2025")
    box = at.selectbox(key="f_type")
    assert box.value is None or box.value == ""
    # only the types of published services are offered
    assert [v for v in box.options] == ["Tous les types", *[dashboard_type_label(t) for t in ("ddt", "ddtm", "dm", "dreal")]]
    before = _content(at)
    box.set_value("ddtm").run()
    assert not at.exception
    territories = at.selectbox(key="f_territoire")
    assert territories.options == ["DDTM du Finistère (DDTM-29)", "DDTM d'Ille-et-Vilaine (DDTM-35)"]
    assert territories.value == "service:DDTM-29"
    assert _content(at) != before
    assert at.query_params["type_service"] in ("ddtm", ["ddtm"]) and "DDTM-29" in str(at.query_params["territoire"])
    # back to every type: the whole list again, the chosen service kept
    at.selectbox(key="f_type").set_value("").run()
    assert "France entière" in at.selectbox(key="f_territoire").options and "type_service" not in at.query_params
    assert at.selectbox(key="f_territoire").value == "service:DDTM-29"


def dashboard_type_label(code: str) -> str:
    from analytics.dashboard import service_type_label

    return service_type_label(code)


def test_a_regional_user_is_offered_only_the_types_of_its_services(published_situations, monkeypatch):
    at = run_page("pages/vue_ensemble.py", monkeypatch, scope="53", role="regional", type_service="ddt")
    box = at.selectbox(key="f_type")
    assert dashboard_type_label("ddt") not in box.options  # DDT-2A is in Corse
    assert box.value in (None, "") and at.selectbox(key="f_territoire").value == "region:53"


def test_the_service_type_on_the_map_page_lists_the_published_figures_of_its_services(published_situations):
    at = run_page("pages/territoires.py", territoire="region:53", granularite="annee", periode="2025")
    tables = len(at.dataframe)
    at.selectbox(key="m_type").set_value("ddtm").run()
    assert not at.exception and len(at.dataframe) == tables + 1
    listed = at.dataframe[-1].value
    cells = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee", periodes=["2025"], dimensions="ensemble")
    expected = {c: value_text(v, s) for c, v, s in cells.select("geo_code", "valeur", "statut").iter_rows()}
    assert list(listed["Code"]) == ["DDTM-29", "DDTM-35"]
    assert list(listed.iloc[:, 2]) == [expected["DDTM-29"], expected["DDTM-35"]]
    assert at.query_params["type_service"] in ("ddtm", ["ddtm"])
    # a type with no service in the chosen région says so
    at.selectbox(key="m_type").set_value("ddt").run()
    assert any("Aucun chiffre publié" in i.value for i in at.info)


def test_problematiques_trend_is_the_published_series_with_s_at_secrets(published_situations):
    secret = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee", dimensions="problematique").filter(
        pl.col("statut") == "s").row(0, named=True)
    at = run_page("pages/problematiques.py", territoire=f"service:{secret['geo_code']}", granularite="annee")
    at.selectbox(key="p_groupe").set_value("").run()  # every problématique
    at.selectbox(key="p_probleme").set_value(secret["modalite"]).run()
    assert not at.exception
    series = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee", dimensions="problematique",
                             modalites=[secret["modalite"]]).filter(pl.col("geo_code") == secret["geo_code"])
    trend = at.dataframe[-1].value
    assert list(trend.iloc[:, 1]) == [value_text(v, s) for v, s in series.select("valeur", "statut").iter_rows()]
    assert "s" in set(trend.iloc[:, 1])
    # France by quarter, with the comparison to the year before: still the published series
    at.selectbox(key="f_territoire").set_value("FR").run()
    at.selectbox(key="f_granularite").set_value("trimestre").run()
    assert not at.exception
    national = published_cells(NATIONAL, geo_niveau="national", periode_niveau="trimestre", dimensions="problematique",
                               modalites=[secret["modalite"]])
    trend = at.dataframe[-1].value
    assert list(trend.iloc[:, 0]) == [value_text_period(p) for p in national["periode"].to_list()]
    assert list(trend.iloc[:, 1]) == [value_text(v, s) for v, s in national.select("valeur", "statut").iter_rows()]
    allowed = published_numbers()
    lines = [data for data in chart_tables(at) if "courbe" in data.columns]
    assert lines and set(lines[0]["courbe"].to_list()) == {"Période", "Même période, année précédente"}
    for data in chart_tables(at):
        for column in [c for c, t in data.schema.items() if t.is_integer()]:
            assert set(data[column].drop_nulls().to_list()) <= allowed
        assert not {"secret", "effectif"} & set(data.columns)
    assert at.query_params["granularite"] in ("trimestre", ["trimestre"])  # shared with the other pages


def value_text_period(period: str) -> str:
    from analytics.dashboard import period_label

    return period_label(period)
