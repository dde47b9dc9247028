"""The fewest secondary suppressions a small cube needs, by a mixed-integer program (HiGHS via scipy).

For measuring `analytics.disclosure.suppression.protect` against the optimum on small tables (a few
services, a few months, `ensemble` + a partition + a multiple-response modality), never for
publishing: the program grows with (cells to protect) x (fine cells).

The rule (docs/secret-statistique.md). Let Q(z) be the set of tables the attacker cannot rule out
when the publishable cells marked by z are suppressed: fine cells y >= 0, every published cell
S_i.y = v_i (zeros are always published), every suppressed cell S_i.y >= 1, partitions sum to
`ensemble` and multiple-response modalities are <= `ensemble` in each service-month. For every cell
t with 1 <= v_t <= k-1 that is not published, the interval [L, U] of S_t.y over Q(z) must satisfy
U >= k and U - L >= k - 1.

Witness pairs. The rule holds for t if and only if Q(z) holds two tables `hi` and `lo` with
S_t.hi >= k and S_t.hi - S_t.lo >= k - 1:
- if: L <= S_t.lo and S_t.hi <= U, so U >= k and U - L >= k - 1;
- only if: Q(z) is a non-empty polyhedron (the true table x is in it) and S_t.y >= 0 on it, so L is
  reached by some `lo`; if U is finite it is reached by some `hi`, which works; if U is infinite,
  some `hi` has S_t.hi >= max(k, L + k - 1).
So the cheapest pattern is: minimise the number of suppressed non-primary cells over z, with, for
every cell t to protect, two copies (hi^t, lo^t) of the fine table, each in Q(z), and
S_t.hi^t >= k, S_t.hi^t - S_t.lo^t >= k - 1. The copies are independent given z, which is what makes
one program per cube enough.

Which cells are variables, which are fixed.
- z_i is a binary per publishable cell with v_i >= k (a candidate secondary). Primaries
  (1 <= v_i <= k-1) are always suppressed and zeros always published, so they are constants.
- The cells to protect do not depend on z: a suppressible candidate has v_i >= k, so the cells with
  1 <= v <= k-1 not published are exactly the primaries and the hidden small cells (outside the
  published set). Cells with the same fine cells have the same interval: one of them stands for all.
  A cell already safe when only the primaries are suppressed (z = 0) is safe for every z (more
  suppression only enlarges Q(z)) and is dropped after one pair of LPs.

Linking, for every copy y and candidate i:
- S_i.y >= v_i - (v_i - 1) z_i: the published value when z_i = 0, the attacker's ">= 1" when
  z_i = 1. Exact, no big-M.
- S_i.y <= v_i + M z_i: the published value when z_i = 0. When z_i = 1 the attacker knows no upper
  bound, so this box is the one approximation of the program. It never makes a pattern unsafe (the
  witnesses found are in Q(z), so every returned pattern satisfies the rule, whatever M); it can
  only hide a cheaper pattern, if every witness pair of that pattern moves some suppressed cell by
  more than M. M = (k - 1) * Delta is enough, Delta being the largest absolute subdeterminant of the
  attacker's constraint matrix (cells as variables beside the fine cells): write hi - x as a
  conformal sum of circuits (elementary moves; x plus any part of such a sum stays in Q(z)), keep
  the circuits that raise t and scale them until t rises by k - 1 at most, which is all a witness
  needs (hi_t = max(k, lo_t + k - 1) <= v_t + k - 1, taking lo = x when lo_t > v_t); the same for
  lo, which goes down by v_t <= k - 1 at most. A circuit's entries are subdeterminants, so it moves
  any cell by at most Delta times its move of t. Delta = 1 for a totally unimodular system (e.g. one
  two-way table with its margins); it is not computed here. The default M = (k - 1) * (1 + total of the fine cells)
  assumes Delta <= 1 + total, far above what the small tables this module is for reach; the tests
  check that a ten times larger M finds the same optimum and, on a hand-made cube, that no smaller
  pattern passes an independent LP attacker.
Finally the pattern is checked without the box and without the MILP's tolerances: two LPs per cell
to protect, on the attacker's exact system for the rounded z.
"""

from __future__ import annotations

import os
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

from analytics.disclosure.cube import Cube
from analytics.nomenclature import TOTAL_CODE

TOL = 1e-6
STATUS = {0: "optimal", 1: "time_limit", 2: "infeasible", 3: "unbounded"}


@dataclass
class OptimumResult:
    secondary_count: int | None  # None when no pattern was found in time
    secret: np.ndarray | None  # bool per cell: primaries + the optimal secondaries
    status: str  # "optimal" (proven), "time_limit" (best pattern found, not proven), "infeasible", ...
    protected_cells: int = 0  # cells the program had to protect (after dropping those safe anyway)
    seconds: float = 0.0

    @property
    def optimal(self) -> bool:
        return self.status == "optimal"


@dataclass
class _Rows:
    """Rows of one copy of the attacker's system: a_y @ y + a_z @ z within [lo, up]."""

    a_y: sp.csr_matrix
    a_z: sp.csr_matrix
    lo: np.ndarray
    up: np.ndarray
    upper: slice  # the rows S_i.y - M z_i <= v_i, one per candidate

    def fixed(self, z: np.ndarray) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        """The attacker's exact system for the pattern z: no box on the suppressed cells."""
        shift = self.a_z @ z
        lo, up = self.lo - shift, self.up - shift
        up[self.upper] = np.where(z > 0.5, np.inf, up[self.upper])
        return self.a_y, lo, up


def _structure(cube: Cube) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Per service-month: partitions sum to `ensemble` (= 0), multiple modalities <= `ensemble` (<= 0)."""
    pairs, n_pairs, n_sm = list(cube.pairs), len(cube.pairs), cube.service_months.height
    n, sm = n_sm * n_pairs, np.arange(n_sm)
    ens = pairs.index((TOTAL_CODE, TOTAL_CODE))
    rows, lo, up = [], [], []
    for dim in cube.nomenclature.dimensions.values():
        members = [i for i, (d, _) in enumerate(pairs) if d == dim.code]
        if not members:
            continue
        if dim.relation == "partition":
            cols = np.concatenate([sm * n_pairs + m for m in members] + [sm * n_pairs + ens])
            r = np.concatenate([sm] * (len(members) + 1))
            v = np.concatenate([np.ones(n_sm * len(members)), -np.ones(n_sm)])
            rows.append(sp.csr_matrix((v, (r, cols)), shape=(n_sm, n)))
            lo.append(np.zeros(n_sm)), up.append(np.zeros(n_sm))
        elif dim.relation == "multiple":
            for m in members:
                r = np.concatenate([sm, sm])
                cols = np.concatenate([sm * n_pairs + m, sm * n_pairs + ens])
                rows.append(sp.csr_matrix((np.r_[np.ones(n_sm), -np.ones(n_sm)], (r, cols)), shape=(n_sm, n)))
                lo.append(np.full(n_sm, -np.inf)), up.append(np.zeros(n_sm))
        # total and independent dimensions: nothing links them
    if not rows:
        return sp.csr_matrix((0, n)), np.zeros(0), np.zeros(0)
    return sp.vstack(rows, format="csr"), np.concatenate(lo), np.concatenate(up)


def _copy_rows(cube: Cube, k: int, candidates: np.ndarray, big_m: float) -> _Rows:
    values = cube.values.astype(float)
    publishable = cube.cells["publiable"].to_numpy()
    support = sp.csr_matrix(cube.support, dtype=float)
    zeros = np.flatnonzero(publishable & (values == 0))
    primaries = np.flatnonzero(publishable & (values >= 1) & (values <= k - 1))
    m = candidates.size
    structure, s_lo, s_up = _structure(cube)
    v = values[candidates]
    a_y = sp.vstack([support[zeros], support[primaries], support[candidates], support[candidates], structure], format="csr")
    a_z = sp.vstack([
        sp.csr_matrix((zeros.size + primaries.size, m)),
        sp.diags(v - 1.0, shape=(m, m)),  # S.y + (v - 1) z >= v
        sp.diags(np.full(m, -big_m), shape=(m, m)),  # S.y - M z <= v
        sp.csr_matrix((structure.shape[0], m)),
    ], format="csr")
    lo = np.concatenate([np.zeros(zeros.size), np.ones(primaries.size), v, np.full(m, -np.inf), s_lo])
    up = np.concatenate([np.zeros(zeros.size), np.full(primaries.size, np.inf), np.full(m, np.inf), v, s_up])
    first_upper = zeros.size + primaries.size + m
    return _Rows(a_y, a_z, lo, up, slice(first_upper, first_upper + m))


def _lp(cost: np.ndarray, a: sp.csr_matrix, lo: np.ndarray, up: np.ndarray) -> float:
    """min cost.y over y >= 0, lo <= a.y <= up (-inf when unbounded)."""
    fin_up, fin_lo = np.isfinite(up), np.isfinite(lo)
    a_ub = sp.vstack([a[fin_up], -a[fin_lo]], format="csr")
    b_ub = np.concatenate([up[fin_up], -lo[fin_lo]])
    res = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=(0, None), method="highs")
    if res.status == 3:
        return -np.inf
    if res.status != 0:
        raise RuntimeError(f"optimum : programme linéaire en échec ({res.message})")
    return float(res.fun)


def _small_cells(cube: Cube, k: int) -> np.ndarray:
    """The cells to protect (primaries and hidden small cells), one per distinct set of fine cells."""
    values = cube.values
    small = np.flatnonzero((values >= 1) & (values <= k - 1))
    support = sp.csr_matrix(cube.support)
    seen: set[tuple[int, ...]] = set()
    out = []
    for t in small:
        key = tuple(support[t].indices.tolist())
        if key not in seen:
            seen.add(key)
            out.append(int(t))
    return np.asarray(out, dtype=np.int64)


def _unsafe(cube: Cube, k: int, cells: np.ndarray, system: tuple[sp.csr_matrix, np.ndarray, np.ndarray]) -> np.ndarray:
    """The cells breaking the rule on the attacker's system (a, lo, up): exact intervals by LP."""
    values = cube.values
    support = sp.csr_matrix(cube.support, dtype=float)
    out = []
    for t in cells:
        cost = support[int(t)].toarray().ravel()
        upper = -_lp(-cost, *system)
        if upper >= values[t] + k - 1 - TOL:  # L <= v_t, so the rule holds
            continue
        lower = _lp(cost, *system)
        if not (upper >= k - TOL and upper - lower >= k - 1 - TOL):
            out.append(int(t))
    return np.asarray(out, dtype=np.int64)


@contextmanager
def _quiet_stdout():
    """HiGHS' MIP solver sometimes prints debugging lines on the C-level stdout: keep JSON output clean."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def optimal_secondary(cube: Cube, k: int, time_limit: float = 60, big_m: float | None = None) -> OptimumResult:
    """The minimum number of secondary suppressions of `cube` for threshold k, and one optimal pattern."""
    start = time.perf_counter()
    values = cube.values
    publishable = cube.cells["publiable"].to_numpy()
    primary = publishable & (values >= 1) & (values <= k - 1)
    candidates = np.flatnonzero(publishable & (values >= k))
    m, n = candidates.size, cube.n_fine
    if big_m is None:
        big_m = (k - 1) * (1.0 + float(cube.x.sum()))
    rows = _copy_rows(cube, k, candidates, big_m)
    small = _small_cells(cube, k)
    targets = _unsafe(cube, k, small, rows.fixed(np.zeros(m)))  # the others are safe for every z
    if targets.size == 0:
        return OptimumResult(0, primary.copy(), "optimal", 0, time.perf_counter() - start)

    copies = 2 * targets.size  # hi^t, lo^t for each t, in that order
    support = sp.csr_matrix(cube.support, dtype=float)
    body = sp.hstack([sp.vstack([rows.a_z] * copies), sp.kron(sp.identity(copies, format="csr"), rows.a_y)], format="csr")
    witness = []
    for j, t in enumerate(targets):
        s_t = support[int(t)]
        hi = sp.hstack([sp.csr_matrix((1, m + 2 * j * n)), s_t, sp.csr_matrix((1, (copies - 2 * j - 1) * n))])
        diff = sp.hstack([sp.csr_matrix((1, m + 2 * j * n)), s_t, -s_t, sp.csr_matrix((1, (copies - 2 * j - 2) * n))])
        witness += [hi, diff]
    a = sp.vstack([body, *witness], format="csr")
    lo = np.concatenate([np.tile(rows.lo, copies), np.tile([k, k - 1.0], targets.size)])
    up = np.concatenate([np.tile(rows.up, copies), np.full(2 * targets.size, np.inf)])
    cost = np.concatenate([np.ones(m), np.zeros(copies * n)])
    integrality = np.concatenate([np.ones(m), np.zeros(copies * n)])
    bounds = Bounds(np.zeros(m + copies * n), np.concatenate([np.ones(m), np.full(copies * n, np.inf)]))
    with _quiet_stdout():
        res = milp(cost, constraints=LinearConstraint(a, lo, up), integrality=integrality, bounds=bounds,
                   options={"time_limit": float(time_limit), "disp": False})
    status = STATUS.get(res.status, "error")
    if res.x is None:
        return OptimumResult(None, None, status, int(targets.size), time.perf_counter() - start)
    z = (res.x[:m] > 0.5).astype(float)
    if _unsafe(cube, k, targets, rows.fixed(z)).size:
        raise RuntimeError("optimum : le motif du programme en nombres entiers ne passe pas la vérification exacte")
    chosen = candidates[z > 0.5]
    secret = primary.copy()
    secret[chosen] = True
    return OptimumResult(int(chosen.size), secret, status, int(targets.size), time.perf_counter() - start)
