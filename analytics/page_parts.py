"""Streamlit pieces shared by the dashboard pages: the filter bar kept in the URL, and the data view
with its downloads. Presentation only: figures come from analytics.dashboard (published cells)."""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from analytics import dashboard
from analytics.dashboard import GRANULARITY_LABELS, Filters, Territory
from analytics.exports import table_csv, table_xlsx
from analytics.formatting import SECRET_LEGEND
from analytics.views import Scope, latest_publication


def user_scope(user) -> Scope:
    return Scope.parse(user.scope)


def require_publication():
    """The publication in force, or a message and a stop: no page shows figures without one."""
    publication = latest_publication()
    if publication is None:
        st.info("Aucune publication n'est en vigueur : aucun chiffre ne peut être affiché. Un administrateur publie les "
                "données chargées depuis la page « Import des données » (la page d'accueil montre une publication en cours).")
        st.stop()
    return publication


def publication_caption(publication) -> None:
    st.caption(f"Publication n° {publication.number} du {publication.created_at:%d/%m/%Y}, seuil du secret statistique "
               f"k = {publication.k} · {SECRET_LEGEND}")


def _set_query(filters: Filters) -> None:
    wanted = filters.to_query()
    if dict(st.query_params) != wanted:
        st.query_params.from_dict(wanted)
        # The sidebar links were drawn with the old parameters: draw the page again so they carry the new ones.
        st.rerun()


def filter_bar(scope: Scope) -> tuple[Filters, str]:
    """Territory, level and period, read from and written to the URL query parameters (shared links, page to page).

    Returns the filters and the chosen territory's label."""
    options = dict(dashboard.territory_options(scope))  # computed once per run: resolve and the label reuse it
    keys = list(options)
    asked = dashboard.resolve(Filters.from_query(dict(st.query_params)), scope, keys)
    columns = st.columns([3, 2, 2])
    territory_key = columns[0].selectbox("Territoire", keys, index=keys.index(asked.territory.key()) if asked.territory.key() in keys else 0,
                                         format_func=options.get, key="f_territoire")
    filters = dashboard.resolve(replace(asked, territory=Territory.parse(territory_key)), scope, keys)
    levels = dashboard.granularities(filters.territory)
    if levels:
        level = columns[1].selectbox("Granularité", levels, index=levels.index(filters.granularity),
                                     format_func=GRANULARITY_LABELS.get, key="f_granularite")
        filters = dashboard.resolve(replace(filters, granularity=level), scope, keys)
    known = dashboard.periods(filters.granularity)[::-1]
    if known:
        period = columns[2].selectbox("Période", known, index=known.index(filters.period),
                                      format_func=dashboard.period_label, key="f_periode")
        filters = replace(filters, period=period)
    _set_query(filters)
    return filters, options.get(filters.territory.key(), filters.territory.code)


def dashboard_header(title: str, user) -> tuple[Scope, Filters, str]:
    """What every filtered dashboard page starts with: title, publication in force, filters, advice.

    Returns the user's scope, the filters and the chosen territory's label."""
    st.title(title)
    publication = require_publication()
    scope = user_scope(user)
    filters, where = filter_bar(scope)
    publication_caption(publication)
    granularity_advice(filters, scope)
    return scope, filters, where


def granularity_advice(filters: Filters, scope: Scope) -> None:
    coarser = dashboard.granularity_advice(filters, scope)
    if coarser is None:
        return
    st.warning(f"La plupart des chiffres de ce niveau sont couverts par le secret statistique. "
               f"Le niveau « {GRANULARITY_LABELS[coarser].lower()} » en montre davantage.", icon=":material/visibility_off:")
    if st.button(f"Passer au niveau « {GRANULARITY_LABELS[coarser].lower()} »", key="coarser"):
        st.query_params.from_dict({**filters.to_query(), "granularite": coarser, "periode": ""})
        for key in ("f_granularite", "f_periode"):
            st.session_state.pop(key, None)
        st.rerun()


def data_view(table, name: str, title: str) -> None:
    """« Voir les données »: exactly the table behind a chart, with CSV and XLSX downloads of it."""
    with st.expander("Voir les données"):
        st.dataframe(table, hide_index=True, width="stretch")
        st.caption(SECRET_LEGEND)
        left, right = st.columns(2)
        left.download_button("Télécharger (CSV)", table_csv(table, SECRET_LEGEND), file_name=f"{name}.csv",
                             mime="text/csv", key=f"csv_{name}")
        right.download_button("Télécharger (XLSX)", table_xlsx(table, title, SECRET_LEGEND), file_name=f"{name}.xlsx",
                              mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key=f"xlsx_{name}")
