"""Giving back the secondaries a pattern can spare (analytics.disclosure.pruning), checked by the oracle.

- after pruning, the independent attacker (tests/disclosure_oracle.py) finds no violation;
- the pruned pattern is irredundant: publishing again any one remaining secondary (with the cells
  that have the same fine cells) breaks the rule for the oracle;
- `protect` prunes on small systems: never more secondaries than the unpruned greedy pattern, and on
  the bench's small tables within 1.3 of the MILP optimum on average;
- deterministic; never gives back a primary, never publishes a cell the pattern shares with a secret.
"""

from __future__ import annotations

import numpy as np
import pytest

from analytics.bench import ratio_nomenclature, ratio_tables
from analytics.disclosure.cube import build_cube
from analytics.disclosure.optimum import optimal_secondary
from analytics.disclosure.published_set import DEFAULT_RULES, parse_published_set
from analytics.disclosure.pruning import affordable, holds, prune
from analytics.disclosure.suppression import costs, protect
from disclosure_oracle import describe, naive_secret, violations

K = 5


@pytest.fixture(scope="module")
def small_cubes():
    nomenclature, published = ratio_nomenclature(), parse_published_set(DEFAULT_RULES)
    return [build_cube(fine, services, nomenclature, published) for fine, services in ratio_tables(4, seed=11)]


def _same_support(cube, cell: int) -> np.ndarray:
    key = cube.fine_cells(cell).tobytes()
    publishable = np.flatnonzero(cube.cells["publiable"].to_numpy())
    return np.array([c for c in publishable if cube.fine_cells(int(c)).tobytes() == key], dtype=np.int64)


def test_pruned_pattern_is_safe_and_irredundant(small_cubes):
    for cube in small_cubes:
        result = protect(cube, K)
        assert result.audit.ok
        found = violations(cube, result.secret, K)
        assert not found, describe(cube, found)
        for cell in np.flatnonzero(result.secondary):
            trial = result.secret.copy()
            trial[_same_support(cube, int(cell))] = False
            assert violations(cube, trial, K), f"secondary {cell} could have been published"


def test_pruning_never_adds_and_keeps_primaries(small_cubes):
    for cube in sorted(small_cubes, key=lambda c: c.n_fine)[:2]:
        primary = naive_secret(cube, K)
        greedy = primary.copy()
        # the worst start: every non-zero publishable cell secret (safe when nothing at all is published)
        publishable = cube.cells["publiable"].to_numpy()
        greedy |= publishable & (cube.values > 0)
        assert holds(cube, greedy, K)
        pruned = prune(cube, greedy, primary, costs(cube), K)
        assert (pruned & primary).sum() == primary.sum()
        assert not (pruned & ~greedy).any()
        assert (pruned & ~primary).sum() < (greedy & ~primary).sum()
        assert not violations(cube, pruned, K)


def test_pruning_is_deterministic(small_cubes):
    cube = small_cubes[0]
    first, second = protect(cube, K), protect(cube, K)
    assert np.array_equal(first.secret, second.secret)
    assert first.given_back == second.given_back


def test_holds_agrees_with_the_oracle(small_cubes):
    verdicts = []
    for cube in small_cubes:
        primary = naive_secret(cube, K)
        verdicts.append(holds(cube, primary, K))
        assert verdicts[-1] == (not violations(cube, primary, K))
    assert not all(verdicts), "no small cube where primaries alone disclose: the check is not exercised"


def test_ratio_to_the_optimum_on_small_tables(small_cubes):
    ratios = []
    for cube in [c for c in small_cubes if c.n_fine <= 60]:
        result = protect(cube, K)
        best = optimal_secondary(cube, K, time_limit=60)
        assert best.secondary_count is not None
        if best.optimal:
            assert best.secondary_count <= int(result.secondary.sum())
        if best.secondary_count:
            ratios.append(int(result.secondary.sum()) / best.secondary_count)
    assert ratios
    assert np.mean(ratios) <= 1.3, ratios


def test_large_systems_are_not_pruned(small_cubes):
    from analytics.bench import secret_demo_input
    from analytics.disclosure.published_set import default_published_set
    from analytics.nomenclature import default_nomenclature

    fine, services = secret_demo_input("53")
    cube = build_cube(fine, services, default_nomenclature(), default_published_set())
    primary = naive_secret(cube, K)
    assert not affordable(cube, primary | (cube.values >= K), primary, K)
    assert affordable(small_cubes[0], naive_secret(small_cubes[0], K) | (small_cubes[0].values >= K),
                      naive_secret(small_cubes[0], K), K)
