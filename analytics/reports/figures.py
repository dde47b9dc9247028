"""Charts the reports need beyond analytics.charts, and the PNG rendering of every report figure.

Figures are rendered offline by `charts.to_png` (vl-convert, French locale). Nothing is cached here:
a built report is cached as a whole per publication (analytics.report_jobs), so that its three formats
share the same figures without serialising each chart twice to compute a key.
"""

from __future__ import annotations

import altair as alt
import polars as pl

from analytics import charts
from analytics.formatting import MONTHS, NOT_COMPUTABLE, SECRET_LEGEND, SECRET_MARK, fr_float, fr_int
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


# --------------------------------------------------------------------------- the trend of a few services (fiche F3SCT)

PRINT_BASE, PRINT_TITLE = 18, 22  # px in a chart about 760 px wide printed 16-17 cm wide: about 11-12 pt on paper
CURRENT_COLOR, PREVIOUS_COLOR = charts.OKABE_ITO[0], charts.OKABE_ITO[1]  # blue / orange: colour-blind safe
# Oldest to latest year of an annual chart: sky blue, green, pink, orange (the year before), blue (the year).
YEAR_COLORS = [charts.OKABE_ITO[4], charts.OKABE_ITO[2], charts.OKABE_ITO[3], PREVIOUS_COLOR, CURRENT_COLOR]


def _print_finish(chart):
    return (chart.configure(locale=alt.Locale(number=charts.french_locale(), time=charts.french_time_locale()))
            .configure_axis(labelFontSize=PRINT_BASE, titleFontSize=PRINT_BASE, grid=True, gridColor="#dddddd")
            .configure_legend(labelFontSize=PRINT_BASE, titleFontSize=PRINT_BASE, labelLimit=400, orient="bottom")
            .configure_header(labelFontSize=PRINT_BASE + 1, labelFontWeight="bold", labelLimit=0, title=None)
            .configure_title(fontSize=PRINT_TITLE, subtitleFontSize=PRINT_BASE - 1, anchor="start")
            .configure_view(stroke=None))


def _position(periode: str) -> int:
    """Rank of a period inside its year: month 1-12, quarter 1-4, 1 for a year."""
    if "-T" in periode:
        return int(periode[-1])
    if len(periode) == 7:
        return int(periode[5:7])
    return 1


def _position_label(periode: str) -> str:
    if "-T" in periode:
        return periode[5:]
    return MONTHS[int(periode[5:7]) - 1]


def service_trend(frame: pl.DataFrame, year: int, title: str, *, value_title: str = "Situations suivies",
                  width: int = 760, panel_height: int = 150) -> alt.FacetChart | alt.LayerChart:
    """The situations of a few services in one image, each service apart: never a sum of services.

    `frame`: published cells with geo_libelle, periode, valeur, statut, all periods of one level.
    - years: one chart, a row of bars per service, one bar per published year up to `year` (at most
      five; the year in blue, the year before in orange), each labelled with its value; a secret year
      has no bar and reads `s`;
    - months or quarters: small multiples, one panel per service (two columns), the year (solid blue
      line) and the same months of the year before (dashed orange line), points on published values,
      gaps at secrets; each panel has its own value axis (services differ in size, the trend is what
      is compared).
    The subtitle says « s : secret statistique » when a secret is drawn. Data drawn: service, period
    (year, or position in the year and its label), valeur, statut, texte, année."""
    data = frame.select("geo_libelle", "periode", "valeur", "statut").with_columns(
        pl.when(pl.col("statut") == "publie").then(pl.col("valeur")).otherwise(None).alias("valeur"))
    annual = data.height == 0 or all(len(p) == 4 for p in data["periode"].to_list())
    services = sorted(data["geo_libelle"].unique().to_list())
    columns = 1 if len(services) == 1 else 2
    panel_width = (width - 90 * columns) // columns
    has_secret = bool((data["statut"] != "publie").any())
    texts = [_text(v, s, False) for v, s in data.select("valeur", "statut").iter_rows()]
    data = data.with_columns(pl.Series("texte", texts, dtype=pl.String), pl.col("periode").str.slice(0, 4).alias("annee"))
    if annual:
        # One chart, services as rows, one bar per published year (colour-blind-safe colours, labelled values):
        # 2 to 5 numbers a service do not need a panel each.
        data = data.filter(pl.col("annee").cast(pl.Int64) <= year)
        years = sorted(data["annee"].unique().to_list())[-len(YEAR_COLORS):]
        data = data.filter(pl.col("annee").is_in(years)).with_columns(pl.col("valeur").fill_null(0).alias("position"))
        colors = YEAR_COLORS[-len(years):]
        bar = 26 if len(services) <= 4 else 18
        y = alt.Y("geo_libelle:N", sort=services, title=None, axis=alt.Axis(labelLimit=300, labelFontWeight="bold"))
        offset = alt.YOffset("annee:N", sort=years, scale=alt.Scale(paddingInner=0.1))
        bars = alt.Chart().mark_bar(height=bar - 4).encode(
            y=y, yOffset=offset, x=alt.X("valeur:Q", title=None, axis=alt.Axis(format=",d", tickCount=5)),
            color=alt.Color("annee:N", title=None, sort=years, scale=alt.Scale(domain=years, range=colors),
                            legend=alt.Legend(orient="top-right", direction="horizontal")))
        labels = alt.Chart().mark_text(align="left", dx=5, fontSize=PRINT_BASE, fontWeight="bold").encode(
            y=y, yOffset=offset, x="position:Q", text="texte:N")
        height = max(len(services) * len(years) * bar + 10 * len(services), 2 * bar)
        chart = alt.layer(bars, labels, data=data).properties(width=width - 320, height=height, title=alt.TitleParams(
            text=title, subtitle=[SECRET_LEGEND + " (valeur non publiée, pas de barre)"] if has_secret else alt.Undefined))
        return _print_finish(chart)
    data = data.filter(pl.col("annee").is_in([str(year), str(year - 1)])).with_columns(
        pl.col("periode").map_elements(_position, return_dtype=pl.Int64).alias("rang"),
        pl.col("periode").map_elements(_position_label, return_dtype=pl.String).alias("libelle_periode"))
    order = [label for _, label in sorted(set(data.select("rang", "libelle_periode").iter_rows()))]
    x = alt.X("libelle_periode:O", sort=order, title=None,
              axis=alt.Axis(labelAngle=-45 if len(order) > 4 and columns > 1 else 0))
    stroke = alt.StrokeDash("annee:N", title=None, scale=alt.Scale(domain=[str(year), str(year - 1)], range=[[1, 0], [7, 4]]))
    color = alt.Color("annee:N", title=None, scale=alt.Scale(domain=[str(year), str(year - 1)],
                                                             range=[CURRENT_COLOR, PREVIOUS_COLOR]))
    y = alt.Y("valeur:Q", title=None, axis=alt.Axis(format=",d", tickCount=4))
    line = alt.Chart().mark_line(strokeWidth=3, invalid="break-paths-filter-domains").encode(
        x=x, y=y, color=color, strokeDash=stroke, detail="annee:N")
    points = alt.Chart().transform_filter("datum.statut == 'publie'").mark_point(filled=True, size=80).encode(
        x=x, y=y, color=color, shape=alt.Shape("annee:N", title=None, legend=None))
    layer = alt.layer(line, points, data=data).properties(width=panel_width, height=panel_height)
    subtitle = [SECRET_LEGEND + " (interruption de la courbe)"] if has_secret else []
    head = alt.TitleParams(text=title, subtitle=subtitle or alt.Undefined)
    if len(services) == 1:
        chart = layer.properties(title=alt.TitleParams(text=title, subtitle=[services[0], *subtitle]))
    else:
        chart = layer.facet(facet=alt.Facet("geo_libelle:N", title=None, sort=services), columns=columns,
                            spacing={"row": 14, "column": 40}).resolve_scale(y="independent").properties(title=head)
    return _print_finish(chart)
