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
    """The tabular datasets of a spec (map geometry, named `vigie-geo-…`, apart)."""
    return [rows for name, rows in spec.get("datasets", {}).items() if not name.startswith("vigie-geo-")]


def geometry(spec: dict, view: dict) -> list[dict]:
    """The features a view draws: its data by name from the spec's datasets."""
    data = view.get("data", {})
    return spec["datasets"][data["name"]] if "name" in data else data.get("values", [])


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
    # The shapes are sent once, with only code and name, as a named dataset out of Altair's object tree.
    assert "data" not in spec["layer"][0] and "data" not in spec["layer"][1]
    assert spec["data"] == {"name": "vigie-geo-carte-region"}
    assert len(geometry(spec, spec)) == 18
    for feature in geometry(spec, spec):
        assert set(feature["properties"]) == {"code", "nom"}
    # a copy of the chart (e.g. .properties) still carries its geometry
    again = chart.properties(width=300).to_dict()
    assert len(again["datasets"]["vigie-geo-carte-region"]) == 18


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


def _hatch_layers(spec: dict) -> list[tuple[dict, list[dict]]]:
    """(layer, features) of the layers drawing lines (the hatches)."""
    found = []
    for layer in spec["layer"]:
        features = geometry(spec, layer) if "data" in layer else []
        if any(f.get("geometry", {}).get("type") == "MultiLineString" for f in features):
            found.append((layer, features))
    return found


def test_choropleth_hatches_the_secret_areas_only():
    spec = charts.choropleth(MAP, "region", "valeur", "Carte").to_dict()
    hatches = _hatch_layers(spec)
    assert len(hatches) == 1
    layer, features = hatches[0]
    assert [f["properties"] for f in features] == [{"code": "84"}]  # the one secret région, nothing else
    assert layer["mark"]["filled"] is False and layer["mark"]["stroke"] == charts.HATCH_STROKE
    # The lines are geometry only: no value, no status beyond the code already in the lookup frame.
    assert "valeur" not in strings(features) and "1500" not in strings(features)
    # The secret swatch of the legend is hatched too, the no-data one is not.
    legend = spec["layer"][0]["encoding"]["fill"]["legend"]
    assert charts.HATCH_SYMBOL in legend["symbolType"]["expr"] and SECRET_LEGEND in legend["symbolType"]["expr"]
    # No secret: no hatch layer at all.
    published = MAP.filter(pl.col("statut") == "publie")
    assert not _hatch_layers(charts.choropleth(published, "region", "valeur", "Carte").to_dict())
    # Département level: each secret département has its own lines.
    deps = pl.DataFrame({"geo_code": ["29", "2A", "75", "971"], "geo_libelle": ["a", "b", "c", "d"], "valeur": [None, 4, None, None],
                         "statut": ["s", "publie", "s", "s"]})
    features = _hatch_layers(charts.choropleth(deps, "departement", "valeur", "Carte").to_dict())[0][1]
    assert sorted(f["properties"]["code"] for f in features) == ["29", "75", "971"]


def test_hatch_lines_stay_inside_the_area_and_out_of_its_holes():
    square = [[[0, 0], [0, 2], [2, 2], [2, 0], [0, 0]]]
    hole = [[0.5, 0.5], [1.5, 0.5], [1.5, 1.5], [0.5, 1.5], [0.5, 0.5]]
    plain = charts._hatch_segments(square, spacing=0.1)
    holed = charts._hatch_segments(square + [hole], spacing=0.1)
    assert plain and len(holed) > len(plain)  # lines through the hole are cut in two
    for segments in (plain, holed):
        for (x0, y0), (x1, y1) in segments:
            for x, y in ((x0, y0), (x1, y1), ((x0 + x1) / 2, (y0 + y1) / 2)):
                assert -1e-6 <= x <= 2 + 1e-6 and -1e-6 <= y <= 2 + 1e-6
    for (x0, y0), (x1, y1) in holed:
        mx, my = (x0 + x1) / 2, (y0 + y1) / 2
        assert not (0.5 + 1e-6 < mx < 1.5 - 1e-6 and 0.5 + 1e-6 < my < 1.5 - 1e-6)
    # every area of both maps gets lines, computed once per level
    assert set(charts._hatches("departement")) == {f["properties"]["code"] for f in charts.map_features("departement")}
    assert charts._hatches("region") is charts._hatches("region")


def test_rendered_secret_area_is_hatched():
    """The secret région drawn in PNG holds dark hatch pixels on its grey; published as well, it has none."""
    one = lambda statut, valeur: pl.DataFrame({"geo_code": ["84"], "geo_libelle": ["ARA"], "valeur": [valeur], "statut": [statut]},
                                              schema={"geo_code": pl.String, "geo_libelle": pl.String, "valeur": pl.Int64, "statut": pl.String})

    def dark(frame) -> int:
        image = _pixels(charts.to_png(charts.choropleth(frame, "region", "valeur", "Carte", width=300, height=300), scale=1))
        width, height = image.size
        # the map itself, not the title or legend text
        crop = image.crop((int(width * 0.05), int(height * 0.2), int(width * 0.6), int(height * 0.8)))
        import numpy as np

        return int((np.asarray(crop) < 80).all(axis=2).sum())

    assert dark(one("s", None)) > 5 * max(1, dark(one("publie", 10)))


@pytest.mark.parametrize("options", [{}, {"share": True}, {"share": True, "total": 500},
                                     {"large": True, "category_title": "Axe", "value_title": "Agents"}])
def test_bar_chart_spec_is_the_altair_spec(options):
    """The template path the pages use gives exactly the spec Altair builds, whatever the rows: secrets, zeros,
    ties, no row at all, labels that look like JSON or like another row's name."""
    import altair as alt

    frames = [
        pl.DataFrame({"libelle": ["Logement", "Santé", "Travail", "Famille", "Budget"], "valeur": [120, None, 7, 0, 7],
                      "statut": ["publie", "s", "publie", "publie", "publie"]}),
        pl.DataFrame({"libelle": ['{"name": "x"}', "data-1", "=SOMME(A1)"], "valeur": [3, 2, 1],
                      "statut": ["publie"] * 3}),
        pl.DataFrame(schema={"libelle": pl.String, "valeur": pl.Int64, "statut": pl.String}),
    ]
    with alt.data_transformers.enable("default", max_rows=None), alt.theme.enable("none"):
        specs = []
        for frame in frames:
            expected = charts.bar_chart(frame, "libelle", "Répartition", **options).to_dict(validate=False)
            fast = charts.bar_chart_spec(frame, "libelle", "Répartition", **options)
            assert fast == expected
            specs.append(fast)
    # One template, three charts: each carries its own rows and order, not the previous chart's.
    assert [list(s["datasets"].values())[0] for s in specs][2] == []
    assert [row["libelle"] for row in list(specs[0]["datasets"].values())[0]][0] == "Logement"


def test_bar_chart_spec_follows_altair_settings_and_other_label_types():
    """The template is not reused across Altair themes, and a category that is not text (a date) gets Altair's own
    spec (ISO dates), not a template."""
    import datetime

    import altair as alt

    frame = pl.DataFrame({"libelle": ["a", "b"], "valeur": [3, None], "statut": ["publie", "s"]})
    with alt.data_transformers.enable("default", max_rows=None):
        for theme in ("none", "default", "none"):
            with alt.theme.enable(theme):
                assert charts.bar_chart_spec(frame, "libelle", "T") == charts.bar_chart(frame, "libelle", "T").to_dict(validate=False)
        dated = pl.DataFrame({"jour": [datetime.date(2025, 1, 1)], "valeur": [7], "statut": ["publie"]})
        with alt.theme.enable("none"):
            assert charts.bar_chart_spec(dated, "jour", "T") == charts.bar_chart(dated, "jour", "T").to_dict(validate=False)
