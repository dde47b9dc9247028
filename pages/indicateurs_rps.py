"""Indicateurs RPS: the rps dimension of a territory and period (per 100 agents where marked), compared, over time."""

from analytics.auth import require

user = require(__file__)

import polars as pl  # noqa: E402
import streamlit as st  # noqa: E402

from analytics import charts, dashboard, rps  # noqa: E402
from analytics.dashboard import change_text  # noqa: E402
from analytics.formatting import NOT_COMPUTABLE  # noqa: E402
from analytics.page_parts import cached, chart, dashboard_header, data_view, trend_view  # noqa: E402

LEVELS = {"national": "France", "region": "Régions", "departement": "Départements", "service": "Services"}


def change_cell(change, statut, statut_before) -> str:
    if statut != "publie" or statut_before != "publie":
        return "s"
    return change_text(change) or NOT_COMPUTABLE


scope, filters, where = dashboard_header("Indicateurs RPS", user)
st.caption("Indicateurs de veille des risques psychosociaux. Les indicateurs marqués « pour 100 agents » rapportent "
           "le nombre publié à l'effectif du territoire l'année de la période (effectifs figés avec la publication).")

indicators = rps.indicators()
families = rps.family_labels()
family = st.segmented_control("Famille d'indicateurs", families, default=None, key="r_famille",
                              help="Sans choix, tous les indicateurs sont affichés.")
chosen = [i for i in indicators if family is None or i.famille == family]

# --------------------------------------------------------------------------- the territory and period
table = cached(rps.indicator_table, filters, scope).filter(pl.col("modalite").is_in([i.code for i in chosen]))
if table.height == 0:
    st.info("Aucun indicateur RPS n'est publié pour ce territoire, ce niveau et cette période.")
    st.stop()
period = dashboard.period_label(filters.period)
st.subheader(f"{where} · {period}")
shown = table.with_columns(
    rps.rate_texts(table).alias("_taux"),
    pl.struct("evolution", "statut", "statut_precedent").map_elements(
        lambda r: change_cell(r["evolution"], r["statut"], r["statut_precedent"]), return_dtype=pl.String).alias("_evolution"),
).with_columns(pl.when(pl.col("par_effectif")).then(pl.col("_taux")).otherwise(pl.lit("")).alias("_taux"))
chart(charts.bar_chart, table.select("libelle", "valeur", "statut"), "libelle", f"Indicateurs RPS · {where} · {period}",
      value_title="Nombre", alt=f"Barres : nombre publié de chaque indicateur RPS pour {where}, {period}")
display = dashboard.display_table(shown, {"libelle": "Indicateur", "famille": "Famille", "valeur": "Nombre"}).with_columns(
    shown["_taux"].alias("Pour 100 agents"), shown["_evolution"].alias("Évolution sur un an"))
data_view(display, f"indicateurs-rps-{filters.territory.key().replace(':', '-')}-{filters.period}", "Indicateurs RPS")
with st.expander("Comment lire une hausse"):
    for ind in chosen:
        if ind.hausse_signifie:
            st.markdown(f"- **{ind.libelle}** : {ind.hausse_signifie}")

# --------------------------------------------------------------------------- across territories
st.subheader("Comparer les territoires")
levels = [lvl for lvl in rps.levels_with_rps() if lvl != "national" and not (scope.kind != "national" and lvl == "region")]
years = dashboard.map_periods("region") or dashboard.periods("annee")
if levels and years:
    left, middle, right = st.columns([2, 1, 2])
    level = left.radio("Territoires", levels, format_func=LEVELS.get, horizontal=True, key="r_niveau")
    year_default = filters.period[:4] if filters.period and filters.period[:4] in years else years[-1]
    year = middle.selectbox("Année", years[::-1], index=years[::-1].index(year_default), key="r_annee")
    per_agents = right.toggle("Pour 100 agents", key="r_taux",
                              help="Seulement pour les indicateurs rapportés à l'effectif ; « – » sans effectif connu.")
    matrix = cached(rps.matrix, scope, level, year, family)
    if level == "service" and filters.service_type:
        matrix = matrix.filter(pl.col("geo_code").is_in(dashboard.services_of_type(scope, filters.service_type)))
        st.caption(f"Services du type « {dashboard.service_type_label(filters.service_type)} » (filtre « Type de service »).")
    if per_agents:
        matrix = matrix.filter(pl.col("modalite").is_in(list(rps.per_agent_codes())))
    if matrix.height == 0:
        st.info("Aucun indicateur publié pour ce choix.")
    else:
        value_col = "taux" if per_agents else "valeur"
        unit = "pour 100 agents" if per_agents else "nombre"
        chart(charts.heatmap, matrix.select("libelle_territoire", "libelle", value_col, "statut"), "libelle_territoire", "libelle",
              f"Indicateurs RPS par territoire · {year} ({unit})", value_col=value_col, rate=per_agents,
              value_title="Pour 100 agents" if per_agents else "Nombre", x_title=LEVELS[level][:-1], y_title="Indicateur",
              alt=f"Carte de chaleur des indicateurs RPS ({unit}) par {LEVELS[level][:-1].lower()} en {year}")
        compared = dashboard.display_table(matrix, {"libelle_territoire": LEVELS[level][:-1], "libelle": "Indicateur", "valeur": "Nombre"})
        data_view(compared.with_columns(rps.rate_texts(matrix).alias("Pour 100 agents")),
                  f"indicateurs-rps-{level}-{year}", "Indicateurs RPS par territoire")

# --------------------------------------------------------------------------- over time
st.subheader("Évolution d'un indicateur")
labels = {i.code: i.libelle for i in chosen}
code = st.selectbox("Indicateur", list(labels), format_func=labels.get, key="r_indicateur")
frame = cached(dashboard.series, filters, scope, "rps", (code,))
if frame.height == 0:
    st.info("Aucune série publiée pour cet indicateur, ce territoire et ce niveau.")
else:
    trend_view(frame, f"{labels[code]} · {where}", labels[code], name="indicateur-rps-tendance", sheet="Évolution",
               alt=f"Courbe de l'indicateur « {labels[code]} » pour {where}, par "
                   f"{dashboard.GRANULARITY_LABELS[filters.granularity].lower()}")
