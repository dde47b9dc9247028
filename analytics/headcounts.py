"""Agents per territory and year for a publication: the denominators of rates per 100 agents.

A territory's headcount is the sum of its services' headcounts, given only when every service of
that territory with aggregates that year has one: a rate on a partial denominator would overstate.
Headcounts are organisational facts, not secrets; a rate is shown only beside a published count.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from analytics import store
from analytics.disclosure.levels import NATIONAL_CODE
from analytics.referentials import departement_region

SCHEMA = {"geo_niveau": pl.String, "geo_code": pl.String, "annee": pl.Int64, "effectif_agents": pl.Int64}


def read_headcounts(conn: Connection) -> pl.DataFrame:
    h = store.headcount
    rows = conn.execute(sa.select(h.c.service, h.c.annee, h.c.effectif_agents)).all()
    return pl.DataFrame(rows, schema={"service": pl.String, "annee": pl.Int64, "effectif_agents": pl.Int64}, orient="row")


def territory_headcounts(active: pl.DataFrame, headcounts: pl.DataFrame) -> pl.DataFrame:
    """`active`: service, departement, annee of the services with aggregates; `headcounts`: service, annee, effectif_agents.

    Returns geo_niveau, geo_code, annee, effectif_agents for every territory whose services all have a headcount."""
    regions = departement_region()
    services = (active.select(pl.col("service"), pl.col("departement"), pl.col("annee").cast(pl.Int64)).unique()
                .with_columns(pl.col("departement").replace_strict(regions, default=None).alias("region"),
                              pl.lit(NATIONAL_CODE).alias("national"))
                .join(headcounts, on=["service", "annee"], how="left"))
    parts = []
    for level, column in (("service", "service"), ("departement", "departement"), ("region", "region"), ("national", "national")):
        parts.append(
            services.filter(pl.col(column).is_not_null())
            .group_by(pl.col(column).alias("geo_code"), "annee")
            .agg(pl.col("effectif_agents").sum().alias("effectif_agents"), pl.col("effectif_agents").null_count().alias("_missing"))
            .filter(pl.col("_missing") == 0)
            .select(pl.lit(level).alias("geo_niveau"), "geo_code", "annee", "effectif_agents")
        )
    return pl.concat(parts).cast(SCHEMA).sort("geo_niveau", "geo_code", "annee")
