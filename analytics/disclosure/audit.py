"""The attacker's view, by linear programming (HiGHS): is every small cell protected?

Everything published is used at once: every published value (an equation on the fine cells),
every secret (known to be >= 1, since zeros are published), the partitions (modalities add up
to `ensemble` in each service-month), the multiple-response dimensions (each <= `ensemble`),
and non-negativity. The time and geography trees live in the cube's support matrix.

Rule, for every cell with 1 <= value <= k-1 that is not published (secret or hidden):
U >= k and U - L >= k - 1, where [L, U] is the interval the attacker derives.

The audit proves the rule cell by cell, without one LP per cell over the whole system. Any table
y that satisfies everything the attacker knows lies inside his interval: L <= y_c <= U. So two
such tables, a low one and a high one, prove the rule for c when high_c >= k and
high_c - low_c >= k - 1.
- A high table maximises sum(min(y_c, cap_c)) with cap_c = max(k, low_c + k - 1), low_c the lowest
  value seen for c so far (its true value at first, then its value in any witness: the compensations
  of other cells' rises push many down), proving many cells at once; each round goes after the cells
  the previous ones could not reach. A low table, minimising the sum of small cells, is solved
  afterwards only for the cells a witness lifted to k but not to their cap.
- These LPs run on blocks (some service-months x some modalities) with every other fine cell
  held at its true value: a table feasible in a block is feasible in the whole system, so its
  proofs hold. Blocks go from small to large: each région, then the nation, in three tiers of
  modality groups (`modality_blocks`). Régions are independent jobs, run in worker processes.
- A cell no witness proved gets a last chance in its home block (its modality's tier-2 group over
  the nation for its quarter, or its région for the year), rounds run to the end. What is still
  unproven is reported failing, with the published cells that bind the block's last witness
  (non-zero LP duals) near it, and suppression frees it. On small tables the failures get their
  exact interval over the whole year first. The audit never calls a cell protected without a proof.
Adding secrets only relaxes the system, so proofs survive the repairs of suppression: `audit`
takes the cells already proven and only looks at the others.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import NamedTuple

import highspy
import numpy as np
import scipy.sparse as sp

from analytics.disclosure.cube import Cube
from analytics.formatting import fr_int
from analytics.nomenclature import TOTAL_CODE

INF = highspy.kHighsInf
TOL = 1e-6
MIN_ROUND_GAIN = 0.03  # share of a block's cells a witness round must certify to be worth another
MAX_ROUNDS = 30
EXACT_BUDGET = 2_000_000  # fine cells x cells: whole-year exact intervals below this size
EXACT_COLUMNS = 30_000  # and never over a whole year wider than this (one LP there takes seconds)
WIDE_CELLS = 40  # failures rechecked one by one over the nation when no more than this remain (about a second each)
UNIT_COLUMNS = 20_000  # a département or région for the year, every modality, is asked when no wider than this (a large région takes minutes)
UNIT_CELLS = 2_000  # and when no more cells than this fail in their home block (a quarter of it for régions)
NARROW_COLUMNS = 1_000  # a block this narrow runs its witness rounds to the end
PHASE_NAMES = ("nation par modalité", "régions", "nation par trimestre")  # the steps of `phases`
PARALLEL_COLUMNS = 50_000  # fine cells in a phase's blocks below which worker processes cost more than they save
WIDE_BLOCK = 5_000  # unless one block is this wide (tenths of a second and more per LP: the narrow pairs of régions are 7 000-10 000 wide)


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
    exact_lps: int  # cells given an interval one by one (in a block, or exact over the year)
    failures: np.ndarray  # cell ids not proven protected (breaking the rule, or only wide moves would save them)
    certified: np.ndarray  # bool per cell: proven protected (kept across repairs)
    bounds: dict[int, tuple[float, float]] = field(default_factory=dict)  # L, U where computed (inside the attacker's)
    binding: dict[int, np.ndarray] = field(default_factory=dict)  # failing cell -> published cells holding it
    seconds: float = 0.0
    lps: int = 0
    phase_seconds: dict[str, float] = field(default_factory=dict)  # where the time went: for the bench and the audit summary

    @property
    def ok(self) -> bool:
        return self.failures.size == 0


def cells_to_protect(cube: Cube, secret: np.ndarray, k: int) -> np.ndarray:
    values = cube.values
    published = cube.cells["publiable"].to_numpy() & ~secret
    return np.flatnonzero((values >= 1) & (values <= k - 1) & ~published)


def _cap(low, k: int):
    """The value a witness must lift a cell to, its lowest known value being `low`: the rule asks
    U >= k and U - L >= k - 1."""
    return np.maximum(k, low + k - 1)


def _solver(interior: bool = False) -> highspy.Highs:
    """A quiet single-threaded HiGHS. `interior`: the first solve by interior point with crossover
    (a vertex and its basis, so later solves still warm-start): on the « ensemble + partitions »
    blocks, highly degenerate, the dual simplex took five times longer; elsewhere it is the faster."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    if interior:
        h.setOptionValue("solver", "ipm")
        h.setOptionValue("run_crossover", "on")
    return h


def _pass(h: highspy.Highs, matrix, row_lo, row_up, col_lo, col_up, cost, maximise: bool) -> None:
    """Hand the LP to HiGHS as arrays (a HighsLp's fields copy each element: six times slower on a
    block); a CSR matrix goes row-wise as it is (HiGHS transposes it faster than scipy)."""
    rowwise = sp.issparse(matrix) and matrix.format == "csr"
    if not rowwise:
        matrix = sp.csc_matrix(matrix)
    n_row, n_col = matrix.shape
    floats = [np.ascontiguousarray(a, dtype=float) for a in (cost, col_lo, col_up, row_lo, row_up)]
    h.passModel(n_col, n_row, matrix.nnz,
                int(highspy.MatrixFormat.kRowwise if rowwise else highspy.MatrixFormat.kColwise),
                int(highspy.ObjSense.kMaximize if maximise else highspy.ObjSense.kMinimize), 0.0,
                *floats, matrix.indptr.astype(np.int32), matrix.indices.astype(np.int32),
                np.ascontiguousarray(matrix.data, dtype=float),
                np.zeros(n_col, dtype=np.int32))  # every column continuous: an LP


def _stack_rows(*parts) -> sp.csr_matrix:
    """CSR matrices of the same width, one under the other, without scipy's checks (thousands of
    small blocks: sp.vstack and sp.hstack cost more than their LPs)."""
    width = parts[0].shape[1]
    starts, offset = [np.zeros(1, dtype=np.int64)], 0
    for part in parts:
        starts.append(part.indptr[1:].astype(np.int64) + offset)
        offset += part.indptr[-1]
    return sp.csr_matrix((np.concatenate([p.data for p in parts]).astype(float),
                          np.concatenate([p.indices for p in parts]).astype(np.int32), np.concatenate(starts)),
                         shape=(sum(p.shape[0] for p in parts), width))


def _repeat(pattern: sp.csr_matrix, times: int) -> sp.csr_matrix:
    """kron(I_times, pattern): the pattern's rows for each service-month in turn, each on its own columns."""
    width, nnz = pattern.shape[1], pattern.nnz
    shift = np.arange(times, dtype=np.int64)[:, None]
    indptr = (pattern.indptr[:-1][None, :] + nnz * shift).ravel()
    return sp.csr_matrix((np.tile(pattern.data.astype(float), times), (pattern.indices[None, :] + width * shift).ravel(),
                          np.append(indptr, nnz * times)), shape=(pattern.shape[0] * times, width * times))


def _widened(matrix: sp.csr_matrix, width: int) -> sp.csr_matrix:
    """The same rows with empty columns appended up to `width`."""
    return sp.csr_matrix((matrix.data, matrix.indices, matrix.indptr), shape=(matrix.shape[0], width))


def _check(h: highspy.Highs, what: str) -> None:
    status = h.getModelStatus()
    if status != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"audit : {what} : {h.modelStatusToString(status)}")


class CubeIndex:
    """What every block needs from the cube, computed once."""

    def __init__(self, cube: Cube, secret: np.ndarray):
        self.cube = cube
        self.n_pairs = len(cube.pairs)
        self.n_sm = cube.service_months.height
        self.support_csc = cube.support.tocsc().astype(float)
        self.values = cube.values.astype(float)
        self.published = cube.cells["publiable"].to_numpy() & ~secret
        self.secret = secret
        self.x = cube.x.astype(float)
        # The service and the month of each service-month (the neighbourhoods of failing cells).
        sms = cube.service_months
        _, self.service_id = np.unique(sms["service"].to_numpy(), return_inverse=True)
        _, self.month_id = np.unique(sms["periode"].to_numpy(), return_inverse=True)
        self.service_of_sm = _indicator(self.service_id)
        self.month_of_sm = _indicator(self.month_id)
        # Each dimension present in the data with its modalities' positions among the pairs.
        positions = _positions(np.array([d for d, _ in cube.pairs]))
        self.members = [(dim, positions[dim.code].tolist()) for dim in cube.nomenclature.dimensions.values()
                        if dim.code in positions]


class System:
    """The attacker's equations on the fine cells of some service-months x some modalities.

    Every other fine cell is held at its true value, so the published cells that touch the block
    become equations (or, for secrets, `>= 1`) on the block's share of them.
    """

    def __init__(self, index: CubeIndex, sms: np.ndarray, block: np.ndarray, interior: bool = False):
        n_pairs = index.n_pairs
        self.index, self.interior = index, interior
        self.sms = np.asarray(sms, dtype=np.int64)
        self.block = np.asarray(sorted(block), dtype=np.int64)
        self.cols = _fine_cells(self.sms, self.block, n_pairs)
        by_column = index.support_csc[:, self.cols]
        self.touching = np.unique(by_column.indices)  # cells whose value the block can move
        S = sp.csc_matrix((by_column.data, np.searchsorted(self.touching, by_column.indices), by_column.indptr),
                          shape=(self.touching.size, self.cols.size)).tocsr()
        self.support = S
        xb = index.x[self.cols]
        share = S @ xb  # the block's part of each touching cell
        self.outside = index.values[self.touching] - share  # held part
        pub = index.published[self.touching]
        sec = index.secret[self.touching]
        need = sec & (1 - self.outside > TOL)  # a secret whose held part is already >= 1 adds nothing
        self.published_rows = self.touching[pub]  # cell id of each of the first rows
        rows = [S[pub], S[need]]
        lo = [share[pub], 1 - self.outside[need]]
        up = [share[pub], np.full(int(need.sum()), INF)]
        col_lo = np.zeros(self.cols.size)
        col_up = np.full(self.cols.size, INF)
        struct, s_lo, s_up = self._structure(col_lo, col_up)
        rows.append(struct)
        lo.append(s_lo)
        up.append(s_up)
        self.matrix = _stack_rows(*rows)
        self.row_lo, self.row_up = np.concatenate(lo), np.concatenate(up)
        self.col_lo, self.col_up = col_lo, col_up

    def _structure(self, col_lo, col_up):
        index, cube = self.index, self.index.cube
        n_pairs, n_sm = index.n_pairs, self.sms.size
        x = index.x.reshape(-1, n_pairs)[self.sms]
        pairs = cube.pairs
        in_block = np.zeros(n_pairs, dtype=bool)
        in_block[self.block] = True
        ens = pairs.index((TOTAL_CODE, TOTAL_CODE))
        local = {int(p): i for i, p in enumerate(self.block)}
        width = len(self.block)
        rows, lo, up = [], [], []
        for dim, members in index.members:
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
        return _repeat(sp.csr_matrix(np.array(rows)), n_sm), np.column_stack(lo).ravel(), np.column_stack(up).ravel()

    def local_rows(self, cells: np.ndarray) -> np.ndarray:
        """The rows of `cells` (cells touching the block) in `support`."""
        return np.searchsorted(self.touching, np.asarray(cells, dtype=np.int64))

    def low(self, cells: np.ndarray) -> np.ndarray:
        """A feasible table pushing `cells` down (minimum of their sum); their values in it."""
        rows = self.local_rows(cells)
        S_c = self.support[rows]
        h = _solver(self.interior)
        _pass(h, self.matrix, self.row_lo, self.row_up, self.col_lo, self.col_up, np.asarray(S_c.sum(axis=0)).ravel(), False)
        h.run()
        _check(h, "table témoin basse")
        y = np.asarray(h.getSolution().col_value)
        return self.outside[rows] + S_c @ y

    def _high_model(self, cells: np.ndarray, caps: np.ndarray) -> tuple[highspy.Highs, np.ndarray]:
        """The LP maximising sum(min(y_c, cap_c)): the block's columns y, then one term t_c <= cap_c
        per cell with t_c - S_c y <= outside_c. Returns the solver and the cells' rows in the block."""
        rows = self.local_rows(cells)
        S_c = self.support[rows]
        m, n = cells.size, self.cols.size
        # one row per cell: -S_c y, then its own term t_c
        indptr = S_c.indptr + np.arange(m + 1)
        own = indptr[1:] - 1
        data, indices = np.ones(S_c.nnz + m), np.empty(S_c.nnz + m, dtype=np.int32)
        rest = np.ones(S_c.nnz + m, dtype=bool)
        rest[own] = False
        data[rest], indices[rest], indices[own] = -S_c.data, S_c.indices, n + np.arange(m)
        terms = sp.csr_matrix((data, indices, indptr), shape=(m, n + m))
        matrix = _stack_rows(_widened(self.matrix, n + m), terms)
        h = _solver(self.interior)
        _pass(h, matrix,
              np.concatenate([self.row_lo, np.full(m, -INF)]), np.concatenate([self.row_up, self.outside[rows]]),
              np.concatenate([self.col_lo, np.zeros(m)]), np.concatenate([self.col_up, caps]),
              np.concatenate([np.zeros(n), np.ones(m)]), True)
        return h, rows

    def _values(self, h: highspy.Highs, rows: np.ndarray) -> np.ndarray:
        """The cells' values in the table the solver holds."""
        y = np.asarray(h.getSolution().col_value)[:self.cols.size]
        return self.outside[rows] + self.support[rows] @ y

    def high_rounds(self, cells: np.ndarray, lows: np.ndarray, k: int, min_gain: float,
                    last: dict | None = None) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
        """High tables round after round on one model: each round drops the cells certified so far
        (their term bounded to 0), so HiGHS goes on from the last basis instead of solving anew.

        A cell is certified once some witness holds it at its cap max(k, low + k - 1), `low` being the
        lowest value seen for it: `lows` at first, then any lower value in a round's witness (the
        compensations of other cells' rises push many down), the caps of the cells left lowered to
        match between rounds. Returns (cells certified, LPs solved, each cell's highest and lowest values
        over the witnesses).
        `last`, when given and cells are left uncertified, receives them, their values in a witness that
        maximised over exactly them and the published cells binding it (non-zero duals): the last round
        when it certified nothing, else one more solve on the same model (warm)."""
        lowest = np.asarray(lows, dtype=float).copy()
        caps = _cap(lowest, k)
        h, rows = self._high_model(cells, caps)
        active = np.ones(cells.size, dtype=bool)
        reached = np.zeros(cells.size, dtype=bool)
        best = np.full(cells.size, -INF)
        certified, lps = [], 0

        def solve_round() -> np.ndarray:
            """Drop the cells the last round certified (term bounded to 0), lower the caps a lower value
            allows, solve on from the last basis, certify the cells at their cap; the values of the cells
            in this round's witness."""
            nonlocal lps, reached, caps
            if reached.any():
                dropped = (np.flatnonzero(reached) + self.cols.size).astype(np.int32)
                h.changeColsBounds(dropped.size, dropped, np.zeros(dropped.size), np.zeros(dropped.size))
            lowered = active & (_cap(lowest, k) < caps - TOL)
            if lowered.any():
                caps = np.where(lowered, _cap(lowest, k), caps)
                moved = np.flatnonzero(lowered)
                h.changeColsBounds(moved.size, (moved + self.cols.size).astype(np.int32), np.zeros(moved.size), caps[moved])
            h.run()
            _check(h, "table témoin haute")
            if self.interior:
                h.setOptionValue("solver", "simplex")  # the next rounds go on from this basis
            lps += 1
            values = self._values(h, rows)
            np.maximum(best, values, out=best)
            np.minimum(lowest, values, out=lowest)
            reached = active & (best >= _cap(lowest, k) - TOL)
            certified.append(cells[reached])
            active[reached] = False
            return values

        for _ in range(MAX_ROUNDS):  # each round's witness certifies cells the previous ones could not
            before = int(active.sum())
            values = solve_round()
            # A round that certifies little means the block has given what it can: later blocks are wider.
            if not active.any() or reached.sum() < max(1, min_gain * before):
                break
        if last is not None and active.any():
            if reached.any():  # stopped on a small gain or after MAX_ROUNDS: one more solve over exactly the cells left
                values = solve_round()
            duals = np.asarray(h.getSolution().row_dual)[:self.published_rows.size]
            last.update(cells=cells[active], values=values[active], binding=self.published_rows[np.abs(duals) > TOL])
        return np.concatenate(certified), lps, best, lowest

    def intervals(self, cells: np.ndarray, k: int, binding: dict | None = None) -> dict[int, tuple[float, float]]:
        """[L, U] of each cell over this system, warm-started; L is skipped when U alone proves the rule.

        For a cell that breaks the rule, `binding[cell]` receives the published cells whose equations
        hold U down (non-zero duals at the maximum): suppressing one of them is what can free it."""
        n = self.cols.size
        h = _solver()
        _pass(h, self.matrix, self.row_lo, self.row_up, self.col_lo, self.col_up, np.zeros(n), False)
        # A first feasible basis with presolve and the dual simplex: ten times faster on a national
        # block than the primal simplex without presolve (about 10 s against 110 s for 23 000 columns).
        h.run()
        _check(h, "système de l'attaquant")
        h.setOptionValue("presolve", "off")  # many objectives on one polytope: keep the basis between solves
        h.setOptionValue("simplex_strategy", 4)  # primal simplex: the previous basis stays feasible
        out = {}
        everything = np.arange(n, dtype=np.int32)
        values = self.index.values
        for cell, row in zip(cells, self.local_rows(cells)):
            sel = self.support[int(row)]
            cost = np.zeros(n)
            cost[sel.indices] = sel.data
            h.changeColsCost(n, everything, cost)
            base = float(self.outside[row])
            upper = base + self._optimum(h, highspy.ObjSense.kMaximize, cell)
            if upper >= values[cell] + k - 1 - TOL:
                lower = float(values[cell])
            else:
                duals = np.asarray(h.getSolution().row_dual)[:self.published_rows.size]
                lower = base + self._optimum(h, highspy.ObjSense.kMinimize, cell)
                if binding is not None and not _rule_holds(lower, upper, k):
                    binding[int(cell)] = self.published_rows[np.abs(duals) > TOL]
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


def modality_blocks(cube: Cube) -> tuple[list[list[int]], list[list[int]], list[list[int]]]:
    """Groups of modalities to certify in, in three tiers of growing size.

    1. `ensemble` held: each multiple-response or independent modality alone; each partition.
    2. `ensemble` free, with one pivot per partition absorbing its change (the modality with the
       most situations, hence the most room): each multiple-response modality; each partition
       whole; `ensemble` alone (for the `ensemble` cells themselves).
    3. `ensemble` with every partition whole.
    """
    pairs, n_pairs = cube.pairs, len(cube.pairs)
    ens = pairs.index((TOTAL_CODE, TOTAL_CODE))
    totals = cube.x.reshape(-1, n_pairs).sum(axis=0)
    first, second, pivots, partitions, multiples = [], [], [], [], []
    for dim in cube.nomenclature.dimensions.values():
        members = [i for i, (d, _) in enumerate(pairs) if d == dim.code]
        if not members:
            continue
        if dim.relation in ("multiple", "independent"):
            first += [[m] for m in members]
            multiples += members if dim.relation == "multiple" else []
        elif dim.relation == "partition":
            first.append(members)
            partitions.append(members)
            pivots.append(max(members, key=lambda m: (totals[m], -m)))
    second = [sorted({ens, m, *pivots}) for m in multiples]
    second += [sorted({ens, *members, *pivots}) for members in partitions]
    second.append(sorted({ens, *pivots}))
    return first, second, [sorted({ens, *(m for members in partitions for m in members)})]


def home_blocks(cube: Cube) -> dict[int, list[int]]:
    """For each modality, the tier-2 group it belongs to (independent ones: alone): where a cell no
    witness certified gets its interval."""
    first, second, _ = modality_blocks(cube)
    home: dict[int, list[int]] = {}
    for block in second:  # `ensemble` and the pivots are in several groups: the smallest wins
        for m in block:
            if m not in home or len(block) < len(home[m]):
                home[m] = block
    for block in first:
        for m in block:
            home.setdefault(m, block)
    return home


def _fine_cells(sms: np.ndarray, modalities, n_pairs: int) -> np.ndarray:
    """Fine-cell ids of some service-months x some modalities."""
    return (np.asarray(sms, dtype=np.int64)[:, None] * n_pairs + np.asarray(modalities, dtype=np.int64)[None, :]).ravel()


class Block(NamedTuple):
    """Some service-months x some modalities to certify in (`home_jobs` and `whole_unit_jobs` give plain
    (sms, modalities, home_to) tuples: `Block(*t)`)."""
    sms: np.ndarray
    modalities: list[int]
    home_to: np.ndarray | None = None  # a home block: only these cells, rounds to the end, intervals of the rest
    min_gain: float | None = None  # the rounds' stopping gain when not the default for the block's width
    interior: bool = False  # first solve by interior point (`_solver`)

    def fine_cells(self, n_pairs: int) -> np.ndarray:
        return _fine_cells(self.sms, self.modalities, n_pairs)


def phases(cube: Cube) -> list[list[list[tuple]]]:
    """Blocks to certify in: phases run one after the other; a phase is a list of jobs that may run
    in parallel; a job is a list of blocks tried in turn.

    1. The nation for the year, one modality at a time with `ensemble` held (a partition's
       modality with its pivot): narrow LPs whose rounds run to the end; most small cells are
       hidden service-months, freed by swaps between months and services.
    2. Each région alone, partitions whole, then tiers 2 and 3 (`ensemble` moving too): one job
       per région. Tier 3 starts by interior point (`_solver`).
    3. The nation for each quarter, tier 1 (région-months move within a quarter).
    National blocks stay narrow: an LP over every service and many modalities is slow, and what
    only wide moves protect is settled at home (`home_jobs`) and by suppression.
    Years never share an equation: each year is its own set of blocks.
    """
    sms = cube.service_months
    first, second, third = modality_blocks(cube)
    totals = cube.x.reshape(-1, len(cube.pairs)).sum(axis=0)
    narrow, wide = [], []
    for block in first:
        if len(block) == 1:
            narrow.append(block)
        else:  # a partition: each modality with the pivot, which absorbs the change
            wide.append(block)
            pivot = max(block, key=lambda m: (totals[m], -m))
            narrow += [sorted({m, pivot}) for m in block if m != pivot]
    period = sms["periode"].to_numpy()
    year = np.array([p[:4] for p in period])
    quarter = np.array([f"{p[:4]}-{(int(p[5:7]) - 1) // 3}" for p in period])
    region = sms["region"].to_numpy()
    by_year, regional, by_quarter = [], [], []
    for y in np.unique(year):
        in_year = year == y
        by_year += [[Block(np.flatnonzero(in_year), block, min_gain=0.0)] for block in narrow]
        regions = [np.flatnonzero(in_year & (region == r)) for r in np.unique(region[in_year])]
        regional += [[*(Block(r, block) for block in (*wide, *second)), *(Block(r, block, interior=True) for block in third)]
                     for r in regions]
        quarters = [np.flatnonzero(in_year & (quarter == q)) for q in np.unique(quarter[in_year])]
        by_quarter += [[Block(q, block) for q in quarters] for block in first]
    return [by_year, regional, by_quarter]


def _representatives(cube: Cube, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Cells with the same fine cells are one unknown (a département with one service, a région with
    one département): audit one of each. Returns (representatives, representative of each cell)."""
    keys = [cube.fine_cells(c).tobytes() for c in cells]
    first: dict[bytes, int] = {}
    owner = np.array([first.setdefault(key, int(c)) for key, c in zip(keys, cells)], dtype=np.int64)
    return np.array(sorted(set(first.values())), dtype=np.int64), owner


def _rule_holds(lower: float, upper: float, k: int) -> bool:
    return upper >= k - TOL and upper - lower >= k - 1 - TOL


# The state a forked worker reads (fork shares it without copying).
_job_state: dict = {}


def _witness_rounds(system: System, cells: np.ndarray, low: np.ndarray, k: int, min_gain: float,
                    last: dict | None = None) -> tuple[np.ndarray, int]:
    """High tables round after round, capped by the lows known so far and by any lower value the
    rounds' witnesses show; then a low table, only for the cells some witness lifted to k or more but
    not to their cap: for the others a lower low changes nothing (below k the rule fails whatever the
    low; at the cap they are proven). Returns (cells certified, LPs solved). Solving the low first, for
    every cell, took a fifth of the audit."""
    done, lps, best, lowest = system.high_rounds(cells, low[cells], k, min_gain, last)
    low[cells] = np.minimum(low[cells], lowest)
    hopeful = ~np.isin(cells, done) & (best >= k - TOL) & (low[cells] > 1 + TOL)
    if hopeful.any():
        lowering = cells[hopeful]
        low[lowering] = np.minimum(low[lowering], system.low(lowering))
        lps += 1
        proven = lowering[best[hopeful] >= _cap(low[lowering], k) - TOL]
        done = np.concatenate([done, proven])
    return done, lps


def _run_job(job: list[Block]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, dict, dict]:
    """Certify what the job's blocks can.

    Returns (certified cells, cells given a low, their low, LPs, intervals, binding cells); the
    last two only for a home job, whose blocks carry the cells they are home to, and which ends with
    the interval of every cell its witnesses could not certify.
    """
    index, remaining, low, k = (_job_state[key] for key in ("index", "remaining", "low", "k"))
    remaining, low = remaining.copy(), low.copy()
    hot = _job_state.get("hot")
    certified, lowered, lps, bounds, binding = [], {}, 0, {}, {}
    for sms, block, only, gain, interior in (Block(*b) for b in job):
        if hot is not None and not hot[_fine_cells(sms, block, index.n_pairs)].any():
            continue  # no cell left to prove sums any fine cell of this block: building its LP is wasted
        system = System(index, sms, np.asarray(block), interior)
        cells = system.touching[remaining[system.touching]]
        if only is not None:  # a home block: just the cells whose home it is
            cells = cells[np.isin(cells, only)]
        if not cells.size:
            continue
        # Narrow blocks are cheap: go on while rounds certify anything at all.
        if gain is not None:
            min_gain = gain
        else:
            min_gain = 0.0 if only is not None or system.cols.size < NARROW_COLUMNS else MIN_ROUND_GAIN
        last: dict = {}
        done, count = _witness_rounds(system, cells, low, k, min_gain, last if only is not None else None)
        lowered.update({int(c): low[c] for c in cells})
        remaining[done] = False
        certified.append(done)
        lps += count
        rest = cells[remaining[cells]]
        if only is not None and rest.size:
            # Left below their cap even here: reported failing (a block's witnesses lie inside the
            # attacker's interval, so this is on the safe side), with the published cells binding
            # this block's last witness near each of them as the complements to try.
            near = _near(index, np.unique(last["binding"]).astype(np.int64))
            for cell, value in zip(last["cells"], last["values"]):
                if remaining[cell]:  # not proven by the low table that followed the rounds
                    bounds[int(cell)] = (float(low[cell]), float(value))
                    binding[int(cell)] = near(int(cell))
    done = np.concatenate(certified) if certified else np.zeros(0, dtype=np.int64)
    keys = np.fromiter(lowered, dtype=np.int64, count=len(lowered))
    return done, keys, np.array([lowered[int(c)] for c in keys], dtype=float), lps, bounds, binding


def _hot(cube: Cube, remaining: np.ndarray) -> np.ndarray:
    """Fine cells summed by some cell still to prove (a block without any has nothing to do)."""
    hot = np.zeros(cube.n_fine, dtype=bool)
    rows = cube.support[np.flatnonzero(remaining)]
    hot[rows.indices] = True
    return hot


def _in_workers(jobs: list[list[Block]], workers: int, **state) -> list:
    """Run the jobs, in forked worker processes when there are several and enough work in them (they
    read `state` as the parent left it: fork shares it without copying). Work is counted in fine cells,
    not in cells to prove: a repair audit's last few cells still ask for whole régions, seconds each."""
    _job_state.update(state)
    try:
        columns = [len(sms) * len(modalities) for job in jobs for sms, modalities, *_ in job]
        if workers <= 1 or len(jobs) <= 1 or (sum(columns) < PARALLEL_COLUMNS and max(columns) < WIDE_BLOCK):
            return [_run_job(job) for job in jobs]
        import multiprocessing

        with multiprocessing.get_context("fork").Pool(workers) as pool:
            return pool.map(_run_job, jobs, chunksize=1)
    finally:
        _job_state.clear()


def audit(cube: Cube, secret: np.ndarray, k: int, certified: np.ndarray | None = None, workers: int | None = None,
          progress=None) -> AuditResult:
    """Check the rule for every small unpublished cell; `certified` (from a previous audit of a
    pattern with fewer secrets) is trusted, since adding secrets only widens the attacker's intervals.
    `progress(fraction, label)` hears of each phase."""
    start = time.perf_counter()
    progress = progress or (lambda _fraction, _label: None)
    values = cube.values
    todo = cells_to_protect(cube, secret, k)
    index = CubeIndex(cube, secret)
    proven = np.zeros(cube.cells.height, dtype=bool) if certified is None else certified.copy()
    unknowns, owner = _representatives(cube, todo[~proven[todo]])
    remaining = np.zeros(cube.cells.height, dtype=bool)
    remaining[unknowns] = True
    low = values.astype(float).copy()  # the true table is a low witness for every cell
    lps = 0
    if workers is None:
        workers = default_workers()
    steps = phases(cube)
    timing: dict[str, float] = {}
    clock = time.perf_counter()
    for step, jobs in enumerate(steps):
        if not remaining.any():
            break
        progress(step / (len(steps) + 1), f"audit : {fr_int(int(remaining.sum()))} cellules à prouver, étape {step + 1} sur {len(steps) + 1}")
        hot = _hot(cube, remaining)
        jobs = [job for job in jobs if any(hot[b.fine_cells(index.n_pairs)].any() for b in job)]
        for done, keys, lows, count, _, _ in _in_workers(jobs, workers, index=index, remaining=remaining, low=low, k=k,
                                                          hot=hot):
            remaining[done] = False
            low[keys] = np.minimum(low[keys], lows)
            lps += count
        timing[PHASE_NAMES[step] if step < len(PHASE_NAMES) else f"étape {step + 1}"], clock = time.perf_counter() - clock, time.perf_counter()
    # What no block certified: witnesses, then intervals, in each cell's home block.
    bounds: dict[int, tuple[float, float]] = {}
    binding: dict[int, np.ndarray] = {}
    progress(len(steps) / (len(steps) + 1), f"audit : {fr_int(int(remaining.sum()))} cellules à prouver, dernière étape")
    jobs = home_jobs(cube, np.flatnonzero(remaining))
    for done, _, _, count, job_bounds, job_binding in _in_workers(jobs, workers, index=index, remaining=remaining, low=low, k=k):
        remaining[done] = False
        lps += count
        bounds.update(job_bounds)
        binding.update(job_binding)
    timing["rattachement"], clock = time.perf_counter() - clock, time.perf_counter()
    # A tier-2 block holds the other modalities: a cell of a service whose pivots are zero cannot
    # move there, though its whole département (every modality) lets it. Ask there, then in the région
    # with another one (the région alone proved nothing the pair did not: measured on the national year).
    # Wide blocks cost seconds each: only for the few failures of the repair rounds (on a first audit
    # nearly every failure is real, and needs a complement anyway).
    for level, label, most in (("departement", "département entier", UNIT_CELLS), ("pair", "région et une autre", UNIT_CELLS // 4)):
        failing = np.array(sorted(c for c, (lo, up) in bounds.items() if not _rule_holds(lo, up, k)), dtype=np.int64)
        jobs = whole_unit_jobs(cube, failing, level) if failing.size <= most else []
        for done, _, _, count, job_bounds, job_binding in _in_workers(jobs, workers, index=index, remaining=remaining,
                                                                      low=low, k=k):
            remaining[done] = False
            lps += count
            for cell in done:
                bounds.pop(int(cell), None)
                binding.pop(int(cell), None)
            bounds.update(job_bounds)
            binding.update(job_binding)
        timing[label], clock = time.perf_counter() - clock, time.perf_counter()
    _widen(cube, index, bounds, binding, k)
    timing["revérification élargie"] = time.perf_counter() - clock
    bad = {c for c, (lo, up) in bounds.items() if not _rule_holds(lo, up, k)}
    unchecked = todo[~proven[todo]]
    failures = np.array(sorted(int(c) for c, o in zip(unchecked, owner) if o in bad), dtype=np.int64)
    for c, o in zip(unchecked, owner):  # a duplicate shares its representative's interval and binding cells
        if o in bounds:
            bounds[int(c)] = bounds[int(o)]
        if o in binding:
            binding[int(c)] = binding[int(o)]
    proven[todo] = True
    proven[failures] = False
    certified_now = todo.size - failures.size - len({int(o) for o in owner if o in bounds and o not in bad})
    return AuditResult(k, todo.size, certified_now, len(bounds), failures, proven, bounds, binding,
                       time.perf_counter() - start, lps, timing)


def _near(index: CubeIndex, candidates: np.ndarray):
    """cell -> the candidates that share its modality (or `ensemble`) and one of its services or months.

    A candidate's fine cells all have one pair: it is near when that pair is the cell's or `ensemble` and
    one of its service-months has one of the cell's services or months (asked for thousands of failing
    cells of a home block: matrix products, not a slice of the support per cell)."""
    cube, n_pairs = index.cube, index.n_pairs
    ens = cube.pairs.index((TOTAL_CODE, TOTAL_CODE))
    support = cube.support[candidates]
    sm_of = sp.csr_matrix((np.ones(support.nnz, dtype=bool), support.indices // n_pairs, support.indptr),
                          shape=(candidates.size, index.n_sm))
    services = (sm_of @ index.service_of_sm).toarray() > 0  # candidate x service
    months = (sm_of @ index.month_of_sm).toarray() > 0
    pair = support.indices[support.indptr[:-1]] % n_pairs if candidates.size else np.zeros(0, dtype=np.int64)

    def near(cell: int) -> np.ndarray:
        if not candidates.size:
            return candidates
        fine = cube.fine_cells(cell)
        own = np.unique(fine // n_pairs)
        hit = services[:, np.unique(index.service_id[own])].any(axis=1) | months[:, np.unique(index.month_id[own])].any(axis=1)
        return candidates[hit & ((pair == fine[0] % n_pairs) | (pair == ens))]

    return near


def _indicator(ids: np.ndarray) -> sp.csr_matrix:
    """One row per position, a one in the column of its id."""
    return sp.csr_matrix((np.ones(ids.size, dtype=bool), (np.arange(ids.size), ids)), shape=(ids.size, int(ids.max()) + 1))


def _positions(labels: np.ndarray) -> dict:
    """label -> the positions holding it."""
    order = np.argsort(labels, kind="stable")
    keys, starts = np.unique(labels[order], return_index=True)
    return dict(zip(keys.tolist(), np.split(order, starts[1:])))


def home_jobs(cube: Cube, cells: np.ndarray) -> list[list[tuple]]:
    """Where the cells no witness certified get a last chance, with rounds run to the end and then
    an interval each: their modality's tier-2 group over the nation for their quarter (months
    swap across régions within a quarter), or, for a cell spanning quarters, over their région
    (the nation if it spans régions) for the year. One job per block."""
    n_pairs, sms = len(cube.pairs), cube.service_months
    period = sms["periode"].to_numpy()
    year = np.array([p[:4] for p in period])
    quarter = np.array([f"{p[:4]}-{(int(p[5:7]) - 1) // 3}" for p in period])
    region = sms["region"].to_numpy()
    home = home_blocks(cube)
    groups: dict[tuple, list[int]] = {}
    if cells.size:
        # each cell's first service-month, and whether its service-months share one quarter, one région
        rows = cube.support[cells]
        first_fine = rows.indices[rows.indptr[:-1]]
        quarter_id, region_id = np.unique(quarter, return_inverse=True)[1], np.unique(region, return_inverse=True)[1]
        sm_of, starts = rows.indices // n_pairs, rows.indptr[:-1]

        def one(ids: np.ndarray) -> np.ndarray:
            return np.minimum.reduceat(ids[sm_of], starts) == np.maximum.reduceat(ids[sm_of], starts)

        one_quarter, one_region = one(quarter_id), one(region_id)
        for cell, fine, in_one_quarter, in_one_region in zip(cells.tolist(), first_fine.tolist(), one_quarter, one_region):
            sm = fine // n_pairs
            key = (None, None, quarter[sm]) if in_one_quarter else (year[sm], region[sm] if in_one_region else None, None)
            groups.setdefault((*key, tuple(home[fine % n_pairs])), []).append(cell)
    jobs = []
    for (in_year, in_region, in_quarter, block), group in groups.items():
        if in_quarter is not None:
            chosen = quarter == in_quarter
        else:
            chosen = (year == in_year) & ((region == in_region) if in_region is not None else True)
        jobs.append([(np.flatnonzero(chosen), list(block), np.array(sorted(group), dtype=np.int64))])
    return jobs


def whole_unit_jobs(cube: Cube, cells: np.ndarray, level: str) -> list[list[tuple]]:
    """One job per (year, département or région) holding failing cells that lie inside it, the cells as
    the block's own (rounds to the end, then the binding cells of what is left). Units wider than
    UNIT_COLUMNS fine cells are left to `_widen`.

    `level="departement"`: every modality of the département for the year.
    `level="pair"`: a région with the largest other région that keeps the block within UNIT_COLUMNS, or
    alone when none does. A région with one service and a few active months (Mayotte) has its months
    pinned by the national months; only another région's months can swap with them. The block holds
    `ensemble`, every partition and the cells' own modalities, not the other multiple-response or
    independent ones: a rise of `ensemble` must be absorbed in each partition, while the others mostly
    stay below it untouched (on the national year's repairs: 67 of the 69 cells proven in a third of
    the time). Held, they can keep `ensemble` from falling where it compensates: what this block leaves
    is rechecked with every modality by `_widen` when few cells remain. The partner is still chosen
    counting every modality: larger partners proved more cells but took longer than the repairs they
    saved."""
    n_pairs, sms = len(cube.pairs), cube.service_months
    year = sms["periode"].str.slice(0, 4).to_numpy()
    unit = sms["region" if level == "pair" else level].to_numpy()
    groups: dict[tuple, list[int]] = {}
    for cell in cells:
        own = np.unique(cube.fine_cells(int(cell)) // n_pairs)
        units = np.unique(unit[own])
        if units.size == 1:
            groups.setdefault((year[own[0]], units[0]), []).append(int(cell))
    always = modality_blocks(cube)[2][0] if level == "pair" else list(range(n_pairs))  # with the cells' own
    jobs = []
    for (in_year, in_unit), group in sorted(groups.items()):
        modalities = sorted(set(always) | {int(cube.fine_cells(c)[0] % n_pairs) for c in group})
        chosen = np.flatnonzero((year == in_year) & (unit == in_unit))
        if level == "pair":
            sizes = {r: int(((year == in_year) & (unit == r)).sum()) for r in np.unique(unit) if r != in_unit}
            fitting = [r for r, n in sizes.items() if (n + chosen.size) * n_pairs <= UNIT_COLUMNS]
            if fitting:
                partner = max(fitting, key=lambda r: (sizes[r], r))
                chosen = np.flatnonzero((year == in_year) & np.isin(unit, [in_unit, partner]))
        if chosen.size * len(modalities) <= UNIT_COLUMNS:
            jobs.append([(chosen, modalities, np.array(group, dtype=np.int64))])
    return jobs


def _recheck(system: System, cells: np.ndarray, k: int, bounds: dict, binding: dict) -> None:
    """Intervals of failing cells in a wider system: a pass replaces the failure; a failure keeps its
    interval but takes the binding cells found here when there are any."""
    wider: dict[int, np.ndarray] = {}
    for cell, (lo, up) in system.intervals(cells, k, wider).items():
        if _rule_holds(lo, up, k):
            bounds[cell] = (lo, up)
            binding.pop(cell, None)
        elif wider.get(cell) is not None and wider[cell].size:
            binding[cell] = wider[cell]


def _widen(cube: Cube, index: CubeIndex, bounds: dict, binding: dict, k: int) -> None:
    """Recheck the home-block failures in wider systems while that stays affordable: when few
    remain, each in its modality's tier-2 group over the nation for the year, then with every
    modality over its région and the largest other one; on small tables, the whole year (exact). A cell that only wide moves protect is then not suppressed around for
    nothing, and a cell no suppression near it can free still finds its proof."""
    def failing() -> np.ndarray:
        return np.array(sorted(c for c, (lo, up) in bounds.items() if not _rule_holds(lo, up, k)), dtype=np.int64)

    year = cube.service_months["periode"].str.slice(0, 4).to_numpy()
    cells = failing()
    if 0 < cells.size <= WIDE_CELLS:
        home = home_blocks(cube)
        groups: dict[tuple, list[int]] = {}
        for cell in cells:
            fine = cube.fine_cells(cell)
            groups.setdefault((year[int(fine[0] // index.n_pairs)], tuple(home[int(fine[0] % index.n_pairs)])), []).append(int(cell))
        for (y, block), members in groups.items():
            system = System(index, np.flatnonzero(year == y), np.array(block))
            if system.cols.size > EXACT_COLUMNS:  # a wide partition over the nation: about 40 s a cell
                continue
            _recheck(system, np.array(members), k, bounds, binding)
    cells = failing()
    if 0 < cells.size <= WIDE_CELLS:
        # A cell of a small région (an overseas one has a single service) may need every modality
        # of its région and of a large one together: that pair of régions, for the year, exactly.
        region = cube.service_months["region"].to_numpy()
        sizes = {r: int((region == r).sum()) for r in np.unique(region)}
        pairs_of: dict[tuple, list[int]] = {}
        for cell in cells:
            fine = cube.fine_cells(cell)
            own = np.unique(region[np.unique(fine // index.n_pairs)])
            if own.size != 1:
                continue
            partner = max((r for r in sizes if r != own[0]), key=lambda r: (sizes[r], r), default=None)
            if partner is not None:
                pairs_of.setdefault((year[int(fine[0] // index.n_pairs)], own[0], partner), []).append(int(cell))
        for (y, own, partner), members in pairs_of.items():
            chosen = np.flatnonzero((year == y) & np.isin(region, [own, partner]))
            system = System(index, chosen, np.arange(index.n_pairs))
            if system.cols.size > EXACT_COLUMNS:
                continue
            _recheck(system, np.array(members), k, bounds, binding)
    cells = failing()
    for y in np.unique(year):
        if not cells.size:
            return
        system = System(index, np.flatnonzero(year == y), np.arange(index.n_pairs))
        mine = cells[np.isin(cells, system.touching)]
        if not mine.size or system.cols.size > EXACT_COLUMNS or system.cols.size * mine.size > EXACT_BUDGET:
            continue
        for cell in mine:
            binding.pop(int(cell), None)
        bounds.update(system.intervals(mine, k, binding))


def default_workers() -> int:
    import os

    setting = os.environ.get("VIGIE_WORKERS")
    return max(1, int(setting)) if setting else max(1, min(4, os.cpu_count() or 1))
