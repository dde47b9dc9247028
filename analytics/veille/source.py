"""What the watch reads: the raw aggregates of the watched dimensions, and which cells a publication shows.

Detection may read raw series (ARCHITECTURE.md, Veille); nothing read here is ever displayed.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from analytics import store, views
from analytics.veille.watch import DIMENSIONS, WatchResult, watch_frame

_SCHEMA = {"periode": pl.String, "service": pl.String, "departement": pl.String, "dimension": pl.String,
           "modalite": pl.String, "effectif": pl.Int64, "type_service": pl.String}


def read_fine(engine: Engine, dimensions=DIMENSIONS) -> pl.DataFrame:
    """The active fine rows of ``dimensions`` with each service's département and type (the services scan's layer)."""
    a, s = store.aggregate, store.service
    stmt = (sa.select(a.c.periode, a.c.service, s.c.departement, a.c.dimension, a.c.modalite, a.c.effectif,
                      s.c.type_service)
            .select_from(a.join(s, a.c.service == s.c.code)).where(a.c.dimension.in_(list(dimensions))))
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=200_000).execute(stmt)
        frames = [pl.DataFrame(part, schema=_SCHEMA, orient="row") for part in result.partitions()]
    return pl.concat(frames) if frames else pl.DataFrame(schema=_SCHEMA)


def published_keys(engine: Engine, number: int, dimensions=DIMENSIONS) -> set[tuple]:
    """(geo_niveau, geo_code, periode_niveau, periode, dimension, modalite) of the publication's non-secret monthly
    and quarterly cells of ``dimensions``."""
    cells = views.published_cells(views.NATIONAL, periode_niveau=("mois", "trimestre"), dimensions=dimensions,
                                  publication=number, engine=engine)
    shown = cells.filter(pl.col("statut") == views.STATUT_PUBLIE)
    return set(shown.select("geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite").iter_rows())


def watch_publication(engine: Engine, number: int, **options) -> WatchResult:
    """Watch the store's active aggregates, flagging as secret what publication ``number`` does not show."""
    return watch_frame(read_fine(engine), published_keys(engine, number), **options)
