"""Accueil: what Vigie holds (periods, services, territories, last import), no figure from the data."""

from analytics.auth import require

user = require(__file__)

import streamlit as st  # noqa: E402

from analytics.catalog import store_status, store_version  # noqa: E402
from analytics.publication_progress import running  # noqa: E402
from analytics.views import latest_publication  # noqa: E402
from analytics.formatting import fr_int, fr_month, plural  # noqa: E402
from analytics.ui import demo_banner, fr_datetime  # noqa: E402


@st.cache_data(ttl=300, max_entries=8, show_spinner=False)
def _status(version: str):
    return store_status()


status = _status(store_version())
st.title("Vigie")
st.caption("Observatoire statistique et veille des risques psychosociaux du service social")
demo_banner(status.has_demo)

if status.empty:
    st.info("Aucune donnée n'est chargée. Un administrateur peut importer un fichier depuis la page « Import des données ».")
    st.stop()

# Short values only: a metric truncates what does not fit its column.
period, territory = st.columns(3), st.columns(3)
period[0].metric("Premier mois", fr_month(status.period_min))
period[1].metric("Dernier mois", fr_month(status.period_max))
period[2].metric("Mois chargés", fr_int(status.period_count))
territory[0].metric("Services", fr_int(status.service_count))
territory[1].metric("Départements", fr_int(status.departement_count))
territory[2].metric("Régions", fr_int(status.region_count))

@st.fragment(run_every="5s")
def _publication_under_way() -> None:
    """Shown while a publication runs; reloads the page once it is done."""
    under_way = running()
    if under_way is None:
        if st.session_state.pop("publication_was_running", False):
            st.rerun()
        return
    st.session_state["publication_was_running"] = True
    st.progress(min(max(under_way.fraction, 0.0), 1.0), text=f"Publication en cours : {under_way.label}")


st.subheader("Publication en vigueur")
publication = latest_publication()
if publication is None:
    st.info("Aucune publication : les pages n'affichent encore aucun chiffre. La publication protège les données "
               "chargées par le secret statistique ; un administrateur la lance depuis la page « Import des données ».")
else:
    st.markdown(
        f"Publication n° **{publication.number}** du {fr_datetime(publication.created_at)} ({publication.author}) : "
        f"{fr_month(publication.period_min)} à {fr_month(publication.period_max)}, seuil du secret statistique k = {publication.k}. "
        "Tous les chiffres des pages en viennent ; « s » marque un chiffre couvert par le secret statistique."
    )
_publication_under_way()

last = status.last_import
if last:
    st.subheader("Dernier import")
    origin = "données de démonstration" if last["source"] == "demo" else "fichier"
    st.markdown(
        f"Lot **{last['id']}** ({origin}) : « {last['file_name']} », importé le {fr_datetime(last['created_at'])} "
        f"par {last['author']} — {plural(last['row_count'], 'ligne')}, {plural(last['service_count'], 'service')}."
    )
if status.headcount_years:
    years = ", ".join(str(y) for y in status.headcount_years)
    st.caption(f"Effectifs agents disponibles pour : {years}.")
else:
    st.caption("Aucun effectif agents chargé : les taux pour 100 agents ne pourront pas être calculés.")

st.subheader("À propos")
st.markdown(
    "Vigie rassemble les agrégats anonymisés de l'activité du service social (situations suivies, problématiques, "
    "axes d'intervention de l'instruction du 27 mars 2014, modes et origines des demandes, publics, indicateurs de veille RPS). "
    "Les chiffres ne sont montrés qu'à partir d'une **publication protégée** : les petits effectifs y sont couverts par le "
    "secret statistique (« s »), afin qu'aucun chiffre ne permette de reconnaître une personne."
)
