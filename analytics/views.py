"""The one API through which pages, charts, reports and exports get figures: published cells only.

Everything here reads the publication tables (and the service names); never the raw
aggregates. A cell comes back with `valeur` (null when secret) and `statut`, which is `publie`
or `s` and nothing else: no column, no count per cell, says whether a secret is primary or
secondary. Only `publiee` publications are served; a refused one has no cell at all.

Scopes only filter the one published cube:
- national: every cell;
- a région: its cells, its départements', its services', and the national cells (for comparison);
- a service or a group of services (F3SCT): their cells, and those of their départements,
  régions and the nation.

Results are cached per publication: in the process (a small LRU; this module does not depend
on Streamlit) and across processes with diskcache under `<data_dir>/cache/views`. Keys hold the
database, the publication number and its creation time, and the query, so a new publication is
never served stale. The cache only ever holds published (protected) cells.

This module must not import the ingest code, the batches, the demo loader or
analytics.publications (import-linter contract in pyproject.toml).
"""

from __future__ import annotations

import io
import json
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from analytics import store
from analytics.referentials import departement_names, departement_region, region_names

PUBLISHED, REFUSED = "publiee", "refusee"  # publication.status
STATUT_PUBLIE, STATUT_SECRET = "publie", "s"  # what a cell says
NATIONAL_CODE, NATIONAL_LABEL = "FR", "France"
GEO_ORDER = {"national": 0, "region": 1, "departement": 2, "service": 3}
PERIOD_ORDER = {"annee": 0, "trimestre": 1, "mois": 2}
VIEW_COLUMNS = ["geo_niveau", "geo_code", "geo_libelle", "periode_niveau", "periode", "dimension", "modalite", "valeur", "statut"]
VIEW_SCHEMA = {"geo_niveau": pl.String, "geo_code": pl.String, "geo_libelle": pl.String, "periode_niveau": pl.String,
               "periode": pl.String, "dimension": pl.String, "modalite": pl.String, "valeur": pl.Int64, "statut": pl.String}
_CELL_SCHEMA = {"geo_niveau": pl.String, "geo_code": pl.String, "periode_niveau": pl.String, "periode": pl.String,
                "dimension": pl.String, "modalite": pl.String, "valeur": pl.Int64, "secret": pl.Boolean}
_PERIOD_CODE = re.compile(r"^(\d{4})(?:-(\d{2})|-T([1-4]))?$")
_READ_SLICE = 200_000
_MEMORY_ENTRIES = 64
_DISK_LIMIT = 512 * 1024 * 1024


class ViewError(ValueError):
    """A query the views cannot answer (unknown scope, malformed period, unpublished publication)."""


# --------------------------------------------------------------------------- publications (metadata only)


@dataclass(frozen=True)
class PublicationInfo:
    """What a publication is, without any cell value."""

    number: int
    created_at: datetime
    author: str
    k: int
    status: str  # publiee | refusee
    period_min: str | None
    period_max: str | None
    years: tuple[int, ...]
    reused_years: tuple[int, ...]
    cell_count: int
    primary_count: int
    secondary_count: int
    audited_cells: int
    audit_failures: int
    seconds: float
    nomenclature_code: str
    source_batches: tuple[int, ...]
    published_set: str

    @property
    def published(self) -> bool:
        return self.status == PUBLISHED

    @property
    def secret_count(self) -> int:
        return self.primary_count + self.secondary_count


def _utc(value: datetime) -> datetime:
    """SQLite returns naive datetimes: they were written in UTC."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _infos(conn: Connection, *where) -> list[PublicationInfo]:
    p, y = store.publication, store.publication_year
    rows = conn.execute(sa.select(p).where(*where).order_by(p.c.id.desc())).mappings().all()
    if not rows:
        return []
    years: dict[int, list[int]] = {}
    for pid, annee in conn.execute(sa.select(y.c.publication_id, y.c.annee).where(y.c.publication_id.in_([r["id"] for r in rows]))
                                   .order_by(y.c.publication_id, y.c.annee)).all():
        years.setdefault(pid, []).append(int(annee))
    out = []
    for r in rows:
        try:
            reused = json.loads(r["audit_summary"] or "{}").get("total", {}).get("annees_reprises", [])
            batches = json.loads(r["source_batches"] or "[]")
        except (ValueError, AttributeError):
            reused, batches = [], []
        out.append(PublicationInfo(
            number=int(r["id"]), created_at=_utc(r["created_at"]), author=r["author"], k=int(r["k"]), status=r["status"],
            period_min=r["period_min"], period_max=r["period_max"], years=tuple(years.get(r["id"], [])),
            reused_years=tuple(int(a) for a in reused), cell_count=int(r["cell_count"]),
            primary_count=int(r["primary_count"]), secondary_count=int(r["secondary_count"]),
            audited_cells=int(r["audited_cells"]), audit_failures=int(r["audit_failures"]), seconds=float(r["seconds"]),
            nomenclature_code=r["nomenclature_code"], source_batches=tuple(int(b) for b in batches),
            published_set=r["published_set"],
        ))
    return out


def latest_publication(engine: Engine | None = None) -> PublicationInfo | None:
    """The publication in force: the latest one whose audit passed (a refused one is never shown)."""
    p = store.publication
    engine = engine or store.get_engine()
    with engine.connect() as conn:
        pid = conn.execute(sa.select(sa.func.max(p.c.id)).where(p.c.status == PUBLISHED)).scalar()
        found = _infos(conn, p.c.id == pid) if pid is not None else []
    return found[0] if found else None


def publication_history(engine: Engine | None = None) -> list[PublicationInfo]:
    """Every publication, refused ones included, newest first (metadata and counts only)."""
    engine = engine or store.get_engine()
    with engine.connect() as conn:
        return _infos(conn)


# --------------------------------------------------------------------------- scopes


@dataclass(frozen=True)
class Scope:
    kind: str  # national | region | services
    codes: tuple[str, ...] = ()

    @classmethod
    def national(cls) -> Scope:
        return cls("national")

    @classmethod
    def region(cls, code: str) -> Scope:
        if code not in region_names():
            raise ViewError(f"région inconnue : « {code} »")
        return cls("region", (code,))

    @classmethod
    def services(cls, codes: str | Iterable[str]) -> Scope:
        codes = (codes,) if isinstance(codes, str) else tuple(codes)
        codes = tuple(sorted({c.strip() for c in codes if c and c.strip()}))
        if not codes:
            raise ViewError("périmètre vide : au moins un service est attendu")
        return cls("services", codes)

    service = services

    @classmethod
    def parse(cls, text: str) -> Scope:
        """A user's scope as configured: `FR`, a région code, or one or more service codes separated by commas."""
        text = (text or "").strip()
        if text.upper() == NATIONAL_CODE or not text:
            return cls.national()
        if text in region_names():
            return cls.region(text)
        return cls.services(text.split(","))

    def describe(self) -> str:
        if self.kind == "national":
            return "France entière"
        if self.kind == "region":
            return f"région {region_names().get(self.codes[0], self.codes[0])}"
        return ("service " if len(self.codes) == 1 else "services ") + ", ".join(self.codes)


NATIONAL = Scope.national()


# --------------------------------------------------------------------------- periods


def period_months(code: str) -> tuple[str, str]:
    """First and last month of a period code: '2025' -> ('2025-01', '2025-12'), '2025-T2' -> ('2025-04', '2025-06')."""
    found = _PERIOD_CODE.match(code or "")
    if not found or (found.group(2) and not 1 <= int(found.group(2)) <= 12):
        raise ViewError(f"période « {code} » invalide (attendu : AAAA, AAAA-Tn ou AAAA-MM)")
    year, month, quarter = found.groups()
    if month:
        return code, code
    if quarter:
        q = int(quarter)
        return f"{year}-{3 * q - 2:02d}", f"{year}-{3 * q:02d}"
    return f"{year}-01", f"{year}-12"


def _period_bounds(periode: pl.Expr, niveau: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    year = periode.str.slice(0, 4)
    q = periode.str.slice(6, 1).cast(pl.Int32, strict=False)
    q_start = pl.concat_str([year, pl.lit("-"), (3 * q - 2).cast(pl.String).str.zfill(2)])
    q_end = pl.concat_str([year, pl.lit("-"), (3 * q).cast(pl.String).str.zfill(2)])
    start = pl.when(niveau == "annee").then(year + "-01").when(niveau == "trimestre").then(q_start).otherwise(periode)
    end = pl.when(niveau == "annee").then(year + "-12").when(niveau == "trimestre").then(q_end).otherwise(periode)
    return start, end


# --------------------------------------------------------------------------- caches


class _Memory:
    """A small thread-safe LRU (Streamlit runs sessions in threads)."""

    def __init__(self, size: int):
        self.size, self.items, self.lock = size, OrderedDict(), threading.Lock()

    def get(self, key):
        with self.lock:
            if key not in self.items:
                return None
            self.items.move_to_end(key)
            return self.items[key]

    def put(self, key, value) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)

    def clear(self) -> None:
        with self.lock:
            self.items.clear()


_memory = _Memory(_MEMORY_ENTRIES)
_disk_caches: dict[Path, object] = {}
_disk_lock = threading.Lock()


def cache_directory() -> Path:
    from analytics.settings import get_settings

    return get_settings().data_dir / "cache" / "views"


def _disk():
    import diskcache

    folder = cache_directory()
    with _disk_lock:
        cache = _disk_caches.get(folder)
        if cache is None:
            folder.mkdir(parents=True, exist_ok=True)
            cache = _disk_caches[folder] = diskcache.Cache(str(folder), size_limit=_DISK_LIMIT)
        return cache


def clear_memory_cache() -> None:
    """Forget the in-process cache (as a new process would); the disk cache stays."""
    _memory.clear()


def _to_bytes(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_ipc(buffer)
    return buffer.getvalue()


def _cached(key: tuple, compute) -> pl.DataFrame:
    frame = _memory.get(key)
    if frame is not None:
        return frame
    disk_key = repr(key)
    data = _disk().get(disk_key)
    if data is not None:
        frame = pl.read_ipc(io.BytesIO(data))
    else:
        frame = compute()
        _disk().set(disk_key, _to_bytes(frame))
    _memory.put(key, frame)
    return frame


# --------------------------------------------------------------------------- the published cube


@dataclass(frozen=True)
class _PublicationKey:
    database: str
    number: int
    created_at: str


def _key(engine: Engine, publication: int | None) -> _PublicationKey | None:
    p = store.publication
    with engine.connect() as conn:
        if publication is None:
            row = conn.execute(sa.select(p.c.id, p.c.created_at).where(p.c.status == PUBLISHED)
                               .order_by(p.c.id.desc()).limit(1)).first()
            if row is None:
                return None
        else:
            row = conn.execute(sa.select(p.c.id, p.c.created_at, p.c.status).where(p.c.id == publication)).first()
            if row is None or row.status != PUBLISHED:
                raise ViewError(f"la publication n° {publication} n'existe pas ou n'a pas été publiée")
    return _PublicationKey(engine.url.render_as_string(hide_password=True), int(row.id), str(row.created_at))


def _pair_order() -> dict[tuple[str, str], int]:
    from analytics.nomenclature import NomenclatureError, default_nomenclature

    try:
        return {pair: i for i, pair in enumerate(default_nomenclature().pairs())}
    except NomenclatureError:
        return {}


def _read_cells(engine: Engine, number: int) -> pl.DataFrame:
    c, s = store.publication_cell, store.service
    cols = [c.c[n] for n in _CELL_SCHEMA]
    with engine.connect() as conn:
        result = conn.execution_options(yield_per=_READ_SLICE).execute(sa.select(*cols).where(c.c.publication_id == number))
        frames = [pl.DataFrame(part, schema=_CELL_SCHEMA, orient="row") for part in result.partitions()]
        services = conn.execute(sa.select(s.c.code, s.c.libelle, s.c.departement)).all()
    cells = pl.concat(frames) if frames else pl.DataFrame(schema=_CELL_SCHEMA)
    service_frame = pl.DataFrame(services, schema={"code": pl.String, "libelle": pl.String, "departement": pl.String}, orient="row")
    return _decorate(cells, service_frame)


def _decorate(cells: pl.DataFrame, services: pl.DataFrame) -> pl.DataFrame:
    """Names, parents (for scopes), month bounds (for ranges), order; `statut` from `secret`, `valeur` null when secret."""
    dep_region, dep_names, reg_names = departement_region(), departement_names(), region_names()
    service_dep = dict(zip(services["code"].to_list(), services["departement"].to_list()))
    service_name = {code: name for code, name in zip(services["code"].to_list(), services["libelle"].to_list()) if name}
    level, code = pl.col("geo_niveau"), pl.col("geo_code")
    departement = (pl.when(level == "departement").then(code)
                   .when(level == "service").then(code.replace_strict(service_dep, default=None, return_dtype=pl.String))
                   .otherwise(None))
    pairs = _pair_order()
    pair_rank = pl.DataFrame({"dimension": [d for d, _ in pairs], "modalite": [m for _, m in pairs],
                              "_rang": list(pairs.values())}, schema={"dimension": pl.String, "modalite": pl.String, "_rang": pl.Int64})
    start, end = _period_bounds(pl.col("periode"), pl.col("periode_niveau"))
    framed = cells.with_columns(
        departement.alias("_departement"),
        pl.when(level == "national").then(pl.lit(NATIONAL_LABEL))
        .when(level == "region").then(code.replace_strict(reg_names, default=code, return_dtype=pl.String))
        .when(level == "departement").then(code.replace_strict(dep_names, default=code, return_dtype=pl.String))
        .otherwise(code.replace_strict(service_name, default=code, return_dtype=pl.String)).alias("geo_libelle"),
        pl.when(pl.col("secret")).then(None).otherwise(pl.col("valeur")).cast(pl.Int64).alias("valeur"),
        pl.when(pl.col("secret")).then(pl.lit(STATUT_SECRET)).otherwise(pl.lit(STATUT_PUBLIE)).alias("statut"),
        start.alias("_debut"), end.alias("_fin"),
        level.replace_strict(GEO_ORDER, default=9, return_dtype=pl.Int8).alias("_g"),
        pl.col("periode_niveau").replace_strict(PERIOD_ORDER, default=9, return_dtype=pl.Int8).alias("_p"),
    ).with_columns(
        pl.when(level == "region").then(code)
        .otherwise(pl.col("_departement").replace_strict(dep_region, default=None, return_dtype=pl.String)).alias("_region"),
    )
    framed = framed.join(pair_rank, on=["dimension", "modalite"], how="left").with_columns(pl.col("_rang").fill_null(1 << 30))
    return framed.sort("_g", "geo_code", "_p", "periode", "_rang", "dimension", "modalite").select(
        *VIEW_COLUMNS, "_departement", "_region", "_debut", "_fin")


def _publication_frame(engine: Engine, key: _PublicationKey) -> pl.DataFrame:
    return _cached((key, "cellules"), lambda: _read_cells(engine, key.number))


def _as_tuple(value: str | Iterable[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None
    return (value,) if isinstance(value, str) else tuple(sorted(set(value)))


def _scope_filter(frame: pl.DataFrame, scope: Scope, engine: Engine) -> pl.Expr:
    level, code = pl.col("geo_niveau"), pl.col("geo_code")
    national = level == "national"
    if scope.kind == "national":
        return pl.lit(True)
    if scope.kind == "region":
        region = scope.codes[0]
        return national | ((level != "national") & (pl.col("_region") == region))
    services = list(scope.codes)
    s = store.service
    with engine.connect() as conn:
        deps = sorted(set(conn.execute(sa.select(s.c.departement).where(s.c.code.in_(services))).scalars().all()))
    regions = sorted({departement_region()[d] for d in deps if d in departement_region()})
    return (national | ((level == "service") & code.is_in(services)) | ((level == "departement") & code.is_in(deps))
            | ((level == "region") & code.is_in(regions)))


def _query(frame: pl.DataFrame, engine: Engine, scope: Scope, geo_niveau, periode_niveau, periodes, debut, fin,
           dimensions, modalites) -> pl.DataFrame:
    expr = _scope_filter(frame, scope, engine)
    if geo_niveau is not None:
        expr &= pl.col("geo_niveau").is_in(list(geo_niveau))
    if periode_niveau is not None:
        expr &= pl.col("periode_niveau").is_in(list(periode_niveau))
    if periodes is not None:
        expr &= pl.col("periode").is_in(list(periodes))
    if debut is not None:
        expr &= pl.col("_debut") >= period_months(debut)[0]
    if fin is not None:
        expr &= pl.col("_fin") <= period_months(fin)[1]
    if dimensions is not None:
        expr &= pl.col("dimension").is_in(list(dimensions))
    if modalites is not None:
        expr &= pl.col("modalite").is_in(list(modalites))
    return frame.filter(expr).select(VIEW_COLUMNS)


def published_cells(
    scope: Scope = NATIONAL,
    *,
    geo_niveau: str | Iterable[str] | None = None,
    periode_niveau: str | Iterable[str] | None = None,
    periodes: str | Iterable[str] | None = None,
    debut: str | None = None,
    fin: str | None = None,
    dimensions: str | Iterable[str] | None = None,
    modalites: str | Iterable[str] | None = None,
    publication: int | None = None,
    engine: Engine | None = None,
) -> pl.DataFrame:
    """Published cells of a scope (columns VIEW_COLUMNS), from the publication in force unless `publication` says which.

    `periodes` lists period codes; `debut`/`fin` bound a range (any level: '2024', '2024-T3', '2024-07'),
    keeping the periods whose months all fall inside it. Empty (with the columns) when nothing is published.
    """
    engine = engine or store.get_engine()
    for bound in (debut, fin):
        if bound is not None:
            period_months(bound)  # a malformed bound is an error, not an empty answer
    key = _key(engine, publication)
    if key is None:
        return pl.DataFrame(schema=VIEW_SCHEMA)
    args = (scope, _as_tuple(geo_niveau), _as_tuple(periode_niveau), _as_tuple(periodes), debut, fin,
            _as_tuple(dimensions), _as_tuple(modalites))
    frame = _cached((key, "requete", args), lambda: _query(_publication_frame(engine, key), engine, *args))
    return frame.clone()


def available_combinations(publication: int | None = None, engine: Engine | None = None) -> list[tuple[str, str, str]]:
    """(geo_niveau, periode_niveau, dimension) combinations published in the publication in force, in display order."""
    engine = engine or store.get_engine()
    key = _key(engine, publication)
    if key is None:
        return []

    def compute() -> pl.DataFrame:
        frame = _publication_frame(engine, key)
        return frame.with_row_index("_i").group_by("geo_niveau", "periode_niveau", "dimension").agg(pl.col("_i").min()).with_columns(
            pl.col("geo_niveau").replace_strict(GEO_ORDER, default=9, return_dtype=pl.Int8).alias("_g"),
            pl.col("periode_niveau").replace_strict(PERIOD_ORDER, default=9, return_dtype=pl.Int8).alias("_p"),
        ).sort("_g", "_p", "_i").select("geo_niveau", "periode_niveau", "dimension")

    combos = _cached((key, "combinaisons"), compute)
    return [tuple(r) for r in combos.iter_rows()]


def available_periods(periode_niveau: str, publication: int | None = None, engine: Engine | None = None) -> list[str]:
    """Published period codes of one level, in order (for period filters)."""
    engine = engine or store.get_engine()
    key = _key(engine, publication)
    if key is None:
        return []
    periods = _cached((key, "periodes", periode_niveau), lambda: _publication_frame(engine, key).filter(
        pl.col("periode_niveau") == periode_niveau).select("periode").unique().sort("periode"))
    return periods["periode"].to_list()


def service_directory(publication: int | None = None, engine: Engine | None = None) -> pl.DataFrame:
    """Services published at service level in the publication in force, with their names and places (no figure).

    Columns: code, libelle, type_service, departement, region. Used by filters: a service type only narrows
    which services are listed; no sum over a type is ever computed (it would not be a published cell)."""
    engine = engine or store.get_engine()
    schema = {"code": pl.String, "libelle": pl.String, "type_service": pl.String, "departement": pl.String, "region": pl.String}
    key = _key(engine, publication)
    if key is None:
        return pl.DataFrame(schema=schema)

    def compute() -> pl.DataFrame:
        published = _publication_frame(engine, key).filter(pl.col("geo_niveau") == "service")["geo_code"].unique().to_list()
        s = store.service
        with engine.connect() as conn:
            rows = conn.execute(sa.select(s.c.code, s.c.libelle, s.c.type_service, s.c.departement)
                                .where(s.c.code.in_(published))).all()
        frame = pl.DataFrame([tuple(r) for r in rows], schema={k: schema[k] for k in list(schema)[:4]}, orient="row")
        return frame.with_columns(
            pl.col("libelle").fill_null(pl.col("code")),
            pl.col("departement").replace_strict(departement_region(), default=None, return_dtype=pl.String).alias("region"),
        ).sort("region", "departement", "code")

    return _cached((key, "services"), compute).clone()


HEADCOUNT_SCHEMA = {"geo_niveau": pl.String, "geo_code": pl.String, "annee": pl.Int64, "effectif_agents": pl.Int64}


def _read_headcounts(engine: Engine, number: int) -> pl.DataFrame:
    h = store.publication_headcount
    with engine.connect() as conn:
        rows = conn.execute(sa.select(h.c.geo_niveau, h.c.geo_code, h.c.annee, h.c.effectif_agents)
                            .where(h.c.publication_id == number)).all()
    return pl.DataFrame(rows, schema=HEADCOUNT_SCHEMA, orient="row")


def headcounts(scope: Scope = NATIONAL, *, geo_niveau: str | Iterable[str] | None = None,
               publication: int | None = None, engine: Engine | None = None) -> pl.DataFrame:
    """Agents per territory and year frozen with the publication (geo_niveau, geo_code, annee, effectif_agents).

    Only territories the scope can see (those with published cells in it); a territory whose services do
    not all have a headcount is absent, so no rate is computed on a partial denominator."""
    engine = engine or store.get_engine()
    key = _key(engine, publication)
    if key is None:
        return pl.DataFrame(schema=HEADCOUNT_SCHEMA)
    levels = _as_tuple(geo_niveau)

    def compute() -> pl.DataFrame:
        visible = _query(_publication_frame(engine, key), engine, scope, levels, None, None, None, None, None, None)
        territories = visible.select("geo_niveau", "geo_code").unique()
        agents = _cached((key, "effectifs"), lambda: _read_headcounts(engine, key.number))
        return agents.join(territories, on=["geo_niveau", "geo_code"], how="semi").sort("geo_niveau", "geo_code", "annee")

    return _cached((key, "effectifs", scope, levels), compute).clone()
