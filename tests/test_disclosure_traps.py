"""The classic traps of cell suppression, each on a tiny hand-made table with a small preset.

For each trap: the protected pattern passes the independent oracle (tests/disclosure_oracle.py)
and analytics' own audit, and the naive pattern (primaries only) is caught by both.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics.disclosure.audit import audit
from analytics.disclosure.cube import Cube, build_cube
from analytics.disclosure.protect import protect_cells
from analytics.disclosure.published_set import DEFAULT_RULES, parse_published_set
from analytics.disclosure.suppression import protect
from analytics.nomenclature import load_nomenclature
from disclosure_oracle import (
    attacker_system,
    describe,
    interval,
    fine_frame,
    naive_secret,
    service_month,
    services_frame,
    violations,
    write_preset,
)

K = 5
JAN = "2025-01"
ALL_LEVELS_BY_YEAR = """
- {geo: national, periode: [annee]}
- {geo: region, periode: [annee]}
- {geo: departement, periode: [annee]}
- {geo: service, periode: [annee]}
"""


def _preset(tmp_path: Path, **kwargs):
    return load_nomenclature(write_preset(tmp_path, **kwargs))


def _cube(tmp_path: Path, rows: list[tuple], services: dict[str, str], published: str, **preset) -> Cube:
    return build_cube(fine_frame(rows), services_frame(services), _preset(tmp_path, **preset), parse_published_set(published))


def _cell(cube: Cube, geo: str, code: str, periode_niveau: str, periode: str, dimension: str, modalite: str) -> int:
    hit = cube.cells.filter(
        (pl.col("geo_niveau") == geo) & (pl.col("geo_code") == code) & (pl.col("periode_niveau") == periode_niveau)
        & (pl.col("periode") == periode) & (pl.col("dimension") == dimension) & (pl.col("modalite") == modalite)
    )["cell"]
    assert hit.len() == 1, (geo, code, periode_niveau, periode, dimension, modalite)
    return int(hit[0])


def _secret_cells(cube: Cube, secret: np.ndarray) -> list[str]:
    return describe(cube, [(int(c), np.nan, np.nan) for c in np.flatnonzero(secret)])


def assert_trap(cube: Cube, k: int = K) -> np.ndarray:
    """Protected pattern passes both checks; naive pattern fails both. Returns the protected secret."""
    naive = naive_secret(cube, k)
    naive_oracle = violations(cube, naive, k)
    assert naive_oracle, "the oracle should catch the naive pattern (primaries only)"
    assert not audit(cube, naive, k).ok, f"analytics' audit misses the naive pattern; oracle: {describe(cube, naive_oracle)}"

    p = protect(cube, k)
    np.testing.assert_array_equal(p.primary, naive)
    assert p.audit.ok
    found = violations(cube, p.secret, k)
    assert not found, f"protected pattern broken: {describe(cube, found)}; secrets: {_secret_cells(cube, p.secret)}"
    assert audit(cube, p.secret, k).ok
    values = cube.values
    assert not (p.secret & (values == 0)).any(), "a zero was suppressed"
    return p.secret


# --------------------------------------------------------------------------- traps


def _overseas(tmp_path: Path) -> Cube:
    """Guadeloupe: one région, one département (971), one service: région = département = service."""
    rows = (service_month(JAN, "DEAL-971", 3, axe={"pro": 3, "perso": 0}, problematique={"sante": 2, "budget": 0}, rps={"alerte": 0})
            + service_month(JAN, "DDTM-29", 12, axe={"pro": 6, "perso": 6}, problematique={"sante": 7, "budget": 6}, rps={"alerte": 9})
            + service_month(JAN, "DDTM-35", 9, axe={"pro": 5, "perso": 4}, problematique={"sante": 5, "budget": 8}, rps={"alerte": 6}))
    return _cube(tmp_path, rows, {"DEAL-971": "971", "DDTM-29": "29", "DDTM-35": "35"}, ALL_LEVELS_BY_YEAR)


def test_parent_with_a_single_child_overseas_region(tmp_path):
    cube = _overseas(tmp_path)
    service = _cell(cube, "service", "DEAL-971", "annee", "2025", "ensemble", "ensemble")
    dep = _cell(cube, "departement", "971", "annee", "2025", "ensemble", "ensemble")
    region = _cell(cube, "region", "01", "annee", "2025", "ensemble", "ensemble")
    assert cube.values[service] == cube.values[dep] == cube.values[region] == 3
    secret = assert_trap(cube)
    assert secret[[service, dep, region]].all()
    # Suppressing the single child's equal parents is no protection: a complement outside 971 is needed.
    outside = (cube.cells["geo_code"].is_in(["DDTM-29", "DDTM-35", "29", "35", "53", "FR"])).to_numpy()
    ens = (cube.cells["dimension"] == "ensemble").to_numpy()
    assert (secret & outside & ens).any()


def test_zero_is_never_the_only_complement(tmp_path):
    """Partition row pro=3, perso=0, mixte=7 (ensemble 10): the zero stays published, 7 or 10 is suppressed."""
    rows = service_month(JAN, "DDTM-29", 10, axe={"pro": 3, "perso": 0, "mixte": 7},
                         problematique={"sante": 6, "budget": 0}, rps={"alerte": 8})
    cube = _cube(tmp_path, rows, {"DDTM-29": "29"}, "- {geo: service, periode: [mois]}",
                 partitions={"axe": ("pro", "perso", "mixte")})
    small = _cell(cube, "service", "DDTM-29", "mois", JAN, "axe", "pro")
    zero = _cell(cube, "service", "DDTM-29", "mois", JAN, "axe", "perso")
    others = [_cell(cube, "service", "DDTM-29", "mois", JAN, "axe", "mixte"),
              _cell(cube, "service", "DDTM-29", "mois", JAN, "ensemble", "ensemble")]
    # The zero as the only complement does not protect: the attacker knows a secret is >= 1.
    with_zero = naive_secret(cube, K)
    with_zero[zero] = True
    with pytest.raises(AssertionError, match="breaks an attacker's inequality"):
        violations(cube, with_zero, K)  # a suppressed zero is recognisable: the true table contradicts ">= 1"
    secret = assert_trap(cube)
    assert secret[small] and not secret[zero]
    assert secret[others].any()


def test_zero_sibling_in_the_geography_tree(tmp_path):
    """Département 29 = A (3) + B (0): the zero service stays published; a complement is found in 35."""
    rows = (service_month(JAN, "A", 3, axe={"pro": 3, "perso": 0}) + service_month(JAN, "B", 0, axe={"pro": 0, "perso": 0})
            + service_month(JAN, "C", 9, axe={"pro": 5, "perso": 4}) + service_month(JAN, "D", 8, axe={"pro": 8, "perso": 0}))
    cube = _cube(tmp_path, rows, {"A": "29", "B": "29", "C": "35", "D": "35"},
                 "- {geo: service, periode: [mois]}\n- {geo: departement, periode: [mois]}\n- {geo: region, periode: [mois]}",
                 multiple=(), independent=())
    secret = assert_trap(cube)
    b = _cell(cube, "service", "B", "mois", JAN, "ensemble", "ensemble")
    assert not secret[b]
    outside_29 = cube.cells["geo_code"].is_in(["C", "D", "35"]).to_numpy()
    assert (secret & outside_29).any()


def test_small_month_inside_a_large_year(tmp_path):
    rows = (service_month("2025-01", "DDTM-29", 3, axe={"pro": 3, "perso": 0}, problematique={"sante": 3, "budget": 0}, rps={"alerte": 0})
            + service_month("2025-02", "DDTM-29", 20, axe={"pro": 10, "perso": 10}, problematique={"sante": 12, "budget": 9}, rps={"alerte": 0}))
    cube = _cube(tmp_path, rows, {"DDTM-29": "29"}, "- {geo: service, periode: [mois, annee]}")
    secret = assert_trap(cube)
    assert secret[_cell(cube, "service", "DDTM-29", "mois", "2025-01", "ensemble", "ensemble")]
    # the complement of the small month is the other month or the year
    assert secret[[_cell(cube, "service", "DDTM-29", "mois", "2025-02", "ensemble", "ensemble"),
                   _cell(cube, "service", "DDTM-29", "annee", "2025", "ensemble", "ensemble")]].any()


def _two_partitions(tmp_path: Path, mode: dict[str, int]) -> Cube:
    rows = service_month(JAN, "DDTM-29", 10, axe={"pro": 3, "perso": 7}, mode=mode,
                         problematique={"sante": 6, "budget": 0}, rps={"alerte": 0})
    return _cube(tmp_path, rows, {"DDTM-29": "29"}, "- {geo: service, periode: [mois]}",
                 partitions={"axe": ("pro", "perso"), "mode": ("presentiel", "distance")})


def test_partitions_linked_through_the_ensemble_margin(tmp_path):
    cube = _two_partitions(tmp_path, {"presentiel": 6, "distance": 4})
    assert_trap(cube)


def test_ensemble_as_complement_is_recovered_from_the_other_partition(tmp_path):
    """{axe/pro, ensemble} looks safe for axe, but ensemble = presentiel + distance (both published)."""
    cube = _two_partitions(tmp_path, {"presentiel": 5, "distance": 5})
    secret = naive_secret(cube, K)
    pro = _cell(cube, "service", "DDTM-29", "mois", JAN, "axe", "pro")
    assert list(np.flatnonzero(secret)) == [pro]
    secret[_cell(cube, "service", "DDTM-29", "mois", JAN, "ensemble", "ensemble")] = True
    found = {c: (lo, up) for c, lo, up in violations(cube, secret, K)}
    assert found[pro] == pytest.approx((3, 3))  # (and its hidden quarter, year, département... copies)
    assert pro in set(audit(cube, secret, K).failures.tolist())
    assert_trap(cube)


# --------------------------------------------------------------------------- the smallest case of each relation


def _two_services(tmp_path: Path) -> Cube:
    rows = service_month(JAN, "A", 3) + service_month(JAN, "B", 8)
    return _cube(tmp_path, rows, {"A": "29", "B": "29"}, "- {geo: service, periode: [mois]}\n- {geo: departement, periode: [mois]}",
                 partitions={}, multiple=(), independent=())


def _two_months(tmp_path: Path) -> Cube:
    rows = service_month("2025-01", "A", 3) + service_month("2025-02", "A", 8)
    return _cube(tmp_path, rows, {"A": "29"}, "- {geo: service, periode: [mois, trimestre]}",
                 partitions={}, multiple=(), independent=())


def _two_modalities(tmp_path: Path) -> Cube:
    rows = service_month(JAN, "A", 10, axe={"pro": 3, "perso": 7})
    return _cube(tmp_path, rows, {"A": "29"}, "- {geo: service, periode: [mois]}", multiple=(), independent=())


def test_smallest_geography_tree_two_services(tmp_path):
    cube = _two_services(tmp_path)
    secret = assert_trap(cube)
    assert secret[_cell(cube, "service", "B", "mois", JAN, "ensemble", "ensemble")]


def test_smallest_time_tree_two_months(tmp_path):
    cube = _two_months(tmp_path)
    secret = assert_trap(cube)
    assert secret[_cell(cube, "service", "A", "mois", "2025-02", "ensemble", "ensemble")]


def test_smallest_partition_two_modalities(tmp_path):
    cube = _two_modalities(tmp_path)
    secret = assert_trap(cube)
    assert secret[_cell(cube, "service", "A", "mois", JAN, "axe", "perso")]


MULTIPLE_PUBLISHED = """
- {geo: national, periode: [mois], dimensions: [problematique]}
- {geo: service, periode: [mois], dimensions: [ensemble]}
"""


def _multiple_one_modality(tmp_path: Path) -> Cube:
    """FR sante = 7 = A + B, hidden per service, each <= its published ensemble (5): A in [2, 5]."""
    rows = service_month(JAN, "A", 5, problematique={"sante": 2}) + service_month(JAN, "B", 5, problematique={"sante": 5})
    return _cube(tmp_path, rows, {"A": "29", "B": "29"}, MULTIPLE_PUBLISHED, partitions={}, multiple=("sante",), independent=())


def test_smallest_multiple_one_modality_below_ensemble(tmp_path):
    cube = _multiple_one_modality(tmp_path)
    hidden = _cell(cube, "service", "A", "mois", JAN, "problematique", "sante")
    assert not naive_secret(cube, K).any()  # no primary at all: the leak comes from "sante <= ensemble" only
    found = {c: (lo, up) for c, lo, up in violations(cube, naive_secret(cube, K), K)}
    assert found[hidden] == pytest.approx((2, 5))
    assert_trap(cube)


def test_smallest_independent_dimension(tmp_path):
    """rps is independent of ensemble (here 0): no bound from ensemble, only the geography tree."""
    rows = service_month(JAN, "A", 0, rps={"alerte": 3}) + service_month(JAN, "B", 0, rps={"alerte": 8})
    cube = _cube(tmp_path, rows, {"A": "29", "B": "29"}, "- {geo: service, periode: [mois]}\n- {geo: departement, periode: [mois]}",
                 partitions={}, multiple=(), independent=("alerte",))
    secret = assert_trap(cube)
    assert secret[_cell(cube, "service", "B", "mois", JAN, "rps", "alerte")]
    assert not secret[(cube.cells["dimension"] == "ensemble").to_numpy()].any()


def test_independent_dimension_alone_needs_no_complement(tmp_path):
    rows = service_month(JAN, "A", 0, rps={"alerte": 3})
    cube = _cube(tmp_path, rows, {"A": "29"}, "- {geo: service, periode: [mois]}", partitions={}, multiple=(), independent=("alerte",))
    p = protect(cube, K)
    assert not p.secondary.any() and p.primary.sum() == 1
    assert violations(cube, p.secret, K) == [] and p.audit.ok


# --------------------------------------------------------------------------- the oracle itself, on intervals known by hand


def _secret_of(cube: Cube, *cells: tuple) -> np.ndarray:
    secret = np.zeros(cube.cells.height, dtype=bool)
    for c in cells:
        secret[_cell(cube, *c)] = True
    return secret


def test_oracle_intervals_by_hand(tmp_path):
    # geography: A (3) + B (8) = 11 published, A and B secret (>= 1): A in [1, 10]
    cube = _two_services(tmp_path / "geo")
    secret = _secret_of(cube, ("service", "A", "mois", JAN, "ensemble", "ensemble"), ("service", "B", "mois", JAN, "ensemble", "ensemble"))
    assert interval(attacker_system(cube, secret), _cell(cube, "service", "A", "mois", JAN, "ensemble", "ensemble")) == pytest.approx((1, 10))
    # time: January (3) + February (8) = quarter 11
    cube = _two_months(tmp_path / "time")
    secret = _secret_of(cube, ("service", "A", "mois", "2025-01", "ensemble", "ensemble"), ("service", "A", "mois", "2025-02", "ensemble", "ensemble"))
    assert interval(attacker_system(cube, secret), _cell(cube, "service", "A", "mois", "2025-01", "ensemble", "ensemble")) == pytest.approx((1, 10))
    # partition: pro (3) + perso (7) = ensemble 10
    cube = _two_modalities(tmp_path / "partition")
    secret = _secret_of(cube, ("service", "A", "mois", JAN, "axe", "pro"), ("service", "A", "mois", JAN, "axe", "perso"))
    assert interval(attacker_system(cube, secret), _cell(cube, "service", "A", "mois", JAN, "axe", "pro")) == pytest.approx((1, 9))
    # multiple: sante (3) <= ensemble (10), alone in its dimension; independent: alerte (3) unbounded
    rows = service_month(JAN, "A", 10, problematique={"sante": 3}, rps={"alerte": 3})
    cube = _cube(tmp_path / "multiple", rows, {"A": "29"}, "- {geo: service, periode: [mois]}",
                 partitions={}, multiple=("sante",), independent=("alerte",))
    secret = _secret_of(cube, ("service", "A", "mois", JAN, "problematique", "sante"), ("service", "A", "mois", JAN, "rps", "alerte"))
    system = attacker_system(cube, secret)
    assert interval(system, _cell(cube, "service", "A", "mois", JAN, "problematique", "sante")) == pytest.approx((1, 10))
    lo, up = interval(system, _cell(cube, "service", "A", "mois", JAN, "rps", "alerte"))
    assert lo == pytest.approx(1) and up == np.inf
    assert violations(cube, secret, K) == []


# --------------------------------------------------------------------------- general properties on a medium table


def _medium_rows(seed: int = 7) -> tuple[list[tuple], dict[str, str]]:
    rng = np.random.default_rng(seed)
    services = {"DEAL-971": "971", "DDTM-29": "29", "DIRM-29": "29", "DDTM-35": "35", "DDTM-2A": "2A"}
    rows = []
    for month in ("2025-01", "2025-02", "2025-04"):
        for service in services:
            axe = rng.choice([0, 0, 1, 2, 3, 4, 6, 9], size=2)
            ens = int(axe.sum())
            rows += service_month(month, service, ens, axe={"pro": int(axe[0]), "perso": int(axe[1])},
                                  problematique={"sante": int(rng.integers(0, ens + 1)), "budget": int(rng.integers(0, ens + 1))},
                                  rps={"alerte": int(rng.integers(0, 8))})
    return rows, services


MEDIUM_PUBLISHED = """
- {geo: national, periode: [mois, trimestre, annee]}
- {geo: region, periode: [trimestre, annee]}
- {geo: departement, periode: [annee]}
- {geo: service, periode: [mois, annee]}
"""


@pytest.fixture
def medium(tmp_path):
    rows, services = _medium_rows()
    return fine_frame(rows), services_frame(services), _preset(tmp_path), parse_published_set(MEDIUM_PUBLISHED)


def test_primary_cells_are_exactly_the_small_publishable_cells(medium):
    fine, services, nom, published = medium
    pc = protect_cells(fine, services, nom, published, K)
    cells, values = pc.cube.cells, pc.cube.values
    publishable = cells["publiable"].to_numpy()
    np.testing.assert_array_equal(pc.protection.primary, publishable & (values >= 1) & (values <= K - 1))
    assert not (pc.protection.primary & pc.protection.secondary).any()
    assert not (pc.protection.secret & ~publishable).any(), "a hidden cell is marked secret"
    assert not (pc.protection.secret & (values == 0)).any(), "a zero was suppressed"
    assert pc.protection.audit.ok
    assert violations(pc.cube, pc.protection.secret, K) == []


def test_zeros_are_never_secret_and_always_published(medium):
    fine, services, nom, published = medium
    pc = protect_cells(fine, services, nom, published, K)
    zero_publishable = pc.cube.cells["publiable"].to_numpy() & (pc.cube.values == 0)
    assert zero_publishable.any() and not pc.protection.secret[zero_publishable].any()
    table = pc.table()
    zeros = table.filter(pl.col("valeur") == 0)
    assert zeros.height == int(zero_publishable.sum()) and set(zeros["statut"].to_list()) == {"publie"}


def test_table_status_and_null_values(medium):
    fine, services, nom, published = medium
    pc = protect_cells(fine, services, nom, published, K)
    table = pc.table()
    assert table.columns == ["geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite", "valeur", "statut"]
    assert set(table["statut"].unique().to_list()) <= {"publie", "secret_primaire", "secret_secondaire"}
    assert table.filter((pl.col("statut") == "publie") != pl.col("valeur").is_not_null()).is_empty()
    assert table["valeur"].null_count() == int(pc.protection.secret.sum())
    assert table.height == int(pc.cube.cells["publiable"].sum())
    assert table.filter(pl.col("statut") == "secret_primaire").height == int(pc.protection.primary.sum())
    assert table.filter(pl.col("statut") == "secret_secondaire").height == int(pc.protection.secondary.sum())
    assert {"secret_primaire", "secret_secondaire", "publie"} == set(table["statut"].to_list())


def test_deterministic(medium):
    fine, services, nom, published = medium
    a = protect_cells(fine, services, nom, published, K)
    b = protect_cells(fine.sample(fraction=1.0, shuffle=True, seed=3), services.reverse(), nom, published, K)
    np.testing.assert_array_equal(a.protection.primary, b.protection.primary)
    np.testing.assert_array_equal(a.protection.secondary, b.protection.secondary)
    assert a.table().equals(b.table())
    c = protect_cells(fine, services, nom, published, K)
    np.testing.assert_array_equal(a.protection.secret, c.protection.secret)


def test_k_11(medium):
    fine, services, nom, published = medium
    pc = protect_cells(fine, services, nom, published, 11)
    values, publishable = pc.cube.values, pc.cube.cells["publiable"].to_numpy()
    np.testing.assert_array_equal(pc.protection.primary, publishable & (values >= 1) & (values <= 10))
    assert pc.protection.audit.ok
    found = violations(pc.cube, pc.protection.secret, 11)
    assert not found, describe(pc.cube, found)
    assert violations(pc.cube, naive_secret(pc.cube, 11), 11)
    # every cell in [5, 10] that k=5 would publish is now protected when publishable
    assert pc.protection.secret[publishable & (values >= 5) & (values <= 10)].all()


# --------------------------------------------------------------------------- national totals


def _national_secondaries(cube: Cube, secret: np.ndarray, primary: np.ndarray) -> list[str]:
    national = (cube.cells["geo_niveau"] == "national").to_numpy()
    return _secret_cells(cube, secret & ~primary & national)


def test_no_national_secondary_for_the_overseas_region(tmp_path):
    """National = 971 + Bretagne: complements inside Bretagne (région 53, 29 or 35) are enough."""
    rows = (service_month(JAN, "DEAL-971", 3, axe={"pro": 3, "perso": 0})
            + service_month(JAN, "DDTM-29", 12, axe={"pro": 6, "perso": 6})
            + service_month(JAN, "DDTM-35", 9, axe={"pro": 5, "perso": 4}))
    cube = _cube(tmp_path, rows, {"DEAL-971": "971", "DDTM-29": "29", "DDTM-35": "35"}, ALL_LEVELS_BY_YEAR,
                 multiple=(), independent=())
    p = protect(cube, K)
    national = (cube.cells["geo_niveau"] == "national").to_numpy()
    cheaper = p.secret & ~national
    assert violations(cube, cheaper, K) == [] and audit(cube, cheaper, K).ok  # a pattern without FR exists
    assert _national_secondaries(cube, p.secret, p.primary) == []


def test_no_national_secondary_when_one_region_cell_suffices(tmp_path):
    rows = (service_month(JAN, "A", 3, axe={"pro": 3, "perso": 0}) + service_month(JAN, "B", 20, axe={"pro": 10, "perso": 10}))
    cube = _cube(tmp_path, rows, {"A": "29", "B": "2A"}, "- {geo: national, periode: [mois]}\n- {geo: region, periode: [mois]}",
                 multiple=(), independent=())
    secret = assert_trap(cube)
    p = protect(cube, K)
    assert _national_secondaries(cube, p.secret, p.primary) == []
    assert secret[_cell(cube, "region", "94", "mois", JAN, "ensemble", "ensemble")]


def test_no_national_secondary_for_a_hidden_multiple_cell(tmp_path):
    """Hidden A/sante in [2, 5]: suppressing A's ensemble (5) frees it; FR/sante need not be suppressed."""
    cube = _multiple_one_modality(tmp_path)
    p = protect(cube, K)
    cheaper = np.zeros(cube.cells.height, dtype=bool)
    cheaper[_cell(cube, "service", "A", "mois", JAN, "ensemble", "ensemble")] = True
    assert violations(cube, cheaper, K) == [] and audit(cube, cheaper, K).ok  # one cheap cell is enough
    assert _national_secondaries(cube, p.secret, p.primary) == []


def test_first_complements_are_looked_for_below_the_nation(tmp_path):
    """Four services over three months, national months and service and région years published. The
    repair's LP duals for the failing hidden cells name a national month as the cheapest binding cell
    (found by a search over random tables: the repair without its first round below the nation
    suppresses one national cell here); two finer complements protect as well, and national figures
    are the ones users read first."""
    months = ["2025-01", "2025-02", "2025-03"]
    by_service = {  # (ensemble, sante) per month
        "S0-29": [(2, 0), (6, 1), (2, 0)], "S1-976": [(1, 1), (0, 0), (0, 0)],
        "S2-75": [(0, 0), (1, 1), (2, 0)], "S3-35": [(2, 0), (2, 2), (2, 0)],
    }
    rows = [row for service, cells in by_service.items() for month, (ens, sante) in zip(months, cells)
            for row in service_month(month, service, ens, problematique={"sante": sante})]
    published = ("- {geo: national, periode: [mois]}\n- {geo: region, periode: [annee]}\n"
                 "- {geo: service, periode: [annee]}\n")
    cube = _cube(tmp_path, rows, {s: s.split("-")[1] for s in by_service}, published, partitions={}, multiple=("sante",),
                 independent=())
    p = protect(cube, K)
    assert p.audit.ok and violations(cube, p.secret, K) == []
    assert p.secondary.any()  # complements were needed…
    assert _national_secondaries(cube, p.secret, p.primary) == []  # …and none of them is a national figure


# --------------------------------------------------------------------------- few and small: no needless complement


@pytest.mark.parametrize(("build", "needless"), [
    (_two_services, ("departement", "29", "mois", JAN, "ensemble", "ensemble")),
    (_two_months, ("service", "A", "trimestre", "2025-T1", "ensemble", "ensemble")),
    (_two_modalities, ("service", "A", "mois", JAN, "ensemble", "ensemble")),
], ids=["geo", "time", "partition"])
def test_one_complement_is_enough_in_the_smallest_cases(tmp_path, build, needless):
    """3 + 8 = 11: suppressing 3 and 8 gives 3 the interval [1, 10]; the total need not go too."""
    cube = build(tmp_path)
    p = protect(cube, K)
    minimal = p.secret.copy()
    minimal[_cell(cube, *needless)] = False
    assert violations(cube, minimal, K) == [] and audit(cube, minimal, K).ok
    assert int(p.secret.sum()) == 2, f"over-suppression: {_secret_cells(cube, p.secret)}"


# --------------------------------------------------------------------------- protect must always reach a safe pattern


def test_month_and_year_linked_across_an_unpublished_quarter(tmp_path):
    """Minimal case found by the property tests: the service's month (ensemble only) and year are published,
    quarters only nationally. Year axe 1 + 4 are primaries; the year's ensemble is suppressed, but the
    month's ensemble (5, the same fine cell) stays published, so pro + perso = 5 and pro is in [1, 4].
    protect must suppress the month's ensemble too (found through the time tree month < year, or as a
    cell sharing the service-month of the failing hidden cells)."""
    rows = service_month(JAN, "S", 5, axe={"pro": 1, "perso": 4})
    cube = _cube(tmp_path, rows, {"S": "29"},
                 "- {geo: service, periode: [mois], dimensions: [ensemble]}\n- {geo: service, periode: [annee]}\n"
                 "- {geo: national, periode: [trimestre]}",
                 multiple=(), independent=())
    p = protect(cube, K)
    month = _cell(cube, "service", "S", "mois", JAN, "ensemble", "ensemble")
    found = violations(cube, p.secret, K)
    assert p.audit.ok, f"protect gave up after {p.repairs} repairs; oracle: {describe(cube, found)[:4]}"
    assert not found and p.secret[month]


def test_months_pinned_through_year_partition_and_time_tree(tmp_path):
    """Second case found by the property tests (passes today, guards the repair step): one service in 971,
    January 6 (perso 1, mixte 5), February 6 (pro 1, perso 5), March 1 (mixte 1), default published set.
    With the year's ensemble (13) and mixte (6) published: perso_jan + mixte_jan + mixte_mar = 13 - 6 and
    mixte_jan + mixte_mar = 6 pin January's perso at 1, whatever the monthly cells around it. No local
    equation shows it; the repair must reach the year cells."""
    rows = (service_month("2025-01", "S", 6, axe={"pro": 0, "perso": 1, "mixte": 5})
            + service_month("2025-02", "S", 6, axe={"pro": 1, "perso": 5, "mixte": 0})
            + service_month("2025-03", "S", 1, axe={"pro": 0, "perso": 0, "mixte": 1}))
    cube = _cube(tmp_path, rows, {"S": "971"}, DEFAULT_RULES, partitions={"axe": ("pro", "perso", "mixte")},
                 multiple=(), independent=())
    assert_trap(cube)


def test_a_cell_failing_round_after_round_gets_more_complements(tmp_path):
    """Third case found by the property tests: one région (13, 83, 84), four months, the national months and
    the région's quarters published by axe. October's national `mixte` (1) stays pinned at 1 after each
    single complement the repair picks near it (one région: its quarters are the nation's), and the repair
    used to give up after three rounds with the same failures. A cell failing again now gets one more
    complement each round, and the table is protected."""
    rows = [
        *service_month("2025-07", "S0-13", 18, axe={"pro": 4, "perso": 6, "mixte": 8}, problematique={"sante": 4}),
        *service_month("2025-07", "S0-83", 10, axe={"pro": 2, "perso": 6, "mixte": 2}, problematique={"sante": 3, "budget": 3}, rps={"alerte": 2}),
        *service_month("2025-07", "S0-84", 2, axe={"pro": 1, "perso": 1, "mixte": 0}, problematique={"sante": 0, "budget": 2}, rps={"alerte": 2}),
        *service_month("2025-07", "S1-13", 10, axe={"pro": 4, "perso": 4, "mixte": 2}, problematique={"sante": 6}),
        *service_month("2025-09", "S0-83", 4, axe={"pro": 3, "perso": 0, "mixte": 1}, problematique={"sante": 0, "budget": 4}, rps={"alerte": 1}),
        *service_month("2025-09", "S0-84", 13, axe={"pro": 1, "perso": 8, "mixte": 4}, problematique={"sante": 2, "budget": 1}, rps={"alerte": 3}),
        *service_month("2025-09", "S1-13", 5, axe={"pro": 4, "perso": 1, "mixte": 0}, problematique={"sante": 2, "budget": 2}, rps={"alerte": 4}),
        *service_month("2025-10", "S0-83", 5, axe={"pro": 1, "perso": 4, "mixte": 0}, problematique={"sante": 4, "budget": 2}, rps={"alerte": 8}),
        *service_month("2025-10", "S0-84", 12, axe={"pro": 4, "perso": 8, "mixte": 0}, problematique={"sante": 1, "budget": 8}, rps={"alerte": 0}),
        *service_month("2025-10", "S1-13", 15, axe={"pro": 12, "perso": 2, "mixte": 1}, problematique={"sante": 8, "budget": 6}, rps={"alerte": 2}),
        *service_month("2025-12", "S0-13", 20, axe={"pro": 4, "perso": 4, "mixte": 12}, problematique={"sante": 3}, rps={"alerte": 1}),
        *service_month("2025-12", "S0-83", 13, axe={"pro": 4, "perso": 3, "mixte": 6}, problematique={"sante": 3, "budget": 0}, rps={"alerte": 0}),
        *service_month("2025-12", "S0-84", 13, axe={"pro": 1, "mixte": 12}, problematique={"sante": 2, "budget": 2}, rps={"alerte": 2}),
    ]
    published = """
- {geo: national, periode: [mois, annee]}
- {geo: region, periode: [trimestre], dimensions: [ensemble, axe]}
- {geo: departement, periode: [annee], dimensions: [problematique, rps]}
- {geo: service, periode: [mois], dimensions: [ensemble]}
- {geo: service, periode: [annee]}
"""
    cube = _cube(tmp_path, rows, {"S0-13": "13", "S1-13": "13", "S0-84": "84", "S0-83": "83"}, published,
                 partitions={"axe": ("pro", "perso", "mixte")}, multiple=("sante", "budget"), independent=("alerte",))
    p = protect(cube, K)
    found = violations(cube, p.secret, K)
    assert p.audit.ok, f"protect gave up after {p.repairs} repairs; oracle: {describe(cube, found)[:4]}"
    assert not found
    assert p.secret[_cell(cube, "national", "FR", "mois", "2025-10", "axe", "mixte")]
