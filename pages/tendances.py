"""Tendances: series of a territory by month, quarter or year with the year-on-year comparison, readable on a projector."""

from analytics.auth import require

user = require(__file__)

import streamlit as st  # noqa: E402

from analytics import dashboard  # noqa: E402
from analytics.page_parts import cached, dashboard_header, trend_view  # noqa: E402

scope, filters, where = dashboard_header("Tendances", user)

labels = dashboard.indicator_choices()
choices = list(labels)
left, right = st.columns([3, 1])
chosen = left.selectbox("Indicateur", choices, format_func=labels.get, key="t_indicateur")
large = right.toggle("Grands caractères (projection)", key="t_large")
compare = right.toggle("Comparer à l'année précédente", value=True, key="t_compare")

frame = cached(dashboard.series, filters, scope, chosen[0], (chosen[1],))
if frame.height == 0:
    st.info("Aucune série publiée pour ce territoire, cet indicateur et ce niveau.")
    st.stop()
trend_view(frame, f"{labels[chosen]} · {where}", labels[chosen], compare=compare, large=large, name="tendance",
           alt=f"Courbe de l'indicateur « {labels[chosen]} » pour {where}, par "
               f"{dashboard.GRANULARITY_LABELS[filters.granularity].lower()}")
