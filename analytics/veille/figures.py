"""Altair charts of the Veille RPS page: the map of current alerts by severity, the series of an alert.

Like analytics.charts, each builder projects its frame to the columns it shows: whatever reaches a
chart is sent to the browser. The map carries severity bands only (no figure); the series chart
carries published values (gaps at secrets) and, where given, the expected band computed on
published values (``analytics.veille.board.expected_band``).
"""

from __future__ import annotations

import altair as alt
import polars as pl

from analytics.charts import BAR_COLOR, french_locale, map_features, period_label
from analytics.formatting import SECRET_LEGEND, fr_float, fr_int
from analytics.referentials import MAP_ATTRIBUTION
from analytics.veille.severity import BANDS, LABELS

SEVERITY_DOMAIN = [LABELS[b] for b in BANDS]
SEVERITY_COLOURS = ["#fdb863", "#e66101", "#5e3c99"]  # orange to purple (PuOr ends): colour-blind safe
NO_ALERT = "aucune alerte"
NO_ALERT_FILL = "#eeeeee"
BAND_FILL = "#009E73"


def _finish(chart):
    return (chart.configure(locale=alt.Locale(number=french_locale()))
            .configure_title(anchor="start", fontSize=15, subtitleFontSize=11)
            .configure_legend(labelFontSize=11, titleFontSize=12, labelLimit=400)
            .configure_view(stroke=None))


def severity_map(frame: pl.DataFrame, title: str = "Alertes en cours par département") -> alt.Chart:
    """Départements coloured by the most severe current alert touching them (`geo_code`, `geo_libelle`, `gravite`)."""
    data = frame.select(pl.col("geo_code").alias("code"), pl.col("geo_libelle").alias("libelle"), "gravite")
    domain, colours = SEVERITY_DOMAIN + [NO_ALERT], SEVERITY_COLOURS + [NO_ALERT_FILL]
    chart = alt.Chart(alt.Data(values=map_features("departement"))).transform_calculate(
        code="datum.properties.code").transform_lookup(
        lookup="code", from_=alt.LookupData(data=data, key="code", fields=["libelle", "gravite"])
    ).transform_calculate(
        libelle="datum.libelle == null ? datum.properties.nom : datum.libelle",
        gravite=f"datum.gravite == null ? '{NO_ALERT}' : datum.gravite",
    ).mark_geoshape(stroke="white", strokeWidth=0.6).encode(
        fill=alt.Fill("gravite:N", title="Gravité", scale=alt.Scale(domain=domain, range=colours),
                      legend=alt.Legend(orient="top-left")),
        tooltip=[alt.Tooltip("libelle:N", title="Département"), alt.Tooltip("gravite:N", title="Gravité")],
    ).project(type="conicConformal", parallels=[44, 49], rotate=[-3, 0]).properties(
        title=alt.TitleParams(title, subtitle=[MAP_ATTRIBUTION]), width=520, height=520)
    return _finish(chart)


def alert_series_chart(frame: pl.DataFrame, title: str) -> alt.LayerChart:
    """Published values (`periode`, `valeur`, `statut`) as a line broken at secrets, and the band from `attendu` to
    `seuil` where they are given (the usual range: above it, the detection would alert)."""
    data = frame.select("periode", "valeur", "statut", "attendu", "seuil").with_columns(
        pl.when(pl.col("statut") == "publie").then(pl.col("valeur")).otherwise(None).alias("valeur"))
    texts = [("s" if st != "publie" or v is None else fr_int(v)) for v, st in data.select("valeur", "statut").iter_rows()]
    band_texts = ["" if a is None else f"{fr_float(a, 1)} (seuil {fr_float(s, 0) if s is not None else '–'})"
                  for a, s in data.select("attendu", "seuil").iter_rows()]
    data = data.with_columns(pl.Series("texte", texts, dtype=pl.String), pl.Series("texte_attendu", band_texts, dtype=pl.String),
                             pl.col("periode").map_elements(period_label, return_dtype=pl.String).alias("libelle_periode"))
    periods = data["periode"].to_list()
    x = alt.X("periode:O", sort=periods, title="Période", axis=alt.Axis(labelAngle=-45 if len(periods) > 8 else 0))
    tooltip = [alt.Tooltip("libelle_periode:N", title="Période"), alt.Tooltip("texte:N", title="Chiffre publié"),
               alt.Tooltip("texte_attendu:N", title="Attendu")]
    base = alt.Chart(data)
    band = base.transform_filter("datum.attendu != null").mark_area(opacity=0.25, color=BAND_FILL).encode(
        x=x, y=alt.Y("attendu:Q", title="Nombre"), y2="seuil:Q", tooltip=tooltip)
    line = base.mark_line(color=BAR_COLOR, strokeWidth=2, invalid="break-paths-filter-domains").encode(
        x=x, y=alt.Y("valeur:Q", title="Nombre", axis=alt.Axis(format=",d")), tooltip=tooltip)
    points = base.transform_filter("datum.statut == 'publie'").mark_point(filled=True, color=BAR_COLOR, size=40).encode(
        x=x, y="valeur:Q", tooltip=tooltip)
    subtitle = ["Bande verte : de la valeur attendue au seuil d'alerte, calculés sur les chiffres publiés"]
    if (data["statut"] != "publie").any():
        subtitle.append(SECRET_LEGEND + " (interruption de la courbe)")
    return _finish(alt.layer(band, line, points).properties(title=alt.TitleParams(title, subtitle=subtitle), width="container"))
