"""Spatial veille: the conditional space-time scans (départements, services) on the real adjacency of the départements."""

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from analytics import referentials
from analytics.veille import scan as sc

CODES = referentials.departements()["code_departement"].to_list()
OVERSEAS = ("971", "972", "973", "974", "976")
EDGES = {(min(a, b), max(a, b)) for a, b in referentials.adjacency().iter_rows()}


def expected_counts(seed: int = 11) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    return dict(zip(CODES, rng.lognormal(math.log(50), 0.8, len(CODES)).round(2).tolist()))


EXPECTED = expected_counts()


def connected(zones) -> bool:
    zones = list(zones)
    seen, todo = {zones[0]}, [zones[0]]
    while todo:
        z = todo.pop()
        for other in zones:
            if other not in seen and (min(z, other), max(z, other)) in EDGES:
                seen.add(other)
                todo.append(other)
    return len(seen) == len(zones)


def binomial_ok(k: int, n: int, p: float, level: float = 0.001) -> bool:
    return stats.binomtest(k, n, p).pvalue > level


# --------------------------------------------------------------------------- statistic and candidates


def test_expectation_based_llr():
    llr = sc.expectation_llr([20.0, 10.0, 5.0, 0.0], [10.0, 10.0, 10.0, 10.0])
    assert llr[0] == pytest.approx(20 * math.log(2) - 10)
    assert list(llr[1:]) == [0.0, 0.0, 0.0]  # only rises count
    assert sc.expectation_llr(20.0, 10.0, 2.0) == pytest.approx((20 * math.log(2) - 10) / 2)


@pytest.mark.parametrize("shape", sc.SHAPES)
def test_candidates_are_connected_bounded_and_overseas_alone(shape):
    candidates = sc.candidate_clusters(CODES, shape=shape)
    assert len(candidates) == len(set(candidates))
    assert {c for c in candidates if len(c) == 1} == {(z,) for z in CODES}
    assert max(len(c) for c in candidates) == sc.MAX_ZONES
    for c in candidates:
        assert connected(c), c
        assert not (set(c) & set(OVERSEAS)) or len(c) == 1
    assert ("2A", "2B") in candidates  # Corsica: its two départements together, nothing else
    assert not any({"2A", "2B"} < set(c) for c in candidates)
    bretagne = ("22", "29", "56")
    assert bretagne in candidates  # Finistère and its two neighbours


def test_circular_candidates_grow_from_each_zone_towards_the_nearest():
    candidates = set(sc.candidate_clusters(CODES, max_zones=3))
    assert {("29",), ("22", "29"), ("22", "29", "56")} <= candidates  # from Finistère: Côtes-d'Armor first
    xy = sc.centroids()
    for z in CODES:
        neighbours = [b if a == z else a for a, b in EDGES if z in (a, b)]
        if neighbours:
            nearest = min(neighbours, key=lambda n: math.dist(xy[z], xy[n]))
            assert tuple(sorted((z, nearest))) in candidates
    assert len(sc.candidate_clusters(CODES, shape="flexible")) > 5 * len(sc.candidate_clusters(CODES))


def test_max_share_limits_the_candidates_to_a_part_of_the_expected_total():
    weights = {z: 1.0 for z in CODES} | {"75": 200.0}
    candidates = sc.candidate_clusters(CODES, weights=weights, max_share=0.5)
    total = sum(weights.values())
    assert ("75",) in candidates  # a single zone always stays a candidate
    for c in candidates:
        assert len(c) == 1 or sum(weights[z] for z in c) <= 0.5 * total
    assert not any("75" in c and len(c) > 1 for c in candidates)


def test_custom_adjacency_uses_hop_distance_and_keeps_candidates_connected():
    path = pl.DataFrame({"departement_a": ["Z1", "Z2", "Z3", "Z4"], "departement_b": ["Z2", "Z3", "Z4", "Z5"]})
    candidates = sc.candidate_clusters(["Z1", "Z2", "Z3", "Z4", "Z5"], path, max_zones=3)
    for c in candidates:  # on a path, connected sets are runs of consecutive zones
        positions = sorted(int(z[1]) for z in c)
        assert positions == list(range(positions[0], positions[0] + len(c)))
    assert ("Z1", "Z3") not in candidates and ("Z1", "Z2", "Z3") in candidates


# --------------------------------------------------------------------------- conditional scan on counts (the watch's)

HISTORY = tuple(f"{2023 + m // 12}-{m % 12 + 1:02d}" for m in range(27))  # 24 reference months, then 3 scanned
SEASON = np.array([1.1, 1.0, 1.05, 1.0, 0.95, 1.0, 0.85, 0.55, 1.15, 1.15, 1.05, 0.85])
SMALL = {z: round(v / 10, 2) for z, v in EXPECTED.items()}  # about 5 cases a month per département, as the demo


def counts(rng, *, swing: float = 0.25, nb: float = 0.1, boost: dict[str, float] | None = None, months: int = 2,
           expected: dict[str, float] = SMALL) -> tuple[pl.DataFrame, np.ndarray]:
    """Monthly counts of every département over HISTORY: a level per zone, a seasonal profile and a national swing
    shared by every zone (lognormal, sd ``swing``), negative binomial (variance mu + nb mu²). Returns the frame and
    the zones x months means without the swing (what a temporal baseline could know at best)."""
    zones = list(expected)
    base = np.array([expected[z] for z in zones])[:, None] * SEASON[np.arange(len(HISTORY)) % 12][None, :]
    truth = base * np.exp(rng.normal(0.0, swing, len(HISTORY)))[None, :]
    for z, factor in (boost or {}).items():
        truth[zones.index(z), len(HISTORY) - months:] *= factor
    if nb > 0:
        truth = rng.gamma(1.0 / nb, truth * nb)
    y = rng.poisson(truth).astype(float)
    return pl.DataFrame({"zone": np.repeat(zones, len(HISTORY)).tolist(), "periode": list(HISTORY) * len(zones),
                         "observe": y.ravel()}), base


def test_count_dispersion_recovers_poisson_and_negative_binomial_counts():
    rng = np.random.default_rng(21)
    shares = rng.lognormal(0.0, 1.0, 100)
    mu = shares[:, None] / shares.sum() * rng.uniform(300, 700, 24)[None, :]
    poisson = sc.count_dispersion(rng.poisson(mu))
    assert 1.0 <= poisson.poisson < 1.1 and poisson.quadratic < 0.02
    nb = sc.count_dispersion(rng.poisson(rng.gamma(1 / 0.2, mu * 0.2)))
    assert nb.poisson < 1.3 and 0.12 < nb.quadratic < 0.3
    assert nb.phi(np.array([1.0, 10.0]))[1] > nb.phi(np.array([1.0, 10.0]))[0]
    quasi = sc.count_dispersion(2 * rng.poisson(mu / 2))  # variance 2 mu
    assert 1.7 < quasi.poisson < 2.3 and quasi.quadratic < 0.03


def test_count_scan_p_values_are_uniform_under_shared_monthly_swings():
    """The demo's false clusters came from expectations blind to what every département shares in a month (season
    misfit, national fluctuation): too low or too high everywhere at once, and a cluster adds those errors up (25 % of
    p <= 0.05 were measured with the best baseline blind to the swing). Conditioned on each month's total, none."""
    rng = np.random.default_rng(22)
    n, p_counts = 120, []
    for d in range(n):
        frame, _ = counts(rng)
        clusters = sc.scan_counts(frame, replicates=99, seed=d, max_clusters=1, min_expected=1.0)
        p_counts.append(clusters[0].p_value if clusters else 1.0)
    p_counts = np.array(p_counts)
    assert binomial_ok(int((p_counts <= 0.05).sum()), n, 0.05)
    assert binomial_ok(int((p_counts <= 0.2).sum()), n, 0.2)


def test_count_scan_finds_a_rise_of_neighbouring_departements():
    injected = {"22", "29", "56"}
    rng = np.random.default_rng(23)
    for d in range(4):
        frame, _ = counts(rng, boost={z: 2.5 for z in injected})
        clusters = sc.scan_counts(frame, replicates=199, seed=d, min_expected=1.0, p_method="gumbel")
        check_outputs_counts(clusters)
        best = clusters[0]
        assert best.p_value < 0.001
        assert len(set(best.zones) & injected) / len(best.zones) >= 0.5  # the injected zones, hardly any other
        assert best.fin == HISTORY[-1] and best.debut in HISTORY[-3:]
        assert 1.5 < best.ratio < 5.0  # x 2.5, the most likely cluster picks the luckiest zones


def check_outputs_counts(clusters, windows=3):
    """Every cluster connected, overseas ones alone, no zone in two clusters, best first, within the windows."""
    used = set()
    for c in clusters:
        assert connected(c.zones) and not used & set(c.zones)
        if set(c.zones) & set(OVERSEAS):
            assert len(c.zones) == 1, c.zones
        used |= set(c.zones)
        assert c.observe > c.attendu and c.ratio == pytest.approx(c.observe / c.attendu)
        assert c.fin == HISTORY[-1] and c.debut in HISTORY[-windows:]
    assert [c.llr for c in clusters] == sorted((c.llr for c in clusters), reverse=True)
    assert [c.p_value for c in clusters] == sorted(c.p_value for c in clusters)


def test_count_scan_two_distant_rises_are_two_clusters_never_one():
    rng = np.random.default_rng(14)
    frame, _ = counts(rng, boost={"29": 4.0, "67": 4.0})  # Finistère and Bas-Rhin: not adjacent
    clusters = sc.scan_counts(frame, replicates=199, seed=3, max_clusters=5, min_expected=1.0, p_method="gumbel")
    check_outputs_counts(clusters)
    assert not any({"29", "67"} <= set(c.zones) for c in clusters)
    top = [set(c.zones) for c in clusters[:2]]
    assert any("29" in z for z in top) and any("67" in z for z in top)
    assert clusters[1].p_value < 0.05  # secondary, against the same maximum distribution


def test_count_scan_overseas_rises_are_singletons():
    rng = np.random.default_rng(15)
    frame, _ = counts(rng, boost={"971": 4.0, "972": 4.0}, swing=0.0)
    clusters = sc.scan_counts(frame, replicates=199, seed=4, min_expected=1.0, p_method="gumbel")
    check_outputs_counts(clusters)
    assert {c.zones for c in clusters[:2]} == {("971",), ("972",)}
    assert all(c.p_value < 0.05 for c in clusters[:2])


def test_count_scan_seed_decides_the_p_values_and_the_data_the_clusters():
    frame, _ = counts(np.random.default_rng(16), boost={"63": 2.5})
    first = sc.scan_counts(frame, replicates=99, seed=42)
    assert sc.scan_counts(frame, replicates=99, seed=42) == first
    other = sc.scan_counts(frame, replicates=99, seed=43)
    assert [c.zones for c in other] == [c.zones for c in first]
    assert [c.p_value for c in other] != [c.p_value for c in first]


def test_count_scan_zone_codes_are_normalised_windows_configurable_and_older_months_the_reference():
    rng = np.random.default_rng(18)
    frame, _ = counts(rng, boost={"01": 4.0}, months=1, nb=0.0, swing=0.0)
    frame = frame.with_columns(pl.when(pl.col("zone") == "01").then(pl.lit("1")).otherwise(pl.col("zone")).alias("zone"))
    clusters = sc.scan_counts(frame, replicates=99, seed=1, windows=(1,), min_expected=1.0)
    assert "01" in clusters[0].zones and clusters[0].debut == clusters[0].fin == HISTORY[-1]
    longer, _ = counts(rng, boost={"33": 3.0}, months=5)  # a rise over 5 months: the windows see its last 3
    clusters = sc.scan_counts(longer, replicates=99, seed=1, min_expected=1.0)
    assert "33" in clusters[0].zones and clusters[0].debut >= HISTORY[-3]  # at most 3 months
    check_outputs_counts(clusters)


def test_count_scan_gumbel_p_values_go_below_the_monte_carlo_resolution():
    rng = np.random.default_rng(10)
    strong, _ = counts(rng, boost={"22": 3.0, "29": 3.0, "56": 3.0})
    mc = sc.scan_counts(strong, replicates=99, seed=3, min_expected=1.0)[0]
    gumbel = sc.scan_counts(strong, replicates=99, seed=3, min_expected=1.0, p_method="gumbel")[0]
    assert mc.p_value == pytest.approx(0.01) and gumbel.p_value < 0.001 and gumbel.zones == mc.zones
    with pytest.raises(ValueError, match="méthode de p-valeur"):
        sc.scan_counts(strong, replicates=9, p_method="exact")


def test_count_scan_min_expected_leaves_out_the_candidates_expecting_almost_nothing():
    """A département without any case in its 24 reference months expects a few hundredths of a case (its prior):
    two cases in the last month make it the most likely cluster, unless candidates must expect one case."""
    frame, _ = counts(np.random.default_rng(13), swing=0.0)
    frame = frame.with_columns(pl.when(pl.col("zone") == "48").then(
        pl.when(pl.col("periode") == HISTORY[-1]).then(pl.lit(2.0)).otherwise(pl.lit(0.0))).otherwise(pl.col("observe"))
        .alias("observe"))
    assert sc.scan_counts(frame, replicates=19, seed=1)[0].zones == ("48",)
    assert all(c.zones != ("48",) for c in sc.scan_counts(frame, replicates=19, seed=1, min_expected=1.0))


def test_count_scan_expectations_are_shares_of_the_monthly_totals():
    rng = np.random.default_rng(24)
    frame, _ = counts(rng, boost={"63": 4.0}, months=1)
    best = sc.scan_counts(frame, replicates=19, seed=1, windows=(1,), max_clusters=1, prior=0.0)[0]
    assert best.zones == ("63",) and best.debut == best.fin == HISTORY[-1]
    reference = frame.filter(pl.col("periode").is_in(HISTORY[-25:-1]))  # the 24 months before the one scanned
    share = reference.filter(pl.col("zone") == "63")["observe"].sum() / reference["observe"].sum()
    month_total = frame.filter(pl.col("periode") == HISTORY[-1])["observe"].sum()
    assert best.attendu == pytest.approx(share * month_total)
    # rows may start late and stop early: the months of the data are given, missing rows count as 0
    late = frame.filter(~((pl.col("zone") == "63") & (pl.col("periode") == HISTORY[-1])))
    assert sc.scan_counts(late, replicates=9, seed=1, start=HISTORY[0], end=HISTORY[-1])[0].zones != ("63",)


def test_count_scan_input_errors_are_refused_in_french():
    frame, _ = counts(np.random.default_rng(25))
    with pytest.raises(ValueError, match="historique trop court : 27 mois attendus .* 26 fournis"):
        sc.scan_counts(frame.filter(pl.col("periode") > HISTORY[0]))
    with pytest.raises(ValueError, match="nombre de mois de référence invalide"):
        sc.scan_counts(frame, reference=1)
    with pytest.raises(ValueError, match="mois invalide : « 2023-13 »"):
        sc.scan_counts(frame, start="2023-13")
    with pytest.raises(ValueError, match="mois postérieur à la fin annoncée"):
        sc.scan_counts(frame, end=HISTORY[-2])
    with pytest.raises(ValueError, match="zone\\(s\\) inconnue\\(s\\) : 99"):
        sc.scan_counts(frame, zones=["99"])
    with pytest.raises(ValueError, match="colonne\\(s\\) manquante\\(s\\) : observe"):
        sc.scan_counts(frame.drop("observe"))
    with pytest.raises(ValueError, match="a priori des parts invalide"):
        sc.scan_counts(frame, prior=-1.0)
    with pytest.raises(ValueError, match="fenêtres temporelles invalides"):
        sc.scan_counts(frame, windows=(0,))
    with pytest.raises(ValueError, match="forme de cluster inconnue : « carrée »"):
        sc.scan_counts(frame, shape="carrée")
    with pytest.raises(ValueError, match="nombre de réplications Monte-Carlo invalide"):
        sc.scan_counts(frame, replicates=0)
    with pytest.raises(ValueError, match="table d'adjacence : colonne\\(s\\) manquante\\(s\\)"):
        sc.scan_counts(frame, pl.DataFrame({"a": ["22"], "b": ["29"]}))
    with pytest.raises(ValueError, match="colonne « observe » : -1.0 pour la zone"):
        sc.scan_counts(frame.with_columns(pl.when(pl.col("zone") == "29").then(-1.0).otherwise(pl.col("observe"))
                                          .alias("observe")))
    with pytest.raises(ValueError, match="plusieurs lignes pour la zone"):
        sc.scan_counts(pl.concat([frame, frame.head(1)]))


# --------------------------------------------------------------------------- conditional scan on services (units)

UNIT_HISTORY = tuple(f"{2022 + m // 12}-{m % 12 + 1:02d}" for m in range(28))  # 24 reference months, then 4 scanned
LORRAINE = ("54", "55", "57", "88")
NETWORK = ("DIR-57", "CEREMA-57", "AE-57")  # national networks sharing Moselle with its services déconcentrés


def unit_counts(rng, *, boost: float = 1.0, months: int = 4, nb: float = 0.1):
    """One DDT per département of SMALL (about 5 cases a month) plus a DREAL in Moselle (layer "deconcentres") and
    three national networks in Moselle with 12 cases a month together; ``boost`` multiplies the services
    déconcentrés of Lorraine over the last ``months`` months (the demo's reorganisation rise)."""
    units = {f"DDT-{z}": z for z in SMALL} | {"DREAL-57": "57"} | {u: "57" for u in NETWORK}
    level = {u: SMALL[d] for u, d in units.items()} | {"DREAL-57": 3.0} | {u: 4.0 for u in NETWORK}
    layers = {u: "deconcentres" for u in units if u not in NETWORK}
    codes = list(units)
    base = np.array([level[u] for u in codes])[:, None] * SEASON[np.arange(len(UNIT_HISTORY)) % 12][None, :]
    truth = base * np.exp(rng.normal(0.0, 0.25, len(UNIT_HISTORY)))[None, :]
    rising = [i for i, u in enumerate(codes) if units[u] in LORRAINE and u not in NETWORK]
    truth[np.ix_(rising, range(len(UNIT_HISTORY) - months, len(UNIT_HISTORY)))] *= boost
    y = rng.poisson(rng.gamma(1.0 / nb, truth * nb)).astype(float)
    frame = pl.DataFrame({"unit": np.repeat(codes, len(UNIT_HISTORY)).tolist(), "periode": list(UNIT_HISTORY) * len(codes),
                          "observe": y.ravel()})
    return frame, units, layers, {codes[i] for i in rising}


@pytest.mark.parametrize("layers_only", [False, True])
def test_unit_scan_p_values_are_uniform_without_any_rise(layers_only):
    rng = np.random.default_rng(31)
    n, p = 100, []
    for d in range(n):
        frame, units, layers, _ = unit_counts(rng)
        clusters = sc.scan_units(frame, units, layers=layers, replicates=99, seed=d, max_clusters=1, min_expected=1.0,
                                 layers_only=layers_only)
        p.append(clusters[0].p_value if clusters else 1.0)
    p = np.array(p)
    assert binomial_ok(int((p <= 0.05).sum()), n, 0.05)
    assert binomial_ok(int((p <= 0.2).sum()), n, 0.2)


def test_unit_scan_on_the_layer_alone_leaves_out_whole_departements_and_lone_services_and_gains_power():
    """What the watch scans (layers_only): the services déconcentrés of circular groups of départements only; the whole
    départements are the département scan's, a service alone its own series'. Fewer candidates, smaller null maxima:
    the same Lorraine rise gets a smaller p-value than among every candidate."""
    rng = np.random.default_rng(34)
    gained = 0
    for d in range(6):
        frame, units, layers, rising = unit_counts(rng, boost=2.0)
        found = sc.scan_units(frame, units, layers=layers, layers_only=True, replicates=199, seed=d, max_clusters=10,
                              min_expected=1.0, p_method="gumbel")
        for c in found:
            assert set(c.zones) <= set(layers)  # no national network, alone or inside a whole département
        every = sc.scan_units(frame, units, layers=layers, replicates=199, seed=d, max_clusters=1, min_expected=1.0,
                              p_method="gumbel")
        if found and set(found[0].zones) == set(every[0].zones):
            gained += found[0].p_value < every[0].p_value
    assert gained >= 4
    with pytest.raises(ValueError, match="« layers_only » demande des couches"):
        sc.scan_units(frame, units, layers=None, layers_only=True)


def test_unit_scan_finds_the_services_deconcentres_of_neighbouring_departements_that_the_departements_dilute():
    """The demo's Lorraine rise: the DDTs of 54, 55, 57, 88 and the DREAL in Moselle rise together over 4 months, the
    national networks sharing Moselle do not. The services scan names those services; the département scan, over 3
    months, sees Moselle diluted by its networks."""
    rng = np.random.default_rng(32)
    found, diluted = 0, 0
    for d in range(6):
        frame, units, layers, rising = unit_counts(rng, boost=2.5)
        best = sc.scan_units(frame, units, layers=layers, replicates=199, seed=d, max_clusters=1, min_expected=1.0,
                             p_method="gumbel")[0]
        assert best.fin == UNIT_HISTORY[-1] and best.ratio > 1.5
        assert not set(best.zones) & set(NETWORK)  # the layer, not the whole départements
        if best.p_value < 0.001 and len(set(best.zones) & rising) / len(best.zones) >= 0.5:
            found += 1
        deps = frame.with_columns(pl.col("unit").replace_strict(units).alias("zone")).group_by("zone", "periode").agg(
            pl.col("observe").sum())
        top = sc.scan_counts(deps, replicates=199, seed=d, max_clusters=1, min_expected=1.0, p_method="gumbel")[0]
        diluted += top.p_value > best.p_value
    assert found >= 5 and diluted >= 5


def test_unit_scan_candidates_and_input_errors():
    frame, units, layers, _ = unit_counts(np.random.default_rng(33), boost=4.0, months=1)
    alone = sc.scan_units(frame, units, layers=None, replicates=19, seed=1, windows=(1,), max_clusters=3)
    assert all(set(c.zones) <= set(units) for c in alone)
    # without layers a candidate holding a Moselle service holds all of them, unless it is a single service
    for c in alone:
        in_57 = {u for u in c.zones if units[u] == "57"}
        assert len(c.zones) == 1 or not in_57 or in_57 == {u for u, d in units.items() if d == "57"}
    with pytest.raises(ValueError, match="colonne\\(s\\) manquante\\(s\\) : observe"):
        sc.scan_units(frame.drop("observe"), units)
    with pytest.raises(ValueError, match="unité\\(s\\) sans département : DDT-29"):
        sc.scan_units(frame, {u: d for u, d in units.items() if u != "DDT-29"})
    with pytest.raises(ValueError, match="département\\(s\\) inconnu\\(s\\) : 99"):
        sc.scan_units(frame, units | {"X-99": "99"})
    with pytest.raises(ValueError, match="historique trop court : 28 mois attendus .* 27 fournis"):
        sc.scan_units(frame.filter(pl.col("periode") > UNIT_HISTORY[0]), units)
