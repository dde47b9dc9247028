"""Import des données: upload, validation report, history, rollback, templates, publication (admin only)."""

from analytics.auth import require

user = require(__file__)

import polars as pl  # noqa: E402
import streamlit as st  # noqa: E402

from analytics import admin  # noqa: E402
from analytics.formatting import fr_float, fr_int  # noqa: E402
from analytics.ui import fr_datetime  # noqa: E402

st.title("Import des données")
st.caption(
    "Agrégats mensuels anonymisés (une ligne par service, mois, dimension et modalité) ou effectifs agents par service et année. "
    "Formats : CSV (séparateur « ; » ou « , », UTF-8 ou Windows-1252), Excel (.xlsx), Parquet. "
    "Un fichier comportant la moindre erreur n'est pas chargé."
)

with st.expander("Modèles de fichier et codes à utiliser"):
    st.markdown(
        "Colonnes des agrégats : `periode` (AAAA-MM), `departement` (code COG), `service`, `dimension`, `modalite`, `effectif` ; "
        "facultatives : `libelle_service`, `type_service`. Effectifs agents : `annee`, `departement`, `service`, `effectif_agents`."
    )
    c1, c2, c3 = st.columns(3)
    c1.download_button("Modèle CSV (agrégats)", admin.aggregate_template_csv(), "modele-agregats.csv", "text/csv")
    c2.download_button("Modèle Excel avec les codes", admin.aggregate_template_xlsx(), "modele-agregats.xlsx",
                       "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    c3.download_button("Modèle CSV (effectifs agents)", admin.headcount_template_csv(), "modele-effectifs.csv", "text/csv")

st.subheader("Importer un fichier")
with st.form("import", clear_on_submit=False):
    upload = st.file_uploader("Fichier à importer", type=["csv", "txt", "xlsx", "parquet"], key="upload")
    replace = st.checkbox("Remplacer les mois-services déjà chargés par ceux de ce fichier", key="replace",
                          help="Sans cette case, un fichier qui recouvre des données déjà chargées est refusé.")
    submitted = st.form_submit_button("Importer", type="primary")

if submitted:
    if upload is None:
        st.warning("Choisissez d'abord un fichier.")
    else:
        bar = st.progress(0.0, text="Lecture du fichier")
        report = admin.import_upload(upload.getvalue(), upload.name, replace=replace, author=user.name,
                                     progress=lambda f, label: bar.progress(min(f, 1.0), text=label))
        bar.empty()
        st.session_state["last_report"] = report

report = st.session_state.get("last_report")
if report is not None:
    if report.status == "importe":
        st.success(report.message, icon=":material/check_circle:")
    elif report.status == "deja_importe":
        st.info(report.message)
    else:
        st.error(report.message, icon=":material/error:")
        st.dataframe(report.issues.rename({"fichier": "Fichier", "ligne": "Ligne", "colonne": "Colonne", "valeur": "Valeur", "motif": "Motif"}),
                     hide_index=True, width="stretch")
        st.download_button("Télécharger le rapport d'erreurs (CSV)", admin.report_csv(report), f"erreurs-{report.file_name}.csv", "text/csv")

st.subheader("Historique des imports")
if "rollback_message" in st.session_state:
    kind, text = st.session_state.pop("rollback_message")
    (st.success if kind == "success" else st.error)(text)
history = admin.import_history()
if history.is_empty():
    st.caption("Aucun import pour l'instant.")
else:
    shown = history.select(
        pl.col("id").alias("Lot"),
        pl.col("created_at").map_elements(fr_datetime, return_dtype=pl.String).alias("Date"),
        pl.col("author").alias("Auteur"),
        pl.col("file_name").alias("Fichier"),
        pl.col("kind").replace_strict({"agregats": "agrégats", "effectifs": "effectifs agents"}, default=pl.col("kind")).alias("Contenu"),
        pl.col("row_count").map_elements(fr_int, return_dtype=pl.String).alias("Lignes"),
        pl.concat_str([pl.col("period_min"), pl.col("period_max")], separator=" → ").alias("Périodes"),
        pl.col("replaced_summary").fill_null("").alias("Remplacements"),
        pl.col("status").replace_strict({"actif": "actif", "annule": "annulé"}, default=pl.col("status")).alias("État"),
        pl.col("content_hash").str.slice(0, 12).alias("Empreinte"),
    )
    st.dataframe(shown, hide_index=True, width="stretch")

    active = history.filter(pl.col("status") == "actif")
    if active.height:
        st.markdown("**Annuler un lot**")
        choices = {f"Lot {r['id']} — {r['file_name']}": r["id"] for r in active.iter_rows(named=True)}
        label = st.selectbox("Lot à annuler", list(choices), key="rollback_choice")
        confirm = st.checkbox("Je confirme l'annulation : les données de ce lot seront retirées et celles qu'il avait remplacées rétablies.",
                              key="rollback_confirm")
        if st.button("Annuler ce lot", disabled=not confirm, key="rollback_go"):
            try:
                st.session_state["rollback_message"] = ("success", admin.rollback_batch(choices[label], user.name))
            except admin.RollbackRefused as refused:
                st.session_state["rollback_message"] = ("error", f"Annulation refusée : {refused}")
            st.session_state.pop("last_report", None)
            st.rerun()  # redraw the history with the batch's new state

st.subheader("Publication")
st.caption(
    "Les pages ne montrent que la dernière publication : le cube protégé par le secret statistique (petits effectifs "
    "masqués, secrets secondaires, audit par programmation linéaire). Publiez après chaque import pour que les pages "
    "tiennent compte des nouvelles données. Les années inchangées reprennent la protection de la publication précédente."
)
if "publish_message" in st.session_state:
    kind, text = st.session_state.pop("publish_message")
    (st.success if kind == "success" else st.error)(text)
if st.button("Publier les données chargées", type="primary", key="publish_go"):
    bar = st.progress(0.0, text="Préparation de la publication")
    outcome = admin.publish_now(user.name, progress=lambda f, label: bar.progress(min(f, 1.0), text=label))
    bar.empty()
    st.session_state["publish_message"] = ("success" if outcome.ok else "error", outcome.message)
    st.rerun()
history = admin.publications()
if not history:
    st.caption("Aucune publication pour l'instant : les pages n'affichent aucun chiffre.")
else:
    st.dataframe(
        pl.DataFrame({
            "N°": [p.number for p in history],
            "Date": [fr_datetime(p.created_at) for p in history],
            "Auteur": [p.author for p in history],
            "État": ["publiée" if p.published else "refusée par l'audit" for p in history],
            "Périodes": [f"{p.period_min} → {p.period_max}" if p.period_min else "" for p in history],
            "k": [p.k for p in history],
            "Cellules": [fr_int(p.cell_count) for p in history],
            "Secrets": [fr_int(p.secret_count) for p in history],
            "Durée (s)": [fr_float(p.seconds, 1) for p in history],
        }),
        hide_index=True, width="stretch",
    )
