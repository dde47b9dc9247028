"""Rapports: the bilan régional, the synthèse nationale and the fiche F3SCT of the publication in force, with the
comment written here and kept with the publication, generated with a progress bar and downloaded."""

from analytics.auth import require

user = require(__file__)

import polars as pl  # noqa: E402
import streamlit as st  # noqa: E402

from analytics import report_comments, report_jobs, views  # noqa: E402
from analytics.formatting import SECRET_LEGEND  # noqa: E402
from analytics.page_parts import publication_caption, require_publication, user_scope  # noqa: E402
from analytics.referentials import region_names  # noqa: E402
from analytics.report_jobs import ReportRequest  # noqa: E402
from analytics.reports import MEDIA_TYPES  # noqa: E402
from analytics.reports.builders import REPORT_TYPES, ReportError  # noqa: E402
from analytics.reports.builders.fiche_f3sct import MAX_SERVICES  # noqa: E402
from analytics.ui import fr_datetime  # noqa: E402

FORMAT_LABELS = {"docx": "Word (DOCX, modifiable)", "pdf": "PDF", "xlsx": "Tableur (XLSX, un tableau par feuille)"}
DESCRIPTIONS = {
    "bilan-regional": "Le bilan annuel d'une région, transmis à la DREAL et à la direction des ressources humaines : activité "
                      "sur trois ans, problématiques, axes et niveaux de prévention, modes et origines des demandes, publics, "
                      "indicateurs RPS, alertes de l'année, carte des départements et commentaire de la CTSS.",
    "synthese-nationale": "La synthèse nationale de l'année pour le comité central d'action sociale : toutes les régions côte à "
                          "côte, carte de France, évolutions sur un an et faits marquants.",
    "fiche-f3sct": "Une ou deux pages en grands caractères pour une formation spécialisée (F3SCT) : situations, indicateurs "
                   "RPS et problématiques d'un service ou d'un groupe de services, côte à côte.",
}

st.title("Rapports")
publication = require_publication()
publication_caption(publication)
scope = user_scope(user)

kinds = [k for k in REPORT_TYPES if scope.kind == "national" or k == "fiche-f3sct"
         or (k == "bilan-regional" and scope.kind == "region")]
kind = st.radio("Rapport", kinds, format_func=REPORT_TYPES.get, horizontal=True, key="r_type")
st.caption(DESCRIPTIONS[kind])

years = views.available_periods("annee")[::-1]
if not years:
    st.info("Aucune année n'est publiée.")
    st.stop()
left, right = st.columns([1, 3])
year = int(left.selectbox("Année", years, key="r_annee"))

directory = views.service_directory()
region, services = None, ()
if kind == "bilan-regional":
    if scope.kind == "region":
        region = scope.codes[0]
        right.text_input("Région", region_names().get(region, region), disabled=True, key="r_region_fixe")
    else:
        present = [c for c in region_names() if c in set(directory["region"].to_list())]
        region = right.selectbox("Région", present, format_func=lambda c: region_names().get(c, c), key="r_region")
elif kind == "fiche-f3sct":
    if scope.kind == "region":
        directory = directory.filter(pl.col("region") == scope.codes[0])
    elif scope.kind == "services":
        directory = directory.filter(pl.col("code").is_in(list(scope.codes)))
    labels = dict(directory.select("code", "libelle").iter_rows())
    chosen = right.multiselect("Services", list(labels), default=list(labels)[:1], format_func=lambda c: f"{labels[c]} ({c})",
                               max_selections=MAX_SERVICES, key="r_services",
                               help="Plusieurs services sont présentés côte à côte, jamais additionnés.")
    services = tuple(sorted(chosen))
    if not services:
        st.info("Choisissez au moins un service.")
        st.stop()

request = ReportRequest(kind, year, region=region, services=services)
if not report_jobs.allowed(request, scope):
    st.error("Ce rapport sort de votre périmètre.")
    st.stop()

# --------------------------------------------------------------------------- the comment
st.subheader("Commentaire")
st.caption(report_comments.PERSONAL_DATA_NOTICE)
stored = report_comments.read_comment(publication.number, kind, request.territory, year)
if stored is not None:
    origin = (f" pour la publication n° {stored.publication} (repris pour la publication en vigueur tant qu'il n'est pas "
              "enregistré de nouveau)" if stored.inherited else "")
    st.caption(f"Enregistré par {stored.author} le {fr_datetime(stored.saved_at)}{origin}.")
field_key = f"r_commentaire_{kind}_{request.territory}_{year}"
text = st.text_area("Commentaire joint au rapport", value=stored.text if stored else "", height=180,
                    max_chars=report_comments.MAX_LENGTH, key=field_key,
                    help="Analyse, contexte, actions menées : des tendances collectives, jamais une situation individuelle.")
for warning in report_comments.personal_data_warnings(text):
    st.warning(f"Le commentaire semble contenir {warning} : vérifiez qu'il ne désigne aucune personne.",
               icon=":material/privacy_tip:")
if st.session_state.pop("r_enregistre", False):
    st.success("Commentaire enregistré : il figurera dans le rapport.")
unsaved = text.strip() != (stored.text if stored else "").strip() or (stored is not None and stored.inherited)
if st.button("Enregistrer le commentaire", key="r_enregistrer", disabled=not unsaved):
    try:
        report_comments.save_comment(publication.number, kind, request.territory, year, text, user.name)
    except report_comments.CommentRefused as refused:
        st.error(str(refused))
    else:
        report_jobs.clear_cache()
        st.session_state["r_enregistre"] = True
        st.rerun()
elif unsaved and text.strip():
    st.caption("Le commentaire modifié n'est pas encore enregistré : seul le commentaire enregistré figure dans le rapport.")

# --------------------------------------------------------------------------- generate and download
st.subheader("Produire le rapport")
fmt = st.radio("Format", list(FORMAT_LABELS), format_func=FORMAT_LABELS.get, horizontal=True, key="r_format")
wanted = (publication.number, request, fmt, stored.text if stored else None)
if st.button("Préparer le rapport", type="primary", key="r_preparer"):
    bar = st.progress(0.0, text="Préparation du rapport")
    try:
        data = report_jobs.make(request, fmt, progress=lambda f, label: bar.progress(min(max(f, 0.0), 1.0), text=label))
    except ReportError as exc:
        bar.empty()
        st.error(f"Rapport impossible : {exc}")
    else:
        st.session_state["r_fichier"] = {"key": wanted, "data": data, "name": request.file_name(fmt)}
ready = st.session_state.get("r_fichier")
if ready and ready["key"] == wanted:
    st.download_button(f"Télécharger {ready['name']}", ready["data"], file_name=ready["name"], mime=MEDIA_TYPES[fmt],
                       type="primary", icon=":material/download:", key="r_telecharger")
    st.caption(f"Tous les chiffres viennent de la publication n° {publication.number} · {SECRET_LEGEND}.")
