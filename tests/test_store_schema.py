"""The store's schema: Alembic owns it, `analytics.store.metadata` mirrors it (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from analytics import store
from test_veille_register import _publication  # a bare publication row, as the register's tests make it

EXPECTED_TABLES = set(store.metadata.tables)


def _tables(engine: sa.Engine) -> set[str]:
    return set(sa.inspect(engine).get_table_names())


def _current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _head(engine: sa.Engine) -> str | None:
    return ScriptDirectory.from_config(store.alembic_config(engine)).get_current_head()


def _schema_diff(engine: sa.Engine) -> list:
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn), store.metadata)


def test_metadata_declares_the_expected_tables():
    assert EXPECTED_TABLES == {
        "import_batch", "service", "aggregate", "aggregate_replaced", "headcount", "headcount_replaced",
        "publication", "publication_year", "publication_cell", "publication_headcount",
        "alert_run", "alert", "alert_qualification",
        "report_comment",
    }


def test_upgrade_creates_every_table(engine):
    assert EXPECTED_TABLES <= _tables(engine)
    assert _tables(engine) - EXPECTED_TABLES == {"alembic_version"}
    assert _current_revision(engine) == _head(engine)


def test_upgrade_is_idempotent(engine):
    store.upgrade(engine)
    store.upgrade(engine)
    assert _tables(engine) == EXPECTED_TABLES | {"alembic_version"}
    assert _current_revision(engine) == _head(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM alembic_version")).scalar_one() == 1


def test_alembic_head_matches_metadata(engine):
    diff = _schema_diff(engine)
    assert diff == [], f"migrations and analytics.store.metadata differ: {diff}"


def test_schema_is_usable(engine):
    """A batch, its aggregates and headcounts round-trip; FK and server defaults are in place."""
    import datetime as dt

    with engine.begin() as conn:
        batch_id = conn.execute(
            store.import_batch.insert().returning(store.import_batch.c.id),
            dict(kind="agregats", source="demo", file_name="f.csv", content_hash="h" * 64, author="test",
                 created_at=dt.datetime.now(dt.timezone.utc), row_count=1, service_count=1, period_count=1,
                 status="actif"),
        ).scalar_one()
        conn.execute(store.service.insert(), dict(code="S1", departement="75"))
        conn.execute(store.aggregate.insert(), dict(periode="2025-01", service="S1", dimension="d",
                                                    modalite="m", effectif=3, batch_id=batch_id))
        conn.execute(store.headcount.insert(), dict(service="S1", annee=2025, effectif_agents=12,
                                                    batch_id=batch_id))
    with engine.connect() as conn:
        assert conn.execute(sa.select(store.import_batch.c.replaced_count)).scalar_one() == 0
        assert conn.execute(sa.select(sa.func.sum(store.aggregate.c.effectif))).scalar_one() == 3
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(store.headcount.insert(), dict(service="S2", annee=2025, effectif_agents=1, batch_id=999))


def test_downgrade_to_base_then_upgrade(engine):
    store.migrate(engine, command.downgrade, "base")
    assert _tables(engine) & EXPECTED_TABLES == set()
    assert _current_revision(engine) is None

    store.upgrade(engine)
    assert EXPECTED_TABLES <= _tables(engine)
    assert _current_revision(engine) == _head(engine)
    assert _schema_diff(engine) == []


def test_get_engine_honours_database_url(db_url, monkeypatch, tmp_path):
    data_dir = tmp_path / "data-dir"
    monkeypatch.setenv("VIGIE_DATA_DIR", str(data_dir))
    monkeypatch.setenv("VIGIE_DATABASE_URL", db_url)
    engine = store.get_engine()
    try:
        assert engine.url.render_as_string(hide_password=False) == db_url
        assert store.get_engine() is engine  # one engine per URL per process
        assert EXPECTED_TABLES <= _tables(engine)
        assert _current_revision(engine) == _head(engine)
        assert not (data_dir / "vigie.sqlite").exists()  # the default SQLite file is never created
    finally:
        engine.dispose()


def test_get_engine_defaults_to_sqlite_in_data_dir(monkeypatch, tmp_path: Path):
    data_dir = tmp_path / "not" / "yet" / "there"
    monkeypatch.setenv("VIGIE_DATA_DIR", str(data_dir))
    engine = store.get_engine()
    try:
        assert engine.dialect.name == "sqlite"
        assert Path(engine.url.database) == (data_dir / "vigie.sqlite").resolve()
        assert (data_dir / "vigie.sqlite").is_file()
        assert EXPECTED_TABLES <= _tables(engine)
        assert _current_revision(engine) == _head(engine)
    finally:
        engine.dispose()


def test_migration_0006_makes_an_alert_geo_code_unbounded_text(engine):
    """0005 -> 0006 keeps the alerts and their qualifications; a services cluster's code longer than the old
    VARCHAR(255) then fits; the downgrade cuts such a code back to 255 characters."""
    import datetime as dt

    store.migrate(engine, command.downgrade, "0005")
    now = dt.datetime.now(dt.timezone.utc)
    alert = dict(signature="grappe|departement|29,22|rps|m|2025-05", kind="grappe", geo_niveau="departement",
                 geo_code="29,22", zones="29,22", dimension="rps", modalite="m", periode_niveau="mois", periode="2025-05",
                 debut="2025-04", fin="2025-05", methode="scan", observe=12.0, attendu=3.0, seuil=None, p_value=1e-4,
                 gravite="forte", secret=True, created_at=now)
    number = _publication(engine)  # the publication table is the same at 0005
    with engine.begin() as conn:
        alert_id = conn.execute(store.alert.insert().returning(store.alert.c.id), {**alert, "publication_id": number}).scalar_one()
        conn.execute(store.alert_qualification.insert(), dict(alert_id=alert_id, signature=alert["signature"],
                                                              etat="confirmee", commentaire="c", auteur="a", created_at=now))
    store.upgrade(engine)
    assert _current_revision(engine) == _head(engine) and _schema_diff(engine) == []
    geo_code = next(c for c in sa.inspect(engine).get_columns("alert") if c["name"] == "geo_code")
    assert isinstance(geo_code["type"], sa.Text) and getattr(geo_code["type"], "length", None) is None
    long_code = ",".join(f"{'DDT-TRES-LONG-CODE-DE-SERVICE-':<36}{i:04d}" for i in range(20))  # 20 x 40 characters
    assert len(long_code) > 255
    with engine.begin() as conn:
        conn.execute(store.alert.insert(), {**alert, "publication_id": number, "signature": "long", "geo_code": long_code})
    with engine.connect() as conn:
        codes = dict(conn.execute(sa.select(store.alert.c.signature, store.alert.c.geo_code)).all())
        assert conn.execute(sa.select(sa.func.count()).select_from(store.alert_qualification)).scalar_one() == 1
    assert codes == {alert["signature"]: "29,22", "long": long_code}

    # with rows in alert_qualification, SQLite's table rebuild needs its foreign keys off (store.migrate does)
    store.migrate(engine, command.downgrade, "0005")
    with engine.connect() as conn:
        assert conn.execute(sa.select(store.alert.c.geo_code).where(store.alert.c.signature == "long")).scalar_one() \
            == long_code[:255]
    store.upgrade(engine)


def test_report_comment_territory_holds_the_largest_f3sct_group(engine):
    """A fiche F3SCT's comment is keyed by its sorted service codes: at most MAX_SERVICES codes of 64 characters (the
    import's limit) and their commas, which VARCHAR(600) holds (8 x 64 + 7 = 519; the demo's codes have 9 characters
    at most). Such a key is saved and read back whole on SQLite and PostgreSQL; a longer one is refused in French."""
    from analytics import report_comments
    from analytics.reports.builders import comment_key
    from analytics.reports.builders.fiche_f3sct import MAX_SERVICES

    length, code_length = store.report_comment.c.territory.type.length, store.service.c.code.type.length
    assert MAX_SERVICES * code_length + MAX_SERVICES - 1 <= length  # fails if MAX_SERVICES or the codes grow
    number = _publication(engine)
    codes = [f"{'DDT-SERVICE-AU-CODE-TRES-LONG-':<60}{i:04d}" for i in range(MAX_SERVICES)]
    assert {len(c) for c in codes} == {code_length}
    territory = comment_key("fiche-f3sct", services=codes)
    assert len(territory) == 519
    report_comments.save_comment(number, "fiche-f3sct", territory, 2025, "Tendance collective.", "a", engine=engine)
    found = report_comments.read_comment(number, "fiche-f3sct", territory, 2025, engine=engine)
    assert found is not None and found.text == "Tendance collective."
    with engine.connect() as conn:
        assert conn.execute(sa.select(store.report_comment.c.territory)).scalar_one() == territory
    too_long = comment_key("fiche-f3sct", services=codes + [c.replace("DDT", "DIR") for c in codes[:2]])
    assert len(too_long) > length
    with pytest.raises(report_comments.CommentRefused, match="caractères prévus"):
        report_comments.save_comment(number, "fiche-f3sct", too_long, 2025, "Texte.", "a", engine=engine)
