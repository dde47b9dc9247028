"""A tiny dataset for the publication tests, imported through the real import path.

Five services: four in Bretagne (région 53: Finistère 29 and Ille-et-Vilaine 35) and one in
Corse-du-Sud (2A, région 94) so that scopes have something to leave out; two years x three
months; three dimensions only (`ensemble`, the partition `axe`, the multiple `problematique`)
so that the set stays small. Some service-years are small (DM-29, DREAL-BRE), so there are
primary secrets, and secondary ones to protect them.

Publishing even this small set takes tens of seconds (the audit of the secret): `PublishedStores` (fixtures
`published_*` in conftest.py) publishes each variant once per session, in its own data folder, that the tests
which only read it share, and copies it (a SQLite backup, no new publication) for the tests that write into it;
`PublishedDatabases` does the same on the PostgreSQL test server (one database per variant, copied with
`CREATE DATABASE … TEMPLATE …`).
"""

from __future__ import annotations

import hashlib
import itertools
import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from analytics import store, views
from analytics.disclosure.protect import protect_cells
from analytics.disclosure.published_set import default_published_set
from analytics.ingest import IMPORTED, import_path
from analytics.nomenclature import TOTAL_CODE, default_nomenclature
from analytics.publications import publish
from ingest_files import TODAY, csv_bytes, write

YEARS = (2024, 2025)
MONTHS = ("01", "02", "03")
# code, département, libellé, type, base number of situations per month
SERVICES = (
    ("DDTM-29", "29", "DDTM du Finistère", "ddtm", 9),
    ("DM-29", "29", "Direction de la mer du Finistère", "dm", 1),
    ("DDTM-35", "35", "DDTM d'Ille-et-Vilaine", "ddtm", 7),
    ("DREAL-BRE", "35", "DREAL Bretagne", "dreal", 2),
    ("DDT-2A", "2A", "DDT de Corse-du-Sud", "ddt", 6),
)
COLUMNS = ["periode", "departement", "service", "libelle_service", "type_service", "dimension", "modalite", "effectif"]
CELL_KEY = ["geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite"]


def months(year: int) -> list[str]:
    return [f"{year}-{m}" for m in MONTHS]


def frame(years: tuple[int, ...] = YEARS, bump: dict[int, int] | None = None) -> pl.DataFrame:
    """The import file's rows; `bump[year]` adds to every `ensemble` of that year (a corrected file)."""
    nomen = default_nomenclature()
    axe, prob = nomen.dimension("axe").codes, nomen.dimension("problematique").codes
    bump = bump or {}
    rows = []
    for year in years:
        for mi, periode in enumerate(months(year)):
            for code, dep, label, kind, base in SERVICES:
                ens = base + mi + (year - YEARS[0]) + bump.get(year, 0)
                a0 = ens // 2
                cells = [(TOTAL_CODE, TOTAL_CODE, ens), ("axe", axe[0], a0), ("axe", axe[1], ens - a0), ("axe", axe[2], 0),
                         ("problematique", prob[0], ens), ("problematique", prob[1], ens // 3),
                         ("problematique", prob[2], 1 if ens >= 2 else 0)]
                rows += [(periode, dep, code, label, kind, d, m, n) for d, m, n in cells]
    return pl.DataFrame(rows, schema={c: (pl.Int64 if c == "effectif" else pl.String) for c in COLUMNS}, orient="row")


def load(tmp_path: Path, engine: sa.Engine, data: pl.DataFrame, name: str = "agregats.csv", replace: bool = False) -> int:
    report = import_path(write(tmp_path, name, csv_bytes(data)), engine, default_nomenclature(), replace=replace,
                         author="test", today=TODAY)
    assert report.status == IMPORTED, report.message + "\n" + "\n".join(report.issue_lines())
    return report.batch_id


def expected_cube(data: pl.DataFrame, k: int = 5, published=None) -> pl.DataFrame:
    """The protected cube computed directly by analytics.disclosure, year by year (the reference)."""
    published = published or default_published_set()
    nomen = default_nomenclature()
    tables = []
    for year in sorted({p[:4] for p in data["periode"].to_list()}):
        rows = data.filter(pl.col("periode").str.starts_with(year))
        services = rows.select("service", "departement").unique()
        protected = protect_cells(rows.select("periode", "service", "dimension", "modalite", "effectif"), services, nomen, published, k)
        assert protected.protection.audit.ok
        tables.append(protected.table())
    return pl.concat(tables)


def stored_cells(engine: sa.Engine, number: int) -> pl.DataFrame:
    c = store.publication_cell
    with engine.connect() as conn:
        rows = conn.execute(sa.select(c).where(c.c.publication_id == number)).mappings().all()
    schema = {"publication_id": pl.Int64, **{k: pl.String for k in CELL_KEY}, "valeur": pl.Int64, "secret": pl.Boolean}
    return pl.DataFrame([dict(r) for r in rows], schema=schema, orient="row")


def cell_set(cells: pl.DataFrame) -> set[tuple]:
    return set(cells.select(*CELL_KEY, "valeur", "secret").iter_rows())


def preset_sha256() -> str:
    return hashlib.sha256(default_nomenclature().path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- RPS indicators and headcounts

RPS_INDICATORS = ("visites_demande_medecin", "situations_souffrance_travail")  # the first is read per 100 agents
AGENTS = {"DDTM-29": 400, "DM-29": 60, "DDTM-35": 350, "DREAL-BRE": 250, "DDT-2A": 120}
HEADCOUNT_COLUMNS = ["annee", "departement", "service", "libelle_service", "type_service", "effectif_agents"]


def rps_frame(years: tuple[int, ...] = YEARS) -> pl.DataFrame:
    """RPS rows for the same services and months: large in the big services, small (secret) in DM-29 and DREAL-BRE."""
    rows = []
    for year in years:
        for mi, periode in enumerate(months(year)):
            for si, (code, dep, label, kind, base) in enumerate(SERVICES):
                visits = 1 if base < 5 else base // 2 + mi + (year - YEARS[0])
                suffering = 1 if base < 5 else base // 3 + (mi % 2)
                rows += [(periode, dep, code, label, kind, "rps", RPS_INDICATORS[0], visits),
                         (periode, dep, code, label, kind, "rps", RPS_INDICATORS[1], suffering)]
    return pl.DataFrame(rows, schema={c: (pl.Int64 if c == "effectif" else pl.String) for c in COLUMNS}, orient="row")


def headcounts(years: tuple[int, ...] = YEARS, *, missing: tuple[tuple[str, int], ...] = (), bump: int = 0) -> pl.DataFrame:
    """The headcount referential (agents per service and year); `missing` leaves out (service, year) pairs."""
    rows = [(year, dep, code, label, kind, AGENTS[code] + 10 * (year - YEARS[0]) + bump)
            for year in years for code, dep, label, kind, _ in SERVICES if (code, year) not in missing]
    return pl.DataFrame(rows, schema={c: (pl.Int64 if c in ("annee", "effectif_agents") else pl.String) for c in HEADCOUNT_COLUMNS},
                        orient="row")


# --------------------------------------------------------------------------- published stores

STORE_FILE = "vigie.sqlite"  # the SQLite store under VIGIE_DATA_DIR when VIGIE_DATABASE_URL is unset


@contextmanager
def using_store(data_dir: Path) -> Iterator[None]:
    """VIGIE_DATA_DIR is `data_dir` inside the block (outside a test's own monkeypatch), with cold engine and views
    caches on entry and on exit."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VIGIE_DATA_DIR", str(data_dir))
        mp.delenv("VIGIE_DATABASE_URL", raising=False)
        store._engine_for.cache_clear()
        views.clear_memory_cache()
        try:
            yield
        finally:
            views.clear_memory_cache()
            store._engine_for.cache_clear()


def publish_into(engine: sa.Engine, work: Path, aggregates: pl.DataFrame, agents: pl.DataFrame | None = None) -> int:
    """Import `aggregates` (and the headcounts `agents`) into the empty, migrated store `engine` through the real import,
    and publish them; `work` holds the import files. Returns the publication number."""
    load(work, engine, aggregates)
    if agents is not None:
        load(work, engine, agents, name="effectifs.csv")
    outcome = publish("Camille", engine=engine)
    assert outcome.ok, outcome.message
    return outcome.number


def publish_store(data_dir: Path, work: Path, aggregates: pl.DataFrame, agents: pl.DataFrame | None = None) -> int:
    """`publish_into` a new SQLite store in `data_dir`. Returns the publication number."""
    with using_store(data_dir):
        engine = store.get_engine()
        number = publish_into(engine, work, aggregates, agents)
        engine.dispose()
    return number


def copy_store(source: Path, target: Path) -> None:
    """The SQLite store of `source` copied into `target` (SQLite's backup: the WAL's pages included), without the views
    cache: the copy is a database of its own, under another URL."""
    target.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source / STORE_FILE)) as src, closing(sqlite3.connect(target / STORE_FILE)) as dst:
        src.backup(dst)


def content_fingerprint(url: str) -> str:
    """SHA-256 of every row of every table of the store at `url`, SQLite or PostgreSQL: any commit changes it."""
    engine = store.make_engine(url)
    digest = hashlib.sha256()
    try:
        with engine.connect() as conn:
            for name in sorted(sa.inspect(conn).get_table_names()):
                rows = sorted(repr(tuple(row)) for row in conn.execute(sa.text(f'SELECT * FROM "{name}"')))
                digest.update(f"{name}\0{len(rows)}\0".encode() + "\n".join(rows).encode())
    finally:
        engine.dispose()
    return digest.hexdigest()


def _veille_variant() -> tuple[pl.DataFrame, None]:
    from test_veille_watch import veille_frame  # four years of months with one spike: the watch finds alerts

    return veille_frame(), None


# variant -> (aggregates, headcounts): what each shared publication holds
VARIANTS: dict[str, Callable[[], tuple[pl.DataFrame, pl.DataFrame | None]]] = {
    "situations": lambda: (frame(), None),
    # RPS indicators and headcounts, DDT-2A's 2025 headcount missing (no French rate on a partial denominator)
    "rps": lambda: (pl.concat([frame(), rps_frame()]), headcounts(missing=(("DDT-2A", 2025),))),
    "veille": _veille_variant,
}


class _Published:
    """Each variant of VARIANTS published once (on first use) into a store of its own, for the whole session: shared by
    the tests that only read it (checked unchanged after each), copied for the tests that write into it."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self._factory = tmp_path_factory
        self._built: dict[str, tuple[str, int, str]] = {}  # variant -> (url, publication number, content_fingerprint)

    def _publish(self, variant: str) -> tuple[str, int]:
        """Publish the variant into a new store; returns its URL and the publication number."""
        raise NotImplementedError

    def _get(self, variant: str) -> tuple[str, int, str]:
        if variant not in self._built:
            url, number = self._publish(variant)
            self._built[variant] = url, number, content_fingerprint(url)
        return self._built[variant]

    def url(self, variant: str) -> str:
        """The variant's shared store: only for tests that never write into it."""
        return self._get(variant)[0]

    def number(self, variant: str) -> int:
        return self._get(variant)[1]

    def assert_unchanged(self, variant: str) -> None:
        url, _, fingerprint = self._get(variant)
        assert content_fingerprint(url) == fingerprint, (
            f"a test wrote into the shared published store « {variant} »: it needs its own copy")


def _sqlite_folder(url: str) -> Path:
    return Path(sa.engine.make_url(url).database).parent


class PublishedStores(_Published):
    """The variants as SQLite stores, each in its own data folder."""

    def _publish(self, variant: str) -> tuple[str, int]:
        folder = self._factory.mktemp(f"published-{variant}")
        number = publish_store(folder, self._factory.mktemp(f"published-{variant}-files"), *VARIANTS[variant]())
        return f"sqlite:///{folder / STORE_FILE}", number

    def folder(self, variant: str) -> Path:
        """The variant's data folder, shared: only for tests that never write into the store."""
        return _sqlite_folder(self.url(variant))

    def copy(self, variant: str, target: Path) -> int:
        """The variant's store copied into the data folder `target`, for a test that writes into it."""
        copy_store(self.folder(variant), target)
        return self.number(variant)

    def copy_url(self, variant: str, target: Path) -> str:
        """`copy` into `target`; returns the copy's URL."""
        self.copy(variant, target)
        return f"sqlite:///{target / STORE_FILE}"

    def drop(self, url: str) -> None:
        """Nothing to do: a copy is in its test's own data folder."""


# --------------------------------------------------------------------------- PostgreSQL databases


def create_database(admin: sa.Engine, name: str, template: str | None = None) -> None:
    """A new database on the server of the AUTOCOMMIT engine `admin` (a copy of `template`, which nobody may be
    connected to meanwhile)."""
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))


def drop_database(admin: sa.Engine, name: str) -> None:
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def database_url(server_url: str, name: str) -> str:
    """`server_url` with the database `name`."""
    return sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)


_database_counter = itertools.count(1)


def new_database_name(kind: str) -> str:
    """A database name unique on the test server (the process id: several sessions may share a server)."""
    return f"vigie_{kind}_{os.getpid()}_{next(_database_counter)}"


class PublishedDatabases(_Published):
    """The variants as databases of the PostgreSQL test server (`server_url`, created and dropped through the AUTOCOMMIT
    engine `admin`); a copy is `CREATE DATABASE … TEMPLATE` of the variant's database, no new publication."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory, server_url: str, admin: sa.Engine) -> None:
        super().__init__(tmp_path_factory)
        self._server_url, self._admin = server_url, admin
        self._databases: list[str] = []

    def _new(self, template: str | None = None) -> str:
        name = new_database_name("pub" if template is None else "pubcopy")
        create_database(self._admin, name, template)
        self._databases.append(name)
        return database_url(self._server_url, name)

    def _publish(self, variant: str) -> tuple[str, int]:
        url = self._new()
        engine = store.make_engine(url)
        try:
            store.upgrade(engine)
            with using_store(self._factory.mktemp(f"published-{variant}-pg")):  # the publication's progress file
                number = publish_into(engine, self._factory.mktemp(f"published-{variant}-pg-files"), *VARIANTS[variant]())
        finally:
            engine.dispose()
        return url, number

    def copy_url(self, variant: str, target: Path | None = None) -> str:
        """A new database copied from the variant's (nobody may be connected to that one meanwhile), for a test that
        writes into it; returns its URL. `drop` it after the test. (`target`, a data folder, serves SQLite only.)"""
        return self._new(template=sa.engine.make_url(self.url(variant)).database)

    def drop(self, url: str) -> None:
        name = sa.engine.make_url(url).database
        drop_database(self._admin, name)
        self._databases.remove(name)

    def drop_all(self) -> None:
        for name in list(self._databases):
            drop_database(self._admin, name)
        self._databases.clear()
