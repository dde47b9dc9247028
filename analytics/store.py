"""The store of raw aggregates (SQLAlchemy Core; SQLite by default, PostgreSQL in production).

Raw values never leave this module except towards ingest (writing) and disclosure
(computing a publication, through analytics.publications). The publication tables hold
protected cells only; analytics.views reads them. Pages, charts and reports never import
this module (import-linter). The schema is owned by Alembic (analytics/migrations); `metadata` mirrors it for queries.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

# Named constraints: SQLite migrations (batch mode) can only alter constraints that have a name.
metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

import_batch = sa.Table(
    "import_batch",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("kind", sa.String(20), nullable=False),  # agregats | effectifs
    sa.Column("source", sa.String(20), nullable=False),  # fichier | demo
    sa.Column("file_name", sa.String(255), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False, index=True),
    sa.Column("author", sa.String(120), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("row_count", sa.Integer, nullable=False),
    sa.Column("service_count", sa.Integer, nullable=False),
    sa.Column("period_min", sa.String(7)),
    sa.Column("period_max", sa.String(7)),
    sa.Column("period_count", sa.Integer, nullable=False),
    sa.Column("replaced_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("replaced_summary", sa.Text),
    sa.Column("status", sa.String(12), nullable=False),  # actif | annule
    sa.Column("rolled_back_at", sa.DateTime(timezone=True)),
    sa.Column("rolled_back_by", sa.String(120)),
)

service = sa.Table(
    "service",
    metadata,
    sa.Column("code", sa.String(64), primary_key=True),
    sa.Column("libelle", sa.String(255)),
    sa.Column("type_service", sa.String(64)),
    sa.Column("departement", sa.String(3), nullable=False),
)

aggregate = sa.Table(
    "aggregate",
    metadata,
    sa.Column("periode", sa.String(7), primary_key=True),
    sa.Column("service", sa.String(64), primary_key=True),
    sa.Column("dimension", sa.String(40), primary_key=True),
    sa.Column("modalite", sa.String(64), primary_key=True),
    sa.Column("effectif", sa.Integer, nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False, index=True),
)

# Rows a later batch replaced (`--replace`), kept so that rolling that batch back restores them.
aggregate_replaced = sa.Table(
    "aggregate_replaced",
    metadata,
    sa.Column("replaced_by", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False, index=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False, index=True),
    sa.Column("periode", sa.String(7), nullable=False),
    sa.Column("service", sa.String(64), nullable=False),
    sa.Column("dimension", sa.String(40), nullable=False),
    sa.Column("modalite", sa.String(64), nullable=False),
    sa.Column("effectif", sa.Integer, nullable=False),
)

headcount = sa.Table(
    "headcount",
    metadata,
    sa.Column("service", sa.String(64), primary_key=True),
    sa.Column("annee", sa.Integer, primary_key=True),
    sa.Column("effectif_agents", sa.Integer, nullable=False),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False, index=True),
)

headcount_replaced = sa.Table(
    "headcount_replaced",
    metadata,
    sa.Column("replaced_by", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False, index=True),
    sa.Column("batch_id", sa.Integer, sa.ForeignKey("import_batch.id"), nullable=False, index=True),
    sa.Column("service", sa.String(64), nullable=False),
    sa.Column("annee", sa.Integer, nullable=False),
    sa.Column("effectif_agents", sa.Integer, nullable=False),
)

# Publications (analytics.publications writes them, analytics.views reads them): the only source of
# every figure a person sees. A cell says whether it is secret, never whether the secret is primary
# or secondary (the counts live in `publication`): nothing downstream can tell them apart.
publication = sa.Table(
    "publication",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),  # the publication number
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("author", sa.String(120), nullable=False),
    sa.Column("k", sa.Integer, nullable=False),
    sa.Column("published_set", sa.Text, nullable=False),  # YAML rules
    sa.Column("nomenclature_code", sa.String(64), nullable=False),
    sa.Column("nomenclature_hash", sa.String(64), nullable=False),  # SHA-256 of the preset file
    sa.Column("source_batches", sa.Text, nullable=False),  # JSON list of active aggregate batch ids
    sa.Column("period_min", sa.String(7)),
    sa.Column("period_max", sa.String(7)),
    sa.Column("status", sa.String(12), nullable=False),  # publiee | refusee
    sa.Column("cell_count", sa.Integer, nullable=False),
    sa.Column("primary_count", sa.Integer, nullable=False),
    sa.Column("secondary_count", sa.Integer, nullable=False),
    sa.Column("audited_cells", sa.Integer, nullable=False),
    sa.Column("audit_failures", sa.Integer, nullable=False),
    sa.Column("audit_summary", sa.Text, nullable=False),  # JSON: per-year protection summaries and totals
    sa.Column("seconds", sa.Float, nullable=False),
)

# One row per calendar year of a publication (years are independent systems: no level above the year).
publication_year = sa.Table(
    "publication_year",
    metadata,
    sa.Column("publication_id", sa.Integer, sa.ForeignKey("publication.id"), primary_key=True),
    sa.Column("annee", sa.Integer, primary_key=True),
    # SHA-256 of the year's sorted fine rows, k, published set and preset: same hash, same pattern.
    sa.Column("input_hash", sa.String(64), nullable=False, index=True),
    sa.Column("primary_count", sa.Integer, nullable=False),
    sa.Column("secondary_count", sa.Integer, nullable=False),
    sa.Column("cell_count", sa.Integer, nullable=False),
    sa.Column("audit_failures", sa.Integer, nullable=False),
)

publication_cell = sa.Table(
    "publication_cell",
    metadata,
    sa.Column("publication_id", sa.Integer, sa.ForeignKey("publication.id"), primary_key=True, index=True),
    sa.Column("geo_niveau", sa.String(12), primary_key=True),
    sa.Column("geo_code", sa.String(64), primary_key=True),
    sa.Column("periode_niveau", sa.String(10), primary_key=True),
    sa.Column("periode", sa.String(7), primary_key=True),
    sa.Column("dimension", sa.String(40), primary_key=True),
    sa.Column("modalite", sa.String(64), primary_key=True),
    sa.Column("valeur", sa.Integer),  # NULL when secret
    sa.Column("secret", sa.Boolean, nullable=False),
)

# Agents per territory and year, computed from the headcount referential when the publication is made
# (only where every service of the territory that year has a headcount): the denominators of rates.
publication_headcount = sa.Table(
    "publication_headcount",
    metadata,
    sa.Column("publication_id", sa.Integer, sa.ForeignKey("publication.id"), primary_key=True),
    sa.Column("geo_niveau", sa.String(12), primary_key=True),
    sa.Column("geo_code", sa.String(64), primary_key=True),
    sa.Column("annee", sa.Integer, primary_key=True),
    sa.Column("effectif_agents", sa.Integer, nullable=False),
)

# Veille (migration 0004, analytics.veille.register): one watch run per publication, its alerts with their
# evidence (computed on raw series: never displayed as such), and the qualification history of each alert.
# The history follows an alert's `signature` (kind, territory, indicator, period) from publication to publication.
alert_run = sa.Table(
    "alert_run",
    metadata,
    sa.Column("publication_id", sa.Integer, sa.ForeignKey("publication.id"), primary_key=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(12), nullable=False),  # faite | echec
    sa.Column("message", sa.Text),
    sa.Column("period_min", sa.String(7)),  # first and last month evaluated
    sa.Column("period_max", sa.String(7)),
    sa.Column("series_count", sa.Integer, nullable=False),
    sa.Column("monthly_series", sa.Integer, nullable=False),
    sa.Column("quarterly_series", sa.Integer, nullable=False),
    sa.Column("unwatched_series", sa.Integer, nullable=False),
    sa.Column("alpha", sa.Float, nullable=False),
    sa.Column("fdr_q", sa.Float, nullable=False),
    sa.Column("expected_false_alerts", sa.Float, nullable=False),  # per month, every series tested at alpha
    sa.Column("expected_false_alerts_fdr", sa.Float, nullable=False),  # per month, bound under Benjamini-Hochberg
    sa.Column("alert_count", sa.Integer, nullable=False),
    sa.Column("cluster_count", sa.Integer, nullable=False),
    sa.Column("seconds", sa.Float, nullable=False),
)

alert = sa.Table(
    "alert",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("publication_id", sa.Integer, sa.ForeignKey("publication.id"), nullable=False, index=True),
    # register.stored_signature: a longer one (a large services cluster) has a digest of its territory
    sa.Column("signature", sa.String(400), nullable=False, index=True),
    sa.Column("kind", sa.String(10), nullable=False),  # temporelle | grappe
    sa.Column("geo_niveau", sa.String(12), nullable=False),
    # a grappe: its départements, or its services (a services cluster), comma-separated; unbounded (migration 0006)
    sa.Column("geo_code", sa.Text, nullable=False),
    sa.Column("zones", sa.Text),  # a grappe's départements (comma-separated); NULL for a temporal alert
    sa.Column("dimension", sa.String(40), nullable=False),
    sa.Column("modalite", sa.String(64), nullable=False),
    sa.Column("periode_niveau", sa.String(10), nullable=False),  # mois | trimestre
    sa.Column("periode", sa.String(7), nullable=False),  # YYYY-MM or YYYY-Tn
    sa.Column("debut", sa.String(7), nullable=False),  # first and last month the evidence covers
    sa.Column("fin", sa.String(7), nullable=False),
    sa.Column("methode", sa.String(20), nullable=False),
    sa.Column("observe", sa.Float, nullable=False),
    sa.Column("attendu", sa.Float, nullable=False),
    sa.Column("seuil", sa.Float),
    sa.Column("p_value", sa.Float, nullable=False),
    sa.Column("gravite", sa.String(12), nullable=False),  # moderee | forte | tres_forte
    sa.Column("secret", sa.Boolean, nullable=False),  # touches a secret or unpublished cell: categorical display only
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("publication_id", "signature", name="uq_alert_publication_signature"),
)

alert_qualification = sa.Table(
    "alert_qualification",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("alert_id", sa.Integer, sa.ForeignKey("alert.id"), nullable=False, index=True),
    sa.Column("signature", sa.String(400), nullable=False, index=True),
    sa.Column("etat", sa.String(16), nullable=False),  # a_examiner | confirmee | suivie | close | fausse_alerte
    sa.Column("commentaire", sa.Text, nullable=False),
    sa.Column("auteur", sa.String(120), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# Reports (migration 0005, analytics.report_comments): the comment a CTSS writes for a report, kept with the
# publication it comments. Every save is a new row (who, when); the latest row of a key is the comment in force.
report_comment = sa.Table(
    "report_comment",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("publication_id", sa.Integer, sa.ForeignKey("publication.id"), nullable=False),
    sa.Column("report_type", sa.String(24), nullable=False),  # bilan-regional | synthese-nationale | fiche-f3sct
    sa.Column("territory", sa.String(600), nullable=False),  # région code, FR, or sorted service codes (comma-separated)
    sa.Column("annee", sa.Integer, nullable=False),
    sa.Column("comment", sa.Text, nullable=False),
    sa.Column("author", sa.String(120), nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_report_comment_key", "report_type", "territory", "annee", "publication_id"),
)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")  # readers (the app) never block the importer
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url)
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser treats % as interpolation: escape it (URL-encoded passwords contain %XX).
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the latest Alembic revision (idempotent)."""
    from alembic import command

    migrate(engine, command.upgrade, "head")


def migrate(engine: Engine, step, revision: str) -> None:
    """Run an Alembic command (`command.upgrade`, `command.downgrade`) to `revision` on our own connection."""
    cfg = alembic_config(engine)
    if engine.dialect.name == "sqlite":
        # Batch migrations rebuild tables by copy and drop: referencing rows must not cascade
        # or block meanwhile (Alembic's advice). The pragma only works outside a transaction.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            cfg.attributes["connection"] = conn
            step(cfg, revision)
            conn.commit()
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
        return
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        step(cfg, revision)


@lru_cache(maxsize=8)
def _engine_for(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


def get_engine() -> Engine:
    """The deployment's engine, migrated to head (one per URL per process)."""
    from analytics.settings import get_settings

    return _engine_for(get_settings().database_url)


def bulk_insert(conn: Connection, table: sa.Table, frame: pl.DataFrame) -> None:
    """Insert a frame fast: COPY on PostgreSQL, executemany on the DBAPI cursor elsewhere (in slices)."""
    cols = frame.columns
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
            for row in frame.iter_rows():
                copy.write_row(row)
        return
    placeholders = ", ".join("?" for _ in cols) if conn.dialect.paramstyle == "qmark" else ", ".join(f":{c}" for c in cols)
    sql = f"INSERT INTO {table.name} ({', '.join(cols)}) VALUES ({placeholders})"
    step = 50_000  # bounded Python tuples: memory stays flat whatever the file size
    for start in range(0, frame.height, step):
        conn.exec_driver_sql(sql, list(frame.slice(start, step).iter_rows()))
