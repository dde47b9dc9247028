"""Headcounts frozen with a publication, rates per 100 agents and the RPS indicator tables (analytics.rps)."""

from __future__ import annotations

import polars as pl
import pytest

from analytics import rps, views
from analytics.dashboard import Filters, Territory
from analytics.views import NATIONAL, STATUT_SECRET, Scope, published_cells
from publication_data import AGENTS, RPS_INDICATORS, headcounts, load

PER_AGENTS, NOT_PER_AGENTS = RPS_INDICATORS


def _serve(engine, monkeypatch):
    monkeypatch.setattr(views.store, "get_engine", lambda: engine)
    return engine


@pytest.fixture
def published(published_engine, monkeypatch):
    """The session's publication « rps » (SQLite, PostgreSQL), served to analytics.rps, only read. DDT-2A has no
    headcount for 2025 there: Corse, and therefore France, get no 2025 denominator."""
    return _serve(published_engine("rps"), monkeypatch)


@pytest.fixture
def published_own(published_engine, monkeypatch):
    """The same publication copied for this test alone: it may write into it."""
    return _serve(published_engine("rps", copy=True), monkeypatch)


def _agents(scope=NATIONAL) -> dict[tuple[str, str, int], int]:
    return {(g, c, a): n for g, c, a, n in views.headcounts(scope).iter_rows()}


def test_a_territory_gets_a_headcount_only_when_all_its_services_have_one(published):
    agents = _agents()
    assert agents[("service", "DDTM-29", 2025)] == AGENTS["DDTM-29"] + 10
    assert agents[("departement", "29", 2025)] == AGENTS["DDTM-29"] + AGENTS["DM-29"] + 20
    assert agents[("region", "53", 2025)] == sum(AGENTS[s] + 10 for s in ("DDTM-29", "DM-29", "DDTM-35", "DREAL-BRE"))
    assert agents[("national", "FR", 2024)] == sum(AGENTS.values())
    for partial in (("service", "DDT-2A", 2025), ("departement", "2A", 2025), ("region", "94", 2025), ("national", "FR", 2025)):
        assert partial not in agents


def test_a_regional_scope_sees_only_its_territories_headcounts(published):
    agents = _agents(Scope.region("53"))
    assert ("region", "53", 2025) in agents and ("service", "DDTM-29", 2024) in agents
    assert not any(code in ("94", "2A", "DDT-2A") for _, code, _ in agents)


def test_headcounts_are_frozen_with_the_publication(tmp_path, published_own):
    before = views.headcounts(NATIONAL)
    load(tmp_path, published_own, headcounts(bump=500), name="effectifs-corriges.csv", replace=True)
    views.clear_memory_cache()
    assert views.headcounts(NATIONAL).equals(before)


def test_rates_divide_published_counts_by_the_frozen_headcount(published):
    cells = published_cells(NATIONAL, periode_niveau="annee", dimensions="rps")
    rated = rps.with_rates(cells, NATIONAL)
    agents = _agents()
    per_agents = {i.code for i in rps.indicators() if i.par_effectif}
    for row in rated.iter_rows(named=True):
        denominator = agents.get((row["geo_niveau"], row["geo_code"], int(row["periode"])))
        if row["modalite"] in per_agents and row["statut"] == "publie" and denominator:
            assert row["taux"] == pytest.approx(row["valeur"] * 100 / denominator)
        else:
            # a secret count, an indicator not read per agents, or a territory without a headcount: no rate
            assert row["taux"] is None, row
    assert rated.filter(pl.col("taux") > 0)["geo_niveau"].unique().sort().to_list() == ["departement", "national", "region", "service"]
    assert rated.filter(pl.col("statut") == STATUT_SECRET).height >= 2  # DM-29 and DREAL-BRE report small counts
    assert rated.filter((pl.col("geo_code") == "FR") & (pl.col("periode") == "2025"))["taux"].null_count() == \
        rated.filter((pl.col("geo_code") == "FR") & (pl.col("periode") == "2025")).height  # DDT-2A lacks its 2025 headcount


def test_indicator_table_for_a_territory_and_its_change(published):
    f = Filters(Territory("departement", "29"), "annee", "2025")
    table = rps.indicator_table(f, NATIONAL)
    assert table["modalite"].to_list() == [i.code for i in rps.indicators()]  # the preset's order (zeros are published)
    cells = published_cells(NATIONAL, geo_niveau="departement", periode_niveau="annee", dimensions="rps")
    value = {(p, m): (v, s) for p, m, v, s in cells.filter(pl.col("geo_code") == "29").select("periode", "modalite", "valeur", "statut").iter_rows()}
    for row in table.iter_rows(named=True):
        now, before = value[("2025", row["modalite"])], value[("2024", row["modalite"])]
        assert (row["valeur"], row["statut"]) == now
        if now[1] == "publie" and before[1] == "publie" and before[0]:
            assert row["evolution"] == pytest.approx((now[0] - before[0]) / before[0])
        else:
            assert row["evolution"] is None
    assert table.filter(pl.col("modalite") == PER_AGENTS)["par_effectif"].item() is True


def test_territory_table_and_matrix_hold_published_cells_only(published):
    table = rps.territory_table(NATIONAL, "service", "2025", PER_AGENTS)
    cells = published_cells(NATIONAL, geo_niveau="service", periode_niveau="annee", periodes=["2025"], dimensions="rps",
                            modalites=[PER_AGENTS])
    assert dict(table.select("geo_code", "valeur").iter_rows()) == dict(cells.select("geo_code", "valeur").iter_rows())
    assert table.filter(pl.col("statut") == STATUT_SECRET)["taux"].null_count() == table.filter(pl.col("statut") == STATUT_SECRET).height
    matrix = rps.matrix(Scope.region("53"), "service", "2025")
    assert set(matrix["geo_code"]) == {"DDTM-29", "DM-29", "DDTM-35", "DREAL-BRE"}
    assert set(matrix["modalite"]) == {i.code for i in rps.indicators()}
    only = rps.matrix(Scope.region("53"), "service", "2025", family="Observations du service social")
    assert NOT_PER_AGENTS in set(only["modalite"]) and PER_AGENTS not in set(only["modalite"])
    assert rps.levels_with_rps() == ["national", "region", "departement", "service"]


def test_indicators_carry_their_family_and_reading():
    inds = {i.code: i for i in rps.indicators()}
    assert inds["visites_demande_medecin"].par_effectif and not inds["situations_souffrance_travail"].par_effectif
    assert inds["visites_demande_medecin"].famille == "Indicateurs obligatoires (fonction publique, 2014)"
    assert inds["situations_souffrance_travail"].hausse_signifie.startswith("Signal faible")
    assert rps.family_labels()[0] == "Indicateurs obligatoires (fonction publique, 2014)"
