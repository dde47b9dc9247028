"""The attacker's view, by linear programming (HiGHS): how far can each small cell be pinned down?

Everything published is used at once: every published value (an equation on the fine cells),
every secret (known to be >= 1, since zeros are published), the partitions (modalities add up
to `ensemble` in each service-month), the multiple-response dimensions (each <= `ensemble`),
and non-negativity. The time and geography trees live in the cube's support matrix.

Rule, for every cell with 1 <= value <= k-1 that is not published (secret or hidden):
U >= k and U - L >= k - 1, where [L, U] is the interval the attacker derives.

Certification without one huge LP per cell:
- a feasible table y with y_c >= v_c + k - 1 proves the rule for c (U >= y_c and L <= v_c), so a
  batch LP maximising sum(min(y_c, v_c + k - 1)) certifies many cells at once;
- the batch LPs run on blocks of modalities with every other fine cell held at its true value:
  a table feasible in the block is feasible in the whole system, so its certificates hold;
- what a block cannot certify gets its exact interval from the whole system, one LP per cell.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

from analytics.disclosure.cube import Cube
from analytics.nomenclature import TOTAL_CODE

INF = highspy.kHighsInf
TOL = 1e-6


def _silence_banner() -> None:
    """HiGHS prints its banner on stdout when the first solver is created: keep CLI output clean."""
    import os
    import sys

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_silence_banner()


@dataclass
class AuditResult:
    k: int
    checked: int  # small cells that must be protected
    certified_by_witness: int
    exact_lps: int
    failures: np.ndarray  # cell ids breaking the rule
    bounds: dict[int, tuple[float, float]] = field(default_factory=dict)  # exact L, U where solved
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.failures.size == 0


def cells_to_protect(cube: Cube, secret: np.ndarray, k: int) -> np.ndarray:
    values = cube.values
    published = cube.cells["publiable"].to_numpy() & ~secret
    return np.flatnonzero((values >= 1) & (values <= k - 1) & ~published)


def _solve(matrix: sp.spmatrix, row_lo, row_up, col_lo, col_up, cost, maximise: bool = False, presolve: bool = True) -> highspy.Highs:
    matrix = sp.csc_matrix(matrix, dtype=float)
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    if not presolve:  # many objectives on one polytope: keep the (primal feasible) basis between solves
        h.setOptionValue("presolve", "off")
        h.setOptionValue("simplex_strategy", 4)
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = matrix.shape[1], matrix.shape[0]
    lp.col_cost_ = np.asarray(cost, dtype=float)
    lp.col_lower_ = np.asarray(col_lo, dtype=float)
    lp.col_upper_ = np.asarray(col_up, dtype=float)
    lp.row_lower_ = np.asarray(row_lo, dtype=float)
    lp.row_upper_ = np.asarray(row_up, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = matrix.indptr
    lp.a_matrix_.index_ = matrix.indices
    lp.a_matrix_.value_ = matrix.data
    lp.sense_ = highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize
    h.passModel(lp)
    h.run()
    return h


def _check(h: highspy.Highs, what: str) -> None:
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"audit : {what} : {h.modelStatusToString(status)}")


class System:
    """The attacker's equations restricted to the fine cells of `block` (pair indices); others at their true value."""

    def __init__(self, cube: Cube, secret: np.ndarray, block: list[int]):
        n_pairs, n_sm = len(cube.pairs), cube.service_months.height
        self.cube, self.block = cube, np.array(sorted(block), dtype=np.int64)
        in_block = np.zeros(n_pairs, dtype=bool)
        in_block[self.block] = True
        self.cols = (np.arange(n_sm)[:, None] * n_pairs + self.block[None, :]).ravel()
        cell_pair = cube.cells["cell"].to_numpy() % n_pairs
        self.cell_mask = in_block[cell_pair]
        published = cube.cells["publiable"].to_numpy() & ~secret
        values = cube.values.astype(float)
        S = cube.support[:, self.cols] if len(self.block) < n_pairs else cube.support
        pub = np.flatnonzero(self.cell_mask & published)
        sec = np.flatnonzero(self.cell_mask & secret)
        rows = [S[pub], S[sec]]
        lo = [values[pub], np.ones(sec.size)]
        up = [values[pub], np.full(sec.size, INF)]
        col_lo = np.zeros(self.cols.size)
        col_up = np.full(self.cols.size, INF)
        struct, s_lo, s_up = self._structure(in_block, n_sm, n_pairs, col_lo, col_up)
        rows.append(struct)
        lo.append(s_lo)
        up.append(s_up)
        self.matrix = sp.vstack(rows, format="csr")
        self.row_lo, self.row_up = np.concatenate(lo), np.concatenate(up)
        self.col_lo, self.col_up = col_lo, col_up
        self.support = S.tocsr()

    def _structure(self, in_block, n_sm, n_pairs, col_lo, col_up):
        cube = self.cube
        x = cube.x.reshape(n_sm, n_pairs).astype(float)
        pairs = cube.pairs
        ens = pairs.index((TOTAL_CODE, TOTAL_CODE))
        local = {p: i for i, p in enumerate(self.block)}
        width = len(self.block)
        rows, lo, up = [], [], []
        for dim in cube.nomenclature.dimensions.values():
            members = [i for i, (d, _) in enumerate(pairs) if d == dim.code]
            if not members:  # dimension absent from the data
                continue
            inside = [m for m in members if in_block[m]]
            if dim.relation == "partition" and (inside or in_block[ens]):
                # Members outside the block keep their true value: they move to the right-hand side.
                held = x[:, [m for m in members if not in_block[m]]].sum(axis=1)
                row = np.zeros(width)
                row[[local[m] for m in inside]] = 1
                if in_block[ens]:
                    row[local[ens]] = -1
                    rows.append(row), lo.append(-held), up.append(-held)
                else:
                    rows.append(row), lo.append(x[:, ens] - held), up.append(x[:, ens] - held)
            elif dim.relation == "multiple":
                for m in members:
                    if in_block[m] and in_block[ens]:
                        row = np.zeros(width)
                        row[local[m]], row[local[ens]] = 1, -1
                        rows.append(row), lo.append(np.full(n_sm, -INF)), up.append(np.zeros(n_sm))
                    elif in_block[m]:  # ensemble held: a simple upper bound
                        col_up[local[m]::width] = np.minimum(col_up[local[m]::width], x[:, ens])
                    elif in_block[ens]:  # the modality held: ensemble cannot go below it
                        col_lo[local[ens]::width] = np.maximum(col_lo[local[ens]::width], x[:, m])
        if not rows:
            return sp.csr_matrix((0, self.cols.size)), np.zeros(0), np.zeros(0)
        block = sp.csr_matrix(np.array(rows))
        # one row per (service-month, relation): kron(I_sm, block) with rows ordered sm-major
        matrix = sp.kron(sp.identity(n_sm, format="csr"), block, format="csr")
        lo_all = np.column_stack(lo).ravel()
        up_all = np.column_stack(up).ravel()
        return matrix, lo_all, up_all

    def witness(self, cells: np.ndarray, caps: np.ndarray) -> np.ndarray:
        """Maximise sum(min(S_c y, cap_c)) over tables feasible here; return S_c y for `cells`."""
        m = cells.size
        S_c = self.support[cells].astype(float)
        n = self.cols.size
        matrix = sp.vstack([
            sp.hstack([self.matrix, sp.csr_matrix((self.matrix.shape[0], m))]),
            sp.hstack([-S_c, sp.identity(m)]),  # t_c - S_c y <= 0
        ])
        h = _solve(matrix,
                   np.concatenate([self.row_lo, np.full(m, -INF)]), np.concatenate([self.row_up, np.zeros(m)]),
                   np.concatenate([self.col_lo, np.zeros(m)]), np.concatenate([self.col_up, caps]),
                   np.concatenate([np.zeros(n), np.ones(m)]), maximise=True)
        _check(h, "table témoin")
        y = np.asarray(h.getSolution().col_value)[:n]
        return S_c @ y

    def intervals(self, cells: np.ndarray, k: int) -> dict[int, tuple[float, float]]:
        """[L, U] of each cell over this system, warm-started; L is skipped when U alone proves the rule."""
        n = self.cols.size
        h = _solve(self.matrix, self.row_lo, self.row_up, self.col_lo, self.col_up, np.zeros(n), presolve=False)
        _check(h, "système de l'attaquant")
        out = {}
        everything = np.arange(n, dtype=np.int32)
        values = self.cube.values
        for cell in cells:
            row = self.support[int(cell)]
            cost = np.zeros(n)
            cost[row.indices] = row.data
            h.changeColsCost(n, everything, cost)
            upper = self._optimum(h, highspy.ObjSense.kMaximize, cell)
            lower = float(values[cell]) if upper >= values[cell] + k - 1 - TOL else self._optimum(h, highspy.ObjSense.kMinimize, cell)
            out[int(cell)] = (lower, upper)
        return out

    @staticmethod
    def _optimum(h: highspy.Highs, sense, cell) -> float:
        h.changeObjectiveSense(sense)
        h.run()
        if h.getModelStatus() == highspy.HighsModelStatus.kUnbounded:
            return INF
        _check(h, f"intervalle de la cellule {cell}")
        return h.getInfo().objective_function_value


def blocks(cube: Cube) -> list[list[int]]:
    """Blocks of modalities to certify in, cheapest first.

    One dimension or one modality with `ensemble` held; then each multiple-response modality with
    `ensemble` free and one pivot modality per partition absorbing the change (the pivot is the
    modality with the most situations, hence the most room); then `ensemble` with every partition.
    """
    pairs, n_pairs = cube.pairs, len(cube.pairs)
    ens = pairs.index((TOTAL_CODE, TOTAL_CODE))
    totals = cube.x.reshape(-1, n_pairs).sum(axis=0)
    first, second, pivots = [], [], []
    for dim in cube.nomenclature.dimensions.values():
        members = [i for i, (d, _) in enumerate(pairs) if d == dim.code]
        if not members:
            continue
        if dim.relation in ("multiple", "independent"):
            first += [[m] for m in members]
        elif dim.relation == "partition":
            first.append(members)
            pivots.append(max(members, key=lambda m: (totals[m], -m)))
    for dim in cube.nomenclature.by_relation("multiple"):
        second += [[ens, m, *pivots] for m, (d, _) in enumerate(pairs) if d == dim.code]
    ensemble_block = [i for i, (d, _) in enumerate(pairs)
                      if d == TOTAL_CODE or cube.nomenclature.dimension(d).relation == "partition"]
    return first + second + [ensemble_block]


def _rule_holds(lower: float, upper: float, k: int) -> bool:
    return upper >= k - TOL and upper - lower >= k - 1 - TOL


def audit(cube: Cube, secret: np.ndarray, k: int, max_rounds: int = 60) -> AuditResult:
    start = time.perf_counter()
    values = cube.values
    todo = cells_to_protect(cube, secret, k)
    n_pairs = len(cube.pairs)
    remaining = np.zeros(cube.cells.height, dtype=bool)
    remaining[todo] = True
    everything = list(range(n_pairs))
    for block in [*blocks(cube), everything]:  # the whole system last, for what the blocks left
        system = None
        for _ in range(max_rounds):  # each round's witness certifies cells the previous ones could not
            cells = np.flatnonzero(remaining)
            cells = cells[np.isin(cells % n_pairs, block)]
            if not cells.size:
                break
            system = system or System(cube, secret, block)
            caps = values[cells] + k - 1
            reached = system.witness(cells, caps) >= caps - TOL
            remaining[cells[reached]] = False
            if not reached.any():
                break
        cells = np.flatnonzero(remaining)
        cells = cells[np.isin(cells % n_pairs, block)]
        if cells.size and system is not None and len(block) < n_pairs:
            # The block's interval lies inside the true one: if it satisfies the rule, so does the truth.
            for cell, (lo, up) in system.intervals(cells, k).items():
                if _rule_holds(lo, up, k):
                    remaining[cell] = False
    left = np.flatnonzero(remaining)
    certified = todo.size - left.size
    bounds = System(cube, secret, everything).intervals(left, k) if left.size else {}
    failures = np.array([c for c, (lo, up) in bounds.items() if not _rule_holds(lo, up, k)], dtype=np.int64)
    return AuditResult(k, todo.size, certified, len(bounds), failures, bounds, time.perf_counter() - start)
