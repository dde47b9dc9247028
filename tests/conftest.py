"""Fixtures shared by every test.

- `postgres_url` (session): a real PostgreSQL server. `VIGIE_TEST_POSTGRES_URL` if set, otherwise a
  throwaway cluster started with the local `initdb`/`pg_ctl` (never skipped: a missing PostgreSQL fails).
- `db_url` (function, params sqlite/postgres): a fresh, empty database for each test.
- `engine`: `make_engine(db_url)` migrated to the Alembic head.
- an autouse fixture isolating `VIGIE_DATA_DIR` / `VIGIE_DATABASE_URL`, so no test touches ./var.
- `published_shared` / `published_copy` (and `published_situations`, `published_rps`, `published_rps_copy`): the small
  publications of tests/publication_data.py, published once per session; shared by the tests that only read them,
  copied for the tests that write into the store.
- `published_engine` (params sqlite/postgres): the same publications as engines, on SQLite and on PostgreSQL (one
  database per variant for the session, copied with CREATE DATABASE … TEMPLATE for the tests that write).
- `browser_type_launch_args` (tests/browser_support.py): the browser tests drive Debian's Chromium.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from analytics import store, views
from analytics.settings import get_settings
from browser_support import browser_type_launch_args  # noqa: F401  (fixture for pytest-playwright)
from publication_data import (PublishedDatabases, PublishedStores, create_database, database_url, drop_database,
                              new_database_name)

TEST_DB_NAME = "vigie_test"
PG_NOT_FOUND = (
    "PostgreSQL introuvable : installez le paquet Debian `postgresql` (initdb/pg_ctl) "
    "ou définissez VIGIE_TEST_POSTGRES_URL. / PostgreSQL not found: install the Debian package "
    "`postgresql` (initdb/pg_ctl) or set VIGIE_TEST_POSTGRES_URL (e.g. "
    "postgresql+psycopg://user:pass@host:5432/db)."
)


# --------------------------------------------------------------------------- PostgreSQL server


def _pg_bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: `pg_config --bindir`, else the newest Debian install."""
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=30)
            candidates.append(Path(out.stdout.strip()))
        except (subprocess.SubprocessError, OSError):
            pass
    # Debian keeps the server binaries out of PATH, one folder per major version (newest first).
    debian = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: _version_key(p), reverse=True)
    candidates += [Path(p) for p in debian]
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if initdb and pg_ctl:
        return Path(initdb).resolve().parent
    return None


def _version_key(path: str) -> tuple[int, ...]:
    major = Path(path).parent.name
    return tuple(int(x) for x in major.split(".") if x.isdigit()) or (0,)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_pg_user(argv: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: go through the `postgres` system user then."""
    if os.geteuid() != 0:
        return argv
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", "postgres", "--", *argv]


def _run(argv: list[str], cwd: Path, what: str, log: Path | None = None) -> None:
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    if proc.returncode != 0:
        server_log = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
        pytest.fail(
            f"PostgreSQL de test : échec de {what} / test PostgreSQL: {what} failed "
            f"(exit {proc.returncode}): {' '.join(argv)}\n{proc.stdout}\n{proc.stderr}\n{server_log}",
            pytrace=False,
        )


def _wait_until_ready(url: str, timeout: float = 30.0) -> None:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
                return
            except sa.exc.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """SQLAlchemy URL of a real, reachable PostgreSQL database (session-wide)."""
    external = os.environ.get("VIGIE_TEST_POSTGRES_URL")
    if external:
        try:
            _wait_until_ready(external, timeout=10)
        except sa.exc.OperationalError as exc:
            pytest.fail(f"VIGIE_TEST_POSTGRES_URL injoignable / unreachable: {exc}", pytrace=False)
        yield external
        return

    bindir = _pg_bindir()
    if bindir is None:
        pytest.fail(PG_NOT_FOUND, pytrace=False)

    as_root = os.geteuid() == 0
    if as_root:
        try:
            import pwd

            pg_user = pwd.getpwnam("postgres")
        except KeyError:
            pytest.fail(
                "Exécution en root sans utilisateur système `postgres` (créé par le paquet Debian "
                "`postgresql`). / Running as root without the `postgres` system user (created by the "
                "Debian `postgresql` package).",
                pytrace=False,
            )
    # /tmp rather than pytest's tmp_path: the latter is 0700 root, which the postgres user cannot cross.
    base = Path(tempfile.mkdtemp(prefix="vigie-pg-", dir="/tmp" if as_root else None))
    datadir, log = base / "data", base / "server.log"
    if as_root:
        os.chown(base, pg_user.pw_uid, pg_user.pw_gid)
    started = False
    try:
        _run(
            _as_pg_user(
                [str(bindir / "initdb"), "-D", str(datadir), "-U", "postgres", "-A", "trust",
                 "-E", "UTF8", "--no-locale", "--no-sync"]
            ),
            cwd=base,
            what="initdb",
        )
        port = 0
        for attempt in range(3):  # the free port may be taken between probing and binding
            port = _free_port()
            options = (
                f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={base} "
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            argv = _as_pg_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-l", str(log), "-o", options,
                                "-w", "-t", "60", "start"])
            proc = subprocess.run(argv, cwd=base, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                                  timeout=120)
            if proc.returncode == 0:
                started = True
                break
            if attempt == 2:
                _run(argv, cwd=base, what="pg_ctl start", log=log)
        admin_url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        _wait_until_ready(admin_url)
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
        create_database(admin, TEST_DB_NAME)
        admin.dispose()
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{TEST_DB_NAME}"
    finally:
        if started:
            subprocess.run(
                _as_pg_user([str(bindir / "pg_ctl"), "-D", str(datadir), "-m", "fast", "-w", "stop"]),
                cwd=base, capture_output=True, stdin=subprocess.DEVNULL, timeout=120,
            )
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def _postgres_admin(postgres_url: str) -> Iterator[sa.Engine]:
    """AUTOCOMMIT engine on the session database, used to create/drop one database per test."""
    admin = sa.create_engine(postgres_url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    yield admin
    admin.dispose()


# --------------------------------------------------------------------------- per-test databases

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh, empty database (SQLite file in tmp_path, or a new PostgreSQL database)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return

    postgres_url = request.getfixturevalue("postgres_url")
    admin: sa.Engine = request.getfixturevalue("_postgres_admin")
    name = new_database_name("t")
    create_database(admin, name)
    try:
        yield database_url(postgres_url, name)
    finally:
        drop_database(admin, name)


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    """An engine on `db_url`, migrated to the Alembic head."""
    eng = store.make_engine(db_url)
    try:
        store.upgrade(eng)
        yield eng
    finally:
        eng.dispose()


# --------------------------------------------------------------------------- isolation


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test ever reads or writes ./var, nor inherits a deployment database."""
    monkeypatch.setenv("VIGIE_DATA_DIR", str(tmp_path_factory.mktemp("vigie-data")))
    monkeypatch.delenv("VIGIE_DATABASE_URL", raising=False)
    store._engine_for.cache_clear()
    yield
    store._engine_for.cache_clear()


# --------------------------------------------------------------------------- published test stores


@pytest.fixture(scope="session")
def published_stores(tmp_path_factory: pytest.TempPathFactory) -> PublishedStores:
    """The variants of tests/publication_data.py's publication, each published once per session (on first use)."""
    return PublishedStores(tmp_path_factory)


@pytest.fixture(scope="session")
def published_databases(tmp_path_factory: pytest.TempPathFactory, postgres_url: str,
                        _postgres_admin: sa.Engine) -> Iterator[PublishedDatabases]:
    """The same variants on the PostgreSQL test server, each published once per session (on first use)."""
    databases = PublishedDatabases(tmp_path_factory, postgres_url, _postgres_admin)
    yield databases
    databases.drop_all()


@pytest.fixture
def published_shared(published_stores: PublishedStores, monkeypatch: pytest.MonkeyPatch) -> Iterator:
    """`published_shared(variant)` points VIGIE_DATABASE_URL at the variant's session-wide store and returns its
    publication number; VIGIE_DATA_DIR (the views' disk cache) stays the test's own, and the views' memory cache is
    cleared before and after. The test must only read the store: it is checked unchanged after the test."""
    used: set[str] = set()
    views.clear_memory_cache()

    def use(variant: str) -> int:
        monkeypatch.setenv("VIGIE_DATABASE_URL", published_stores.url(variant))
        store._engine_for.cache_clear()
        used.add(variant)
        return published_stores.number(variant)

    yield use
    store._engine_for.cache_clear()
    views.clear_memory_cache()
    for variant in sorted(used):
        published_stores.assert_unchanged(variant)


@pytest.fixture(params=BACKENDS)
def published_engine(request: pytest.FixtureRequest, published_stores: PublishedStores) -> Iterator:
    """`published_engine(variant, copy=False)`: an engine on the variant's session-wide publication, on SQLite and on
    PostgreSQL. Shared, the test must only read it (checked unchanged after the test); with `copy=True` the test gets
    its own copy to write into (SQLite: a backup into its VIGIE_DATA_DIR; PostgreSQL: CREATE DATABASE … TEMPLATE,
    dropped after the test), asked for before any shared engine of the same variant. VIGIE_DATA_DIR (the views' disk
    cache) stays the test's own; the views' memory cache is cleared before and after; the engines are disposed."""
    published = published_stores if request.param == "sqlite" else request.getfixturevalue("published_databases")
    engines: list[sa.Engine] = []
    shared: set[str] = set()
    copies: list[str] = []
    views.clear_memory_cache()

    def use(variant: str, copy: bool = False) -> sa.Engine:
        if copy:
            url = published.copy_url(variant, get_settings().data_dir)
            copies.append(url)
        else:
            url = published.url(variant)
            shared.add(variant)
        engines.append(store.make_engine(url))
        return engines[-1]

    yield use
    for engine in engines:
        engine.dispose()
    views.clear_memory_cache()
    for url in copies:
        published.drop(url)
    for variant in sorted(shared):
        published.assert_unchanged(variant)


@pytest.fixture
def published_copy(published_stores: PublishedStores):
    """`published_copy(variant, data_dir=None)` copies the variant's store into `data_dir` (by default this test's
    own VIGIE_DATA_DIR), for a test that writes into it; returns the publication number."""

    def use(variant: str, data_dir: Path | None = None) -> int:
        return published_stores.copy(variant, data_dir or get_settings().data_dir)

    return use


@pytest.fixture
def published_situations(published_shared) -> int:
    """The session's publication of situations only (publication_data.frame()), only read."""
    return published_shared("situations")


@pytest.fixture
def published_rps(published_shared) -> int:
    """The session's publication with RPS indicators and headcounts (DDT-2A's 2025 one missing), only read."""
    return published_shared("rps")


@pytest.fixture
def published_rps_copy(published_copy) -> int:
    """The same publication as `published_rps`, copied into this test's own data folder: the test may write into it."""
    return published_copy("rps")
