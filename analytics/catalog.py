"""What the store holds, described without any figure from the aggregates.

The home page says which periods, services and territories are loaded and what the last
import was; none of it is a count of situations.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from analytics import store
from analytics.nomenclature import TOTAL_CODE
from analytics.referentials import departement_region


@dataclass(frozen=True)
class StoreStatus:
    period_min: str | None
    period_max: str | None
    period_count: int
    service_count: int
    departement_count: int
    region_count: int
    headcount_years: tuple[int, ...]
    last_import: dict | None
    active_batches: int
    has_demo: bool

    @property
    def empty(self) -> bool:
        return self.period_count == 0


def store_status() -> StoreStatus:
    agg, b, svc, hc = store.aggregate, store.import_batch, store.service, store.headcount
    with store.get_engine().connect() as conn:
        ens = sa.and_(agg.c.dimension == TOTAL_CODE, agg.c.modalite == TOTAL_CODE)
        pmin, pmax, pcount = conn.execute(
            sa.select(sa.func.min(agg.c.periode), sa.func.max(agg.c.periode), sa.func.count(sa.distinct(agg.c.periode))).where(ens)
        ).one()
        services = conn.execute(
            sa.select(svc.c.code, svc.c.departement).where(svc.c.code.in_(sa.select(agg.c.service).where(ens).distinct()))
        ).all()
        years = conn.execute(sa.select(hc.c.annee).distinct().order_by(hc.c.annee)).scalars().all()
        last = conn.execute(sa.select(b).where(b.c.status == "actif").order_by(b.c.id.desc()).limit(1)).mappings().first()
        active = conn.execute(sa.select(sa.func.count()).select_from(b).where(b.c.status == "actif")).scalar_one()
        demo = conn.execute(sa.select(sa.func.count()).select_from(b).where(b.c.status == "actif", b.c.source == "demo")).scalar_one()
    departements = {d for _, d in services}
    regions = {departement_region()[d] for d in departements if d in departement_region()}
    return StoreStatus(pmin, pmax, int(pcount or 0), len(services), len(departements), len(regions), tuple(years),
                       dict(last) if last else None, int(active), demo > 0)


def store_version() -> str:
    """Changes whenever the store or its content changes (import, rollback): a cheap cache key."""
    b = store.import_batch
    engine = store.get_engine()
    with engine.connect() as conn:
        last_id, rolled = conn.execute(sa.select(sa.func.max(b.c.id), sa.func.count(b.c.rolled_back_at))).one()
    return f"{engine.url.render_as_string()}#{last_id or 0}#{rolled or 0}"
