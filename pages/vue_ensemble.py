"""Vue d'ensemble: headline figures of a territory and period, from the publication in force."""

from analytics.auth import require

user = require(__file__)

import streamlit as st  # noqa: E402

from analytics import charts, dashboard  # noqa: E402
from analytics.page_parts import cached, chart, dashboard_header, data_view  # noqa: E402

scope, filters, where = dashboard_header("Vue d'ensemble", user)

figures = cached(dashboard.headline, filters, scope)
st.subheader(f"{where} · {dashboard.period_label(filters.period)}")

left, middle, right = st.columns(3)
left.metric("Situations suivies", dashboard.value_text(figures.situations, "s" if figures.situations_secret else "publie"),
            delta=dashboard.change_text(figures.change), delta_color="off",
            help="Évolution par rapport à la même période un an plus tôt, calculée sur deux chiffres publiés.")
# A secret a year earlier reads `s`; a period with nothing published a year earlier reads "–".
middle.metric("Même période un an plus tôt", "–" if figures.previous is None and not figures.previous_secret
              else dashboard.value_text(figures.previous, "s" if figures.previous_secret else "publie"))
top = figures.problematiques.filter(figures.problematiques["valeur"].is_not_null())
right.metric("Problématique la plus fréquente", top["libelle"][0] if top.height else "–")

st.subheader("Problématiques les plus fréquentes")
st.caption("Part des situations suivies : une situation peut porter plusieurs problématiques.")
leading = figures.problematiques.head(10)
if leading.height:
    chart(charts.bar_chart, leading.select("libelle", "valeur", "statut"), "libelle", "Problématiques (part des situations)",
          share=figures.situations is not None, total=figures.situations,
          alt="Diagramme en barres des dix problématiques les plus fréquentes")
    data_view(dashboard.display_table(leading, {"libelle": "Problématique", "valeur": "Situations"}, share="part"),
              "problematiques", "Problématiques")
else:
    st.info("Aucune problématique publiée pour ce territoire et cette période.")

st.subheader("Répartition par axe d'intervention")
st.caption("Les quatre axes de l'instruction du 27 mars 2014 (axe principal de chaque situation).")
if figures.axes.height:
    chart(charts.bar_chart, figures.axes.select("libelle", "valeur", "statut"), "libelle", "Axes d'intervention (part des situations)",
          share=figures.situations is not None, total=figures.situations,
          alt="Diagramme en barres de la répartition des situations par axe d'intervention")
    data_view(dashboard.display_table(figures.axes, {"libelle": "Axe", "valeur": "Situations"}, share="part"), "axes", "Axes")
else:
    st.info("Aucune répartition par axe publiée pour ce territoire et cette période.")
