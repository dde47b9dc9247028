"""The alert register on SQLite and PostgreSQL: migration, idempotent recording, scopes, qualification history,
refused personal data, the reports' table, and the watch run when a publication is recorded."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa
from alembic import command

from analytics import store
from analytics.veille import register
from analytics.veille.personal_data import PersonalDataError
from analytics.veille.watch import ALERT_SCHEMA, WatchResult, signature
from analytics.views import NATIONAL, Scope

SOUFFRANCE = "situations_souffrance_travail"


def _publication(engine, status="publiee") -> int:
    with engine.begin() as conn:
        return conn.execute(sa.insert(store.publication).values(
            created_at=dt.datetime.now(dt.timezone.utc), author="test", k=5, published_set="[]", nomenclature_code="n",
            nomenclature_hash="h" * 64, source_batches="[]", period_min="2025-01", period_max="2025-05", status=status,
            cell_count=0, primary_count=0, secondary_count=0, audited_cells=0, audit_failures=0, audit_summary="{}",
            seconds=0.0).returning(store.publication.c.id)).scalar_one()


def _alert(kind="temporelle", level="departement", code="29", periode="2025-05", gravite="tres_forte", secret=True,
           zones=None, modalite=SOUFFRANCE, observe=41.0) -> dict:
    return {"signature": signature(kind, level, code, "rps", modalite, periode), "kind": kind, "geo_niveau": level,
            "geo_code": code, "zones": zones, "dimension": "rps", "modalite": modalite, "periode_niveau": "mois",
            "periode": periode, "debut": "2025-04", "fin": periode, "methode": "farrington", "observe": observe,
            "attendu": 9.5, "seuil": 19.0, "p_value": 1e-7, "gravite": gravite, "secret": secret}


def _result(rows: list[dict]) -> WatchResult:
    frame = pl.DataFrame(rows, schema=ALERT_SCHEMA) if rows else pl.DataFrame(schema=ALERT_SCHEMA)
    return WatchResult(frame, "2024-06", "2025-05", monthly_series=120, quarterly_series=30, unwatched_series=50,
                       months_evaluated=12, expected_false_alerts=1.3, expected_false_alerts_fdr=0.2, cluster_count=1)


ROWS = [
    _alert(),
    _alert(level="national", code="FR", gravite="moderee", secret=False),
    _alert(level="region", code="94", gravite="forte"),
    _alert(kind="grappe", code="29,22,56", zones="29,22,56", gravite="forte", periode="2025-05"),
    _alert(level="departement", code="2A", periode="2024-11", gravite="moderee"),
]


@pytest.fixture
def recorded(engine):
    with engine.begin() as conn:
        conn.execute(sa.insert(store.service), [{"code": "DDTM-29", "libelle": "DDTM du Finistère", "departement": "29"},
                                                {"code": "DDT-2A", "libelle": "DDT de Corse-du-Sud", "departement": "2A"}])
    number = _publication(engine)
    assert register.record_watch(number, _result(ROWS), engine)
    return engine, number


def test_migration_0004_creates_and_drops_the_register(engine):
    tables = set(sa.inspect(engine).get_table_names())
    assert {"alert_run", "alert", "alert_qualification"} <= tables
    cfg = store.alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0003")
    assert not {"alert_run", "alert", "alert_qualification"} & set(sa.inspect(engine).get_table_names())
    store.upgrade(engine)
    assert {"alert_run", "alert", "alert_qualification"} <= set(sa.inspect(engine).get_table_names())


def test_recording_is_idempotent_and_keeps_the_evidence(recorded):
    engine, number = recorded
    assert not register.record_watch(number, _result(ROWS + [_alert(code="35")]), engine)
    register.record_failure(number, "ne doit pas remplacer", engine)
    frame = register.alerts(NATIONAL, engine=engine)
    assert frame.height == len(ROWS)
    first = frame.filter(pl.col("geo_code") == "29").row(0, named=True)
    assert (first["observe"], first["attendu"], first["seuil"], first["p_value"]) == (41.0, 9.5, 19.0, 1e-7)
    assert first["secret"] is True and first["etat"] == "a_examiner" and first["publication_id"] == number
    cluster = frame.filter(pl.col("kind") == "grappe").row(0, named=True)
    assert cluster["zones"] == "29,22,56"
    run = register.watch_run(number, engine)
    assert run["status"] == register.DONE and run["alert_count"] == len(ROWS) and run["cluster_count"] == 1
    assert run["expected_false_alerts"] == pytest.approx(1.3)
    summary = register.run_summary(run)
    assert "200 séries" in summary and "fausses alertes par mois" in summary and "au plus" in summary


def test_a_failed_watch_is_noted_without_alerts(engine):
    number = _publication(engine)
    register.record_failure(number, "MemoryError : trop de séries", engine)
    run = register.watch_run(number, engine)
    assert run["status"] == register.FAILED and run["alert_count"] == 0
    assert "n'a pas pu être calculée" in register.run_summary(run)


def test_scopes_see_their_territories_only(recorded):
    engine, _ = recorded
    brittany = register.alerts(Scope.region("53"), engine=engine)
    assert set(brittany["geo_code"]) == {"29", "29,22,56"}  # its département and the cluster touching it
    corsica = register.alerts(Scope.region("94"), engine=engine)
    assert set(corsica["geo_code"]) == {"94", "2A"}
    service = register.alerts(Scope.services("DDT-2A"), engine=engine)
    assert set(service["geo_code"]) == {"2A"}
    assert register.alerts(NATIONAL, engine=engine).height == len(ROWS)


def test_qualification_history_follows_the_alert_into_the_next_publication(recorded):
    engine, number = recorded
    alert_id = register.alerts(NATIONAL, engine=engine).filter(pl.col("geo_code") == "29")["id"].item()
    register.qualify(alert_id, "confirmee", "Réorganisation du service annoncée en mars.", "Camille", Scope.region("53"), engine)
    register.qualify(alert_id, "suivie", "Cellule d'écoute mise en place avec la F3SCT.", "Camille", NATIONAL, engine)
    past = register.history(alert_id, NATIONAL, engine)
    assert past["etat"].to_list() == ["confirmée", "suivie"] and past["auteur"].to_list() == ["Camille", "Camille"]
    assert past["date"].null_count() == 0 and past["date"][0] <= past["date"][1]
    assert register.alerts(NATIONAL, engine=engine).filter(pl.col("geo_code") == "29")["etat"].item() == "suivie"
    # the same alert found again by the next publication keeps its state and history
    later = _publication(engine)
    register.record_watch(later, _result([_alert()]), engine)
    again = register.alerts(NATIONAL, publication=later, engine=engine).row(0, named=True)
    assert again["etat"] == "suivie" and again["id"] != alert_id
    assert register.history(again["id"], NATIONAL, engine)["etat"].to_list() == ["confirmée", "suivie"]


@pytest.mark.parametrize("comment, what", [
    ("Appeler camille.martin@developpement-durable.gouv.fr", "adresse électronique"),
    ("Agent joignable au 06 12 34 56 78", "téléphone"),
    ("Contact : +33 1 40 81 21 22", "téléphone"),
    ("NIR 1 85 05 29 123 456 78", "sécurité sociale"),
])
def test_personal_data_in_a_comment_is_refused_in_french(recorded, comment, what):
    engine, _ = recorded
    alert_id = register.alerts(NATIONAL, engine=engine)["id"][0]
    with pytest.raises(PersonalDataError, match=what) as refused:
        register.qualify(alert_id, "confirmee", comment, "Camille", NATIONAL, engine)
    assert "donnée personnelle" in str(refused.value)
    assert register.history(alert_id, NATIONAL, engine).height == 0


def test_refusals_unknown_state_and_outside_the_scope(recorded):
    engine, _ = recorded
    frame = register.alerts(NATIONAL, engine=engine)
    corsica = frame.filter(pl.col("geo_code") == "2A")["id"].item()
    with pytest.raises(register.RegisterError, match="état"):
        register.qualify(corsica, "oubliee", "", "Camille", NATIONAL, engine)
    with pytest.raises(register.RegisterError, match="périmètre"):
        register.qualify(corsica, "close", "", "Camille", Scope.region("53"), engine)
    with pytest.raises(register.RegisterError, match="introuvable"):
        register.qualify(99_999, "close", "", "Camille", NATIONAL, engine)


def test_current_alerts_for_the_reports_are_categorical_and_sorted_by_severity(recorded, monkeypatch):
    engine, _ = recorded
    monkeypatch.setattr(store, "get_engine", lambda: engine)
    table = register.current_alerts(NATIONAL, 2025, engine=engine)
    assert table.columns == ["territoire", "geo_code", "indicateur", "periode", "gravite", "etat"]
    assert all(t == pl.String for t in table.dtypes)
    assert table["gravite"].to_list() == ["très forte", "forte", "forte", "modérée"]  # 2024's alert left out
    assert set(table["periode"]) == {"2025-05"} and set(table["etat"]) == {"à examiner"}
    row = table.filter(pl.col("geo_code") == "29").row(0, named=True)
    assert row["territoire"] == "Finistère (29)" and row["indicateur"].startswith("Situations avec souffrance")
    assert table.filter(pl.col("geo_code") == "29,22,56")["territoire"].item().startswith("Grappe : Finistère (29)")
    assert register.current_alerts(NATIONAL, 2024, engine=engine)["geo_code"].to_list() == ["2A"]
    assert register.current_alerts(Scope.region("94"), 2025, engine=engine)["geo_code"].to_list() == ["94"]


def test_a_services_cluster_is_shown_by_its_services_and_departements_without_any_figure(engine, monkeypatch):
    """A cluster of the services scan (geo_niveau "service": the DDT de la Moselle and the DREAL Grand Est) is named by
    its services, seen by the scopes of its départements, and shown in the clusters' table by its départements and
    services; no figure of its own (its cells are secret here)."""
    from analytics import views
    from analytics.veille import board

    with engine.begin() as conn:
        conn.execute(sa.insert(store.service), [
            {"code": "DDT-57", "libelle": "DDT de la Moselle", "departement": "57"},
            {"code": "DREAL-57", "libelle": "DREAL Grand Est", "departement": "57"},
            {"code": "DIR-57", "libelle": "DIR Est", "departement": "57"},
            {"code": "DDTM-29", "libelle": "DDTM du Finistère", "departement": "29"}])
    number = _publication(engine)
    services = _alert(kind="grappe", level="service", code="DDT-57,DREAL-57", zones="57", modalite="situations_reorganisation",
                      gravite="forte")
    whole = _alert(kind="grappe", code="29,22", zones="29,22", gravite="moderee")
    register.record_watch(number, _result([services, whole]), engine)
    for scope, seen in ((Scope.region("44"), {"DDT-57,DREAL-57"}), (Scope.region("53"), {"29,22"}),
                        (Scope.services("DIR-57"), {"DDT-57,DREAL-57"}), (Scope.services("DDTM-29"), {"29,22"})):
        assert set(register.alerts(scope, engine=engine)["geo_code"]) == seen, scope
    table = register.current_alerts(NATIONAL, 2025, engine=engine)
    assert table.filter(pl.col("geo_code") == "DDT-57,DREAL-57")["territoire"].item() == \
        "Grappe de services : DDT de la Moselle, DREAL Grand Est"

    monkeypatch.setattr(store, "get_engine", lambda: engine)
    views.clear_memory_cache()
    # the page names the services of the publication's directory (none is published at service level here: codes)
    names = dict(views.service_directory().select("code", "libelle").iter_rows())
    named = ", ".join(names.get(c, c) for c in ("DDT-57", "DREAL-57"))
    clusters = board.cluster_table(NATIONAL)
    assert clusters.columns == ["Départements", "Services", "Indicateur", "Période", "Gravité", "État"]
    rows = {r["Départements"]: r for r in clusters.iter_rows(named=True)}
    assert rows["Moselle (57)"]["Services"] == named
    assert rows["Finistère (29), Côtes-d'Armor (22)"]["Services"] == ""
    listing = board.listing(NATIONAL)
    assert set(listing["Type"]) == {"grappe de services", "grappe de départements"}
    assert set(listing["Chiffre publié"]) == {""}  # a cluster shows no figure
    detail = board.detail(int(listing.filter(pl.col("Type") == "grappe de services")["id"].item()), NATIONAL)
    facts = dict(detail.faits)
    assert facts["Départements"] == "Moselle (57)" and facts["Services"] == named
    assert detail.series is None and detail.secret
    # categorical only: no digit but in the codes and the months
    assert not any(ch.isdigit() for label, text in detail.faits
                   if label not in ("Départements", "Services", "Territoire", "Période") for ch in text)
    views.clear_memory_cache()


def test_a_long_services_cluster_is_recorded_read_back_and_keeps_its_history(engine):
    """A services cluster of 20 services with 40-character codes (a geo_code of 819 characters, beyond the old
    VARCHAR(255); a signature beyond its 400) is recorded and read back whole; its stored signature has a digest of
    the territory, so qualifying it works and the history follows it into the next publication."""
    codes = [f"{'DDT-TRES-LONG-CODE-DE-SERVICE-':<36}{i:04d}" for i in range(20)]
    assert {len(c) for c in codes} == {40}
    with engine.begin() as conn:
        conn.execute(sa.insert(store.service), [{"code": c, "libelle": None, "departement": "57"} for c in codes])
    long_code = ",".join(codes)
    cluster = _alert(kind="grappe", level="service", code=long_code, zones="57", gravite="forte")
    assert len(long_code) == 819 and len(cluster["signature"]) > register.SIGNATURE_LENGTH
    number = _publication(engine)
    assert register.record_watch(number, _result([cluster, _alert()]), engine)
    frame = register.alerts(NATIONAL, engine=engine)
    row = frame.filter(pl.col("kind") == "grappe").row(0, named=True)
    assert row["geo_code"] == long_code and row["zones"] == "57"
    assert len(row["signature"]) <= register.SIGNATURE_LENGTH and "sha256:" in row["signature"]
    assert row["signature"] == register.stored_signature(cluster)
    assert frame.filter(pl.col("kind") != "grappe")["signature"].item() == _alert()["signature"]  # short ones kept
    assert set(register.alerts(Scope.region("44"), engine=engine)["geo_code"]) == {long_code}
    register.qualify(row["id"], "suivie", "Suivi avec la direction.", "Camille", Scope.region("44"), engine)
    later = _publication(engine)
    register.record_watch(later, _result([cluster]), engine)
    again = register.alerts(NATIONAL, publication=later, engine=engine).row(0, named=True)
    assert again["geo_code"] == long_code and again["etat"] == "suivie"
    assert register.history(again["id"], NATIONAL, engine)["etat"].to_list() == ["suivie"]
    label = register.territory_label("service", long_code, "grappe", {})
    assert label.startswith("Grappe de services : ") and codes[-1] in label
