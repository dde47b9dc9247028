"""The RPS indicators (dimension `rps`) as the Indicateurs RPS page and the reports show them.

Counts are published cells; a rate per 100 agents divides a published count by the headcount frozen
with the publication (`views.headcounts`), and only for the indicators the preset marks `par_effectif`.
A secret count has no rate (`s`), a territory without a complete headcount has none either (`–`).
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analytics import views
from analytics.dashboard import Filters, previous_year
from analytics.formatting import NOT_COMPUTABLE, SECRET_MARK, fr_float
from analytics.views import STATUT_PUBLIE, Scope

PER_AGENTS = 100  # rates are read « pour 100 agents »
FAMILY_LABELS = {
    "obligatoire_fp_2014": "Indicateurs obligatoires (fonction publique, 2014)",
    "fonctionnement": "Fonctionnement des services",
    "sante_securite": "Santé et sécurité au travail",
    "service_social": "Observations du service social",
}


@dataclass(frozen=True)
class Indicator:
    code: str
    libelle: str
    famille: str
    par_effectif: bool
    hausse_signifie: str


def indicators() -> list[Indicator]:
    from analytics.nomenclature import default_nomenclature

    dim = default_nomenclature().dimension("rps")
    return [Indicator(m.code, m.libelle_court or m.libelle, FAMILY_LABELS.get(m.famille or "", m.famille or "Autres"),
                      m.par_effectif, m.hausse_signifie or "") for m in dim.modalites if not m.deprecated]


def family_labels() -> list[str]:
    seen: list[str] = []
    for ind in indicators():
        if ind.famille not in seen:
            seen.append(ind.famille)
    return seen


def per_agent_codes() -> set[str]:
    """The RPS indicators the preset marks `par_effectif`."""
    return {i.code for i in indicators() if i.par_effectif}


def rate_applies(dimension: str, modalite: str) -> bool:
    """Situations per 100 agents (the service's reach) and the RPS indicators marked `par_effectif`."""
    return dimension == "ensemble" or (dimension == "rps" and modalite in per_agent_codes())


def with_rates(frame: pl.DataFrame, scope: Scope) -> pl.DataFrame:
    """Add `effectif_agents` and `taux` (per 100 agents) to published cells (views columns).

    The rate exists only for a published count to which a rate applies (`rate_applies`) and whose
    territory has a headcount for the cell's year."""
    per_agents = per_agent_codes()
    agents = views.headcounts(scope).select("geo_niveau", "geo_code", pl.col("annee").cast(pl.String).alias("_annee"),
                                           "effectif_agents")
    rated = (pl.col("dimension") == "ensemble") | ((pl.col("dimension") == "rps") & pl.col("modalite").is_in(list(per_agents)))
    return (frame.with_columns(pl.col("periode").str.slice(0, 4).alias("_annee"))
            .join(agents, on=["geo_niveau", "geo_code", "_annee"], how="left")
            .with_columns(pl.when((pl.col("statut") == STATUT_PUBLIE) & rated & (pl.col("effectif_agents") > 0))
                          .then(pl.col("valeur") * PER_AGENTS / pl.col("effectif_agents")).otherwise(None).alias("taux"))
            .drop("_annee"))


def rate_text(rate: float | None, statut: str) -> str:
    """A rate as shown: « 3,2 », `s` beside a secret count, `–` when no headcount gives a denominator."""
    if statut != STATUT_PUBLIE:
        return SECRET_MARK
    return NOT_COMPUTABLE if rate is None else fr_float(rate)


def rate_texts(frame: pl.DataFrame) -> pl.Series:
    return pl.Series([rate_text(t, s) for t, s in zip(frame["taux"].to_list(), frame["statut"].to_list())], dtype=pl.String)


def map_cells(scope: Scope, level: str, year: str, dimension: str, modalite: str) -> pl.DataFrame:
    """One published cell per territory of `level` for a year with its rate: geo_code, geo_libelle, valeur, statut, taux."""
    cells = views.published_cells(scope, geo_niveau=level, periode_niveau="annee", periodes=[year],
                                  dimensions=dimension, modalites=[modalite])
    return with_rates(cells, scope).select("geo_code", "geo_libelle", "valeur", "statut", "taux").sort("geo_code")


def indicator_table(filters: Filters, scope: Scope) -> pl.DataFrame:
    """One row per RPS indicator for the chosen territory and period, in the preset's order:
    modalite, libelle, famille, par_effectif, valeur, statut, taux, precedent, statut_precedent, evolution.

    `evolution` is the relative change from the same period a year earlier, only between two published counts."""
    if filters.period is None:
        return pl.DataFrame(schema=_TABLE_SCHEMA)
    cells = views.published_cells(scope, geo_niveau=filters.territory.level, periode_niveau=filters.granularity,
                                  periodes=[filters.period, previous_year(filters.period)], dimensions="rps")
    cells = with_rates(cells.filter(pl.col("geo_code") == filters.territory.code), scope)
    now = cells.filter(pl.col("periode") == filters.period)
    before = cells.filter(pl.col("periode") == previous_year(filters.period)).select(
        "modalite", pl.col("valeur").alias("precedent"), pl.col("statut").alias("statut_precedent"))
    catalogue = pl.DataFrame([(i.code, i.libelle, i.famille, i.par_effectif, r) for r, i in enumerate(indicators())],
                             schema={"modalite": pl.String, "libelle": pl.String, "famille": pl.String,
                                     "par_effectif": pl.Boolean, "_rang": pl.Int64}, orient="row")
    table = (catalogue.join(now.select("modalite", "valeur", "statut", "taux"), on="modalite", how="inner")
             .join(before, on="modalite", how="left")
             .with_columns(pl.when((pl.col("precedent") > 0) & pl.col("valeur").is_not_null())
                           .then((pl.col("valeur") - pl.col("precedent")) / pl.col("precedent")).otherwise(None).alias("evolution")))
    return table.sort("_rang").select(list(_TABLE_SCHEMA)).cast(_TABLE_SCHEMA)


_TABLE_SCHEMA = {"modalite": pl.String, "libelle": pl.String, "famille": pl.String, "par_effectif": pl.Boolean,
                 "valeur": pl.Int64, "statut": pl.String, "taux": pl.Float64, "precedent": pl.Int64,
                 "statut_precedent": pl.String, "evolution": pl.Float64}


def territory_table(scope: Scope, level: str, year: str, indicator: str) -> pl.DataFrame:
    """One indicator across the territories of `level` for a year: geo_code, libelle_territoire, valeur, statut,
    effectif_agents, taux (heatmaps, maps and the comparison table)."""
    cells = views.published_cells(scope, geo_niveau=level, periode_niveau="annee", periodes=[year],
                                  dimensions="rps", modalites=[indicator])
    return with_rates(cells, scope).select("geo_code", pl.col("geo_libelle").alias("libelle_territoire"), "valeur",
                                           "statut", "effectif_agents", "taux").sort("geo_code")


def matrix(scope: Scope, level: str, year: str, family: str | None = None) -> pl.DataFrame:
    """Territory × indicator for a year: libelle_territoire, modalite, libelle, valeur, statut, taux."""
    chosen = [i for i in indicators() if family is None or i.famille == family]
    labels = {i.code: i.libelle for i in chosen}
    rank = {i.code: r for r, i in enumerate(chosen)}
    cells = views.published_cells(scope, geo_niveau=level, periode_niveau="annee", periodes=[year],
                                  dimensions="rps", modalites=list(labels))
    return with_rates(cells, scope).with_columns(
        pl.col("modalite").replace_strict(labels, return_dtype=pl.String).alias("libelle"),
        pl.col("modalite").replace_strict(rank, return_dtype=pl.Int64).alias("_rang"),
    ).sort("geo_code", "_rang").select("geo_code", pl.col("geo_libelle").alias("libelle_territoire"), "modalite",
                                       "libelle", "valeur", "statut", "taux")


def levels_with_rps(year_level: str = "annee") -> list[str]:
    """Geography levels at which the rps dimension is published by year, finest last."""
    published = {g for g, p, d in views.available_combinations() if p == year_level and d == "rps"}
    return [g for g in ("national", "region", "departement", "service") if g in published]
