"""Give back secondary secrets that the protection does not need (small systems, exact check).

Greedy complement choice (suppression.py) over-suppresses: a complement picked for one cell is
often made useless by complements picked later for others. Once the audit holds, each secondary
secret is tried in turn, the most informative first (highest cost: large counts, coarse levels):
it is published again if the rule still holds for every cell to protect, checked exactly (one
interval per cell over the attacker's whole system for the year, warm-started). The result is
irredundant: no single secondary can be given back. Deterministic (fixed order, exact LPs).

Cells with the same fine cells (a département with one service, a région with one département)
are one unknown: they are given back together, or not at all.

Exact intervals over a whole year are affordable on small systems only (`affordable`); larger
cubes keep the audited pattern as it is.
"""

from __future__ import annotations

import numpy as np

from analytics.disclosure.audit import CubeIndex, System, _rule_holds, cells_to_protect
from analytics.disclosure.cube import Cube

MAX_COLUMNS = 6_000  # fine cells of a year system checked exactly, candidate after candidate
MAX_WORK = 40_000_000  # candidates x cells to protect x fine cells: about a minute of LPs


def _years(cube: Cube) -> list[np.ndarray]:
    year = cube.service_months["periode"].str.slice(0, 4).to_numpy()
    return [np.flatnonzero(year == y) for y in np.unique(year)]


def affordable(cube: Cube, secret: np.ndarray, primary: np.ndarray, k: int) -> bool:
    n_pairs = len(cube.pairs)
    candidates = int((secret & ~primary).sum())
    todo = cells_to_protect(cube, secret, k).size
    widest = max((sms.size * n_pairs for sms in _years(cube)), default=0)
    return 0 < widest <= MAX_COLUMNS and candidates * max(1, todo) * widest <= MAX_WORK


def holds(cube: Cube, secret: np.ndarray, k: int) -> bool:
    """The rule, exactly, for every cell to protect under `secret` (each year is its own system)."""
    todo = cells_to_protect(cube, secret, k)
    if not todo.size:
        return True
    index = CubeIndex(cube, secret)
    n_pairs = len(cube.pairs)
    for sms in _years(cube):
        system = System(index, sms, np.arange(n_pairs))
        mine = todo[np.isin(todo, system.touching)]
        if not mine.size:
            continue
        for lower, upper in system.intervals(_unique_support(cube, mine), k).values():
            if not _rule_holds(lower, upper, k):
                return False
    return True


def _unique_support(cube: Cube, cells: np.ndarray) -> np.ndarray:
    seen: dict[bytes, int] = {}
    for cell in cells:
        seen.setdefault(cube.fine_cells(int(cell)).tobytes(), int(cell))
    return np.array(sorted(seen.values()), dtype=np.int64)


def prune(cube: Cube, secret: np.ndarray, primary: np.ndarray, cost: np.ndarray, k: int) -> np.ndarray:
    """The audited pattern `secret` with every secondary it can spare published again."""
    secret = secret.copy()
    candidates = np.flatnonzero(secret & ~primary)
    if not candidates.size:
        return secret
    order = candidates[np.lexsort((candidates, -cost[candidates]))]
    groups: dict[bytes, list[int]] = {}
    for cell in np.flatnonzero(secret & ~primary):
        groups.setdefault(cube.fine_cells(int(cell)).tobytes(), []).append(int(cell))
    tried: set[bytes] = set()
    for cell in order:
        key = cube.fine_cells(int(cell)).tobytes()
        if key in tried:
            continue
        tried.add(key)
        same = np.array(groups[key], dtype=np.int64)
        if primary[same].any():
            continue
        trial = secret.copy()
        trial[same] = False
        if holds(cube, trial, k):
            secret = trial
    return secret
