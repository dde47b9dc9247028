"""Charts the reports need beyond analytics.charts, and the PNG rendering of every report figure.

Figures are rendered offline by `charts.to_png` (vl-convert, French locale). Nothing is cached here:
a built report is cached as a whole per publication (analytics.report_jobs), so that its three formats
share the same figures without serialising each chart twice to compute a key.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from analytics import charts
from analytics.formatting import NOT_COMPUTABLE, SECRET_LEGEND, SECRET_MARK, fr_float, fr_int
from analytics.referentials import MAP_ATTRIBUTION, departement_region
from analytics.reports.document import Figure


def png(chart, scale: float = 2.0) -> bytes:
    return charts.to_png(chart, scale=scale)


def figure(chart, title: str, alt_text: str, width_cm: float = 16.0) -> Figure:
    return Figure(title, png(chart), alt_text, width_cm=width_cm)


# --------------------------------------------------------------------------- the map of a région's départements


def _centroid(geometry: dict) -> tuple[float, float]:
    """Centre of the largest ring (mean of its vertices): where a département's label goes."""
    polygons = geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    ring = max((p[0] for p in polygons), key=len)
    xs, ys = [pt[0] for pt in ring], [pt[1] for pt in ring]
    return sum(xs) / len(xs), sum(ys) / len(ys)


def _text(valeur, statut, rate: bool) -> str:
    if statut != "publie":
        return SECRET_MARK
    if valeur is None:
        return NOT_COMPUTABLE
    return fr_float(valeur) if rate else fr_int(valeur)


def region_map(frame: pl.DataFrame, region: str, title: str, *, value_col: str = "valeur", value_title: str = "Effectif",
               rate: bool = False, large: bool = False, width: int = 460, height: int = 400) -> alt.LayerChart:
    """The départements of one région, coloured by `value_col`, each labelled with its name and value.

    `frame`: one row per département with geo_code, geo_libelle, `value_col`, statut (published cells).
    Secret départements are grey with a dashed outline and read `s`; the legend says « s : secret
    statistique »; the subtitle carries the map attribution. Data drawn: the shapes, code, libelle,
    the value, statut and its text."""
    codes = {d for d, r in departement_region().items() if r == region}
    features = [f for f in charts.map_features("departement") if f["properties"]["code"] in codes]
    if not features:
        raise ValueError(f"aucun département à dessiner pour la région {region}")
    data = frame.filter(pl.col("geo_code").is_in(sorted(codes))).select(
        pl.col("geo_code").alias("code"), pl.col("geo_libelle").alias("libelle"), pl.col(value_col).alias("valeur"), "statut")
    data = data.with_columns(pl.when(pl.col("statut") == "publie").then(pl.col("valeur")).otherwise(None).alias("valeur"))
    texts = [_text(v, s, rate) for v, s in data.select("valeur", "statut").iter_rows()]
    data = data.with_columns(pl.Series("texte", texts, dtype=pl.String))
    lookup = alt.LookupData(data=data, key="code", fields=["libelle", "valeur", "statut", "texte"])
    shapes = alt.Data(values=features)
    base = alt.Chart(shapes).transform_calculate(code="datum.properties.code").transform_lookup(lookup="code", from_=lookup)
    projection = {"type": "conicConformal", "parallels": [44, 49], "rotate": [-3, 0]}
    areas = base.mark_geoshape(stroke="white", strokeWidth=1).encode(
        fill=alt.Fill("valeur:Q", title=value_title, scale=alt.Scale(scheme=charts.SEQUENTIAL_SCHEME),
                      legend=alt.Legend(format=",.1f" if rate else ",d", orient="right"),
                      condition=[{"test": "datum.statut == 's'", "value": charts.SECRET_FILL},
                                 {"test": "datum.statut == null || datum.valeur == null", "value": charts.NO_DATA_FILL}]),
        stroke=alt.condition("datum.statut == 's'", alt.value(charts.SECRET_STROKE), alt.value("white")),
        strokeDash=alt.condition("datum.statut == 's'", alt.value([3, 2]), alt.value([1, 0])),
    ).project(**projection)
    legend = base.transform_filter("datum.statut == 's'").transform_calculate(legende=f"'{SECRET_LEGEND}'").mark_geoshape(
        stroke=charts.SECRET_STROKE, strokeDash=[3, 2]).encode(
        fill=alt.Fill("legende:N", title=None, legend=alt.Legend(orient="bottom"),
                      scale=alt.Scale(domain=[SECRET_LEGEND], range=[charts.SECRET_FILL]))).project(**projection)
    centres = []
    for f in features:
        lon, lat = _centroid(f["geometry"])
        centres.append({"code": f["properties"]["code"], "nom": f["properties"]["nom"], "lon": lon, "lat": lat})
    label_data = pl.DataFrame(centres).join(data.select("code", "texte"), on="code", how="left").with_columns(
        pl.col("texte").fill_null("aucune donnée"))
    labels = alt.Chart(label_data).transform_calculate(label="[datum.nom, datum.texte]").mark_text(
        fontSize=16 if large else 11, fontWeight="bold", lineBreak="\n", stroke="white", strokeWidth=3, strokeOpacity=0.9,
    ).encode(longitude="lon:Q", latitude="lat:Q", text="label:N").project(**projection)
    labels_front = alt.Chart(label_data).transform_calculate(label="[datum.nom, datum.texte]").mark_text(
        fontSize=16 if large else 11, fontWeight="bold").encode(longitude="lon:Q", latitude="lat:Q", text="label:N").project(**projection)
    layers = [areas, legend] if data.filter(pl.col("statut") != "publie").height else [areas]
    chart = alt.layer(*layers, labels, labels_front).resolve_scale(fill="independent").properties(
        title=alt.TitleParams(text=title, subtitle=attribution_lines()), width=width, height=height)
    return _finish(chart, large)


def attribution_lines() -> list[str]:
    """The map attribution in lines a printed chart can hold (Vega titles do not wrap)."""
    return [part.strip() + ("" if part.strip().endswith(".") else ".") for part in MAP_ATTRIBUTION.split(". ") if part.strip()]


def _finish(chart, large: bool):
    base, title = (16, 22) if large else (11, 15)
    return (chart.configure(locale=alt.Locale(number=charts.french_locale(), time=charts.french_time_locale()))
            .configure_legend(labelFontSize=base, titleFontSize=base + 1, labelLimit=400)
            .configure_title(fontSize=title, subtitleFontSize=base - 1, anchor="start")
            .configure_view(stroke=None))
