"""Problématiques: territory × problématique for a year, as a share of situations, by group and service type."""

from analytics.auth import require

user = require(__file__)

import polars as pl  # noqa: E402
import streamlit as st  # noqa: E402

from analytics import charts, dashboard  # noqa: E402
from analytics.dashboard import Filters  # noqa: E402
from analytics.nomenclature import default_nomenclature  # noqa: E402
from analytics.page_parts import data_view, publication_caption, require_publication, user_scope  # noqa: E402

LEVELS = {"region": "Régions", "departement": "Départements", "service": "Services"}

st.title("Problématiques")
publication = require_publication()
scope = user_scope(user)
publication_caption(publication)
st.caption("Part des situations suivies du territoire qui portent la problématique (une situation peut en porter plusieurs).")

asked = Filters.from_query(dict(st.query_params))
levels = [lvl for lvl in LEVELS if dashboard.map_periods(lvl) and not (scope.kind != "national" and lvl == "region")]
if not levels:
    st.info("Aucun chiffre annuel par territoire n'est publié.")
    st.stop()
groups = default_nomenclature().dimension("problematique").groupes
columns = st.columns([2, 2, 1, 2])
level = columns[0].radio("Territoires", levels, format_func=LEVELS.get, horizontal=True, key="p_niveau")
group = columns[1].selectbox("Groupe de problématiques", [""] + list(groups), format_func=lambda g: groups.get(g, "Tous les groupes"),
                             index=1 if groups else 0, key="p_groupe")  # one group at a time stays legible
years = dashboard.map_periods(level)
default_year = asked.period[:4] if asked.period and asked.period[:4] in years else years[-1]
year = columns[2].selectbox("Année", years[::-1], index=years[::-1].index(default_year), key="p_annee")
service_type = None
if level == "service":
    types = [""] + dashboard.service_types()
    service_type = columns[3].selectbox("Type de service", types, format_func=lambda t: t.upper() if t else "Tous",
                                        index=types.index(asked.service_type) if asked.service_type in types else 0, key="p_type") or None

matrix = dashboard.problem_matrix(scope, level, year, group or None, service_type)
if matrix.height == 0:
    st.info("Aucune problématique publiée pour ce choix.")
    st.stop()
shown = matrix.select("libelle_territoire", "libelle", "part", pl.col("statut_part").alias("statut"))
st.altair_chart(charts.heatmap(shown, "libelle_territoire", "libelle", f"Problématiques par territoire · {year}",
                               value_col="part", share=True, x_title=LEVELS[level][:-1], y_title="Problématique"),
                alt=f"Carte de chaleur des problématiques (part des situations) par {LEVELS[level][:-1].lower()} en {year}")
table = dashboard.display_table(matrix, {"libelle_territoire": LEVELS[level][:-1], "libelle": "Problématique", "valeur": "Situations"})
data_view(table.with_columns(dashboard.share_texts(matrix["part"], matrix["statut_part"]).alias("Part des situations")),
          f"problematiques-{level}-{year}", "Problématiques")
