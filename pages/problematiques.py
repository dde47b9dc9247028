"""Problématiques: territory × problématique for a year, as a share of situations, by group and service type;
the trend of one problématique."""

from analytics.auth import require

user = require(__file__)

import polars as pl  # noqa: E402
import streamlit as st  # noqa: E402

from analytics import charts, dashboard  # noqa: E402
from analytics.dashboard import Filters  # noqa: E402
from analytics.nomenclature import default_nomenclature  # noqa: E402
from analytics.page_parts import (  # noqa: E402
    cached, chart, data_view, filter_bar, publication_caption, require_publication, set_query, trend_view, user_scope)

LEVELS = {"region": "Régions", "departement": "Départements", "service": "Services"}

st.title("Problématiques")
publication = require_publication()
scope = user_scope(user)
publication_caption(publication)

# --------------------------------------------------------------------------- territory × problématique
st.caption("Part des situations suivies du territoire qui portent la problématique (une situation peut en porter plusieurs).")
asked = Filters.from_query(dict(st.query_params))
dimension = default_nomenclature().dimension("problematique")
groups = dimension.groupes
levels = [lvl for lvl in LEVELS if dashboard.map_periods(lvl) and not (scope.kind != "national" and lvl == "region")]
group = None
if levels:
    columns = st.columns([2, 2, 1, 2])
    level = columns[0].radio("Territoires", levels, format_func=LEVELS.get, horizontal=True, key="p_niveau")
    group = columns[1].selectbox("Groupe de problématiques", [""] + list(groups), format_func=lambda g: groups.get(g, "Tous les groupes"),
                                 index=1 if groups else 0, key="p_groupe") or None  # one group at a time stays legible
    years = dashboard.map_periods(level)
    default_year = asked.period[:4] if asked.period and asked.period[:4] in years else years[-1]
    year = columns[2].selectbox("Année", years[::-1], index=years[::-1].index(default_year), key="p_annee")
    service_type = None
    if level == "service":
        types = [""] + cached(dashboard.service_types, scope)
        service_type = columns[3].selectbox("Type de service", types, format_func=dashboard.service_type_label,
                                            index=types.index(asked.service_type) if asked.service_type in types else 0,
                                            key="p_type") or None
        query = {k: v for k, v in dict(st.query_params).items() if k != "type_service"}
        set_query({**query, "type_service": service_type} if service_type else query)  # shared with the other pages
    matrix = cached(dashboard.problem_matrix, scope, level, year, group, service_type)
    if matrix.height == 0:
        st.info("Aucune problématique publiée pour ce choix.")
    else:
        shown = matrix.select("libelle_territoire", "libelle", "part", pl.col("statut_part").alias("statut"))
        chart(charts.heatmap, shown, "libelle_territoire", "libelle", f"Problématiques par territoire · {year}",
              value_col="part", share=True, x_title=LEVELS[level][:-1], y_title="Problématique",
              alt=f"Carte de chaleur des problématiques (part des situations) par {LEVELS[level][:-1].lower()} en {year}")
        table = dashboard.display_table(matrix, {"libelle_territoire": LEVELS[level][:-1], "libelle": "Problématique", "valeur": "Situations"})
        data_view(table.with_columns(dashboard.share_texts(matrix["part"], matrix["statut_part"]).alias("Part des situations")),
                  f"problematiques-{level}-{year}", "Problématiques")
else:
    st.info("Aucun chiffre annuel par territoire n'est publié.")

# --------------------------------------------------------------------------- the trend of one problématique
st.subheader("Évolution d'une problématique")
st.caption("Nombre publié de situations portant la problématique, par mois, trimestre ou année ; la courbe s'interrompt "
           "aux chiffres couverts par le secret statistique.")
filters, where = filter_bar(scope, service_type=False, period=False)
labels = {m.code: m.libelle_court or m.libelle for m in dimension.modalites if group is None or m.groupe == group}
left, right = st.columns([3, 1])
code = left.selectbox("Problématique", list(labels), format_func=labels.get, key="p_probleme")
compare = right.toggle("Comparer à l'année précédente", value=True, key="p_compare")
frame = cached(dashboard.series, filters, scope, "problematique", (code,))
if frame.height == 0:
    st.info("Aucune série publiée pour cette problématique, ce territoire et ce niveau.")
else:
    trend_view(frame, f"{labels[code]} · {where}", labels[code], compare=compare, name=f"problematique-{code}-tendance",
               sheet="Problématique", alt=f"Courbe de la problématique « {labels[code]} » pour {where}, par "
                                          f"{dashboard.GRANULARITY_LABELS[filters.granularity].lower()}")
