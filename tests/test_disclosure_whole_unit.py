"""A small cell that only moves when every modality of its département moves with it.

The audit's narrow blocks hold most modalities at their true value. A multiple-response cell of a
service whose partition pivots are zero (published) cannot rise there: its `ensemble` would have
to rise, and only the pivot may absorb that in the block. The whole département (every modality,
the year) lets it rise, and the audit must find that proof itself, without an exact interval,
since the exact check does not run on the national table. Found on the 5-year national demo,
whose 2021 was refused for want of it.
"""

from __future__ import annotations

import numpy as np
import pytest

from analytics.disclosure.audit import CubeIndex, System, audit, home_blocks, whole_unit_jobs
from analytics.disclosure.cube import build_cube
from analytics.disclosure.published_set import parse_published_set
from analytics.nomenclature import load_nomenclature
from disclosure_oracle import attacker_system, fine_frame, interval, service_month, services_frame, violations, write_preset

K = 5
JAN = "2025-01"
PUBLISHED = """
- {geo: service, periode: [mois], dimensions: [ensemble, axe]}
- {geo: departement, periode: [mois]}
"""


@pytest.fixture
def cube(tmp_path):
    # S1: 3 situations, all in a1; its pivot a2 (the larger modality overall) is a published zero.
    rows = (service_month(JAN, "S1", 3, axe={"a1": 3, "a2": 0}, problematique={"p1": 1})
            + service_month(JAN, "S2", 20, axe={"a1": 6, "a2": 14}, problematique={"p1": 10}))
    preset = load_nomenclature(write_preset(tmp_path, partitions={"axe": ("a1", "a2")}, multiple=("p1",), independent=()))
    return build_cube(fine_frame(rows), services_frame({"S1": "29", "S2": "29"}), preset, parse_published_set(PUBLISHED))


def _cell(cube, service: str, dimension: str, modalite: str) -> int:
    rows = cube.cells.with_row_index("i").filter(
        (cube.cells["geo_code"] == service) & (cube.cells["dimension"] == dimension) & (cube.cells["modalite"] == modalite))
    return int(rows["i"][0])


def _pattern(cube) -> np.ndarray:
    """Both ensembles and both a1 secret, a2 published: S1's p1 can rise through its ensemble and a1."""
    secret = np.zeros(cube.cells.height, dtype=bool)
    for service in ("S1", "S2"):
        secret[_cell(cube, service, "ensemble", "ensemble")] = True
        secret[_cell(cube, service, "axe", "a1")] = True
    return secret


def test_the_narrow_home_block_cannot_prove_the_cell(cube):
    secret, target = _pattern(cube), _cell(cube, "S1", "problematique", "p1")
    home = home_blocks(cube)[cube.pairs.index(("problematique", "p1"))]
    system = System(CubeIndex(cube, secret), np.arange(cube.service_months.height), np.array(home))
    lower, upper = system.intervals(np.array([target]), K)[target]
    assert upper == pytest.approx(3)  # held by S1's ensemble, which cannot move there
    # The attacker, with everything at once, gets much more room: [0, 8].
    assert interval(attacker_system(cube, secret), target) == pytest.approx((0, 8))


def test_the_whole_departement_proves_it_without_an_exact_interval(cube):
    secret = _pattern(cube)
    result = audit(cube, secret, K)
    assert result.ok
    assert result.exact_lps == 0  # proven by a witness of the département block, not by the small-table exact check
    assert violations(cube, secret, K) == []


def test_units_group_the_cells_inside_them(cube):
    target = _cell(cube, "S1", "problematique", "p1")
    departement = int(cube.cells.with_row_index("i").filter(
        (cube.cells["geo_niveau"] == "departement") & (cube.cells["dimension"] == "ensemble"))["i"][0])
    jobs = whole_unit_jobs(cube, np.array([target, departement]), "departement")
    assert len(jobs) == 1
    ((sms, block, cells),) = jobs[0]
    assert sorted(cells.tolist()) == sorted([target, departement])
    assert list(block) == list(range(len(cube.pairs))) and sms.size == cube.service_months.height


# --------------------------------------------------------------------------- a single-service région


FEB = "2025-02"
BY_MONTH_AND_YEAR = """
- {geo: national, periode: [mois]}
- {geo: region, periode: [annee]}
"""


@pytest.fixture
def overseas(tmp_path):
    """Mayotte's one service is active in two months; the national months are published. Within
    Mayotte its January is pinned (the nation minus the rest, held); with another région's months
    swapping against it, it can be anything from 0 to 5."""
    rows = (service_month(JAN, "DEAL-976", 2) + service_month(FEB, "DEAL-976", 3)
            + service_month(JAN, "DDTM-29", 20) + service_month(FEB, "DDTM-29", 20))
    preset = load_nomenclature(write_preset(tmp_path, partitions={}, multiple=(), independent=()))
    services = services_frame({"DEAL-976": "976", "DDTM-29": "29"})
    return build_cube(fine_frame(rows), services, preset, parse_published_set(BY_MONTH_AND_YEAR))


def _january(cube) -> int:
    rows = cube.cells.with_row_index("i").filter(
        (cube.cells["geo_niveau"] == "service") & (cube.cells["geo_code"] == "DEAL-976") & (cube.cells["periode"] == JAN))
    return int(rows["i"][0])


def test_a_single_service_region_is_proven_with_another_region(overseas):
    secret = np.zeros(overseas.cells.height, dtype=bool)  # nothing published is small: no secret at all
    january = _january(overseas)
    assert interval(attacker_system(overseas, secret), january) == pytest.approx((0, 5))
    result = audit(overseas, secret, K)
    assert result.ok and result.exact_lps == 0
    assert violations(overseas, secret, K) == []


def test_the_pair_block_holds_both_regions(overseas):
    january = _january(overseas)
    assert whole_unit_jobs(overseas, np.array([january]), "departement")  # Mayotte alone first…
    ((sms, block, cells),) = whole_unit_jobs(overseas, np.array([january]), "pair")[0]
    regions = set(overseas.service_months["region"].to_numpy()[sms])
    assert regions == {"06", "53"} and cells.tolist() == [january]


@pytest.fixture
def overseas_dimensions(tmp_path):
    """The same two régions with a partition (axe) and two multiple-response modalities (p1, p2)."""
    rows = (service_month(JAN, "DEAL-976", 2, axe={"a1": 2, "a2": 0}, problematique={"p1": 1, "p2": 2})
            + service_month(FEB, "DEAL-976", 3, axe={"a1": 1, "a2": 2}, problematique={"p1": 2, "p2": 1})
            + service_month(JAN, "DDTM-29", 20, axe={"a1": 8, "a2": 12}, problematique={"p1": 6, "p2": 9})
            + service_month(FEB, "DDTM-29", 20, axe={"a1": 10, "a2": 10}, problematique={"p1": 7, "p2": 5}))
    preset = load_nomenclature(write_preset(tmp_path, partitions={"axe": ("a1", "a2")}, multiple=("p1", "p2"), independent=()))
    return build_cube(fine_frame(rows), services_frame({"DEAL-976": "976", "DDTM-29": "29"}), preset,
                      parse_published_set(BY_MONTH_AND_YEAR))


def _mayotte_january_p1(cube) -> int:
    return int(cube.cells.with_row_index("i").filter(
        (cube.cells["geo_code"] == "DEAL-976") & (cube.cells["periode"] == JAN)
        & (cube.cells["dimension"] == "problematique") & (cube.cells["modalite"] == "p1"))["i"][0])


def test_the_pair_block_holds_ensemble_the_partitions_and_the_cells_own_modalities(overseas_dimensions):
    cube = overseas_dimensions
    target = _mayotte_january_p1(cube)
    ((sms, block, cells),) = whole_unit_jobs(cube, np.array([target]), "pair")[0]
    held = set(cube.pairs) - {cube.pairs[m] for m in block}
    assert held == {("problematique", "p2")} and cells.tolist() == [target]
    assert set(cube.service_months["region"].to_numpy()[sms]) == {"06", "53"}


def test_what_the_narrow_pair_block_cannot_free_is_checked_with_every_modality(overseas_dimensions):
    """Mayotte's January p1 (1) rises to 5 only if its February `ensemble` falls to 0, which p2 (1 in
    February) allows only when it moves too: the narrow pair block, p2 held, reaches 4. The audit must
    not stop there: every modality of both régions frees it."""
    cube = overseas_dimensions
    target = _mayotte_january_p1(cube)
    values, publishable = cube.values, cube.cells["publiable"].to_numpy()
    secret = publishable & (values >= 1) & (values <= K - 1)
    bretagne_p1 = cube.cells.with_row_index("i").filter(
        (cube.cells["geo_code"] == "53") & (cube.cells["periode"] == "2025") & (cube.cells["dimension"] == "problematique")
        & (cube.cells["modalite"] == "p1"))
    secret[int(bretagne_p1["i"][0])] = True  # Mayotte's year p1 would be the nation minus Bretagne
    assert interval(attacker_system(cube, secret), target) == pytest.approx((0, 5))
    ((sms, block, _),) = whole_unit_jobs(cube, np.array([target]), "pair")[0]
    index = CubeIndex(cube, secret)
    assert System(index, sms, np.array(block)).intervals(np.array([target]), K)[target][1] == pytest.approx(4)
    result = audit(cube, secret, K)
    assert target not in result.failures.tolist()
    lower, upper = result.bounds.get(target, (0.0, K))
    assert upper >= K and upper - lower >= K - 1
