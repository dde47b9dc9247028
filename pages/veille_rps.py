"""Veille RPS: current alerts (map, list, detail, clusters) and their qualification; published figures only."""

from analytics.auth import require

user = require(__file__)

import streamlit as st  # noqa: E402

from analytics.page_parts import data_view, publication_caption, require_publication, user_scope  # noqa: E402
from analytics.veille import board, figures  # noqa: E402

st.title("Veille RPS")
publication = require_publication()
scope = user_scope(user)
publication_caption(publication)
st.caption(board.summary(scope))

# The sort control below sets `v_tri` before the rerun: the alerts are read once, the list already in its order.
current = board.overview(scope, st.session_state.get("v_tri") or "gravite")
listing = current.listing
if listing.height == 0:
    st.info(f"Aucune alerte en cours pour votre périmètre ({scope.describe()}).")
    st.stop()

# --------------------------------------------------------------------------- map
severity = current.severity
if severity.height:
    st.altair_chart(figures.severity_map(severity),
                    alt="Carte des départements colorés selon la gravité de l'alerte la plus forte qui les concerne")
    data_view(severity.select(severity["geo_libelle"].alias("Département"), severity["geo_code"].alias("Code"),
                              severity["gravite"].alias("Gravité")), "veille-carte", "Alertes par département")

# --------------------------------------------------------------------------- list
st.subheader("Alertes en cours")
st.segmented_control("Trier par", list(board.SORTS), format_func=board.SORTS.get, default="gravite", key="v_tri")
table = listing.drop("id")
st.dataframe(table, hide_index=True, width="stretch")
data_view(table, "veille-alertes", "Alertes en cours")

clusters = current.clusters
if clusters.height:
    heading, explanation = board.cluster_heading(clusters)
    st.subheader(heading)
    st.caption(explanation)
    st.dataframe(clusters, hide_index=True, width="stretch")

# --------------------------------------------------------------------------- detail
st.subheader("Détail d'une alerte")
ids = listing["id"].to_list()
titles = {i: f"{g} · {ind} · {t} · {p}" for i, g, ind, t, p in listing.select("id", "Gravité", "Indicateur", "Territoire", "Période").iter_rows()}
chosen = st.selectbox("Alerte", ids, format_func=titles.get, key="v_alerte")
detail = board.detail(chosen, scope)
for label, text in detail.faits:
    st.markdown(f"**{label}** : {text}")
for note in detail.notes:
    st.caption(note)
if detail.series is not None and detail.series.height:
    st.altair_chart(figures.alert_series_chart(detail.series, detail.series_title),
                    alt=f"Courbe de la série publiée : {detail.series_title}")
    data_view(board.series_table(detail.series), f"veille-serie-{chosen}", "Série de l'alerte")

# --------------------------------------------------------------------------- qualification
st.subheader("Qualification")
if st.session_state.pop("v_enregistree", False):
    st.success("Qualification enregistrée.")
if board.can_qualify(user):
    states = list(board.STATES)
    with st.form(f"qualification-{chosen}", clear_on_submit=True):
        state = st.selectbox("État", states, index=states.index(detail.etat), format_func=board.STATES.get, key="v_etat")
        comment = st.text_area("Commentaire", key="v_commentaire", help=board.COMMENT_HELP, max_chars=2000,
                               placeholder="Sans nom ni coordonnées : la situation collective et les suites données")
        st.caption(board.COMMENT_HELP)
        if st.form_submit_button("Enregistrer la qualification"):
            try:
                board.qualify(chosen, state, comment, user, scope)
                st.session_state["v_enregistree"] = True
                st.rerun()  # the list and the history are drawn again with the new state
            except board.QualificationRefused as refused:
                st.error(f"Qualification refusée : {refused}")
else:
    st.caption("La qualification des alertes est réservée aux CTSS et au pôle national du service social.")
past = board.history(chosen, scope)
if past.height:
    st.dataframe(past, hide_index=True, width="stretch")
else:
    st.caption("Aucune qualification pour cette alerte : elle est « à examiner ».")
