"""Primary and secondary suppression over the whole cube at once, repaired until the LP audit holds.

1. Primary: every publishable cell with 1 <= value <= k-1.
2. Local pass over every published equation (geography tree, time tree, partitions): a secret
   alone in an equation, or whose fellow secrets leave it less than k-1 of room, gets the
   cheapest complement (a non-zero publishable cell: small values and fine levels first,
   national and regional totals last). Repeated until nothing changes.
3. Audit (analytics.disclosure.audit) on everything published at once; each cell still at risk
   gets the cheapest complement among the published cells whose equations bind its maximum
   (non-zero LP duals), else among the cells it shares an equation with (or, for a hidden cell,
   the published cells touching its service-months). Repeated until the audit holds.
4. On systems small enough for exact intervals (analytics.disclosure.pruning), every secondary
   the pattern can spare is published again, most informative first; audited again.
Deterministic: same input, same pattern (costs tie-break on the cell number).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl
import scipy.sparse as sp

from analytics.disclosure.audit import AuditResult, audit
from analytics.disclosure.cube import Cube
from analytics.disclosure.levels import GEO_LEVELS, PERIOD_LEVELS, period_expr
from analytics.disclosure.pruning import affordable, prune
from analytics.nomenclature import TOTAL_CODE

GEO_WEIGHT = {"service": 1.0, "departement": 2.0, "region": 50.0, "national": 10_000.0}
PERIOD_WEIGHT = {"mois": 1.0, "trimestre": 1.5, "annee": 2.0}
MAX_REPAIRS = 100
STALLED_REPAIRS = 3  # repair rounds in a row that leave exactly the same failures before giving up
SHARED_COMPLEMENT = 3  # failing cells one new complement may stand for in a repair round, besides its own


@dataclass
class Protection:
    k: int
    primary: np.ndarray  # bool per cell
    secondary: np.ndarray  # bool per cell
    audit: AuditResult
    repairs: int
    given_back: int = 0  # secondaries published again by the pruning (small systems)
    audit_seconds: list = None  # each audit's seconds per phase, first audit then each repair

    @property
    def secret(self) -> np.ndarray:
        return self.primary | self.secondary


def costs(cube: Cube) -> np.ndarray:
    c = cube.cells
    geo = c["geo_niveau"].replace_strict(GEO_WEIGHT, return_dtype=pl.Float64).to_numpy()
    period = c["periode_niveau"].replace_strict(PERIOD_WEIGHT, return_dtype=pl.Float64).to_numpy()
    total = np.where(c["dimension"].to_numpy() == TOTAL_CODE, 3.0, 1.0)  # keep `ensemble` readable
    return (cube.values.astype(float) + 1.0) * geo * period * total


def equations(cube: Cube) -> list[np.ndarray]:
    """Published additive equations as arrays [parent, child, child, ...] of cell ids."""
    c = cube.cells.filter(pl.col("publiable"))
    key = ["geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite"]
    ids = c.select(*key, "cell")
    out: list[np.ndarray] = []
    sms = cube.service_months
    parent_geo = {
        "service": sms.select(pl.col("service").alias("code"), pl.col("departement").alias("parent")).unique(),
        "departement": sms.select(pl.col("departement").alias("code"), pl.col("region").alias("parent")).unique(),
        "region": sms.select(pl.col("region").alias("code"), pl.lit("FR").alias("parent")).unique(),
    }
    # Every ancestor level, not just the next published one: a level may be published for some
    # periods or dimensions and not others, and parent = sum of its descendants holds at any depth.
    published_geo = [g for g in GEO_LEVELS if g in set(c["geo_niveau"].unique().to_list())]
    for child_level, parent_level in [(a, b) for i, a in enumerate(published_geo) for b in published_geo[i + 1:]]:
        mapping = _chain(parent_geo, GEO_LEVELS, child_level, parent_level)
        children = c.filter(pl.col("geo_niveau") == child_level).join(mapping, left_on="geo_code", right_on="code")
        parents = ids.filter(pl.col("geo_niveau") == parent_level).rename({"geo_code": "parent", "cell": "parent_cell"}).drop("geo_niveau")
        out += _group(children.join(parents, on=["parent", "periode_niveau", "periode", "dimension", "modalite"]))
    published_periods = [p for p in PERIOD_LEVELS if p in set(c["periode_niveau"].unique().to_list())]
    for child_level, parent_level in [(a, b) for i, a in enumerate(published_periods) for b in published_periods[i + 1:]]:
        children = c.filter(pl.col("periode_niveau") == child_level).with_columns(period_expr(parent_level, pl.col("periode")).alias("parent"))
        parents = ids.filter(pl.col("periode_niveau") == parent_level).rename({"periode": "parent", "cell": "parent_cell"}).drop("periode_niveau")
        out += _group(children.join(parents, on=["geo_niveau", "geo_code", "parent", "dimension", "modalite"]))
    partitions = [d.code for d in cube.nomenclature.by_relation("partition")]
    totals = ids.filter(pl.col("dimension") == TOTAL_CODE).select("geo_niveau", "geo_code", "periode_niveau", "periode",
                                                                  pl.col("cell").alias("parent_cell"))
    members = c.filter(pl.col("dimension").is_in(partitions))
    joined = members.join(totals, on=["geo_niveau", "geo_code", "periode_niveau", "periode"])
    out += _group(joined, extra=["dimension"])
    return out


def _chain(parent_geo: dict, levels: tuple, child: str, parent: str) -> pl.DataFrame:
    """Map codes of `child` level to codes of the (possibly non-adjacent) `parent` level."""
    i, j = levels.index(child), levels.index(parent)
    mapping = parent_geo[levels[i]]
    for step in range(i + 1, j):
        mapping = mapping.join(parent_geo[levels[step]].rename({"code": "parent", "parent": "next"}), on="parent").select(
            "code", pl.col("next").alias("parent"))
    return mapping


def _group(joined: pl.DataFrame, extra: list[str] | None = None) -> list[np.ndarray]:
    if joined.is_empty():
        return []
    grouped = joined.group_by(["parent_cell", *(extra or [])]).agg(pl.col("cell").sort()).sort("parent_cell", *(extra or []))
    return [np.concatenate([[p], np.asarray(cs, dtype=np.int64)]) for p, cs in zip(grouped["parent_cell"], grouped["cell"])]


def _by_cost(candidates: np.ndarray, secret: np.ndarray, values: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """The candidates that can still be suppressed (published, non-zero), cheapest first (ties: lowest cell)."""
    ok = candidates[(~secret[candidates]) & (values[candidates] > 0)]
    return ok[np.lexsort((ok, cost[ok]))]


def _cheapest(candidates: np.ndarray, secret: np.ndarray, values: np.ndarray, cost: np.ndarray) -> int | None:
    ranked = _by_cost(candidates, secret, values, cost)
    return int(ranked[0]) if ranked.size else None


def _cheapest_several(want: int, secret: np.ndarray, values: np.ndarray, cost: np.ndarray, sources) -> list[int]:
    """The `want` cheapest possible complements, taken from each source of candidates in turn (a
    callable, so that wider sources are only computed when the narrower ones run out)."""
    chosen: list[int] = []
    for source in sources:
        ranked = _by_cost(np.asarray(source(), dtype=np.int64), secret, values, cost)
        chosen += ranked[~np.isin(ranked, chosen)][:want - len(chosen)].tolist()
        if len(chosen) >= want:
            break
    return chosen


def incidence(eqs: list[np.ndarray], n_cells: int) -> sp.csr_matrix:
    """Cells x equations: row c lists the equations cell c appears in."""
    sizes = np.array([eq.size for eq in eqs], dtype=np.int64)
    cells = np.concatenate(eqs) if eqs else np.zeros(0, dtype=np.int64)
    return sp.csr_matrix((np.ones(cells.size, dtype=bool), (cells, np.repeat(np.arange(len(eqs)), sizes))),
                         shape=(n_cells, len(eqs)))


def _equations_of(equations_of: sp.csr_matrix, cell: int) -> np.ndarray:
    return equations_of.indices[equations_of.indptr[cell]:equations_of.indptr[cell + 1]]


def local_pass(eqs: list[np.ndarray], secret: np.ndarray, values: np.ndarray, cost: np.ndarray, k: int,
               equations_of: sp.csr_matrix | None = None) -> int:
    """Give every secret of every equation room to move; returns the number of cells added.

    Sweeps over the equations in order until one changes nothing. An equation whose cells have not
    changed since it was last looked at would decide the same again: only the ones a new secret
    touches are looked at again (the same pattern as looking at every one, in a fraction of the time).
    `equations_of`: `incidence(eqs, secret.size)`, when the caller already has it."""
    if equations_of is None:
        equations_of = incidence(eqs, secret.size)
    dirty = [True] * len(eqs)
    added, changed = 0, True
    while changed:
        changed = False
        for i, eq in enumerate(eqs):
            if not dirty[i]:
                continue
            dirty[i] = False
            hidden = secret[eq]
            if not hidden.any():
                continue
            parent_secret, children = hidden[0], eq[1:]
            child_secret = children[secret[children]]
            room = (values[child_secret] - 1).sum()
            small = child_secret[(values[child_secret] >= 1) & (values[child_secret] <= k - 1)]
            needs = hidden.sum() == 1 or (not parent_secret and any(room - (values[c] - 1) < k - 1 for c in small))
            if not needs:
                continue
            pick = _cheapest(children, secret, values, cost)
            if pick is None:
                pick = _cheapest(eq[:1], secret, values, cost)
            if pick is None:
                continue
            secret[pick] = True
            for j in _equations_of(equations_of, pick):
                dirty[j] = True
            added += 1
            changed = True
    return added


class Neighbours:
    """Publishable cells touching the service-months of a cell, any modality (partitions link them).

    Built once per protection: slicing the support matrix by columns for each failing cell cost
    seconds per repair round on the national year (thousands of failures)."""

    def __init__(self, cube: Cube, publishable: np.ndarray):
        n_pairs, n_sm = len(cube.pairs), cube.service_months.height
        self.cube, self.n_pairs = cube, n_pairs
        support = cube.support.tocoo()
        keep = publishable[support.row]
        touch = sp.csr_matrix((np.ones(int(keep.sum()), dtype=np.int8), (support.col[keep] // n_pairs, support.row[keep])),
                              shape=(n_sm, cube.cells.height))
        touch.sum_duplicates()
        self.by_service_month = touch
        self._known: dict[bytes, np.ndarray] = {}  # the cells of one service-month serve each of its modalities

    def of(self, cell: int) -> np.ndarray:
        fine = self.cube.fine_cells(cell)
        if not fine.size:
            return np.zeros(0, dtype=np.int64)
        sms = np.unique(fine // self.n_pairs)
        key = sms.tobytes()
        if key not in self._known:
            self._known[key] = np.unique(self.by_service_month[sms].indices).astype(np.int64)
        return self._known[key]


def protect(cube: Cube, k: int, progress=None) -> Protection:
    values = cube.values
    publishable = cube.cells["publiable"].to_numpy()
    primary = publishable & (values >= 1) & (values <= k - 1)
    secret = primary.copy()
    cost = costs(cube)
    eqs = equations(cube)
    equations_of = incidence(eqs, secret.size)
    local_pass(eqs, secret, values, cost, k, equations_of)
    repairs = 0
    n_pairs = len(cube.pairs)
    pair_of = cube.support.indices[cube.support.indptr[:-1]] % n_pairs  # every cell has fine cells of one pair
    same_pair = [np.flatnonzero(publishable & (pair_of == p)) for p in range(n_pairs)]
    neighbours = Neighbours(cube, publishable)

    def fellows(cell: int) -> np.ndarray:
        """The cells sharing a published equation with `cell`; for a hidden cell, those touching its service-months."""
        mine = _equations_of(equations_of, cell)
        return np.unique(np.concatenate([eqs[i] for i in mine])) if mine.size else neighbours.of(cell)

    # National cells are the figures users look at first, and the LP duals of a hidden cell's witness
    # often name only national months (they pin every month's sum): a cell's first complements are
    # looked for below the nation; a cell that still fails after that may take national ones.
    national = cube.cells["geo_niveau"].to_numpy() == "national"
    result = audit(cube, secret, k, progress=progress)
    audits = [result.phase_seconds]
    previous, stalled = np.zeros(0, dtype=np.int64), 0
    failed_before = np.zeros(secret.size, dtype=np.int32)  # repair rounds in a row each cell has failed
    while not result.ok and repairs < MAX_REPAIRS:
        repairs += 1
        added, seen = 0, set()
        freed = np.zeros(secret.size, dtype=bool)
        served = np.zeros(secret.size, dtype=np.int32)
        for cell in result.failures:
            cell = int(cell)
            fine_cells = cube.fine_cells(cell).tobytes()
            if fine_cells in seen:  # the same fine cells seen at another level: one complement is enough
                continue
            seen.add(fine_cells)
            # The published cells whose equations hold the cell's maximum down (LP duals) first.
            binding = result.binding.get(cell, np.zeros(0, dtype=np.int64))
            want = int(failed_before[cell]) + 1  # a cell failing round after round gets more complements each round
            # a cell's first round keeps to cells below the nation (its own level aside), whatever the source
            below = (lambda found: found[~national[found]]) if want == 1 and not national[cell] else (lambda found: found)
            binding = below(binding)
            helping = binding[freed[binding] & (served[binding] < SHARED_COMPLEMENT)] if binding.size else binding
            if helping.size and want == 1:  # a complement picked this round already loosens it: let the next audit say
                served[helping[0]] += 1
                continue
            picks = _cheapest_several(want, secret, values, cost, (
                lambda: binding,
                lambda: below(fellows(cell)),
                lambda: below(neighbours.of(cell)),
                lambda: same_pair[pair_of[cell]],  # everything around is secret already: the modality's other cells
            ))
            secret[picks] = freed[picks] = True
            added += len(picks)
        if not added:  # nothing left to suppress around the failures: the audit verdict stands
            break
        stalled = stalled + 1 if np.array_equal(result.failures, previous) else 0
        failing = np.zeros(secret.size, dtype=bool)
        failing[result.failures] = True
        failed_before = np.where(failing, failed_before + 1, 0)
        if stalled >= STALLED_REPAIRS:  # complements keep coming but free nothing: the verdict stands
            break
        previous = result.failures
        local_pass(eqs, secret, values, cost, k, equations_of)
        result = audit(cube, secret, k, certified=result.certified, progress=progress)
        audits.append(result.phase_seconds)
    given_back = 0
    if result.ok and affordable(cube, secret, primary, k):
        if progress:
            progress(0.97, "secret : compléments superflus rendus")
        pruned = prune(cube, secret, primary, cost, k)
        if (pruned != secret).any():
            final = audit(cube, pruned, k)
            if final.ok:  # the block audit agrees with the exact check (it may be stricter)
                given_back = int((secret & ~pruned).sum())
                secret, result = pruned, final
    return Protection(k, primary, secret & ~primary, result, repairs, given_back, audits)
