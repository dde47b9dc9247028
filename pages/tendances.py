"""Tendances: series of a territory by month, quarter or year with the year-on-year comparison, readable on a projector."""

from analytics.auth import require

user = require(__file__)

import streamlit as st  # noqa: E402

from analytics import charts, dashboard  # noqa: E402
from analytics.page_parts import dashboard_header, data_view  # noqa: E402

scope, filters, where = dashboard_header("Tendances", user)

labels = dashboard.indicator_choices()
choices = list(labels)
left, right = st.columns([3, 1])
chosen = left.selectbox("Indicateur", choices, format_func=labels.get, key="t_indicateur")
large = right.toggle("Grands caractères (projection)", key="t_large")
compare = right.toggle("Comparer à l'année précédente", value=True, key="t_compare")

frame = dashboard.series(filters, scope, chosen[0], [chosen[1]])
title = f"{labels[chosen]} · {where}"
if frame.height == 0:
    st.info("Aucune série publiée pour ce territoire, cet indicateur et ce niveau.")
    st.stop()
st.altair_chart(charts.trend_chart(frame, title, compare_previous_year=compare, large=large),
                alt=f"Courbe de l'indicateur « {labels[chosen]} » pour {where}, par {dashboard.GRANULARITY_LABELS[filters.granularity].lower()}")
secrets = int((frame["statut"] == "s").sum())
if secrets:
    st.caption(f"{secrets} période(s) couverte(s) par le secret statistique : la courbe s'interrompt (« s »).")
shown = frame.with_columns(frame["periode"].map_elements(dashboard.period_label, return_dtype=str).alias("libelle_periode"))
data_view(dashboard.display_table(shown, {"libelle_periode": "Période", "valeur": labels[chosen]}), "tendance", "Tendance")
