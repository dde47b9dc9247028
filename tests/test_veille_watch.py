"""The watch of published data: series built per territory x indicator, alerts, false alarm control, secrecy flag."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analytics.veille import severity
from analytics.veille.quarterly import detect_quarters
from analytics.veille.watch import ALERT_SCHEMA, CLUSTER, TEMPORAL, territory_series, watch_frame

SOUFFRANCE, VISITES = "situations_souffrance_travail", "visites_demande_medecin"
# code, département, libellé, type, base monthly count (publication_data.SERVICES, with rps counts large enough)
SERVICES = (
    ("DDTM-29", "29", "DDTM du Finistère", "ddtm", 9),
    ("DM-29", "29", "Direction de la mer du Finistère", "dm", 1),
    ("DDTM-35", "35", "DDTM d'Ille-et-Vilaine", "ddtm", 7),
    ("DREAL-BRE", "35", "DREAL Bretagne", "dreal", 2),
    ("DDT-2A", "2A", "DDT de Corse-du-Sud", "ddt", 6),
)
MONTHS = [f"{2021 + (i + 5) // 12}-{(i + 5) % 12 + 1:02d}" for i in range(48)]  # 2021-06 .. 2025-05
LAST = MONTHS[-1]
SPIKE = 40  # DDTM-29's souffrance au travail in the last month (about 9 expected)
COLUMNS = ["periode", "departement", "service", "libelle_service", "type_service", "dimension", "modalite", "effectif"]


def veille_frame(spike: bool = True, seed: int = 3) -> pl.DataFrame:
    """Four years of months for five services: ensemble and two RPS indicators, one spike in the last month."""
    rng = np.random.default_rng(seed)
    rows = []
    for periode in MONTHS:
        for code, dep, label, kind, base in SERVICES:
            souffrance = int(rng.poisson(max(base, 1)))
            if spike and code == "DDTM-29" and periode == LAST:
                souffrance = SPIKE
            rows += [(periode, dep, code, label, kind, "ensemble", "ensemble", int(rng.poisson(3 * base + 5)) + souffrance),
                     (periode, dep, code, label, kind, "rps", SOUFFRANCE, souffrance),
                     (periode, dep, code, label, kind, "rps", VISITES, int(rng.poisson(max(base // 2, 1))))]
    return pl.DataFrame(rows, schema={c: (pl.Int64 if c == "effectif" else pl.String) for c in COLUMNS}, orient="row")


def fine(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select("periode", "service", "departement", "dimension", "modalite", "effectif")


def _alert(result, level, code, modalite=SOUFFRANCE, periode=LAST):
    found = result.alerts.filter((pl.col("geo_niveau") == level) & (pl.col("geo_code") == code) & (pl.col("kind") == TEMPORAL)
                                 & (pl.col("modalite") == modalite) & (pl.col("periode") == periode))
    return found.row(0, named=True) if found.height else None


def test_series_cover_every_level_and_services_only_where_their_departement_has_several():
    series = territory_series(fine(veille_frame()))
    keys = set(series.select("geo_niveau", "geo_code").unique().iter_rows())
    assert {("national", "FR"), ("region", "53"), ("region", "94"), ("departement", "29"), ("departement", "35"),
            ("departement", "2A"), ("service", "DDTM-29"), ("service", "DM-29")} <= keys
    assert ("service", "DDT-2A") not in keys  # alone in Corse-du-Sud: its series is the département's
    national = series.filter((pl.col("geo_niveau") == "national") & (pl.col("modalite") == SOUFFRANCE)
                             & (pl.col("periode") == LAST))["effectif"].item()
    assert national == veille_frame().filter((pl.col("modalite") == SOUFFRANCE) & (pl.col("periode") == LAST))["effectif"].sum()
    assert "ensemble" not in set(series["dimension"])


def test_the_spike_is_an_alert_at_every_level_that_contains_it():
    result = watch_frame(fine(veille_frame()), published=set(), replicates=99)
    for level, code in (("service", "DDTM-29"), ("departement", "29"), ("region", "53"), ("national", "FR")):
        alert = _alert(result, level, code)
        assert alert is not None, (level, code)
        assert alert["observe"] > alert["seuil"] and alert["p_value"] < 0.01
        assert alert["gravite"] in severity.BANDS
    assert _alert(result, "service", "DDTM-29")["gravite"] == severity.VERY_STRONG  # 40 for about 9 expected
    assert _alert(result, "departement", "35") is None and _alert(result, "departement", "2A") is None
    assert result.alerts.columns == list(ALERT_SCHEMA)
    assert result.alerts["signature"].n_unique() == result.alerts.height


def test_without_spike_no_alert_and_the_expected_false_alerts_are_told():
    result = watch_frame(fine(veille_frame(spike=False)), published=set(), replicates=99)
    assert result.alerts.filter(pl.col("periode") == LAST).height == 0
    assert result.months_evaluated == 12 and (result.period_min, result.period_max) == ("2024-06", LAST)
    tests_per_month = result.monthly_series + result.quarterly_series / 3
    assert result.monthly_series > 0
    assert result.expected_false_alerts == pytest.approx(0.01 * tests_per_month)
    assert result.expected_false_alerts_fdr <= 0.05 * (result.alert_count / 12 + result.cluster_count) + 1e-12


def test_benjamini_hochberg_keeps_false_alerts_far_below_alpha_times_series():
    """Hundreds of stationary Poisson series: per-series tests would give several false alerts a month; BH nearly none."""
    rng = np.random.default_rng(11)
    deps = [f"{d:02d}" for d in range(1, 96) if d != 20][:60]
    rows = [(m, f"S-{d}", d, "problematique", f"p{j}", int(rng.poisson(6))) for m in MONTHS for d in deps for j in range(5)]
    frame = pl.DataFrame(rows, schema=["periode", "service", "departement", "dimension", "modalite", "effectif"], orient="row")
    result = watch_frame(frame, published=set(), replicates=99)
    temporal = result.alerts.filter(pl.col("kind") == TEMPORAL)
    assert result.expected_false_alerts > 3  # (nation, régions, 60 départements) x 5 indicators, at 1 %
    assert temporal.height / result.months_evaluated < 1.0


def test_sparse_series_are_watched_by_quarter():
    rng = np.random.default_rng(5)
    rows = []
    for m in MONTHS:
        count = 4 if m in ("2025-01", "2025-02", "2025-03") else int(rng.poisson(0.3))
        rows.append((m, "DDTM-29", "29", "rps", SOUFFRANCE, count))
    frame = pl.DataFrame(rows, schema=["periode", "service", "departement", "dimension", "modalite", "effectif"], orient="row")
    result = watch_frame(frame, published=set(), replicates=99)
    assert result.quarterly_series > 0 and result.monthly_series == 0
    quarter = result.alerts.filter((pl.col("periode_niveau") == "trimestre") & (pl.col("periode") == "2025-T1"))
    assert quarter.height >= 1 and set(quarter["debut"]) == {"2025-01"} and set(quarter["fin"]) == {"2025-03"}
    # April and May do not make a complete quarter: never tested
    assert not result.alerts.filter(pl.col("periode") == "2025-T2").height


def test_quarterly_detector_flags_a_high_quarter_against_the_same_quarters_before():
    rng = np.random.default_rng(2)
    grid = rng.poisson(4, (50, 16)).astype(float)
    grid[0, 15] = 25
    expected, threshold, alarm, p_value, method = detect_quarters(grid, 15, 0.01)
    assert method == "trimestrielle" and alarm[0] and p_value[0] < 1e-4
    assert alarm[1:].mean() < 0.06 and np.all(expected > 2) and np.all(threshold >= expected)
    _, _, _, _, short = detect_quarters(grid, 5, 0.01)
    assert short == "ears"


def test_secret_flag_follows_the_published_cells():
    frame = fine(veille_frame())
    result = watch_frame(frame, published=set(), replicates=99)
    assert result.alerts["secret"].all()
    national = ("national", "FR", "mois")
    published = {(*national, m, "rps", SOUFFRANCE) for m in MONTHS}
    result = watch_frame(frame, published=published, replicates=99)
    assert not _alert(result, "national", "FR")["secret"]
    assert _alert(result, "departement", "29")["secret"]
    # the month before counts too: without it the alert rests on a figure nobody sees
    result = watch_frame(frame, published=published - {(*national, MONTHS[-2], "rps", SOUFFRANCE)}, replicates=99)
    assert _alert(result, "national", "FR")["secret"]


def test_severity_bands_need_both_a_small_p_value_and_a_large_ratio():
    assert severity.band(1e-6, 40, 9) == severity.VERY_STRONG
    assert severity.band(1e-6, 1100, 1000) == severity.MODERATE  # significant but a 10 % rise
    assert severity.band(5e-3, 8, 2) == severity.MODERATE  # a large ratio, only just significant
    assert severity.band(5e-4, 16, 10) == severity.STRONG
    assert severity.label(severity.VERY_STRONG) == "très forte"


def test_a_cluster_of_neighbouring_departements_is_found():
    rng = np.random.default_rng(8)
    deps = ("29", "22", "56", "35", "50", "53", "44", "49", "72", "61", "14", "85", "79", "86", "37", "41")
    rows = []
    for m in MONTHS:
        for d in deps:
            count = int(rng.poisson(8))
            if d in ("29", "22", "56") and m in MONTHS[-2:]:
                count = int(rng.poisson(8 * 2.2))
            rows.append((m, f"S-{d}", d, "rps", SOUFFRANCE, count))
    frame = pl.DataFrame(rows, schema=["periode", "service", "departement", "dimension", "modalite", "effectif"], orient="row")
    result = watch_frame(frame, published=set(), replicates=199)
    clusters = result.alerts.filter(pl.col("kind") == CLUSTER)
    assert clusters.height >= 1
    best = clusters.row(0, named=True)
    assert set(best["zones"].split(",")) & {"29", "22", "56"} and best["fin"] == LAST and best["secret"]
    assert result.cluster_count == clusters.height
    # the false clusters to expect: the départements' family runs at 0.8 q (no service type here: no services scan)
    assert result.cluster_scans == 1 and set(clusters["methode"]) == {"balayage"}
    temporal = result.alerts.filter(pl.col("kind") == TEMPORAL).height
    assert result.expected_false_alerts_fdr == pytest.approx(0.05 * temporal / 12 + 0.04 * clusters.height)


def test_each_scan_is_its_own_false_alarm_family_and_a_services_cluster_inside_a_raised_departement_one_is_left_out():
    """Benjamini-Hochberg at q within the département scans and within the services scans; a services cluster that
    shares a département with a département cluster raised for the same indicator is the same rise: left out."""
    from analytics.veille.scan import Cluster
    from analytics.veille.watch import SCAN_DEPARTEMENTS, SCAN_SERVICES, Scan, family_levels, raise_clusters

    def cluster(zones, p):
        return Cluster(tuple(zones), "2025-03", "2025-05", 20.0, 5.0, 4.0, 12.0, p)

    dep_of = {"DDTM-29": "29", "DDT-57": "57", "DREAL-57": "57", "DDT-88": "88"}
    indicators = [("rps", f"i{k}") for k in range(20)]
    found = [Scan(SCAN_DEPARTEMENTS, d, m, []) for d, m in indicators[2:]]
    found += [Scan(SCAN_DEPARTEMENTS, "rps", "i0", [cluster(["29"], 1e-5)]),
              Scan(SCAN_DEPARTEMENTS, "rps", "i1", [cluster(["13"], 0.006)])]  # 0.006 > 0.05 x 2 / 20: not raised
    found += [Scan(SCAN_SERVICES, d, m, [], dep_of) for d, m in indicators[3:]]
    found += [Scan(SCAN_SERVICES, "rps", "i0", [cluster(["DDTM-29"], 1e-4)], dep_of),  # inside the raised 29
              Scan(SCAN_SERVICES, "rps", "i1", [cluster(["DDT-57", "DREAL-57", "DDT-88"], 8e-4)], dep_of),
              Scan(SCAN_SERVICES, "rps", "i2", [cluster(["DDT-57"], 1.2e-3)], dep_of),
              Scan(SCAN_SERVICES, "rps", "i3", [cluster(["DDT-88"], 2e-3)], dep_of)]
    assert family_levels(0.05) == pytest.approx({SCAN_DEPARTEMENTS: 0.04, SCAN_SERVICES: 0.01})  # q in all
    raised = raise_clusters(found, 0.05)
    # départements, 20 scans at 0.04: 1e-5 <= 0.04 / 20, 0.006 > 0.04 x 2 / 20. Services, 20 scans at 0.01:
    # 1e-4 <= 0.01 / 20, 8e-4 <= 0.01 x 2 / 20, 1.2e-3 <= 0.01 x 3 / 20, 2e-3 > 0.01 x 4 / 20; DDTM-29's left out
    got = {(r["geo_niveau"], r["geo_code"], r["modalite"], r["zones"], r["methode"]) for r in raised.iter_rows(named=True)}
    assert got == {("departement", "29", "i0", "29", SCAN_DEPARTEMENTS),
                   ("service", "DDT-57,DREAL-57,DDT-88", "i1", "57,88", SCAN_SERVICES),
                   ("service", "DDT-57", "i2", "57", SCAN_SERVICES)}
    assert set(raise_clusters([f for f in found if f.methode == SCAN_SERVICES], 0.05)["geo_code"]) == {
        "DDTM-29", "DDT-57,DREAL-57,DDT-88", "DDT-57"}  # without the département cluster, DDTM-29's is raised


# --------------------------------------------------------------------------- the national demo, reduced to four régions

DEMO_END = "2026-10"
DEMO_REGIONS = ("53", "93", "32", "44")  # Bretagne, PACA, Hauts-de-France, Grand Est: the régions of the planted rises


def _demo_watch(rises: bool):
    from analytics import demo
    from analytics.referentials import departement_region

    keep = [d for d, r in departement_region().items() if r in DEMO_REGIONS]
    data = demo.generate(years=5, end=DEMO_END, rises=rises)
    frame = data.aggregates.filter(pl.col("departement").is_in(keep)).select(
        "periode", "service", "departement", "dimension", "modalite", "effectif", "type_service")
    return data, watch_frame(frame, published=set(), replicates=199)


@pytest.fixture(scope="module")
def demo_watch():
    return _demo_watch(True)


@pytest.fixture(scope="module")
def null_demo_watch():
    return _demo_watch(False)


def test_demo_planted_souffrance_rise_of_ddtm29_is_flagged(demo_watch):
    """ddtm29_souffrance (×3 over 3 months, 28 situations of souffrance for 5.5 usual) is strong enough by
    construction: the watch flags it in the Finistère, month by month, at its last month."""
    data, result = demo_watch
    assert "ddtm29_souffrance" in {r.key for r in data.rises}
    temporal = result.alerts.filter((pl.col("kind") == TEMPORAL) & (pl.col("geo_niveau") == "departement")
                                    & (pl.col("geo_code") == "29") & (pl.col("periode") == DEMO_END))
    assert {"situations_souffrance_travail", "relations_travail"} <= set(temporal["modalite"])
    assert (temporal["observe"] > 3 * temporal["attendu"]).all()


def test_demo_no_alert_rests_on_one_or_two_cases(demo_watch, null_demo_watch):
    for _, result in (demo_watch, null_demo_watch):
        temporal = result.alerts.filter(pl.col("kind") == TEMPORAL)
        assert (temporal["observe"] >= 3).all()  # at least MIN_CASES over the month and the month before
        assert (result.alerts.filter(pl.col("kind") == CLUSTER)["observe"] >= 3).all()
        # the expected count of an alert is never the ~0 of an extrapolated decline or of an empty calendar month
        assert (temporal["attendu"] >= 0.05).all()


def test_demo_without_planted_rise_temporal_alerts_stay_within_the_expected_false_alerts(null_demo_watch):
    data, result = null_demo_watch
    assert data.rises == ()
    temporal = result.alerts.filter(pl.col("kind") == TEMPORAL)
    # Benjamini-Hochberg: without any rise every alert is false, and their expected number a month is
    # at most q x (alerts a month); with about a thousand series tested a month the watch reports it.
    assert temporal.height / result.months_evaluated <= 1.0
    assert result.expected_false_alerts > 5  # what testing each series at alpha alone would give a month


def test_demo_without_planted_rise_raises_no_cluster(null_demo_watch):
    """These four régions at 2026-10 without any rise gave 5 false clusters when the scan summed the départements'
    Farrington baselines (Bretagne's souffrance au travail, 60 situations for 28 expected); the counts scan,
    conditioned on each month's total and carrying the error of its shares, gives none, nor does the services scan."""
    _, result = null_demo_watch
    assert result.cluster_scans == 2 * 66  # both scans of every indicator ran
    assert result.cluster_count == 0
    assert result.alerts.filter(pl.col("kind") == CLUSTER).height == 0


def test_demo_planted_souffrance_rise_of_ddtm29_is_a_cluster_of_the_finistere(demo_watch):
    data, result = demo_watch
    clusters = result.alerts.filter(pl.col("kind") == CLUSTER)
    rise = next(r for r in data.rises if r.key == "ddtm29_souffrance")
    found = clusters.filter(pl.col("modalite") == "relations_travail")
    assert found.height >= 1
    best = found.row(0, named=True)
    assert "29" in best["zones"].split(",") and best["fin"] == DEMO_END and best["debut"] >= rise.start
    assert best["observe"] > 3 * best["attendu"] and best["methode"] == "balayage"
    # every cluster of this demo is the planted rise of the Finistère (the other rises are too weak at this level)
    assert all("29" in z.split(",") for z in clusters["zones"])


def test_demo_ending_in_december_2025_finds_the_finistere_and_the_lorraine_rises_as_clusters():
    """At the end the other measures use (2025-12), the scan on the Farrington baselines found only Hauts-de-France's
    endettement here (32 for 10.3 expected, a baseline too low: the 24 months before give 13) and not the Finistère.
    The Lorraine reorganisation, diluted in the Moselle's counts by its national networks (DIR Est, Cerema, agence de
    l'eau), is a cluster of the services scan: the DDT de la Moselle and the DREAL Grand Est over the rise's months."""
    from analytics import demo
    from analytics.referentials import departement_region
    from analytics.veille.watch import SCAN_SERVICES

    keep = [d for d, r in departement_region().items() if r in DEMO_REGIONS]
    data = demo.generate(years=5, end="2025-12", rises=True)
    frame = data.aggregates.filter(pl.col("departement").is_in(keep)).select(
        "periode", "service", "departement", "dimension", "modalite", "effectif", "type_service")
    clusters = watch_frame(frame, published=set(), replicates=199).alerts.filter(pl.col("kind") == CLUSTER)
    finistere = clusters.filter(pl.col("zones") == "29")
    assert {"relations_travail", "situations_souffrance_travail"} <= set(finistere["modalite"])
    assert (finistere["fin"] == "2025-12").all() and (finistere["observe"] > 2.5 * finistere["attendu"]).all()
    rise = next(r for r in data.rises if r.key == "grand_est_reorganisation")
    lorraine = clusters.filter(pl.col("geo_niveau") == "service")
    assert lorraine.height == 1
    found = lorraine.row(0, named=True)
    assert set(found["geo_code"].split(",")) <= set(rise.services) and set(found["zones"].split(",")) <= set(rise.departements)
    assert ("problematique", found["modalite"]) in rise.indicators and found["methode"] == SCAN_SERVICES
    assert found["debut"] == rise.start and found["fin"] == "2025-12" and found["observe"] > 3 * found["attendu"]
    assert found["secret"]  # nothing is published here
    assert clusters.height == finistere.height + 1


def test_a_services_cluster_rests_on_its_services_cells():
    """The secrecy flag of a services cluster looks at the cells of its services over its window, not at the
    départements' (which also count the services outside the cluster)."""
    from analytics.veille.watch import cells_of

    alert = {"kind": CLUSTER, "geo_niveau": "service", "geo_code": "DDT-57,DREAL-57", "zones": "57", "dimension": "rps",
             "modalite": "situations_reorganisation", "periode_niveau": "mois", "periode": "2025-12", "debut": "2025-11",
             "fin": "2025-12"}
    assert sorted(cells_of(alert)) == sorted(("service", u, "mois", m, "rps", "situations_reorganisation")
                                             for u in ("DDT-57", "DREAL-57") for m in ("2025-11", "2025-12"))
    whole = {**alert, "geo_niveau": "departement", "geo_code": "57,54"}
    assert {c[:2] for c in cells_of(whole)} == {("departement", "57")}


# --------------------------------------------------------------------------- a new deployment: 2 years of history

SHORT_END = "2025-12"


def test_two_year_demo_without_rise_stays_within_the_expected_false_alerts():
    """Less than 3 years of history everywhere: the calibrated count test (methode "nb") instead of EARS, whose
    normal p-values made the watch record 269 alerts on these four régions (934 nationally) in 12 months."""
    from analytics import demo
    from analytics.referentials import departement_region

    keep = [d for d, r in departement_region().items() if r in DEMO_REGIONS]
    data = demo.generate(years=2, end=SHORT_END, rises=False)
    frame = data.aggregates.filter(pl.col("departement").is_in(keep)).select(
        "periode", "service", "departement", "dimension", "modalite", "effectif")
    result = watch_frame(frame, published=set(), replicates=99)
    assert result.months_evaluated == 12 and result.period_max == SHORT_END
    assert result.monthly_series > 500 and result.quarterly_series > 500
    temporal = result.alerts.filter(pl.col("kind") == TEMPORAL)
    by_period = temporal.group_by("periode").len()
    assert by_period.height == 0 or int(by_period["len"].max()) <= 2
    assert temporal.height / result.months_evaluated <= max(result.expected_false_alerts_fdr, 1.0)
    assert set(temporal["methode"]) <= {"nb"}


def test_two_year_series_rise_is_flagged_by_the_count_test():
    """A service tripling its souffrance au travail over 2 months, 2 years of history: flagged at every level."""
    rng = np.random.default_rng(4)
    months = MONTHS[-24:]
    rows = []
    for periode in months:
        for code, dep, label, kind, base in SERVICES:
            souffrance = int(rng.poisson(max(base, 1)))
            if code == "DDTM-29" and periode in months[-2:]:
                souffrance = 3 * base
            rows += [(periode, dep, code, label, kind, "rps", SOUFFRANCE, souffrance),
                     (periode, dep, code, label, kind, "rps", VISITES, int(rng.poisson(max(base // 2, 1))))]
    frame = fine(pl.DataFrame(rows, schema={c: (pl.Int64 if c == "effectif" else pl.String) for c in COLUMNS}, orient="row"))
    result = watch_frame(frame, published=set(), replicates=99)
    for level, code in (("service", "DDTM-29"), ("departement", "29")):
        alert = _alert(result, level, code)
        assert alert is not None, (level, code)
        assert alert["methode"] == "nb" and alert["observe"] > alert["seuil"]
    assert _alert(result, "departement", "35") is None
