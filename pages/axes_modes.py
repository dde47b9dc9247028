"""Axes et modes d'intervention: the partition dimensions (axes, prevention levels, modes, origins, publics, categories)."""

from analytics.auth import require

user = require(__file__)

import streamlit as st  # noqa: E402

from analytics import charts, dashboard  # noqa: E402
from analytics.page_parts import cached, chart, dashboard_header, data_view  # noqa: E402

scope, filters, where = dashboard_header("Axes et modes d'intervention", user)
st.subheader(f"{where} · {dashboard.period_label(filters.period)}")
st.caption("Chaque situation a une seule modalité par dimension : les parts somment à 100 % des situations suivies.")

figures = cached(dashboard.headline, filters, scope)
found = cached(dashboard.partitions, filters, scope)
if not found:
    st.info("Aucune répartition publiée pour ce territoire et cette période.")
    st.stop()
for i in range(0, len(found), 2):
    columns = st.columns(2)
    for column, (dim, title, table) in zip(columns, found[i:i + 2]):
        with column:
            chart(charts.bar_chart, table.select("libelle", "valeur", "statut"), "libelle", title,
                  share=figures.situations is not None, total=figures.situations,
                  alt=f"Diagramme en barres : {title}, part des situations")
            data_view(dashboard.display_table(table, {"libelle": "Modalité", "valeur": "Situations"}, share="part"),
                      f"{dim}-{filters.territory.key().replace(':', '-')}-{filters.period}", title)
