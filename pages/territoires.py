"""Territoires: maps of France by région and by département; a territory clicked on the map filters the other pages."""

from analytics.auth import require

user = require(__file__)

import polars as pl  # noqa: E402
import streamlit as st  # noqa: E402

from analytics import charts, dashboard, rps  # noqa: E402
from analytics.dashboard import Filters, Territory  # noqa: E402
from analytics.page_parts import cached, chart, data_view, publication_caption, require_publication, set_query, user_scope  # noqa: E402
from analytics.referentials import MAP_ATTRIBUTION  # noqa: E402

LEVELS = {"region": "Régions", "departement": "Départements"}

st.title("Territoires")
publication = require_publication()
scope = user_scope(user)
publication_caption(publication)

labels = dashboard.indicator_choices()
choices = list(labels)

asked = Filters.from_query(dict(st.query_params))
levels = [lvl for lvl in LEVELS if dashboard.map_periods(lvl)]
if not levels:
    st.info("Aucune carte : la publication ne contient aucun chiffre annuel par région ou par département.")
    st.stop()
left, middle, right = st.columns([2, 1, 1])
chosen = left.selectbox("Indicateur", choices, format_func=labels.get, key="m_indicateur")
rated = rps.rate_applies(*chosen)
per_agents = rated and left.toggle("Pour 100 agents", key="m_taux",
                                   help="Le nombre publié rapporté à l'effectif agents du territoire (effectifs figés avec la publication).")
level = middle.radio("Découpage", levels, format_func=LEVELS.get, horizontal=True, key="m_niveau")
years = dashboard.map_periods(level)
default_year = asked.period[:4] if asked.period and asked.period[:4] in years else years[-1]
year = right.selectbox("Année", years[::-1], index=years[::-1].index(default_year), key="m_annee")

cells = cached(rps.map_cells, scope, level, year, *chosen)
title = f"{labels[chosen]} · {LEVELS[level].lower()} · {year}" + (" · pour 100 agents" if per_agents else "")
description = (f"Carte de France par {LEVELS[level].lower()} de l'indicateur « {labels[chosen]} » en {year} ; "
               "les chiffres sont dans « Voir les données ».")
if per_agents:
    event = chart(charts.choropleth, cells.select("geo_code", "geo_libelle", "taux", "statut"), level, "taux", title=title,
                  rate=True, value_title="Pour 100 agents", alt=description, on_select="rerun", key=f"carte_{level}")
else:
    event = chart(charts.choropleth, cells.select("geo_code", "geo_libelle", "valeur", "statut"), level, title=title,
                  alt=description, on_select="rerun", key=f"carte_{level}")
st.caption(MAP_ATTRIBUTION)
st.caption("Gris hachuré : secret statistique (« s ») ; gris clair : aucune donnée publiée. "
           "Cliquer un territoire le choisit pour les autres pages.")

territories = dict(cached(dashboard.territory_options, scope))
clicked = [point.get("code") for point in (event.selection.get("territoire") or [])] if event else []
if clicked and clicked[0]:
    target = Filters(Territory(level, clicked[0]), "annee", year, asked.service_type)
    if target.territory.key() in territories and dict(st.query_params) != target.to_query():
        st.query_params.from_dict(target.to_query())
        st.rerun()
if asked.territory.level != "national":
    name = territories.get(asked.territory.key(), asked.territory.code)
    st.success(f"Territoire choisi pour les autres pages : {name}.", icon=":material/pin_drop:")

table = dashboard.display_table(cells, {"geo_code": "Code", "geo_libelle": LEVELS[level][:-1], "valeur": labels[chosen]})
if rated:
    table = table.with_columns(rps.rate_texts(cells).alias("Pour 100 agents"))
data_view(table, f"carte-{level}-{year}", "Carte")

# --------------------------------------------------------------------------- the services of a type
types = [""] + cached(dashboard.service_types, scope)
if len(types) > 1:
    st.subheader("Services d'un type")
    st.caption("Les chiffres publiés de chaque service du type choisi (aucun total par type n'est publié), "
               "dans le territoire choisi s'il s'agit d'une région ou d'un département.")
    service_type = st.selectbox("Type de service", types, format_func=dashboard.service_type_label, key="m_type",
                                index=types.index(asked.service_type) if asked.service_type in types else 0) or None
    query = {k: v for k, v in dict(st.query_params).items() if k != "type_service"}
    set_query({**query, "type_service": service_type} if service_type else query)  # shared with the other pages
    if service_type:
        within = asked.territory if asked.territory.level in ("region", "departement") else None
        codes = dashboard.services_of_type(scope, service_type, within)
        services = cached(rps.map_cells, scope, "service", year, *chosen).filter(pl.col("geo_code").is_in(codes))
        place = f" · {territories.get(within.key(), within.code)}" if within else ""
        if services.height == 0:
            st.info(f"Aucun chiffre publié en {year} pour les services de ce type{place}.")
        else:
            heading = f"{labels[chosen]} · {dashboard.service_type_label(service_type)}{place} · {year}"
            chart(charts.bar_chart, services.select("geo_libelle", "valeur", "statut"), "geo_libelle", heading,
                  category_title="Service", alt=f"Barres : {labels[chosen]} de chaque service du type choisi en {year}")
            listed = dashboard.display_table(services, {"geo_code": "Code", "geo_libelle": "Service", "valeur": labels[chosen]})
            if rated:
                listed = listed.with_columns(rps.rate_texts(services).alias("Pour 100 agents"))
            data_view(listed, f"services-{service_type}-{year}", "Services")
