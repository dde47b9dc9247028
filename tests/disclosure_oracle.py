"""An independent attacker for the disclosure tests, written from the rules (not from analytics.disclosure.audit).

The attacker's unknowns are the fine cells (service-month x (dimension, modalité)) of the cube. What
the attacker knows, as linear constraints:
- every published cell (publishable and not secret): its value, an equation on the fine cells it sums;
- every secret publishable cell is >= 1 (zeros are always published);
- in each service-month, the modalities of a `partition` dimension add up to `ensemble`;
- in each service-month, each modality of a `multiple` dimension is <= `ensemble`;
- `independent` dimensions: nothing;
- every fine cell is >= 0.
The geography tree (service < département < région < national) and the time tree (month < quarter <
year) are in the cube's support matrix: a cell's row lists the fine cells it sums. Each cell's
interval [L, U] is computed with scipy.optimize.linprog(method="highs") (one LP for each bound).

Rule, for every cell with 1 <= value <= k-1 that is not published: U >= k and U - L >= k - 1.
Shortcut (sound, not a heuristic): L <= value always (the true table is feasible), so when
U >= value + k - 1 the rule holds and L is not computed.

Also here: small helpers to write tiny presets and fine frames for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import scipy.sparse as sp
import yaml
from scipy.optimize import linprog

TOL = 1e-6
ENSEMBLE = "ensemble"


# --------------------------------------------------------------------------- the attacker


@dataclass
class AttackerSystem:
    """min/max c.x subject to A_eq x = b_eq, A_ub x <= b_ub, x >= 0."""

    a_eq: sp.csr_matrix
    b_eq: np.ndarray
    a_ub: sp.csr_matrix
    b_ub: np.ndarray
    support: sp.csr_matrix
    n: int


def _published_mask(cube, secret: np.ndarray) -> np.ndarray:
    publishable = cube.cells["publiable"].to_numpy().astype(bool)
    return publishable & ~np.asarray(secret, dtype=bool)


def attacker_system(cube, secret: np.ndarray) -> AttackerSystem:
    secret = np.asarray(secret, dtype=bool)
    cells = cube.cells
    publishable = cells["publiable"].to_numpy().astype(bool)
    published = publishable & ~secret
    known_secret = publishable & secret  # a suppressed publishable cell is known to be >= 1
    # What the attacker reads: the published table itself (the `valeur` column of published cells).
    values = cells["valeur"].to_numpy().astype(float)
    support = sp.csr_matrix(cube.support, dtype=float)
    n = support.shape[1]
    n_sm = cube.service_months.height
    pairs = list(cube.pairs)
    n_pairs = len(pairs)
    assert n == n_sm * n_pairs == cube.x.size
    ens = pairs.index((ENSEMBLE, ENSEMBLE))

    eq_rows = [support[np.flatnonzero(published)]]
    eq_rhs = [values[published]]
    ub_rows = [-support[np.flatnonzero(known_secret)]]
    ub_rhs = [-np.ones(int(known_secret.sum()))]

    sm = np.arange(n_sm)
    for dim in cube.nomenclature.dimensions.values():
        members = [i for i, (d, _) in enumerate(pairs) if d == dim.code]
        if dim.relation == "partition":
            # for each service-month: sum(members) - ensemble = 0
            r, c, v = [], [], []
            for m in members:
                r.append(sm), c.append(sm * n_pairs + m), v.append(np.ones(n_sm))
            r.append(sm), c.append(sm * n_pairs + ens), v.append(-np.ones(n_sm))
            eq_rows.append(sp.csr_matrix((np.concatenate(v), (np.concatenate(r), np.concatenate(c))), shape=(n_sm, n)))
            eq_rhs.append(np.zeros(n_sm))
        elif dim.relation == "multiple":
            # for each service-month and modality: modality - ensemble <= 0
            for m in members:
                rows = np.concatenate([sm, sm])
                cols = np.concatenate([sm * n_pairs + m, sm * n_pairs + ens])
                vals = np.concatenate([np.ones(n_sm), -np.ones(n_sm)])
                ub_rows.append(sp.csr_matrix((vals, (rows, cols)), shape=(n_sm, n)))
                ub_rhs.append(np.zeros(n_sm))
        elif dim.relation in ("total", "independent"):
            pass
        else:  # pragma: no cover - a preset the oracle does not know
            raise ValueError(f"relation inconnue : {dim.relation}")

    return AttackerSystem(
        a_eq=sp.vstack(eq_rows, format="csr"), b_eq=np.concatenate(eq_rhs),
        a_ub=sp.vstack(ub_rows, format="csr"), b_ub=np.concatenate(ub_rhs),
        support=support, n=n,
    )


def _optimum(system: AttackerSystem, cost: np.ndarray) -> float:
    """min cost.x; -inf when unbounded. Raises when the attacker's system is infeasible."""
    res = linprog(
        cost,
        A_ub=system.a_ub if system.a_ub.shape[0] else None, b_ub=system.b_ub if system.a_ub.shape[0] else None,
        A_eq=system.a_eq if system.a_eq.shape[0] else None, b_eq=system.b_eq if system.a_eq.shape[0] else None,
        bounds=(0, None), method="highs",
    )
    if res.status == 3:
        return -np.inf
    if res.status != 0:
        raise AssertionError(f"attacker LP failed ({res.status}): {res.message}")
    return float(res.fun)


def interval(system: AttackerSystem, cell: int) -> tuple[float, float]:
    """[L, U] of one cell over every table the attacker cannot rule out."""
    cost = system.support[int(cell)].toarray().ravel()
    lower = _optimum(system, cost)
    upper = -_optimum(system, -cost)
    return lower, upper


def cells_to_check(cube, secret: np.ndarray, k: int) -> np.ndarray:
    values = cube.cells["valeur"].to_numpy()
    return np.flatnonzero((values >= 1) & (values <= k - 1) & ~_published_mask(cube, secret))


def rule_holds(lower: float, upper: float, k: int) -> bool:
    return upper >= k - TOL and upper - lower >= k - 1 - TOL


def violations(cube, secret: np.ndarray, k: int) -> list[tuple[int, float, float]]:
    """Every non-published cell with value in [1, k-1] whose attacker interval breaks the rule."""
    secret = np.asarray(secret, dtype=bool)
    system = attacker_system(cube, secret)
    values = cube.cells["valeur"].to_numpy()
    # The true table must be feasible: otherwise a zero was suppressed or a value is wrong.
    check_feasible(system, cube)
    out = []
    for cell in cells_to_check(cube, secret, k):
        cost = system.support[int(cell)].toarray().ravel()
        upper = -_optimum(system, -cost)
        if upper >= values[cell] + k - 1 - TOL:  # then L <= value <= U - (k-1): the rule holds
            continue
        lower = _optimum(system, cost)
        if not rule_holds(lower, upper, k):
            out.append((int(cell), lower, upper))
    return out


def check_feasible(system: AttackerSystem, cube) -> None:
    x = cube.x.astype(float)
    if system.a_eq.shape[0]:
        assert np.allclose(system.a_eq @ x, system.b_eq), "the true table breaks a published equation"
    if system.a_ub.shape[0]:
        assert (system.a_ub @ x <= system.b_ub + TOL).all(), "the true table breaks an attacker's inequality"


def describe(cube, cells: list[tuple[int, float, float]]) -> list[str]:
    """Readable violations for assertion messages."""
    rows = cube.cells
    out = []
    for cell, lo, up in cells:
        r = rows.row(cell, named=True)
        out.append(f"{r['geo_niveau']}:{r['geo_code']} {r['periode_niveau']}:{r['periode']} "
                   f"{r['dimension']}/{r['modalite']} = {r['valeur']} -> [{lo:g}, {up:g}]")
    return out


def naive_secret(cube, k: int) -> np.ndarray:
    """Primaries only: every publishable cell with 1 <= value <= k-1."""
    values = cube.cells["valeur"].to_numpy()
    return cube.cells["publiable"].to_numpy().astype(bool) & (values >= 1) & (values <= k - 1)


# --------------------------------------------------------------------------- tiny presets and tables


def write_preset(
    folder: Path,
    partitions: dict[str, tuple[str, ...]] | None = None,
    multiple: tuple[str, ...] = ("sante", "budget"),
    independent: tuple[str, ...] = ("alerte",),
    name: str = "mini.yaml",
) -> Path:
    """A small preset with the structure of data/nomenclature.yaml; returns its path."""
    partitions = {"axe": ("pro", "perso")} if partitions is None else partitions
    dims: dict = {
        "ensemble": {"libelle": "Ensemble des situations", "relation": "total",
                     "modalites": [{"code": "ensemble", "libelle": "Situations suivies"}]},
    }
    for code, mods in partitions.items():
        dims[code] = {"libelle": code, "relation": "partition",
                      "modalites": [{"code": m, "libelle": m} for m in mods]}
    if multiple:
        dims["problematique"] = {
            "libelle": "Problématiques", "relation": "multiple",
            "groupes": [{"code": "g1", "libelle": "Groupe 1"}, {"code": "g2", "libelle": "Groupe 2"}],
            "modalites": [{"code": m, "libelle": m, "groupe": "g1" if i % 2 == 0 else "g2"} for i, m in enumerate(multiple)],
        }
    if independent:
        dims["rps"] = {"libelle": "Indicateurs RPS", "relation": "independent",
                       "modalites": [{"code": m, "libelle": m} for m in independent]}
    raw = {
        "meta": {"code": "mini", "version": "1", "libelle": "Préréglage de test", "seuil_secret": 5, "unite": "situation"},
        "dimensions": dims,
        "types_service": [{"code": "ddtm", "libelle": "DDTM", "niveau": "departemental"},
                          {"code": "deal", "libelle": "DEAL", "niveau": "regional"}],
    }
    Path(folder).mkdir(parents=True, exist_ok=True)
    path = Path(folder) / name
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def fine_frame(rows: list[tuple[str, str, str, str, int]]) -> pl.DataFrame:
    """(periode, service, dimension, modalite, effectif) rows -> the fine frame build_cube expects."""
    return pl.DataFrame(rows, schema={"periode": pl.String, "service": pl.String, "dimension": pl.String,
                                      "modalite": pl.String, "effectif": pl.Int64}, orient="row")


def service_month(periode: str, service: str, ensemble: int, **dims: dict[str, int]) -> list[tuple]:
    """Rows of one service-month: ensemble plus {dimension: {modalite: effectif}}; zeros kept as rows."""
    rows = [(periode, service, ENSEMBLE, ENSEMBLE, ensemble)]
    for dim, mods in dims.items():
        rows += [(periode, service, dim, m, v) for m, v in mods.items()]
    return rows


def services_frame(mapping: dict[str, str]) -> pl.DataFrame:
    return pl.DataFrame({"service": list(mapping), "departement": list(mapping.values())})
