"""Numbered publications on SQLite and PostgreSQL: what is stored, reuse of unchanged years,
re-protection of a changed year, refusal by the audit, nothing to publish."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa

from analytics import store
from analytics.batches import rollback
from analytics.disclosure.protect import PRIMARY, SECONDARY, ProtectedCube
from analytics.disclosure.published_set import default_published_set, parse_published_set
from analytics.nomenclature import default_nomenclature
from analytics.publications import (
    NOTHING,
    PUBLISHED,
    REFUSED,
    latest_publication,
    plan_publication,
    publication_history,
    publish,
    published_set_yaml,
    record_publication,
    year_input_hash,
)
from analytics.views import published_cells
from publication_data import CELL_KEY, cell_set, expected_cube, frame, load, preset_sha256, stored_cells


class Progress:
    def __init__(self):
        self.steps: list[tuple[float, str]] = []

    def __call__(self, fraction: float, label: str) -> None:
        self.steps.append((fraction, label))

    @property
    def labels(self) -> list[str]:
        return [label for _, label in self.steps]


def publication_row(engine: sa.Engine, number: int) -> dict:
    p = store.publication
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(p).where(p.c.id == number)).mappings().one())


def year_rows(engine: sa.Engine, number: int) -> dict[int, dict]:
    y = store.publication_year
    with engine.connect() as conn:
        return {r["annee"]: dict(r) for r in conn.execute(sa.select(y).where(y.c.publication_id == number)).mappings()}


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def of_year(cells: pl.DataFrame, year: int) -> pl.DataFrame:
    return cells.filter(pl.col("periode").str.starts_with(str(year)))


# --------------------------------------------------------------------------- a first publication


def test_publish_stores_a_numbered_publication_with_counts_and_cells(tmp_path, engine):
    data = frame()
    batch = load(tmp_path, engine, data)
    progress = Progress()
    outcome = publish("Camille", progress=progress, engine=engine)

    assert outcome.status == PUBLISHED and outcome.ok and outcome.number == 1, outcome.message
    assert "Année 2024 : masquage et audit" in " ".join(progress.labels)
    assert "Année 2025 : masquage et audit" in " ".join(progress.labels)
    assert [f for f, _ in progress.steps] == sorted(f for f, _ in progress.steps) and progress.steps[-1][0] == 1.0
    assert outcome.message.startswith("Publication n° 1 : ")

    expected = expected_cube(data)
    n_primary = int((expected["statut"] == PRIMARY).sum())
    n_secondary = int((expected["statut"] == SECONDARY).sum())
    assert n_primary > 0 and n_secondary > 0  # the dataset exercises both kinds of secret

    row = publication_row(engine, 1)
    assert row["status"] == PUBLISHED and row["author"] == "Camille" and row["k"] == 5
    assert (row["cell_count"], row["primary_count"], row["secondary_count"]) == (expected.height, n_primary, n_secondary)
    assert (outcome.cell_count, outcome.primary_count, outcome.secondary_count) == (expected.height, n_primary, n_secondary)
    assert row["audit_failures"] == 0 and row["audited_cells"] > 0
    assert (row["period_min"], row["period_max"]) == ("2024-01", "2025-03")
    assert json.loads(row["source_batches"]) == [batch]
    assert row["nomenclature_code"] == default_nomenclature().code and row["nomenclature_hash"] == preset_sha256()
    assert parse_published_set(row["published_set"]) == default_published_set()
    summary = json.loads(row["audit_summary"])
    assert set(summary["annees"]) == {"2024", "2025"}
    assert summary["total"]["secrets_primaires"] == n_primary
    assert row["created_at"] is not None and row["seconds"] >= 0

    years = year_rows(engine, 1)
    assert set(years) == {2024, 2025}
    assert sum(y["cell_count"] for y in years.values()) == expected.height
    assert sum(y["primary_count"] for y in years.values()) == n_primary
    assert all(len(y["input_hash"]) == 64 and y["audit_failures"] == 0 for y in years.values())
    assert years[2024]["input_hash"] != years[2025]["input_hash"]

    cells = stored_cells(engine, 1)
    assert cells.height == expected.height == count(engine, store.publication_cell)
    # Secret or not, never which kind: no column of the cell table can tell primary from secondary.
    assert [c.name for c in store.publication_cell.columns] == ["publication_id", *CELL_KEY, "valeur", "secret"]
    reference = expected.select(*CELL_KEY, "valeur", (pl.col("statut") != "publie").alias("secret"))
    assert cell_set(cells) == cell_set(reference)
    assert cells.filter(pl.col("secret"))["valeur"].null_count() == n_primary + n_secondary


def test_a_publication_never_reads_rolled_back_or_replaced_rows(tmp_path, engine):
    first = load(tmp_path, engine, frame(years=(2024,)))
    second = load(tmp_path, engine, frame(years=(2025,)), name="2025.csv")
    rollback(engine, second, "test")
    outcome = publish("Camille", engine=engine)
    assert outcome.ok
    row = publication_row(engine, outcome.number)
    assert json.loads(row["source_batches"]) == [first]
    assert (row["period_min"], row["period_max"]) == ("2024-01", "2024-03")
    assert set(year_rows(engine, outcome.number)) == {2024}
    assert cell_set(stored_cells(engine, outcome.number)) == cell_set(
        expected_cube(frame(years=(2024,))).select(*CELL_KEY, "valeur", (pl.col("statut") != "publie").alias("secret")))


# --------------------------------------------------------------------------- reuse


def test_a_second_publication_of_unchanged_data_reuses_every_year(tmp_path, engine):
    load(tmp_path, engine, frame())
    first = publish("Camille", engine=engine)
    progress = Progress()
    second = publish("Dominique", progress=progress, engine=engine)

    assert second.ok and second.number == 2
    assert second.reused_years == [2024, 2025] and second.protected_years == []
    assert {y.reused_from for y in second.years} == {1}
    reuse_labels = [label for label in progress.labels if "inchangées depuis la publication n° 1" in label]
    assert len(reuse_labels) == 2, progress.labels
    assert not any("masquage et audit" in label for label in progress.labels)
    assert "masquage repris sans changement pour les années 2024 et 2025" in second.message
    assert (second.cell_count, second.secret_count) == (first.cell_count, first.secret_count)
    assert cell_set(stored_cells(engine, 2)) == cell_set(stored_cells(engine, 1))
    assert stored_cells(engine, 2).height == first.cell_count
    assert year_rows(engine, 2)[2024]["input_hash"] == year_rows(engine, 1)[2024]["input_hash"]
    row = publication_row(engine, 2)
    assert (row["primary_count"], row["secondary_count"]) == (first.primary_count, first.secondary_count)
    assert json.loads(row["audit_summary"])["annees"]["2025"]["reprise_de_publication"] == 1
    assert latest_publication(engine).number == 2
    assert latest_publication(engine).reused_years == (2024, 2025)


def test_changing_one_year_reprotects_only_that_year(tmp_path, engine):
    load(tmp_path, engine, frame())
    publish("Camille", engine=engine)
    corrected = frame(years=(2025,), bump={2025: 4})
    load(tmp_path, engine, corrected, name="2025_corrige.csv", replace=True)
    progress = Progress()
    outcome = publish("Camille", progress=progress, engine=engine)

    assert outcome.ok and outcome.number == 2
    assert outcome.reused_years == [2024] and outcome.protected_years == [2025]
    assert any(label.startswith("Année 2024 : données inchangées depuis la publication n° 1") for label in progress.labels)
    assert any(label.startswith("Année 2025 : masquage et audit") for label in progress.labels)
    old, new = stored_cells(engine, 1), stored_cells(engine, 2)
    assert cell_set(of_year(new, 2024)) == cell_set(of_year(old, 2024))
    assert cell_set(of_year(new, 2025)) != cell_set(of_year(old, 2025))
    reference = expected_cube(pl.concat([frame(years=(2024,)), corrected]))
    assert cell_set(new) == cell_set(reference.select(*CELL_KEY, "valeur", (pl.col("statut") != "publie").alias("secret")))
    hashes_1, hashes_2 = year_rows(engine, 1), year_rows(engine, 2)
    assert hashes_2[2024]["input_hash"] == hashes_1[2024]["input_hash"]
    assert hashes_2[2025]["input_hash"] != hashes_1[2025]["input_hash"]


def test_another_k_or_published_set_is_another_input(tmp_path, engine):
    load(tmp_path, engine, frame())
    publish("Camille", engine=engine)
    other_k = publish("Camille", k=3, engine=engine)
    assert other_k.ok and other_k.protected_years == [2024, 2025]
    fewer = parse_published_set("- {geo: national, periode: [annee]}\n- {geo: region, periode: [annee]}\n")
    smaller = publish("Camille", published_set=fewer, engine=engine)
    assert smaller.ok and smaller.protected_years == [2024, 2025]
    assert parse_published_set(publication_row(engine, smaller.number)["published_set"]) == fewer
    assert set(stored_cells(engine, smaller.number)["geo_niveau"]) == {"national", "region"}
    again = publish("Camille", k=3, engine=engine)
    assert again.reused_years == [2024, 2025] and {y.reused_from for y in again.years} == {other_k.number}


def test_input_hash_covers_rows_k_published_set_and_preset():
    rows = frame(years=(2024,))
    ps = published_set_yaml(default_published_set())
    base = year_input_hash(rows, 5, ps, "a" * 64)
    assert base == year_input_hash(rows.reverse(), 5, ps, "a" * 64)  # row order does not matter
    assert base != year_input_hash(rows, 4, ps, "a" * 64)
    assert base != year_input_hash(rows, 5, published_set_yaml(parse_published_set("- {geo: national, periode: [annee]}")), "a" * 64)
    assert base != year_input_hash(rows, 5, ps, "b" * 64)
    one_more = rows.with_columns(pl.when(pl.int_range(pl.len()) == 0).then(pl.col("effectif") + 1).otherwise(pl.col("effectif")).alias("effectif"))
    assert base != year_input_hash(one_more, 5, ps, "a" * 64)
    moved = rows.with_columns(pl.when(pl.col("service") == "DM-29").then(pl.lit("56")).otherwise(pl.col("departement")).alias("departement"))
    assert base != year_input_hash(moved, 5, ps, "a" * 64)


# --------------------------------------------------------------------------- refusal


def _failing(protected: ProtectedCube) -> ProtectedCube:
    """The same protection, as if the audit had found its primary cells insufficiently protected."""
    p = protected.protection
    failures = np.flatnonzero(p.primary)
    assert failures.size > 0
    audit = dataclasses.replace(p.audit, failures=failures)
    assert not audit.ok
    return ProtectedCube(protected.cube, dataclasses.replace(p, audit=audit), protected.seconds)


def test_a_failed_audit_is_stored_refused_without_cells_and_never_shown(tmp_path, engine):
    load(tmp_path, engine, frame())
    first = publish("Camille", engine=engine)
    shown = published_cells(engine=engine)

    # Real plan (k = 4 is a new input: both years are protected), then the 2025 audit "fails".
    run = plan_publication(engine, "Camille", 4, default_published_set(), default_nomenclature())
    assert [plan.protected is not None for plan in run.years] == [True, True]
    failing = run.years[1]
    failing.protected = _failing(failing.protected)
    expected_failures = int(failing.protected.protection.audit.failures.size)
    cells_before = count(engine, store.publication_cell)
    refused = record_publication(engine, run)

    assert refused.status == REFUSED and not refused.ok and refused.number == 2
    assert "refusée" in refused.message and "2025" in refused.message and "publication n° 1 reste en vigueur" in refused.message
    row = publication_row(engine, 2)
    assert row["status"] == REFUSED and row["audit_failures"] == expected_failures and row["k"] == 4
    assert row["cell_count"] == sum(y.cell_count for y in refused.years) > 0  # its figures are kept
    assert year_rows(engine, 2)[2025]["audit_failures"] == expected_failures
    assert year_rows(engine, 2)[2024]["audit_failures"] == 0
    assert stored_cells(engine, 2).height == 0 and count(engine, store.publication_cell) == cells_before
    assert latest_publication(engine).number == first.number == 1
    assert published_cells(engine=engine).equals(shown)
    history = publication_history(engine)
    assert [(p.number, p.status) for p in history] == [(2, REFUSED), (1, PUBLISHED)]

    # A refused publication is never a source of reuse: the next k = 4 publication protects again.
    again = publish("Camille", k=4, engine=engine)
    assert again.ok and again.number == 3 and again.protected_years == [2024, 2025]
    assert latest_publication(engine).number == 3


def test_a_first_publication_refused_leaves_nothing_in_force(tmp_path, engine):
    load(tmp_path, engine, frame(years=(2024,)))
    run = plan_publication(engine, "Camille", 5, default_published_set(), default_nomenclature())
    run.years[0].protected = _failing(run.years[0].protected)
    refused = record_publication(engine, run)
    assert refused.status == REFUSED and "Aucune publication n'est en vigueur" in refused.message
    assert latest_publication(engine) is None
    assert published_cells(engine=engine).is_empty()


# --------------------------------------------------------------------------- nothing to publish


def test_nothing_to_publish_stores_nothing(engine):
    outcome = publish("Camille", engine=engine)
    assert outcome.status == NOTHING and outcome.number is None and not outcome.ok
    assert "Rien à publier" in outcome.message
    assert count(engine, store.publication) == 0
    assert latest_publication(engine) is None and publication_history(engine) == []


def test_k_below_two_is_refused(engine):
    with pytest.raises(ValueError, match="au moins 2"):
        publish("Camille", k=1, engine=engine)
    assert count(engine, store.publication) == 0


def test_published_set_yaml_round_trips():
    rules = parse_published_set("- {geo: national, periode: [mois, annee]}\n- {geo: service, periode: annee, dimensions: [ensemble, axe]}\n")
    assert parse_published_set(published_set_yaml(rules)) == rules
    assert parse_published_set(published_set_yaml(default_published_set())) == default_published_set()
