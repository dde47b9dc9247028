"""Chart builders: only the shown columns reach the chart, secrets read `s`, maps are not inside out."""

from __future__ import annotations

import io
import json

import polars as pl
import pytest

from analytics import charts
from analytics.formatting import SECRET_LEGEND
from analytics.views import VIEW_COLUMNS, VIEW_SCHEMA


def cells(rows: list[tuple]) -> pl.DataFrame:
    """Published cells (VIEW_COLUMNS) from (geo_code, geo_libelle, periode, modalite, valeur) rows."""
    records = []
    for geo_code, libelle, periode, modalite, valeur in rows:
        records.append({
            "geo_niveau": "region", "geo_code": geo_code, "geo_libelle": libelle,
            "periode_niveau": "mois" if len(periode) == 7 and "T" not in periode else "annee",
            "periode": periode, "dimension": "problematique", "modalite": modalite,
            "valeur": valeur, "statut": "publie" if valeur is not None else "s",
        })
    return pl.DataFrame(records, schema=VIEW_SCHEMA).select(VIEW_COLUMNS)


def datasets(spec: dict) -> list[list[dict]]:
    return list(spec.get("datasets", {}).values())


def columns(spec: dict) -> set[str]:
    return {key for rows in datasets(spec) for row in rows for key in row}


def strings(spec: dict) -> str:
    return json.dumps(spec, ensure_ascii=False)


TREND = cells([
    ("11", "Île-de-France", "2024-01", "travail", 1200),
    ("11", "Île-de-France", "2024-02", "travail", None),
    ("11", "Île-de-France", "2024-03", "travail", 1350),
    ("11", "Île-de-France", "2025-01", "travail", 1500),
    ("11", "Île-de-France", "2025-02", "travail", 1620),
    ("11", "Île-de-France", "2025-03", "travail", None),
    ("11", "Île-de-France", "2025-01", "famille", 300),
    ("11", "Île-de-France", "2025-02", "famille", 320),
    ("11", "Île-de-France", "2025-03", "famille", 310),
])

BARS = cells([
    ("11", "Île-de-France", "2025", "travail", 1500),
    ("11", "Île-de-France", "2025", "famille", 2300),
    ("11", "Île-de-France", "2025", "logement", None),
])

HEAT = cells([
    ("11", "Île-de-France", "2025", "travail", 1500),
    ("11", "Île-de-France", "2025", "famille", None),
    ("84", "Auvergne-Rhône-Alpes", "2025", "travail", 900),
    ("84", "Auvergne-Rhône-Alpes", "2025", "famille", 40),
])

MAP = pl.DataFrame(
    {"geo_code": ["11", "84", "93"], "geo_libelle": ["Île-de-France", "Auvergne-Rhône-Alpes", "PACA"],
     "valeur": [1500, None, 800], "statut": ["publie", "s", "publie"], "dimension": ["x"] * 3},
    schema={"geo_code": pl.String, "geo_libelle": pl.String, "valeur": pl.Int64, "statut": pl.String,
            "dimension": pl.String},
)


def test_french_locale():
    assert charts.french_locale() == {"decimal": ",", "thousands": "\u202f", "grouping": [3], "currency": ["", "\u00a0€"]}
    time = charts.french_time_locale()
    assert time["months"][0] == "janvier" and time["shortMonths"][7] == "août"
    spec = charts.bar_chart(BARS, "modalite", "Effectifs").to_dict()
    assert spec["config"]["locale"]["number"]["decimal"] == ","


def test_period_label():
    assert charts.period_label("2025-03") == "mars 2025"
    assert charts.period_label("2025-T2") == "T2 2025"
    assert charts.period_label("2025") == "2025"


def test_trend_projects_and_breaks_at_secrets():
    spec = charts.trend_chart(TREND.filter(pl.col("modalite") == "travail"), "Tendance", False).to_dict()
    assert columns(spec) == {"periode", "valeur", "statut", "texte", "libelle_periode", "courbe"}
    rows = datasets(spec)[0]
    secret = [r for r in rows if r["periode"] == "2024-02"][0]
    assert secret["valeur"] is None and secret["statut"] == "s" and secret["texte"] == "s"
    assert [r["texte"] for r in rows if r["periode"] == "2024-01"] == ["1\u202f200"]
    line = spec["layer"][0]
    assert line["mark"]["type"] == "line" and line["mark"]["invalid"] == "break-paths-filter-domains"
    assert "impute" not in strings(spec)
    assert SECRET_LEGEND in strings(spec["title"])
    assert spec["layer"][0]["encoding"]["y"]["axis"]["format"] == ",d"


def test_trend_series_and_previous_year():
    spec = charts.trend_chart(TREND, "Tendance", True, series="modalite", large=True).to_dict()
    assert columns(spec) == {"periode", "modalite", "valeur", "statut", "texte", "libelle_periode", "courbe"}
    rows = datasets(spec)[0]
    previous = [r for r in rows if r["courbe"] == charts.PREVIOUS_LABEL]
    # 2024 values drawn at the 2025 periods, only where the series has a current period.
    assert {(r["periode"], r["modalite"], r["valeur"]) for r in previous} == {
        ("2025-01", "travail", 1200), ("2025-02", "travail", None), ("2025-03", "travail", 1350)}
    assert {r["libelle_periode"] for r in previous} == {"janv. 2024", "févr. 2024", "mars 2024"}
    dash = spec["layer"][0]["encoding"]["strokeDash"]
    assert dash["scale"]["range"][1] != dash["scale"]["range"][0]
    assert spec["layer"][1]["encoding"]["shape"]["field"] == "modalite"
    assert spec["config"]["axis"]["labelFontSize"] >= 18


def test_bar_chart_values_and_shares():
    spec = charts.bar_chart(BARS, "modalite", "Effectifs").to_dict()
    assert columns(spec) == {"modalite", "valeur", "statut", "texte"}
    rows = datasets(spec)[0]
    assert [r["modalite"] for r in rows] == ["famille", "travail", "logement"]
    assert [r["texte"] for r in rows] == ["2\u202f300", "1\u202f500", "s"]
    assert rows[2]["valeur"] is None
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["famille", "travail", "logement"]
    assert SECRET_LEGEND in strings(spec["title"])

    shares = charts.bar_chart(BARS, "modalite", "Parts", share=True, total=4000).to_dict()
    assert columns(shares) == {"modalite", "part", "statut", "texte"}
    assert [r["texte"] for r in datasets(shares)[0]] == ["57,5\u00a0%", "37,5\u00a0%", "s"]


def test_heatmap_secret_cells():
    spec = charts.heatmap(HEAT, "modalite", "geo_libelle", "Carte de chaleur").to_dict()
    assert columns(spec) == {"modalite", "geo_libelle", "valeur", "statut", "texte"}
    secret = [r for r in datasets(spec)[0] if r["statut"] == "s"]
    assert secret == [{"modalite": "famille", "geo_libelle": "Île-de-France", "valeur": None, "statut": "s", "texte": "s"}]
    secret_layer = spec["layer"][1]
    assert secret_layer["encoding"]["fill"]["scale"] == {"domain": [SECRET_LEGEND], "range": [charts.SECRET_FILL]}
    assert spec["layer"][2]["mark"]["type"] == "text"


def test_choropleth_lookup_frame_and_selection():
    chart = charts.choropleth(MAP, "region", "valeur", "Carte")
    spec = chart.to_dict()
    lookups = datasets(spec)
    assert len(lookups) == 1
    assert {key for row in lookups[0] for key in row} == {"code", "libelle", "valeur", "statut", "texte"}
    secret = [r for r in lookups[0] if r["code"] == "84"][0]
    assert secret["valeur"] is None and secret["texte"] == "s"
    assert spec["params"][0]["name"] == "territoire"
    assert spec["params"][0]["select"] == {"type": "point", "fields": ["code"]}
    assert SECRET_LEGEND in strings(spec["layer"][0]["encoding"]["fill"]["scale"]["domain"])
    assert charts.MAP_ATTRIBUTION in strings(spec["title"])
    # The shapes are sent once, with only code and name.
    assert "data" not in spec["layer"][0] and "data" not in spec["layer"][1]
    assert len(spec["data"]["values"]) == 18
    for feature in spec["data"]["values"]:
        assert set(feature["properties"]) == {"code", "nom"}


@pytest.mark.parametrize("level,count", [("region", 18), ("departement", 101)])
def test_map_features_wound_for_d3(level, count):
    """Exterior rings clockwise in lon/lat, holes counter-clockwise: d3 fills the inside."""
    features = charts.map_features(level)
    assert len(features) == count
    for feature in features:
        geometry = feature["geometry"]
        polygons = [geometry["coordinates"]] if geometry["type"] == "Polygon" else geometry["coordinates"]
        for polygon in polygons:
            assert charts._ring_area(polygon[0]) < 0
            for hole in polygon[1:]:
                assert charts._ring_area(hole) > 0


def test_rewind_fixes_rfc7946_rings():
    square = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}  # counter-clockwise
    fixed = charts.rewind(square)
    assert charts._ring_area(fixed["coordinates"][0]) < 0
    assert charts._ring_area(square["coordinates"][0]) > 0  # the input is left alone
    assert charts.rewind(fixed) == fixed


def _pixels(png: bytes):
    from PIL import Image

    return Image.open(io.BytesIO(png)).convert("RGB")


def test_every_chart_renders_to_png():
    built = [
        charts.trend_chart(TREND, "Tendance", True, series="modalite"),
        charts.trend_chart(TREND.filter(pl.col("modalite") == "famille"), "Tendance", False, large=True),
        charts.bar_chart(BARS, "modalite", "Effectifs"),
        charts.bar_chart(BARS, "modalite", "Parts", share=True),
        charts.heatmap(HEAT, "modalite", "geo_libelle", "Carte de chaleur"),
        charts.choropleth(MAP, "region", "valeur", "Carte"),
    ]
    for chart in built:
        png = charts.to_png(chart, scale=1)
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = charts.to_svg(built[2])
    assert svg.lstrip().startswith("<svg") and "2\u202f300" in svg


@pytest.mark.parametrize("level", ["region", "departement"])
def test_rendered_map_is_not_inside_out(level):
    """An inside-out map fills the whole view: most pixels would be the fill, not the white background."""
    frame = MAP if level == "region" else pl.DataFrame(
        {"geo_code": ["75"], "geo_libelle": ["Paris"], "valeur": [10], "statut": ["publie"]},
        schema={"geo_code": pl.String, "geo_libelle": pl.String, "valeur": pl.Int64, "statut": pl.String})
    image = _pixels(charts.to_png(charts.choropleth(frame, level, "valeur", "Carte", width=300, height=300), scale=1))
    colours = image.getdata()
    white = sum(1 for r, g, b in colours if r > 245 and g > 245 and b > 245)
    assert white / len(colours) > 0.35
    # ...and the map is drawn: some pixels are the no-data or value fills.
    assert white / len(colours) < 0.97
