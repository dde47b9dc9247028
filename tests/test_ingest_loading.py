"""Loading validated files into the store, on SQLite and PostgreSQL: formats, atomicity, idempotence,
replacement, rollback, history, headcounts and the downloadable templates."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from analytics import batches, store
from analytics.batches import RollbackRefused, history, rollback
from analytics.ingest import ALREADY, IMPORTED, REFUSED, ImportReport, import_path
from analytics.nomenclature import default_nomenclature
from analytics.templates import aggregate_example, headcount_example, headcount_template_csv, template_csv, template_xlsx
from ingest_files import (
    MONTHS,
    SERVICES,
    TODAY,
    aggregate_rows,
    aggregates_frame,
    csv_bytes,
    every_format,
    expected_rows,
    headcount_frame,
    headcount_rows,
    service_rows,
    snapshot,
    table_rows,
    write,
    xlsx_bytes,
)

NOMEN = default_nomenclature()
EXPECTED_SERVICES = {(code, dep, label, kind) for code, dep, label, kind in SERVICES}


def run(tmp_path: Path, engine: sa.Engine, data: bytes, name: str, **kwargs) -> ImportReport:
    kwargs.setdefault("today", TODAY)
    kwargs.setdefault("author", "test")
    return import_path(write(tmp_path, name, data), engine, NOMEN, **kwargs)


def describe(report: ImportReport) -> str:
    return report.message + "\n" + "\n".join(report.issue_lines())


def imported(report: ImportReport) -> ImportReport:
    assert report.status == IMPORTED, describe(report)
    assert report.batch_id is not None
    return report


def refused(report: ImportReport) -> ImportReport:
    assert report.status == REFUSED, describe(report)
    assert report.batch_id is None
    return report


def batch(engine: sa.Engine, batch_id: int) -> dict:
    b = store.import_batch
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(b).where(b.c.id == batch_id)).mappings().one())


def replace_file() -> pl.DataFrame:
    """DDTM-29 in 2025-02 and 2025-03 corrected (other counts; no RPS rows in 2025-03), plus a new month 2025-04."""
    ddtm = (SERVICES[0],)
    corrected = aggregates_frame(["2025-02", "2025-03"], ddtm, bump=5)
    corrected = corrected.filter(~((pl.col("periode") == "2025-03") & (pl.col("dimension") == "rps")))
    return pl.concat([corrected, aggregates_frame(["2025-04"], ddtm, bump=1)])


# --------------------------------------------------------------------------- formats


def test_every_format_and_encoding_loads_the_same_content(tmp_path, engine):
    frame = aggregates_frame()
    expected = expected_rows(frame)
    assert len(expected) == frame.height == 2 * 3 * 24
    for name, data in every_format(frame).items():
        report = imported(run(tmp_path, engine, data, name))
        assert (report.rows, report.services, report.periods) == (frame.height, 2, list(MONTHS)), name
        assert report.kind == "agregats"
        assert aggregate_rows(engine) == expected, name
        # Accents survive every encoding (a wrong decoding would overwrite the libellé).
        assert service_rows(engine) == EXPECTED_SERVICES, name
        rollback(engine, report.batch_id, "test")
        assert aggregate_rows(engine) == set()


def test_windows_1252_file_really_is_not_utf8(tmp_path, engine):
    data = every_format(aggregates_frame(["2025-01"]))["agregats_windows1252.csv"]
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    imported(run(tmp_path, engine, data, "cp1252.csv"))
    assert ("DDTM-29", "29", "DDTM du Finistère", "ddtm") in service_rows(engine)


# --------------------------------------------------------------------------- atomicity


def test_refused_files_leave_the_store_exactly_unchanged(tmp_path, engine):
    imported(run(tmp_path, engine, csv_bytes(aggregates_frame(["2025-01", "2025-02"])), "base.csv"))
    imported(run(tmp_path, engine, csv_bytes(headcount_frame()), "effectifs.csv"))
    before = snapshot(engine)
    assert before["aggregate"] and before["headcount"] and before["service"]

    # 1. A bigger file with a new service whose only error is on its very last line.
    new_service = (("DIRM-NAMO", "44", "DIRM Nord Atlantique-Manche Ouest", "dirm"),)
    frame = pl.concat([aggregates_frame(["2025-03"]), aggregates_frame(["2025-01", "2025-02", "2025-03"], new_service)])
    text = csv_bytes(frame).decode("utf-8").rstrip("\n").rsplit("\n", 1)
    last_line_bad = (text[0] + "\n" + text[1].rsplit(";", 1)[0] + ";-1\n").encode("utf-8")
    report = refused(run(tmp_path, engine, last_line_bad, "derniere_ligne.csv"))
    assert report.issues["ligne"].to_list() == [frame.height + 1]
    assert snapshot(engine) == before

    # 2. Same file, valid, but overlapping what is loaded (refused in the loading transaction).
    report = refused(run(tmp_path, engine, csv_bytes(pl.concat([aggregates_frame(["2025-02"]), frame])), "recouvre.csv"))
    assert "déjà chargés" in report.issues["motif"][0]
    assert snapshot(engine) == before

    # 3. Headcounts whose last line is wrong; 4. an unreadable file; 5. a mislabelled one.
    bad_headcounts = csv_bytes(headcount_frame((2023,))).decode() + "2024;44;DIRM-NAMO;;;abc\n"
    refused(run(tmp_path, engine, bad_headcounts.encode(), "effectifs_faux.csv"))
    refused(run(tmp_path, engine, b"\x00\x01garbage", "illisible.csv"))
    refused(run(tmp_path, engine, csv_bytes(frame), "pas_un_classeur.xlsx"))
    assert snapshot(engine) == before


def _fail_on_insert(engine: sa.Engine, effectif: int) -> None:
    """A real trigger that makes the database refuse one aggregate row: the load fails midway."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql(
                f"CREATE TRIGGER boom BEFORE INSERT ON aggregate WHEN NEW.effectif = {effectif} "
                "BEGIN SELECT RAISE(ABORT, 'boom'); END")
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.effectif = {effectif} THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$")
            conn.exec_driver_sql("CREATE TRIGGER boom BEFORE INSERT ON aggregate FOR EACH ROW EXECUTE FUNCTION boom()")


def test_a_load_failing_midway_writes_nothing(tmp_path, engine):
    """Loaded whole or not at all, even when the database fails on the last row of a replacing file."""
    imported(run(tmp_path, engine, csv_bytes(aggregates_frame()), "base.csv"))
    before = snapshot(engine)
    frame = replace_file()
    frame = frame.with_columns(
        pl.when(pl.int_range(pl.len()) == pl.len() - 1).then(4242).otherwise(pl.col("effectif")).alias("effectif"))
    assert frame["dimension"][-1] == "rps"  # an independent indicator: 4242 is valid
    _fail_on_insert(engine, 4242)
    with pytest.raises(Exception, match="boom"):
        run(tmp_path, engine, csv_bytes(frame), "echoue.csv", replace=True)
    assert snapshot(engine) == before


# --------------------------------------------------------------------------- idempotence


def test_same_bytes_twice_is_already_imported(tmp_path, engine):
    data = csv_bytes(aggregates_frame())
    first = imported(run(tmp_path, engine, data, "agregats.csv"))
    rows = aggregate_rows(engine, with_batch=True)
    second = run(tmp_path, engine, data, "agregats_copie.csv")
    assert second.status == ALREADY and second.ok
    assert second.batch_id == first.batch_id
    assert f"lot {first.batch_id}" in second.message and "rien n'a changé" in second.message
    third = run(tmp_path, engine, data, "agregats.csv", replace=True)
    assert third.status == ALREADY
    assert history(engine).height == 1
    assert aggregate_rows(engine, with_batch=True) == rows


def test_same_content_in_another_container_is_an_overlap(tmp_path, engine):
    frame = aggregates_frame()
    imported(run(tmp_path, engine, csv_bytes(frame), "agregats.csv"))
    report = refused(run(tmp_path, engine, xlsx_bytes(frame), "agregats.xlsx"))
    assert "6 mois-services de ce fichier sont déjà chargés (lots 1)" in report.issues["motif"][0]


# --------------------------------------------------------------------------- replacement


def test_overlap_is_refused_without_replace_and_lists_the_service_months(tmp_path, engine):
    imported(run(tmp_path, engine, csv_bytes(aggregates_frame()), "base.csv"))
    before = snapshot(engine)
    report = refused(run(tmp_path, engine, csv_bytes(replace_file()), "correction.csv"))
    assert report.message == "Fichier refusé : données déjà chargées."
    motif = report.issues["motif"][0]
    assert motif.startswith("2 mois-services de ce fichier sont déjà chargés (lots 1) : ")
    assert "2025-02 (1 service), 2025-03 (1 service)" in motif
    assert "2025-04" not in motif and "2025-01" not in motif
    assert "--replace" in motif
    assert snapshot(engine) == before


def test_replace_replaces_exactly_the_overlapping_service_months(tmp_path, engine):
    base = aggregates_frame()
    first = imported(run(tmp_path, engine, csv_bytes(base), "base.csv"))
    correction = replace_file()
    report = imported(run(tmp_path, engine, csv_bytes(correction), "correction.csv", replace=True))
    assert report.replaced == 2
    assert report.replaced_summary == "2 mois-services remplacés : 2025-02 (1 service), 2025-03 (1 service)"
    assert report.replaced_summary in report.message
    assert report.periods == ["2025-02", "2025-03", "2025-04"]

    replaced = (pl.col("service") == "DDTM-29") & pl.col("periode").is_in(["2025-02", "2025-03"])
    kept = base.filter(~replaced)
    expected = {(*r, first.batch_id) for r in expected_rows(kept)} | {(*r, report.batch_id) for r in expected_rows(correction)}
    assert aggregate_rows(engine, with_batch=True) == expected
    # The RPS rows of DDTM-29 in 2025-03, absent from the new file, are gone.
    assert not {r for r in aggregate_rows(engine) if r[:3] == ("2025-03", "DDTM-29", "rps")}
    # The replaced rows are archived for a rollback.
    assert len(table_rows(engine, "aggregate_replaced")) == base.filter(replaced).height

    b = batch(engine, report.batch_id)
    assert (b["replaced_count"], b["replaced_summary"], b["row_count"], b["status"]) == (
        2, report.replaced_summary, correction.height, "actif")
    assert (b["period_min"], b["period_max"], b["period_count"], b["service_count"]) == ("2025-02", "2025-04", 3, 1)


def test_rollback_of_the_replacing_batch_restores_the_previous_rows(tmp_path, engine):
    imported(run(tmp_path, engine, csv_bytes(aggregates_frame()), "base.csv"))
    before = snapshot(engine)
    report = imported(run(tmp_path, engine, csv_bytes(replace_file()), "correction.csv", replace=True))
    rollback(engine, report.batch_id, "Camille")
    after = snapshot(engine)
    for name in ("service", "aggregate", "aggregate_replaced", "headcount", "headcount_replaced"):
        assert after[name] == before[name], name
    b = batch(engine, report.batch_id)
    assert (b["status"], b["rolled_back_by"]) == ("annule", "Camille")
    assert b["rolled_back_at"] is not None
    assert batch(engine, 1)["status"] == "actif"


def test_rollback_message_counts_removed_and_restored_rows(tmp_path, engine, request):
    base = imported(run(tmp_path, engine, csv_bytes(aggregates_frame()), "base.csv"))
    report = imported(run(tmp_path, engine, csv_bytes(replace_file()), "correction.csv", replace=True))
    restored = aggregates_frame().filter((pl.col("service") == "DDTM-29") & pl.col("periode").is_in(["2025-02", "2025-03"])).height
    assert rollback(engine, report.batch_id, "test") == (
        f"Lot {report.batch_id} annulé : {replace_file().height} lignes retirées, {restored} lignes antérieures rétablies.")
    assert rollback(engine, base.batch_id, "test") == f"Lot {base.batch_id} annulé : {aggregates_frame().height} lignes retirées."


def test_rollback_of_a_batch_replaced_later_is_refused_until_the_later_one_is_rolled_back(tmp_path, engine):
    a = imported(run(tmp_path, engine, csv_bytes(aggregates_frame()), "a.csv"))
    b = imported(run(tmp_path, engine, csv_bytes(replace_file()), "b.csv", replace=True))
    c_frame = aggregates_frame(["2025-04"], (SERVICES[0],), bump=9)
    c = imported(run(tmp_path, engine, csv_bytes(c_frame), "c.csv", replace=True))
    assert c.replaced == 1
    state = snapshot(engine)

    with pytest.raises(RollbackRefused, match=f"remplacées par le lot {b.batch_id}.*annulez d'abord"):
        rollback(engine, a.batch_id, "test")
    with pytest.raises(RollbackRefused, match=f"remplacées par le lot {c.batch_id}"):
        rollback(engine, b.batch_id, "test")
    assert snapshot(engine) == state

    rollback(engine, c.batch_id, "test")
    rollback(engine, b.batch_id, "test")
    assert aggregate_rows(engine, with_batch=True) == {(*r, a.batch_id) for r in expected_rows(aggregates_frame())}
    rollback(engine, a.batch_id, "test")
    assert aggregate_rows(engine) == set()
    assert table_rows(engine, "aggregate_replaced") == []
    with pytest.raises(RollbackRefused, match="déjà annulé"):
        rollback(engine, a.batch_id, "test")
    with pytest.raises(RollbackRefused, match="introuvable"):
        rollback(engine, 999, "test")


def test_reimporting_a_rolled_back_file_works(tmp_path, engine):
    data = csv_bytes(aggregates_frame())
    first = imported(run(tmp_path, engine, data, "agregats.csv"))
    rollback(engine, first.batch_id, "test")
    again = imported(run(tmp_path, engine, data, "agregats.csv"))
    assert again.batch_id != first.batch_id
    assert aggregate_rows(engine, with_batch=True) == {(*r, again.batch_id) for r in expected_rows(aggregates_frame())}
    assert history(engine)["status"].to_list() == ["actif", "annule"]


def test_reimporting_a_file_whose_rows_were_replaced_restores_it(tmp_path, engine):
    """A, then B replacing part of A, then A again with replace: A's rows must be back.

    The identical-file shortcut used to answer « déjà importé : rien n'a changé » while the store
    held B's rows for those months."""
    data = csv_bytes(aggregates_frame())
    a = imported(run(tmp_path, engine, data, "a.csv"))
    b = imported(run(tmp_path, engine, csv_bytes(replace_file()), "b.csv", replace=True))
    without = refused(run(tmp_path, engine, data, "a.csv"))
    assert "déjà chargés" in without.issues["motif"][0]
    again = imported(run(tmp_path, engine, data, "a.csv", replace=True))
    assert again.batch_id not in (a.batch_id, b.batch_id)
    assert again.replaced == 6
    assert aggregate_rows(engine) == expected_rows(aggregates_frame()) | expected_rows(replace_file().filter(pl.col("periode") == "2025-04"))
    # Now intact again: the same bytes are recognised.
    assert run(tmp_path, engine, data, "a.csv").batch_id == again.batch_id
    assert run(tmp_path, engine, data, "a.csv").status == ALREADY
    # Rolling back the re-import brings B's rows back, then B and A roll back cleanly.
    for batch_id in (again.batch_id, b.batch_id, a.batch_id):
        rollback(engine, batch_id, "test")
    assert aggregate_rows(engine) == set()


def test_rollback_frees_a_wrong_departement(tmp_path, engine):
    wrong = aggregates_frame(["2025-01"], (("DDTM-29", "56", "DDTM du Finistère", "ddtm"),))
    report = imported(run(tmp_path, engine, csv_bytes(wrong), "erreur.csv"))
    rollback(engine, report.batch_id, "test")
    corrected = aggregates_frame(["2025-01"], (SERVICES[0],))
    imported(run(tmp_path, engine, csv_bytes(corrected), "corrige.csv"))
    assert ("DDTM-29", "29", "DDTM du Finistère", "ddtm") in service_rows(engine)


# --------------------------------------------------------------------------- history


def test_history_shows_who_when_file_hash_rows_periods(tmp_path, engine):
    data = csv_bytes(aggregates_frame())
    t0 = datetime.now(timezone.utc) - timedelta(seconds=1)
    a = imported(run(tmp_path, engine, data, "agregats_2025T1.csv", author="Camille Martin"))
    heads = csv_bytes(headcount_frame())
    h = imported(run(tmp_path, engine, heads, "effectifs.csv", author="Dominique"))
    t1 = datetime.now(timezone.utc) + timedelta(seconds=1)
    rollback(engine, h.batch_id, "Sacha")

    frame = history(engine)
    assert frame["id"].to_list() == [h.batch_id, a.batch_id]  # newest first
    agg = frame.row(1, named=True)
    assert agg["kind"] == "agregats" and agg["source"] == "fichier"
    assert agg["file_name"] == "agregats_2025T1.csv"
    assert agg["content_hash"] == hashlib.sha256(data).hexdigest()
    assert agg["author"] == "Camille Martin"
    assert t0 <= agg["created_at"] <= t1
    assert (agg["row_count"], agg["service_count"]) == (2 * 3 * 24, 2)
    assert (agg["period_min"], agg["period_max"], agg["period_count"]) == ("2025-01", "2025-03", 3)
    assert (agg["replaced_count"], agg["status"], agg["rolled_back_at"]) == (0, "actif", None)

    hc = frame.row(0, named=True)
    assert hc["kind"] == "effectifs" and hc["author"] == "Dominique"
    assert hc["content_hash"] == hashlib.sha256(heads).hexdigest()
    assert (hc["row_count"], hc["period_min"], hc["period_max"], hc["period_count"]) == (4, "2024", "2025", 2)
    assert (hc["status"], hc["rolled_back_by"]) == ("annule", "Sacha")
    assert hc["created_at"] <= hc["rolled_back_at"] <= t1 + timedelta(seconds=5)


# --------------------------------------------------------------------------- headcounts


def test_headcount_import_replace_and_rollback(tmp_path, engine):
    first_frame = headcount_frame((2024, 2025))
    first = imported(run(tmp_path, engine, csv_bytes(first_frame), "effectifs_2024_2025.csv"))
    assert (first.kind, first.rows, first.periods) == ("effectifs", 4, ["2024", "2025"])
    loaded = {(s, a, n, first.batch_id) for a, _d, s, _l, _t, n in first_frame.iter_rows()}
    assert headcount_rows(engine, with_batch=True) == loaded
    assert service_rows(engine) == EXPECTED_SERVICES
    before = snapshot(engine)

    assert run(tmp_path, engine, csv_bytes(first_frame), "copie.csv").status == ALREADY
    # Aggregates do not conflict with headcounts.
    imported(run(tmp_path, engine, csv_bytes(aggregates_frame(["2025-01"])), "agregats.csv"))
    with_aggregates = snapshot(engine)

    second_frame = headcount_frame((2025, 2026), bump=7)
    report = refused(run(tmp_path, engine, xlsx_bytes(second_frame), "effectifs_2025_2026.xlsx"))
    assert "2 effectifs annuels de ce fichier sont déjà chargés (lots 1) : 2025 (2 services)" in report.issues["motif"][0]
    assert snapshot(engine) == with_aggregates

    second = imported(run(tmp_path, engine, xlsx_bytes(second_frame), "effectifs_2025_2026.xlsx", replace=True))
    assert second.replaced == 2
    assert second.replaced_summary == "2 effectifs annuels remplacés : 2025 (2 services)"
    new = {(s, a, n, second.batch_id) for a, _d, s, _l, _t, n in second_frame.iter_rows()}
    assert headcount_rows(engine, with_batch=True) == {r for r in loaded if r[1] == 2024} | new
    assert batch(engine, second.batch_id)["replaced_count"] == 2

    with pytest.raises(RollbackRefused):
        rollback(engine, first.batch_id, "test")
    rollback(engine, second.batch_id, "test")
    assert headcount_rows(engine, with_batch=True) == loaded
    assert table_rows(engine, "headcount_replaced") == []
    assert snapshot(engine)["headcount"] == before["headcount"]


# --------------------------------------------------------------------------- templates


def test_import_templates_import_cleanly(tmp_path, engine):
    expected = expected_rows(aggregate_example(NOMEN))
    report = imported(run(tmp_path, engine, template_csv(NOMEN), "modele.csv"))
    assert report.rows == len(expected)
    assert aggregate_rows(engine) == expected
    rollback(engine, report.batch_id, "test")

    report = imported(run(tmp_path, engine, template_xlsx(NOMEN), "modele.xlsx"))
    assert aggregate_rows(engine) == expected
    assert ("DDTM-29", "29", "DDTM du Finistère", "ddtm") in service_rows(engine)

    report = imported(run(tmp_path, engine, headcount_template_csv(), "modele_effectifs.csv"))
    assert headcount_rows(engine) == {(s, a, n) for a, _d, s, _l, _t, n in headcount_example().iter_rows()}


def test_known_services_reflect_the_store(tmp_path, engine):
    imported(run(tmp_path, engine, csv_bytes(aggregates_frame(["2025-01"])), "a.csv"))
    with engine.connect() as conn:
        known = batches.known_services(conn)
    assert set(known.iter_rows()) == {(code, dep) for code, dep, _l, _t in SERVICES}
