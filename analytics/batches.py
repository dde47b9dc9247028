"""Import batches in the store: load one validated file in one transaction, replace, roll back, history.

Every function that writes takes a Connection inside the caller's transaction, so a file
is loaded whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics import store
from analytics.formatting import plural
from analytics.nomenclature import TOTAL_CODE

ACTIVE, ROLLED_BACK = "actif", "annule"


class BatchConflict(Exception):
    """Rows already loaded by other batches; `--replace` was not asked for."""

    def __init__(self, message: str, conflicts: pl.DataFrame):
        self.conflicts = conflicts
        super().__init__(message)


class RollbackRefused(Exception):
    pass


@dataclass(frozen=True)
class BatchMeta:
    kind: str
    source: str
    file_name: str
    content_hash: str
    author: str


def now() -> datetime:
    return datetime.now(timezone.utc)


def known_services(conn: Connection) -> pl.DataFrame:
    rows = conn.execute(sa.select(store.service.c.code, store.service.c.departement)).all()
    return pl.DataFrame(rows, schema={"code": pl.String, "departement": pl.String}, orient="row")


def intact_batch_with_hash(conn: Connection, content_hash: str, kind: str) -> int | None:
    """An active batch that loaded these exact bytes and none of whose rows a later batch replaced.

    A batch partly replaced since is not "the file already imported": its rows are no longer all in
    the store, so the file is loaded again (an overlap, hence refused without `replace`)."""
    b = store.import_batch
    archive = store.aggregate_replaced if kind == "agregats" else store.headcount_replaced
    replaced = sa.exists().where(archive.c.batch_id == b.c.id)
    return conn.execute(
        sa.select(b.c.id).where(b.c.content_hash == content_hash, b.c.kind == kind, b.c.status == ACTIVE, ~replaced)
        .order_by(b.c.id).limit(1)
    ).scalar()


def _upsert_services(conn: Connection, services: pl.DataFrame) -> None:
    existing = {r.code: r for r in conn.execute(sa.select(store.service)).all()}
    new, updates = [], []
    for s in services.iter_rows(named=True):
        if s["service"] not in existing:
            new.append({"code": s["service"], "libelle": s["libelle"], "type_service": s["type_service"], "departement": s["departement"]})
        else:
            old = existing[s["service"]]
            libelle = s["libelle"] or old.libelle
            type_service = s["type_service"] or old.type_service
            if (libelle, type_service) != (old.libelle, old.type_service):
                updates.append({"c": s["service"], "libelle": libelle, "type_service": type_service})
    if new:
        conn.execute(sa.insert(store.service), new)
    if updates:
        svc = store.service
        conn.execute(sa.update(svc).where(svc.c.code == sa.bindparam("c")).values(
            libelle=sa.bindparam("libelle"), type_service=sa.bindparam("type_service")), updates)


def _new_batch(conn: Connection, meta: BatchMeta, rows: int, services: int, periods: list[str]) -> int:
    result = conn.execute(
        sa.insert(store.import_batch).values(
            kind=meta.kind, source=meta.source, file_name=meta.file_name[:255], content_hash=meta.content_hash,
            author=meta.author[:120], created_at=now(), row_count=rows, service_count=services,
            period_min=min(periods) if periods else None, period_max=max(periods) if periods else None,
            period_count=len(periods), replaced_count=0, status=ACTIVE,
        ).returning(store.import_batch.c.id)
    )
    return int(result.scalar_one())


def _summary(keys: pl.DataFrame, key_cols: tuple[str, str], unit: str) -> str:
    a, b = key_cols
    by_first = keys.group_by(a).agg(pl.col(b).n_unique().alias("n")).sort(a)
    parts = [f"{r[a]} ({plural(r['n'], unit.rstrip('s'))})" for r in by_first.iter_rows(named=True)]
    head = ", ".join(parts[:12])
    return head + (f", … et {len(parts) - 12} autres" if len(parts) > 12 else "")


@dataclass(frozen=True)
class _Target:
    """Where a kind of file goes, and what unit a file replaces (a service-month, a service-year)."""

    live: sa.Table
    archive: sa.Table
    keys: tuple[str, str]  # (period-like column, service)
    unit: tuple[str, str]  # singular, plural
    replaced: tuple[str, str]
    one_row_per_unit: tuple = ()  # filter picking one row per unit in `live` (cheap conflict lookup)


AGGREGATES = _Target(store.aggregate, store.aggregate_replaced, ("periode", "service"), ("mois-service", "mois-services"),
                     ("mois-service remplacé", "mois-services remplacés"),
                     (store.aggregate.c.dimension == TOTAL_CODE, store.aggregate.c.modalite == TOTAL_CODE))
HEADCOUNTS = _Target(store.headcount, store.headcount_replaced, ("annee", "service"), ("effectif annuel", "effectifs annuels"),
                     ("effectif annuel remplacé", "effectifs annuels remplacés"))


def _load(conn: Connection, target: _Target, meta: BatchMeta, rows: pl.DataFrame, services: pl.DataFrame, replace: bool) -> tuple[int, int, str]:
    """Insert one validated file. Returns (batch id, replaced units, summary of what was replaced)."""
    live, (period_col, service_col) = target.live, target.keys
    units = rows.select(period_col, service_col).unique()
    periods = sorted(units[period_col].unique().to_list())
    found = conn.execute(
        sa.select(live.c[period_col], live.c[service_col], live.c.batch_id).distinct()
        .where(live.c[period_col].in_(periods), *target.one_row_per_unit)
    ).all()
    existing = pl.DataFrame(found, schema={period_col: units.schema[period_col], service_col: pl.String, "batch_id": pl.Int64}, orient="row")
    conflicts = units.join(existing, on=[period_col, service_col]).sort(period_col, service_col)
    summary = ""
    if conflicts.height:
        n = conflicts.height
        listing = _summary(conflicts, (period_col, service_col), "services")
        summary = f"{plural(n, *target.replaced)} : {listing}"
        if not replace:
            batches = ", ".join(str(b) for b in conflicts["batch_id"].unique().sort().to_list())
            raise BatchConflict(
                f"{plural(n, *target.unit)} de ce fichier {'est' if n == 1 else 'sont'} déjà chargé{'s' if n > 1 else ''} "
                f"(lots {batches}) : {listing}. Cochez « remplacer » ou utilisez --replace pour les remplacer par ce fichier.",
                conflicts,
            )
    _upsert_services(conn, services)
    batch_id = _new_batch(conn, meta, rows.height, units[service_col].n_unique(), [str(p) for p in periods])
    if conflicts.height:
        cols = ", ".join(c.name for c in live.columns)
        where = f"{period_col} = :p AND {service_col} = :s"
        keys = [{"p": p, "s": s} for p, s in conflicts.select(period_col, service_col).iter_rows()]
        conn.execute(sa.text(f"INSERT INTO {target.archive.name} (replaced_by, {cols}) SELECT :b, {cols} FROM {live.name} WHERE {where}"),
                     [{**k, "b": batch_id} for k in keys])
        conn.execute(sa.text(f"DELETE FROM {live.name} WHERE {where}"), keys)
        conn.execute(sa.update(store.import_batch).where(store.import_batch.c.id == batch_id).values(
            replaced_count=conflicts.height, replaced_summary=summary))
    columns = [c.name for c in live.columns if c.name != "batch_id"]
    store.bulk_insert(conn, live, rows.select(columns).with_columns(pl.lit(batch_id, pl.Int64).alias("batch_id")))
    return batch_id, conflicts.height, summary


def load_aggregates(conn: Connection, meta: BatchMeta, rows: pl.DataFrame, services: pl.DataFrame, replace: bool) -> tuple[int, int, str]:
    return _load(conn, AGGREGATES, meta, rows, services, replace)


def load_headcounts(conn: Connection, meta: BatchMeta, rows: pl.DataFrame, services: pl.DataFrame, replace: bool) -> tuple[int, int, str]:
    return _load(conn, HEADCOUNTS, meta, rows, services, replace)


def _forget_orphan_services(conn: Connection) -> None:
    """A service no row refers to any more is forgotten, so a corrected file may place it elsewhere."""
    used = sa.union(*(sa.select(t.c.service) for t in (store.aggregate, store.aggregate_replaced, store.headcount, store.headcount_replaced)))
    conn.execute(sa.delete(store.service).where(store.service.c.code.not_in(sa.select(used.subquery().c.service))))


def rollback(engine: Engine, batch_id: int, author: str) -> str:
    """Undo an active batch: delete its rows and restore what it replaced. One transaction."""
    b = store.import_batch
    with engine.begin() as conn:
        batch = conn.execute(sa.select(b).where(b.c.id == batch_id)).first()
        if batch is None:
            raise RollbackRefused(f"lot {batch_id} introuvable")
        if batch.status != ACTIVE:
            raise RollbackRefused(f"le lot {batch_id} est déjà annulé")
        live, archive = (
            (store.aggregate, store.aggregate_replaced) if batch.kind == "agregats" else (store.headcount, store.headcount_replaced)
        )
        later = conn.execute(
            sa.select(archive.c.replaced_by).where(archive.c.batch_id == batch_id).distinct().order_by(archive.c.replaced_by)
        ).scalars().all()
        if later:
            raise RollbackRefused(
                f"des données du lot {batch_id} ont été remplacées par le lot {', '.join(map(str, later))} : annulez d'abord ce lot"
            )
        deleted = conn.execute(sa.delete(live).where(live.c.batch_id == batch_id)).rowcount
        cols = [c.name for c in live.columns]
        restore = sa.select(*[archive.c[c] for c in cols]).where(archive.c.replaced_by == batch_id)
        restored = conn.execute(sa.insert(live).from_select(cols, restore).execution_options(preserve_rowcount=True)).rowcount
        conn.execute(sa.delete(archive).where(archive.c.replaced_by == batch_id))
        _forget_orphan_services(conn)
        conn.execute(sa.update(b).where(b.c.id == batch_id).values(status=ROLLED_BACK, rolled_back_at=now(), rolled_back_by=author[:120]))
    message = f"Lot {batch_id} annulé : {plural(deleted, 'ligne retirée', 'lignes retirées')}"
    return message + (f", {plural(restored, 'ligne antérieure rétablie', 'lignes antérieures rétablies')}." if restored else ".")


def history(engine: Engine) -> pl.DataFrame:
    b = store.import_batch
    with engine.connect() as conn:
        rows = conn.execute(sa.select(b).order_by(b.c.id.desc())).mappings().all()
    return pl.DataFrame([dict(r) for r in rows], schema=HISTORY_SCHEMA, orient="row")


HISTORY_SCHEMA = {
    "id": pl.Int64, "kind": pl.String, "source": pl.String, "file_name": pl.String, "content_hash": pl.String,
    "author": pl.String, "created_at": pl.Datetime("us", "UTC"), "row_count": pl.Int64, "service_count": pl.Int64,
    "period_min": pl.String, "period_max": pl.String, "period_count": pl.Int64, "replaced_count": pl.Int64,
    "replaced_summary": pl.String, "status": pl.String, "rolled_back_at": pl.Datetime("us", "UTC"), "rolled_back_by": pl.String,
}
