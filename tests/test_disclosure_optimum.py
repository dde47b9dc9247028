"""The fewest secondary suppressions (analytics.disclosure.optimum), checked against the independent oracle.

- the MILP pattern passes analytics' audit and the oracle (tests/disclosure_oracle.py) on small cubes;
- `protect` never beats it (the heuristic cannot use fewer secondaries than the optimum);
- on a 2 x 2 table the optimum is known by reasoning (3), and no smaller pattern passes the oracle;
- removing any one secondary of the MILP pattern breaks the oracle (minimality);
- a ten times larger big-M finds the same optimum (the big-M does not cut off cheaper patterns here).
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics.disclosure.audit import audit
from analytics.disclosure.cube import Cube, build_cube
from analytics.disclosure.optimum import optimal_secondary
from analytics.disclosure.published_set import DEFAULT_RULES, parse_published_set
from analytics.disclosure.suppression import protect
from analytics.nomenclature import load_nomenclature
from disclosure_oracle import describe, fine_frame, naive_secret, service_month, services_frame, violations, write_preset

K = 5
JAN, FEB = "2025-01", "2025-02"
SERVICE_MONTHS = """
- {geo: national, periode: [mois, trimestre, annee]}
- {geo: region, periode: [trimestre, annee]}
- {geo: departement, periode: [annee]}
- {geo: service, periode: [mois, annee]}
"""


def _cube(folder: Path, rows: list[tuple], services: dict[str, str], published: str, **preset) -> Cube:
    nomenclature = load_nomenclature(write_preset(folder, **preset))
    return build_cube(fine_frame(rows), services_frame(services), nomenclature, parse_published_set(published))


def _cell(cube: Cube, geo: str, code: str, periode_niveau: str, periode: str, dimension: str = "ensemble",
          modalite: str = "ensemble") -> int:
    hit = cube.cells.filter(
        (pl.col("geo_niveau") == geo) & (pl.col("geo_code") == code) & (pl.col("periode_niveau") == periode_niveau)
        & (pl.col("periode") == periode) & (pl.col("dimension") == dimension) & (pl.col("modalite") == modalite)
    )["cell"]
    assert hit.len() == 1
    return int(hit[0])


# --------------------------------------------------------------------------- small cubes


def _random_cube(folder: Path, seed: int, published: str, n_services: int = 2, n_months: int = 3) -> Cube:
    """`ensemble` + partition axe (pro, perso) + multiple problematique (sante), small counts."""
    rng = np.random.default_rng(seed)
    services = {f"S{i}": ("29", "35")[i % 2] for i in range(n_services)}
    rows = []
    for m in range(1, n_months + 1):
        for service in services:
            axe = rng.choice([0, 1, 1, 2, 3, 4, 6, 9], size=2)
            ens = int(axe.sum())
            rows += service_month(f"2025-{m:02d}", service, ens, axe={"pro": int(axe[0]), "perso": int(axe[1])},
                                  problematique={"sante": int(rng.integers(0, ens + 1))})
    return _cube(folder, rows, services, published, multiple=("sante",), independent=())


def _overseas(folder: Path) -> Cube:
    """A one-service région (971) beside Bretagne: région = département = service for 971."""
    rows = (service_month(JAN, "DEAL-971", 3, axe={"pro": 3, "perso": 0}, problematique={"sante": 2})
            + service_month(JAN, "DDTM-29", 12, axe={"pro": 6, "perso": 6}, problematique={"sante": 7})
            + service_month(JAN, "DDTM-35", 9, axe={"pro": 5, "perso": 4}, problematique={"sante": 5}))
    return _cube(folder, rows, {"DEAL-971": "971", "DDTM-29": "29", "DDTM-35": "35"},
                 "- {geo: national, periode: [annee]}\n- {geo: region, periode: [annee]}\n"
                 "- {geo: departement, periode: [annee]}\n- {geo: service, periode: [annee]}",
                 multiple=("sante",), independent=())


def _hidden_multiple(folder: Path) -> Cube:
    """FR sante = 7 = A + B published, A and B's sante hidden, each <= its published ensemble (5): A in [2, 5]."""
    rows = service_month(JAN, "A", 5, problematique={"sante": 2}) + service_month(JAN, "B", 5, problematique={"sante": 5})
    return _cube(folder, rows, {"A": "29", "B": "29"},
                 "- {geo: national, periode: [mois], dimensions: [problematique]}\n"
                 "- {geo: service, periode: [mois], dimensions: [ensemble]}",
                 partitions={}, multiple=("sante",), independent=())


def _small_month(folder: Path) -> Cube:
    rows = (service_month(JAN, "S", 3, axe={"pro": 3, "perso": 0}, problematique={"sante": 3})
            + service_month(FEB, "S", 20, axe={"pro": 10, "perso": 10}, problematique={"sante": 12}))
    return _cube(folder, rows, {"S": "29"}, "- {geo: service, periode: [mois, annee]}", multiple=("sante",), independent=())


CUBES = {
    "overseas": _overseas,
    "hidden_multiple": _hidden_multiple,
    "small_month": _small_month,
    "random_default_1": lambda f: _random_cube(f, 1, DEFAULT_RULES, n_services=3, n_months=3),
    "random_default_2": lambda f: _random_cube(f, 2, DEFAULT_RULES, n_services=2, n_months=4),
    "random_monthly_3": lambda f: _random_cube(f, 3, SERVICE_MONTHS, n_services=2, n_months=3),
    "random_monthly_4": lambda f: _random_cube(f, 4, SERVICE_MONTHS, n_services=2, n_months=2),
}


@pytest.mark.parametrize("name", sorted(CUBES))
def test_optimal_pattern_is_safe_and_never_beaten_by_protect(tmp_path, name):
    cube = CUBES[name](tmp_path)
    best = optimal_secondary(cube, K)
    assert best.optimal, best.status
    primary = naive_secret(cube, K)
    assert (best.secret & primary).sum() == primary.sum(), "a primary is published"
    assert best.secondary_count == int((best.secret & ~primary).sum())
    values, publishable = cube.values, cube.cells["publiable"].to_numpy()
    assert not (best.secret & ~publishable).any(), "a hidden cell is marked secret"
    assert not (best.secret & (values == 0)).any(), "a zero was suppressed"
    # (a) safe for the independent attacker and for analytics' audit
    found = violations(cube, best.secret, K)
    assert not found, describe(cube, found)
    assert audit(cube, best.secret, K).ok
    # (b) the heuristic cannot do better than the optimum
    heuristic = protect(cube, K)
    assert heuristic.audit.ok
    assert best.secondary_count <= int(heuristic.secondary.sum())


@pytest.mark.parametrize("name", ["random_default_1", "random_monthly_3", "overseas"])
def test_a_larger_big_m_finds_the_same_optimum(tmp_path, name):
    """The big-M only bounds how far a suppressed cell may move in a witness table: ten times more changes nothing."""
    cube = CUBES[name](tmp_path)
    default = optimal_secondary(cube, K)
    k1 = K - 1
    larger = optimal_secondary(cube, K, big_m=10 * k1 * (1 + float(cube.x.sum())))
    assert default.optimal and larger.optimal
    assert default.secondary_count == larger.secondary_count


def test_nothing_to_protect_costs_nothing(tmp_path):
    rows = service_month(JAN, "S", 20, axe={"pro": 10, "perso": 10}, problematique={"sante": 12})
    cube = _cube(tmp_path, rows, {"S": "29"}, "- {geo: service, periode: [mois, annee]}", multiple=("sante",), independent=())
    best = optimal_secondary(cube, K)
    assert best.optimal and best.secondary_count == 0 and not best.secret.any()


# --------------------------------------------------------------------------- an optimum known by reasoning


def _two_by_two(folder: Path) -> Cube:
    """Services A, B (département 29) x January, February; `ensemble` only.

    Published: every service x month cell, the service quarters (row totals), the département months
    (column totals) and the département quarter (grand total). A-January = 3 is the only small cell.
    """
    rows = (service_month(JAN, "A", 3) + service_month(FEB, "A", 10)
            + service_month(JAN, "B", 10) + service_month(FEB, "B", 10))
    return _cube(folder, rows, {"A": "29", "B": "29"},
                 "- {geo: service, periode: [mois, trimestre]}\n- {geo: departement, periode: [mois, trimestre]}",
                 partitions={}, multiple=(), independent=())


def test_two_by_two_table_needs_exactly_three_secondaries(tmp_path):
    """Why 3. Write a = A-jan, b = A-feb, c = B-jan, d = B-feb. Besides a itself (primary), the published
    cells are the 8 sums b, c, d, a+b, c+d, a+c, b+d, a+b+c+d (the région and national cells are hidden).
    a is pinned as soon as the published sums span the vector e_a, so they must lie in a hyperplane
    w.y = 0 with w_a != 0. Then b and a+b cannot both be in it (w_b = 0 forces w_a + w_b != 0), nor c and
    a+c: at least 2 sums are outside. If exactly 2, then d, c+d, b+d and a+b+c+d are all in it, which
    gives w_d = w_c = w_b = 0 and then w_a = 0: impossible. So at least 3 sums must be suppressed.
    Three are enough: suppressing b, c, d (the rectangle) leaves a = t, b = c = 13 - t, d = 7 + t,
    t in [1, 12] (every secret >= 1): U = 12 >= 5 and U - L = 11 >= 4.
    """
    cube = _two_by_two(tmp_path)
    a = _cell(cube, "service", "A", "mois", JAN)
    primary = naive_secret(cube, K)
    assert list(np.flatnonzero(primary)) == [a]
    best = optimal_secondary(cube, K)
    assert best.optimal and best.secondary_count == 3
    assert not violations(cube, best.secret, K)

    rectangle = primary.copy()
    rectangle[[_cell(cube, "service", "A", "mois", FEB), _cell(cube, "service", "B", "mois", JAN),
               _cell(cube, "service", "B", "mois", FEB)]] = True
    assert not violations(cube, rectangle, K)

    # No pattern of 0, 1 or 2 secondaries passes the oracle (all 1 + 8 + 28 of them).
    candidates = np.flatnonzero(cube.cells["publiable"].to_numpy() & (cube.values >= K))
    assert candidates.size == 8
    for size in range(3):
        for extra in combinations(candidates, size):
            secret = primary.copy()
            secret[list(extra)] = True
            assert violations(cube, secret, K), f"{size} secondaries suffice: {describe(cube, [(c, 0, 0) for c in extra])}"


# --------------------------------------------------------------------------- minimality


def test_removing_any_secondary_of_the_optimum_breaks_the_rule(tmp_path):
    cube = CUBES["random_monthly_3"](tmp_path)
    best = optimal_secondary(cube, K)
    assert best.optimal
    primary = naive_secret(cube, K)
    secondaries = np.flatnonzero(best.secret & ~primary)
    assert secondaries.size >= 3
    for cell in secondaries:
        fewer = best.secret.copy()
        fewer[cell] = False
        assert violations(cube, fewer, K), f"secondary {describe(cube, [(int(cell), 0, 0)])} is not needed"
