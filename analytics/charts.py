"""Altair chart builders for the dashboard pages and reports, from published cells only.

Every builder projects its frame to exactly the columns it encodes (plus tooltip columns) before
building the chart: whatever reaches a chart is sent to the browser (notes Streamlit §0.2).
Secrets (`statut == 's'`, `valeur` null) are gaps in lines, grey hatched areas with a dark outline
on maps, grey cells reading `s` in heatmaps and `s` labels in bar charts; the legend or subtitle says
« s : secret statistique ». Colours are colour-blind safe (Okabe-Ito, 'blues'), and nothing is
told by colour alone (labels, tooltips, dashed lines and shapes).

Number formats are French: labels are formatted in Python (`analytics.formatting`), axes use d3
formats resolved with the French locale written into each chart's `config.locale`, and
`to_png` / `to_svg` pass the same locale to vl-convert.
"""

from __future__ import annotations

import copy
import hashlib
from functools import lru_cache

import altair as alt
import polars as pl

from analytics.formatting import MONTHS, NOT_COMPUTABLE, SECRET_LEGEND, SECRET_MARK, display_rank, fr_float, fr_int, fr_pct, fr_period
from analytics.referentials import GEO_DIR, MAP_ATTRIBUTION, geojson

OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
BAR_COLOR = "#0072B2"
SEQUENTIAL_SCHEME = "blues"
SECRET_FILL = "#9a9a9a"
SECRET_STROKE = "#333333"
NO_DATA_FILL = "#ececec"
NO_DATA_LEGEND = "aucune donnée"
CURRENT_LABEL = "Période"
PREVIOUS_LABEL = "Même période, année précédente"

_MONTHS_FULL = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                "octobre", "novembre", "décembre"]


def french_locale() -> dict:
    """d3-format locale for French numbers (1 234,5 with a narrow no-break space; 12 €)."""
    return {"decimal": ",", "thousands": "\u202f", "grouping": [3], "currency": ["", "\u00a0€"]}


def french_time_locale() -> dict:
    """d3-time-format locale with French day and month names."""
    return {
        "dateTime": "%A %e %B %Y à %X",
        "date": "%d/%m/%Y",
        "time": "%H:%M:%S",
        "periods": ["", ""],
        "days": ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
        "shortDays": ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
        "months": list(_MONTHS_FULL),
        "shortMonths": list(MONTHS),
    }


def _finish(chart, *, large: bool = False):
    """French locale and font sizes, common to every chart.

    Set in place on the chart the builder has just made: each chained `configure_*` call deep-copies the
    whole chart, which cost half the time of building a layered chart (about 15 ms of 30)."""
    base, title = (18, 24) if large else (11, 15)
    chart.config = alt.Config(
        locale=alt.Locale(number=french_locale(), time=french_time_locale()),
        axis=alt.AxisConfig(labelFontSize=base, titleFontSize=base + 1),
        legend=alt.LegendConfig(labelFontSize=base, titleFontSize=base + 1, labelLimit=400),
        title=alt.TitleConfig(fontSize=title, subtitleFontSize=base, anchor="start"),
        view=alt.ViewConfig(stroke=None),
    )
    return chart


def _title(title: str, subtitle: list[str] | None = None) -> alt.TitleParams:
    return alt.TitleParams(text=title, subtitle=subtitle or alt.Undefined)


def period_label(periode: str) -> str:
    """'2025-03' -> 'mars 2025', '2025-T2' -> 'T2 2025', '2025' -> '2025' (short, for axes and tooltips)."""
    return fr_period(periode, short=True)


# Vega expression doing period_label on the axis (the data keep the sortable code).
_MONTH_ARRAY = "[" + ",".join(f"'{m}'" for m in MONTHS) + "]"
_PERIOD_LABEL_EXPR = (
    "length(datum.value) == 7 && indexof(datum.value, 'T') < 0 "
    f"? {_MONTH_ARRAY}[toNumber(substring(datum.value, 5, 7)) - 1] + ' ' + substring(datum.value, 0, 4) "
    ": (indexof(datum.value, '-T') > 0 ? substring(datum.value, 5) + ' ' + substring(datum.value, 0, 4) "
    ": datum.value)"
)


def _previous_period(periode: str) -> str:
    """The same period one year later: the key a previous-year value is drawn at."""
    return str(int(periode[:4]) + 1) + periode[4:]


def _cell_text(valeur: int | None, statut: str | None) -> str:
    if statut is None:
        return NO_DATA_LEGEND
    if statut != "publie" or valeur is None:
        return SECRET_MARK
    return fr_int(valeur)


def _with_text(frame: pl.DataFrame, value_col: str = "valeur", share: bool = False, rate: bool = False) -> pl.DataFrame:
    """Adds `texte`: the French value (share, or rate with one decimal) of each cell, `s` when secret, `–` when a
    published cell has no derived value."""
    def fmt(row: dict) -> str:
        if row["statut"] != "publie":
            return SECRET_MARK
        if row[value_col] is None:
            return NOT_COMPUTABLE
        return fr_pct(row[value_col]) if share else fr_float(row[value_col]) if rate else fr_int(row[value_col])

    texts = [fmt(row) for row in frame.select(value_col, "statut").iter_rows(named=True)]
    return frame.with_columns(pl.Series("texte", texts, dtype=pl.String))


def _blank_secrets(frame: pl.DataFrame, value_col: str) -> pl.DataFrame:
    """A secret never carries a value, whatever the caller passed."""
    return frame.with_columns(
        pl.when(pl.col("statut") == "publie").then(pl.col(value_col)).otherwise(None).alias(value_col)
    )


# --------------------------------------------------------------------------- trend


def trend_chart(
    frame: pl.DataFrame,
    title: str,
    compare_previous_year: bool = False,
    *,
    series: str | None = None,
    series_title: str = "Série",
    value_title: str = "Effectif",
    large: bool = False,
) -> alt.LayerChart:
    """Line of `valeur` over `periode` ('YYYY-MM', 'YYYY-Tn' or 'YYYY'), one line per `series` value.

    `frame`: published cells (or a projection) with `periode`, `valeur`, `statut` and the `series`
    column if given (e.g. `modalite`, `geo_libelle`); one row per period and series, all periods of
    one level. Secret cells keep a null `valeur`, so the line breaks there (no imputation, invalid
    values break the path); points mark published values; the subtitle reads « s : secret
    statistique » when a secret is present. `compare_previous_year` adds the same series one year
    earlier, drawn at the current period as a dashed line (legend « Même période, année
    précédente »). `large` sets projector-size type (18-24 px). Data sent: periode, [series],
    valeur, statut, texte, libelle_periode, courbe."""
    keep = ["periode"] + ([series] if series else []) + ["valeur", "statut"]
    data = _blank_secrets(frame.select(keep), "valeur").sort(keep[:-2])
    data = data.with_columns(pl.lit(CURRENT_LABEL).alias("courbe"))
    if compare_previous_year:
        shifted = data.with_columns(
            pl.col("periode").map_elements(_previous_period, return_dtype=pl.String),
            pl.lit(PREVIOUS_LABEL).alias("courbe"),
        )
        current_keys = data.select(keep[:-2])
        shifted = shifted.join(current_keys, on=keep[:-2], how="semi")
        data = pl.concat([data, shifted])
    has_secret = bool((data["statut"] != "publie").any())
    data = _with_text(data).with_columns(
        pl.col("periode").map_elements(period_label, return_dtype=pl.String).alias("libelle_periode")
    )
    if compare_previous_year:
        # The tooltip of a dashed point names the period it really is.
        data = data.with_columns(
            pl.when(pl.col("courbe") == PREVIOUS_LABEL)
            .then(pl.col("periode").map_elements(
                lambda p: period_label(str(int(p[:4]) - 1) + p[4:]), return_dtype=pl.String))
            .otherwise(pl.col("libelle_periode"))
            .alias("libelle_periode")
        )
    periods = sorted(data["periode"].unique().to_list())
    x = alt.X("periode:O", sort=periods, title="Période",
              axis=alt.Axis(labelExpr=_PERIOD_LABEL_EXPR, labelAngle=-45 if len(periods) > 8 else 0))
    y = alt.Y("valeur:Q", title=value_title, axis=alt.Axis(format=",d"))
    tooltip = [alt.Tooltip("libelle_periode:N", title="Période")]
    if series:
        tooltip.append(alt.Tooltip(f"{series}:N", title=series_title))
    tooltip += [alt.Tooltip("texte:N", title=value_title), alt.Tooltip("courbe:N", title="Courbe")]
    encodings = {"x": x, "y": y, "tooltip": tooltip}
    detail = [alt.Detail("courbe:N")]
    if series:
        encodings["color"] = alt.Color(f"{series}:N", title=series_title,
                                       scale=alt.Scale(range=OKABE_ITO))
        detail.append(alt.Detail(f"{series}:N"))
    dash = alt.StrokeDash("courbe:N", title="Courbe",
                          scale=alt.Scale(domain=[CURRENT_LABEL, PREVIOUS_LABEL], range=[[1, 0], [6, 4]]),
                          legend=alt.Legend(orient="bottom") if compare_previous_year else None)
    width = 3 if large else 2
    base = alt.Chart(data)
    line_kwargs = {"color": BAR_COLOR} if not series else {}
    line = base.mark_line(strokeWidth=width, invalid="break-paths-filter-domains", **line_kwargs).encode(
        strokeDash=dash, detail=detail, **encodings)
    point_enc = dict(encodings)
    if series:
        point_enc["shape"] = alt.Shape(f"{series}:N", title=series_title)
    points = base.transform_filter("datum.statut == 'publie'").mark_point(
        filled=True, size=90 if large else 40, **line_kwargs).encode(**point_enc)
    subtitle = [SECRET_LEGEND + " (interruption de la courbe)"] if has_secret else None
    chart = alt.layer(line, points).properties(title=_title(title, subtitle))
    return _finish(chart, large=large)


# --------------------------------------------------------------------------- bars


def bar_chart(
    frame: pl.DataFrame,
    category: str,
    title: str,
    share: bool = False,
    *,
    total: int | None = None,
    category_title: str = "",
    value_title: str | None = None,
    large: bool = False,
) -> alt.LayerChart:
    """Horizontal bars of `valeur` by the label column `category`, largest first, French value labels.

    `frame`: one row per category with `category`, `valeur`, `statut`. `share=True` draws shares of
    `total` (default: the sum of the published values shown) formatted « 12,5 % ». Secret rows sort
    after the non-zero values and before the zeros (formatting.display_rank) and have no bar but a
    label `s`; the subtitle reads « s : secret statistique ».
    Data sent: category, valeur (or part), statut, texte."""
    data = _bar_data(frame, category, share, total)
    has_secret = bool((data["statut"] != "publie").any())
    return _bars(data, data[category].to_list(), category, title, share, has_secret, category_title, value_title, large)


def bar_chart_spec(frame: pl.DataFrame, category: str, title: str, share: bool = False, *, total: int | None = None,
                   category_title: str = "", value_title: str | None = None, large: bool = False) -> dict:
    """`bar_chart(...).to_dict()`, without building the Altair chart each time: Altair takes about 20 ms to build
    and copy a layered chart, a page of partitions draws six. The spec is made once per chart structure (every
    argument but the data) on a placeholder row, then gets this frame's rows and order. Call it in the Altair
    context `to_dict` would run in (page_parts.chart_spec: no theme, no row limit); tests/test_charts.py checks that
    both give the same spec."""
    data = _bar_data(frame, category, share, total)
    has_secret = bool((data["statut"] != "publie").any())
    order = data[category].to_list()
    if data.schema[category] not in (pl.String, pl.Categorical):  # Altair writes dates as ISO text: let it
        return _bars(data, order, category, title, share, has_secret, category_title, value_title,
                     large).to_dict(validate=False)
    # Altair's global settings shape the spec: part of the template's key.
    template, placeholder = _bar_template(category, title, share, has_secret, category_title, value_title, large,
                                          tuple(data.columns), alt.theme.active,
                                          alt.data_transformers.consolidate_datasets)
    return _with_dataset(template, placeholder, data.to_dicts(), order)


_PLACEHOLDER = "\x00placeholder"


@lru_cache(maxsize=64)
def _bar_template(category: str, title: str, share: bool, has_secret: bool, category_title: str, value_title: str | None,
                  large: bool, columns: tuple, _theme: str, _consolidate: bool) -> tuple[dict, str]:
    """The spec of a bar chart of this structure drawn from one placeholder row, and that row's dataset name.
    The columns' types do not reach the spec (every encoding names its type). Shared: read only (`_with_dataset`
    copies every dict and list it returns)."""
    row = pl.DataFrame({c: [_PLACEHOLDER if c == category else None] for c in columns})
    spec = _bars(row, [_PLACEHOLDER], category, title, share, has_secret, category_title, value_title,
                 large).to_dict(validate=False)
    (name,) = spec["datasets"]
    return spec, name


def _with_dataset(spec, placeholder: str, values: list[dict], order: list):
    """A copy of the template with its placeholder dataset and sort order replaced by the real ones (names as Altair
    gives them); the template itself is left untouched."""
    from altair.vegalite.v6.api import _dataset_name

    name = _dataset_name(values)

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == placeholder and set(node) == {"name"}:
                return {"name": name}
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return list(order) if node == [_PLACEHOLDER] else [walk(v) for v in node]
        return node

    spec = walk({k: v for k, v in spec.items() if k != "datasets"})
    spec["datasets"] = {name: values}
    return spec


def _bar_data(frame: pl.DataFrame, category: str, share: bool, total: int | None) -> pl.DataFrame:
    """The rows a bar chart sends: category, valeur or part, statut, texte; largest first, secrets before zeros."""
    value_col = "part" if share else "valeur"
    data = _blank_secrets(frame.select(category, "valeur", "statut"), "valeur")
    if share:
        denominator = total if total is not None else int(data["valeur"].sum() or 0)
        data = data.with_columns(
            (pl.col("valeur") / denominator if denominator else pl.lit(None, dtype=pl.Float64)).alias("part")
        ).drop("valeur")
    return _with_text(data, value_col, share=share).sort(display_rank(value_col), pl.col(value_col),
                                                         descending=[False, True], nulls_last=True)


def _bars(data: pl.DataFrame, order: list, category: str, title: str, share: bool, has_secret: bool,
          category_title: str, value_title: str | None, large: bool) -> alt.LayerChart:
    value_col = "part" if share else "valeur"
    value_title = value_title or ("Part" if share else "Effectif")
    fmt = ".0%" if share else ",d"
    base = alt.Chart(data).encode(
        y=alt.Y(f"{category}:N", sort=order, title=category_title or None, axis=alt.Axis(labelLimit=300)),
        tooltip=[alt.Tooltip(f"{category}:N", title=category_title or "Catégorie"),
                 alt.Tooltip("texte:N", title=value_title)],
    )
    bars = base.mark_bar(color=BAR_COLOR).encode(
        x=alt.X(f"{value_col}:Q", title=value_title, axis=alt.Axis(format=fmt)))
    labels = base.transform_calculate(position=f"datum.{value_col} == null ? 0 : datum.{value_col}").mark_text(
        align="left", dx=4, fontSize=18 if large else 11).encode(x=alt.X("position:Q"), text=alt.Text("texte:N"))
    subtitle = [SECRET_LEGEND] if has_secret else None
    chart = alt.layer(bars, labels).properties(title=_title(title, subtitle))
    return _finish(chart, large=large)


# Builders with a faster path to the same spec (page_parts.chart_spec uses it).
SPEC_BUILDERS = {bar_chart: bar_chart_spec}


# --------------------------------------------------------------------------- heatmap


def heatmap(
    frame: pl.DataFrame,
    x: str,
    y: str,
    title: str,
    *,
    value_col: str = "valeur",
    share: bool = False,
    x_title: str = "",
    y_title: str = "",
    value_title: str | None = None,
    large: bool = False,
    rate: bool = False,
) -> alt.LayerChart:
    """Rect heatmap of `value_col` by `x` × `y` (e.g. territoire × problématique), each cell labelled.

    `frame`: one row per (x, y) with `x`, `y`, `value_col`, `statut`; `share=True` formats the values
    as percentages (values are fractions). Published cells are coloured on the sequential 'blues'
    scale; secret cells are grey and read `s`; the colour legend has an entry « s : secret
    statistique ». Data sent: x, y, value_col, statut, texte."""
    value_title = value_title or ("Part" if share else "Effectif")
    data = _with_text(_blank_secrets(frame.select(x, y, value_col, "statut"), value_col), value_col, share=share, rate=rate)
    top = data[value_col].max()
    threshold = 0.6 * float(top) if top is not None else 0.0
    base = alt.Chart(data).encode(
        x=alt.X(f"{x}:N", title=x_title or None, axis=alt.Axis(labelAngle=-40, labelLimit=200)),
        y=alt.Y(f"{y}:N", title=y_title or None, axis=alt.Axis(labelLimit=300)),
        tooltip=[alt.Tooltip(f"{y}:N", title=y_title or "Ligne"), alt.Tooltip(f"{x}:N", title=x_title or "Colonne"),
                 alt.Tooltip("texte:N", title=value_title)],
    )
    cells = base.transform_filter(f"datum.statut == 'publie' && datum.{value_col} != null").mark_rect(stroke="white").encode(
        color=alt.Color(f"{value_col}:Q", title=value_title, scale=alt.Scale(scheme=SEQUENTIAL_SCHEME),
                        legend=alt.Legend(format=".0%" if share else ",.1f" if rate else ",d")))
    secrets = base.transform_filter("datum.statut != 'publie'").transform_calculate(
        legende=f"'{SECRET_LEGEND}'").mark_rect(stroke=SECRET_STROKE, strokeDash=[3, 2]).encode(
        fill=alt.Fill("legende:N", title=None, scale=alt.Scale(domain=[SECRET_LEGEND], range=[SECRET_FILL])))
    text = base.mark_text(fontSize=18 if large else 11).encode(
        text="texte:N",
        color=alt.condition(f"datum.{value_col} != null && datum.{value_col} > {threshold}",
                            alt.value("white"), alt.value("black")),
    )
    chart = alt.layer(cells, secrets, text).resolve_scale(color="independent", fill="independent").properties(
        title=_title(title))
    return _finish(chart, large=large)


# --------------------------------------------------------------------------- maps


def _ring_area(ring: list) -> float:
    """Planar signed area in lon/lat (positive = counter-clockwise)."""
    return sum(x0 * y1 - x1 * y0 for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:])) / 2


def rewind(geometry: dict) -> dict:
    """Copy of a (Multi)Polygon with d3's winding: exterior rings clockwise, holes counter-clockwise.

    RFC 7946 asks the opposite; d3-geo (so Vega-Lite) would then fill the whole sphere but the
    polygon: the map is drawn inside out (notes Streamlit §0.4)."""
    geometry = copy.deepcopy(geometry)
    polygons = {"Polygon": [geometry["coordinates"]], "MultiPolygon": geometry["coordinates"]}.get(geometry["type"], [])
    for polygon in polygons:
        for i, ring in enumerate(polygon):
            clockwise = _ring_area(ring) < 0
            if clockwise != (i == 0):
                ring.reverse()
    return geometry


MAP_DECIMALS = 3  # about 100 m: a national map shows 2 km a pixel, and the spec sent to the browser halves


def _rounded(geometry: dict, decimals: int = MAP_DECIMALS) -> dict:
    """A (Multi)Polygon with coordinates rounded, repeated points dropped; rings that collapse are dropped
    (tiny islands), and the geometry is kept as it was if nothing would remain."""
    def ring(points: list) -> list | None:
        out: list = []
        for x, y, *_ in points:
            point = [round(x, decimals), round(y, decimals)]
            if not out or out[-1] != point:
                out.append(point)
        if out[0] != out[-1]:
            out.append(out[0])
        return out if len(out) >= 4 else None

    def polygon(rings: list) -> list | None:
        kept = [ring(r) for r in rings]
        return None if kept[0] is None else [r for r in kept if r is not None]

    if geometry["type"] == "Polygon":
        rounded = polygon(geometry["coordinates"])
        return {"type": "Polygon", "coordinates": rounded} if rounded else geometry
    if geometry["type"] == "MultiPolygon":
        parts = [p for p in (polygon(rings) for rings in geometry["coordinates"]) if p]
        return {"type": "MultiPolygon", "coordinates": parts} if parts else geometry
    return geometry


@lru_cache(maxsize=2)
def _features(level: str) -> tuple:
    """Features of the shipped map, rounded (`MAP_DECIMALS`), rewound, with only `code` and `nom` kept."""
    return tuple(
        {"type": "Feature", "geometry": rewind(_rounded(f["geometry"])),
         "properties": {"code": f["properties"]["code"], "nom": f["properties"]["nom"]}}
        for f in geojson(level)["features"]
    )


@lru_cache(maxsize=1)
def _frames() -> tuple:
    import json

    gj = json.loads((GEO_DIR / "cadres-drom.geojson").read_text(encoding="utf-8"))
    return tuple({"type": "Feature", "geometry": f["geometry"], "properties": {}} for f in gj["features"])


def map_features(level: str) -> list[dict]:
    """The rewound features a choropleth of `level` draws (copies)."""
    return copy.deepcopy(list(_features(level)))


# Geometry stays out of Altair's object tree: a chart refers to it by name and `MapChart.to_dict` puts the
# values in the spec's `datasets`. Altair would otherwise copy and validate every coordinate each time a
# map is built (about a second for the départements), where the geometry is the same for every map.
_GEO_PREFIX = "vigie-geo-"
_geo_datasets: dict[str, object] = {}  # name -> a callable returning the (cached, shared) values


def _geo_data(name: str, values) -> alt.Data:
    _geo_datasets.setdefault(_GEO_PREFIX + name, values)
    return alt.Data(name=_GEO_PREFIX + name)


class MapChart(alt.LayerChart):
    """A layered map whose geometry datasets are added to its spec by `to_dict` (what Streamlit, vl-convert
    and `save` call). The values are shared, not copied: a spec must not be modified in place."""

    def to_dict(self, *args, **kwargs) -> dict:
        spec = super().to_dict(*args, **kwargs)
        views = [spec, *spec.get("layer", [])]
        names = {v["data"]["name"] for v in views if isinstance(v.get("data"), dict) and "name" in v["data"]}
        wanted = sorted(n for n in names if n in _geo_datasets)
        if wanted:
            spec["datasets"] = {**spec.get("datasets", {}), **{n: _geo_datasets[n]() for n in wanted}}
        return spec


# Hatching. Vega-Lite has no pattern fill: a secret area gets a layer of diagonal lines clipped to its
# polygon. Lines are drawn in a local plane where a degree of longitude is shrunk by cos(46.5°), so
# that after the conformal projection they run at about 45°; the grid is the same for every area,
# so neighbouring secret areas read as one hatched surface.
HATCH_STROKE = "#1f1f1f"
HATCH_SYMBOL = "M-1,-1H1V1H-1Z M-1,0L0,-1 M-1,1L1,-1 M0,1L1,0"  # legend swatch: a square with three diagonals
HATCH_SPACING = 0.14  # between two lines, in degrees of latitude (about 6 px on a 520 px map of France)
_HATCH_COS = 0.688  # cos(46.5°), the middle latitude of metropolitan France


def _hatch_segments(rings: list[list], spacing: float = HATCH_SPACING) -> list[list[list[float]]]:
    """Segments of the lines u - v = c (c on a grid of `spacing`) inside the polygon formed by `rings`.

    u = lon × cos(46.5°), v = lat. Every ring of every part goes in (even-odd rule: holes stay
    empty). Each edge adds its crossing with the lines whose c it straddles (half-open test, so a
    vertex on a line counts once); the crossings of one line, sorted along it, pair up into the
    inside segments. Returns segments as [[lon, lat], [lon, lat]]."""
    crossings: dict[int, list[tuple[float, float]]] = {}
    for ring in rings:
        for (x0, y0, *_), (x1, y1, *_) in zip(ring, ring[1:]):
            u0, u1 = x0 * _HATCH_COS, x1 * _HATCH_COS
            d0, d1 = u0 - y0, u1 - y1
            if d0 == d1:
                continue
            low, high = (d0, d1) if d0 < d1 else (d1, d0)
            index = int(-(-low // spacing))  # the smallest index with index * spacing >= low
            while index * spacing < high:
                c = index * spacing
                t = (c - d0) / (d1 - d0)
                u, v = u0 + t * (u1 - u0), y0 + t * (y1 - y0)
                crossings.setdefault(index, []).append((u + v, u))
                index += 1
    segments = []
    for index in sorted(crossings):
        points = sorted(crossings[index])
        c = index * spacing
        for (_, ua), (_, ub) in zip(points[0::2], points[1::2]):
            segments.append([[round(ua / _HATCH_COS, 5), round(ua - c, 5)], [round(ub / _HATCH_COS, 5), round(ub - c, 5)]])
    return segments


@lru_cache(maxsize=2)
def _hatches(level: str) -> dict:
    """Hatch geometry of every area of `level` (code -> MultiLineString feature), computed once per map level."""
    out = {}
    for feature in _features(level):
        geometry = feature["geometry"]
        polygons = {"Polygon": [geometry["coordinates"]], "MultiPolygon": geometry["coordinates"]}.get(geometry["type"], [])
        rings = [ring for polygon in polygons for ring in polygon]
        segments = _hatch_segments(rings)
        if segments:
            code = feature["properties"]["code"]
            out[code] = {"type": "Feature", "geometry": {"type": "MultiLineString", "coordinates": segments},
                         "properties": {"code": code}}
    return out


def hatch_features(level: str, codes, *, shared: bool = False) -> list[dict]:
    """Hatch lines of the areas `codes` of a `level` map (copies unless `shared`; only the code as property)."""
    table = _hatches(level)
    found = [table[code] for code in sorted(set(codes)) if code in table]
    return found if shared else copy.deepcopy(found)


def choropleth(
    frame: pl.DataFrame,
    level: str = "region",
    value_col: str = "valeur",
    title: str = "",
    *,
    share: bool = False,
    value_title: str | None = None,
    large: bool = False,
    width: int = 520,
    height: int = 520,
    rate: bool = False,
) -> alt.LayerChart:
    """Map of France (`level` 'region' or 'departement', DROM brought close, inset frames) coloured by `value_col`.

    `frame`: one row per territory with `geo_code`, `geo_libelle`, `value_col`, `statut` (published
    cells of one geo level). The values are joined to the shapes by code (`transform_lookup` from
    a small frame code, libelle, value_col, statut, texte: nothing else is sent). Published areas
    use the 'blues' scale; secret areas are grey, hatched (a layer of diagonal lines clipped to each
    secret area, `hatch_features`, only for the secret areas) with a dark outline, and territories
    without data light grey, both named in a legend (« s : secret statistique » with a hatched
    swatch, « aucune donnée »): the secret is not told by colour alone.
    The subtitle is the map attribution (`MAP_ATTRIBUTION`).

    Selection: the chart carries `alt.selection_point(fields=['code'], name='territoire')`; with
    `st.altair_chart(chart, on_select='rerun', key=...)` the page reads the clicked code in
    `event.selection.territoire` (a list of {'code': ...})."""
    if level not in ("region", "departement"):
        raise ValueError("level must be 'region' or 'departement'")
    value_title = value_title or ("Part" if share else "Effectif")
    data = frame.select(pl.col("geo_code").alias("code"), pl.col("geo_libelle").alias("libelle"),
                        pl.col(value_col), pl.col("statut"))
    data = _with_text(_blank_secrets(data, value_col), value_col, share=share, rate=rate)
    fields = ["libelle", value_col, "statut", "texte"]
    shapes = _geo_data(f"carte-{level}", lambda: list(_features(level)))
    territoire = alt.selection_point(fields=["code"], name="territoire")

    def joined() -> alt.Chart:
        return alt.Chart().transform_calculate(code="datum.properties.code").transform_lookup(
            lookup="code", from_=alt.LookupData(data=data, key="code", fields=fields)
        ).transform_calculate(
            libelle="datum.libelle == null ? datum.properties.nom : datum.libelle",
            texte=f"datum.texte == null ? '{NO_DATA_LEGEND}' : datum.texte",
        )

    # The legend's secret swatch is hatched like the areas (a custom symbol path), the no-data one plain.
    is_secret_entry = f"datum.value == '{SECRET_LEGEND}'"
    legend = joined().transform_calculate(
        legende=f"datum.statut == 's' ? '{SECRET_LEGEND}' : (datum.statut == null ? '{NO_DATA_LEGEND}' : null)"
    ).transform_filter("datum.legende != null").mark_geoshape(stroke="white").encode(
        fill=alt.Fill("legende:N", title=None, scale=alt.Scale(domain=[SECRET_LEGEND, NO_DATA_LEGEND], range=[SECRET_FILL, NO_DATA_FILL]),
                      legend=alt.Legend(
                          orient="bottom-left", symbolSize=180, symbolStrokeWidth=1,
                          symbolType=alt.ExprRef(expr=f"{is_secret_entry} ? '{HATCH_SYMBOL}' : 'square'"),
                          symbolStrokeColor=alt.ExprRef(expr=f"{is_secret_entry} ? '{HATCH_STROKE}' : '#bbbbbb'"))))
    areas = joined().mark_geoshape().encode(
        fill=alt.Fill(f"{value_col}:Q", title=value_title, scale=alt.Scale(scheme=SEQUENTIAL_SCHEME),
                      legend=alt.Legend(format=".0%" if share else ",.1f" if rate else ",d", orient="top-left"),
                      condition=[{"test": "datum.statut == 's'", "value": SECRET_FILL},
                                 {"test": f"datum.statut == null || datum.{value_col} == null", "value": NO_DATA_FILL}]),
        stroke=alt.condition("datum.statut == 's'", alt.value(SECRET_STROKE), alt.value("white")),
        strokeWidth=alt.condition(territoire, alt.value(1.0), alt.value(0.6)),
        opacity=alt.condition(territoire, alt.value(1.0), alt.value(0.55)),
        tooltip=[alt.Tooltip("libelle:N", title="Territoire"), alt.Tooltip("texte:N", title=value_title)],
    ).add_params(territoire)
    layers = [legend, areas]
    secret_codes = tuple(sorted(set(data.filter(pl.col("statut") != "publie")["code"].to_list()) & set(_hatches(level))))
    if secret_codes:
        # Over the secret areas only. A click on a line chooses the area under it (its datum has the code).
        digest = hashlib.sha1(",".join(secret_codes).encode()).hexdigest()[:16]
        hatches = _geo_data(f"hachures-{level}-{digest}", lambda: hatch_features(level, secret_codes, shared=True))
        layers.append(alt.Chart(hatches).transform_calculate(code="datum.properties.code")
                      .mark_geoshape(filled=False, stroke=HATCH_STROKE, strokeWidth=0.8))
    layers.append(alt.Chart(_geo_data("cadres-drom", lambda: list(_frames()))).mark_geoshape(
        filled=False, stroke="#777777", strokeWidth=0.8))
    chart = alt.layer(*layers, data=shapes).resolve_scale(fill="independent").project(type="conicConformal", parallels=[44, 49], rotate=[-3, 0]).properties(
        title=_title(title, [MAP_ATTRIBUTION]), width=width, height=height)
    chart = _finish(chart, large=large)
    object.__setattr__(chart, "__class__", MapChart)  # the geometry goes into the spec at to_dict (SchemaBase.__setattr__ would store it as a property)
    return chart


# --------------------------------------------------------------------------- static export


def _vl_convert():
    try:
        import vl_convert
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise RuntimeError("Static chart export needs the package vl-convert-python.") from exc
    return vl_convert


def to_png(chart, scale: float = 2.0) -> bytes:
    """PNG of a chart, rendered offline by vl-convert with French number and date formats."""
    vlc = _vl_convert()
    return vlc.vegalite_to_png(chart.to_dict(), scale=scale, format_locale=french_locale(),
                               time_format_locale=french_time_locale(), allowed_base_urls=[])


def to_svg(chart) -> str:
    """SVG of a chart, rendered offline by vl-convert with French number and date formats."""
    vlc = _vl_convert()
    return vlc.vegalite_to_svg(chart.to_dict(), format_locale=french_locale(),
                               time_format_locale=french_time_locale(), allowed_base_urls=[])
