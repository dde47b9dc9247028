"""Temporal detection of the veille: Farrington (Noufaily 2013, monthly), EARS, Benjamini-Hochberg."""

import numpy as np
import polars as pl
import pytest

from scipy import stats

from analytics.veille.detect import OUTPUT_COLUMNS, detect_series
from analytics.veille.ears import c1, c2, c3, c3_sf, c3_threshold, ears_batch, ears_c123
from analytics.veille.farrington import available_years, design, farrington, farrington_series
from analytics.veille.multiple import benjamini_hochberg, expected_false_alerts
from analytics.veille.simulation import run_simulation


def frame_of(series: dict[str, np.ndarray], start_year: int = 2020) -> pl.DataFrame:
    rows = []
    for name, counts in series.items():
        for m, c in enumerate(counts):
            rows.append((name, f"{start_year + m // 12}-{m % 12 + 1:02d}", int(c)))
    return pl.DataFrame(rows, schema=["serie", "periode", "effectif"], orient="row")


def test_design_excludes_the_last_six_months_and_uses_whole_years():
    # Changed on purpose: the reference is every month of the last b years (b = 3 .. 7 as the
    # history allows) with harmonics or a month factor, no longer a 5-month window on 3 years.
    d = design(3)
    assert d.offsets.max() == -7 and d.offsets.min() == -36
    assert d.X.shape == (30, 6)  # intercept, 2 harmonics (cos, sin), trend
    assert design(7).offsets.min() == -84
    assert design(3, season="month").X.shape == (30, 13)  # intercept, 11 months, trend
    assert [available_years(t) for t in (35, 36, 59, 84, 200)] == [0, 3, 4, 7, 7]


def test_a_clear_spike_is_flagged():
    rng = np.random.default_rng(7)
    counts = rng.poisson(20, 60).astype(float)
    counts[-1] = 60
    result = farrington_series(counts, 59, alpha=0.01)
    assert result.alarm[0]
    assert 15 < result.expected[0] < 25
    assert result.threshold[0] < 60
    # was < 1e-6: the prediction now averages over the uncertainty of the dispersion (heavier tail)
    assert result.score[0] < 1e-5


def test_stable_poisson_series_alarm_close_to_alpha():
    rng = np.random.default_rng(11)
    alpha = 0.01
    N = 4000
    mu = rng.uniform(3, 40, N)
    counts = rng.poisson(mu[:, None], (N, 60)).astype(float)
    offsets = design().offsets
    result = farrington(counts[:, 59 + offsets], counts[:, 59], alpha)
    rate = result.alarm.mean()
    assert rate <= 2.0 * alpha
    assert rate > 0.0
    assert np.all(result.score[result.alarm] < 0.05)


def test_down_weighting_keeps_a_past_outbreak_from_inflating_the_threshold():
    rng = np.random.default_rng(3)
    clean = rng.poisson(10, 60).astype(float)
    outbreak = clean.copy()
    outbreak[59 - 12] += 60  # last year, same month as the target: in the window
    outbreak[59 - 24 + 1] += 40
    clean_result = farrington_series(clean, 59)
    weighted = farrington_series(outbreak, 59)
    unweighted = farrington_series(outbreak, 59, reweight=False)
    assert weighted.threshold[0] < 0.75 * unweighted.threshold[0]
    assert abs(weighted.expected[0] - clean_result.expected[0]) < abs(unweighted.expected[0] - clean_result.expected[0])
    assert weighted.phi[0] < unweighted.phi[0]
    # a moderate past outbreak is almost entirely neutralised
    moderate = clean.copy()
    moderate[59 - 12] += 25
    assert farrington_series(moderate, 59).threshold[0] <= clean_result.threshold[0] + 5


def test_empty_reference_gives_zero_expected_and_flags_any_case():
    n = design(3).offsets.size  # changed on purpose: 30 reference months for 3 years (was 32)
    for previous in (None, np.zeros(2)):
        result = farrington(np.zeros((2, n)), np.array([0.0, 2.0]), previous=previous)
        assert list(result.expected) == [0.0, 0.0]
        assert list(result.alarm) == [False, True]
        assert list(result.threshold) == [0.0, 0.0]


def test_ears_hand_computed_examples():
    y = [2, 4, 2, 4, 2, 4, 2, 10]  # baseline mean 20/7, sd (ddof 1) = sqrt(48/7 / 6)
    mean, sd = 20 / 7, np.sqrt(sum((v - 20 / 7) ** 2 for v in y[:7]) / 6)
    stat, alarm = c1(y, 7)
    assert stat == pytest.approx((10 - mean) / sd)
    assert alarm
    z = [3, 5, 3, 5, 3, 5, 3, 100, 100, 4]  # C2 at t = 9 uses months 0..6, guard band 7, 8
    stat2, alarm2 = c2(z, 9)
    m2 = 27 / 7
    s2 = np.sqrt(sum((v - m2) ** 2 for v in z[:7]) / 6)
    assert stat2 == pytest.approx((4 - m2) / s2)
    assert not alarm2
    w = [5, 5, 5, 5, 5, 5, 5, 5, 5, 7, 8, 9]  # flat baseline: sd floored at 1
    c2_stats = [(7 - 5) / 1, (8 - 5) / 1, (9 - 5) / 1]
    stat3, alarm3 = c3(w, 11)
    assert stat3 == pytest.approx(sum(max(0.0, s - 1.0) for s in c2_stats))  # 1 + 2 + 3 = 6
    assert alarm3


def test_ears_batch_uses_the_guard_band_when_possible():
    hist = np.array([[5, 5, 5, 5, 5, 5, 5, 50, 50], [np.nan] * 5 + [4, 6, 5, 5]], dtype=float)
    expected, threshold, alarm, score = ears_batch(hist, np.array([12.0, 12.0]), alpha=0.01)
    assert expected[0] == pytest.approx(5.0)  # the two last months (guard band) are ignored
    assert alarm[0]
    assert expected[1] == pytest.approx(5.0)  # C1 on the 4 known months
    assert alarm[1]


def test_benjamini_hochberg_known_example():
    p = [0.01, 0.04, 0.03, 0.005, 0.5]
    adjusted, rejected = benjamini_hochberg(p, q=0.05)
    # sorted: 0.005, 0.01, 0.03, 0.04, 0.5 -> *5/rank: 0.025, 0.025, 0.05, 0.05, 0.5
    assert adjusted == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    assert list(rejected) == [True, True, True, True, False]
    assert expected_false_alerts(0.01, 300) == pytest.approx(3.0)


def test_detect_series_columns_methods_and_missing_months():
    rng = np.random.default_rng(5)
    long = rng.poisson(15, 60).astype(float)
    long[-1] = 50
    short = rng.poisson(15, 20).astype(float)
    frame = frame_of({"longue": long}).vstack(frame_of({"courte": short}, start_year=2023))
    frame = frame.filter(~((pl.col("serie") == "longue") & (pl.col("periode") == "2022-06")))  # a gap: 0
    out = detect_series(frame, since="2024-08", alpha=0.01)
    # changed on purpose: p_value and alerte_fdr added after the former columns
    assert out.columns == ["serie", "periode", "attendu", "seuil", "alerte", "score", "methode", "p_value", "alerte_fdr"]
    assert tuple(out.columns) == OUTPUT_COLUMNS
    last = out.filter((pl.col("serie") == "longue") & (pl.col("periode") == "2024-12")).row(0, named=True)
    assert last["alerte"] == 1 and last["methode"] == "farrington"
    # changed on purpose: "ears" when no EARS criterion alerts, else the criteria that did ("ears_c3"...)
    assert out.filter(pl.col("serie") == "courte")["methode"].str.starts_with("ears").all()
    assert out.filter(pl.col("serie") == "longue").height == 5  # 2024-08 .. 2024-12


def test_simulation_is_deterministic_and_reports_rates():
    a = run_simulation(replicates=1, seed=42, alpha=0.01)
    b = run_simulation(replicates=1, seed=42, alpha=0.01)
    assert a == b
    assert 0.0 <= a["fpr"] < 0.05
    assert a["by_k"][10]["pod"] > a["by_k"][1]["pod"]


# --------------------------------------------------------------------------- p-values, accumulation, FDR


def nb_counts(rng, n: int, months: int, phi=(1.5, 3.0), amplitude: float = 0.3) -> np.ndarray:
    """Stationary negative binomial series (seasonal, no trend, no outbreak): the null hypothesis."""
    mu = rng.uniform(3, 40, n)[:, None] * (1 + amplitude * np.cos(2 * np.pi * np.arange(months) / 12))[None, :]
    dispersion = rng.uniform(*phi, n)[:, None]
    size = mu / (dispersion - 1)
    return rng.negative_binomial(size, size / (size + mu)).astype(float)


def grid_frame(counts: np.ndarray, start_year: int = 2020) -> pl.DataFrame:
    n, months = counts.shape
    periods = [f"{start_year + m // 12}-{m % 12 + 1:02d}" for m in range(months)]
    return pl.DataFrame({"serie": np.repeat([f"s{i:04d}" for i in range(n)], months), "periode": periods * n,
                         "effectif": counts.astype(np.int64).ravel()})


def binomial_upper(p: float, n: int, z: float = 3.0) -> float:
    return p + z * np.sqrt(p * (1 - p) / n)


def test_p_values_are_not_too_small_under_the_null():
    rng = np.random.default_rng(3)
    n = 3000
    out = detect_series(grid_frame(nb_counts(rng, n, 60)))  # the last month only: one row per series
    assert out.height == n and set(out["methode"]) == {"farrington"}
    p = out["p_value"].to_numpy()
    for level in (0.05, 0.01):
        share = float(np.mean(p < level))
        assert share <= binomial_upper(level, n), (level, share)
    assert float(np.mean(p < 0.05)) > 0.03  # not degenerate: a detector answering 1 everywhere fails
    score = out["score"].to_numpy()  # the month alone: close to uniform
    assert abs(float(np.mean(score < 0.05)) - 0.05) < 3 * np.sqrt(0.05 * 0.95 / n)
    # the alert is exactly p_value <= alpha
    assert np.array_equal(out["alerte"].to_numpy() == 1, p <= 0.01)


def test_a_clear_outbreak_is_flagged_by_alerte_and_alerte_fdr():
    rng = np.random.default_rng(8)
    counts = nb_counts(rng, 300, 60)
    counts[0, -1] = 4 * counts[0, -13:-1].max() + 30  # the last month of series s0000
    out = detect_series(grid_frame(counts))
    row = out.filter(pl.col("serie") == "s0000").row(0, named=True)
    assert row["alerte"] == 1 and row["alerte_fdr"] == 1
    assert row["p_value"] < 1e-6
    assert out["alerte_fdr"].sum() <= out["alerte"].sum()


def test_an_outbreak_spread_over_two_months_is_caught_by_the_accumulation():
    rng = np.random.default_rng(21)
    base = rng.poisson(20, 96).astype(float)
    counts = base.copy()
    counts[-2:] = 30  # baseline 20: about 2.2 sd each month, neither month alone is beyond its threshold (32)
    alone = farrington_series(counts, 95, alpha=0.01)
    both = farrington_series(counts, 95, alpha=0.01, accumulate=True)
    assert not alone.alarm[0] and both.alarm[0]
    assert both.p_value[0] < alone.score[0]
    # a normal month does not alert because the month before it was high
    after = base.copy()
    after[-2] += 40
    after[-1] = np.floor(farrington_series(after, 95).expected[0])
    assert not farrington_series(after, 95, accumulate=True).alarm[0]


def test_threshold_matches_the_alarm_with_the_accumulation():
    rng = np.random.default_rng(4)
    counts = nb_counts(rng, 400, 84)
    counts[:40, -1] += 25
    counts[40:80, -2:] += 12
    out = detect_series(grid_frame(counts), since="2026-07")
    obs = grid_frame(counts).filter(pl.col("periode") >= "2026-07").sort("serie", "periode")["effectif"].to_numpy()
    assert np.array_equal(out["alerte"].to_numpy() == 1, obs > out["seuil"].to_numpy())
    assert out["alerte"].sum() > 40


def test_benjamini_hochberg_keeps_about_the_expected_number_of_alerts_on_null_data():
    rng = np.random.default_rng(9)
    n, months = 1000, 12
    out = detect_series(grid_frame(nb_counts(rng, n, 60)), since="2024-01")
    assert out.height == n * months
    alerts = int(out["alerte"].sum())
    expected = expected_false_alerts(0.01, n) * months  # 120
    assert 0.5 * expected < alerts < 1.5 * expected
    # under the complete null BH at q controls the chance of any alert in a month at q: ~0.6 months here
    assert int(out["alerte_fdr"].sum()) <= 4
    by_month = out.group_by("periode").agg(pl.col("alerte_fdr").sum())
    assert (by_month["alerte_fdr"] > 0).sum() <= 3


def test_a_sharp_seasonal_pattern_uses_the_month_factor():
    rng = np.random.default_rng(2)
    mu = np.full(84, 30.0)
    mu[7::12] = 4.0  # August: the service is closed
    counts = rng.poisson(mu).astype(float)
    september = 80  # index of a September, after a closed August
    result = farrington_series(counts, september, accumulate=True)
    assert result.season[0] == "month"
    assert 24 < result.expected[0] < 36 and not result.alarm[0]
    smooth = farrington_series(rng.poisson(np.full(84, 30.0)).astype(float), 83)
    assert smooth.season[0] == "harmonic"


def _naive(counts, targets, alpha):
    """Mean + z sd of the 12 previous months: no seasonality, no trend, no protection from past outbreaks."""
    z = stats.norm.isf(alpha)
    out = np.zeros((counts.shape[0], targets.size), dtype=bool)
    for j, t in enumerate(targets):
        ref = counts[:, t - 12:t]
        out[:, j] = counts[:, t] > ref.mean(axis=1) + z * np.maximum(ref.std(axis=1, ddof=1), 1.0)
    return out


def _random(counts, targets, alpha):
    return np.random.default_rng(0).random((counts.shape[0], targets.size)) < alpha


def test_simulation_bounds_that_the_detector_meets_and_trivial_ones_do_not():
    fpr_bound, pod_bound = 0.01, 0.45  # measured: 0.5 % and 52 % (2 replicates, seed 5)
    result = run_simulation(replicates=2, seed=5, alpha=0.01)
    assert result["fpr"] <= fpr_bound and result["pod"] >= pod_bound
    assert result["single_month"]["pod"] < result["pod"]  # the accumulation adds detections
    for trivial in (_naive, _random):  # naive: 3 % false alarms, random: 2 % detected
        other = run_simulation(replicates=2, seed=5, alpha=0.01, detector=trivial)
        assert other["fpr"] > fpr_bound or other["pod"] < pod_bound, trivial.__name__


def test_an_empty_calendar_month_of_a_sparse_series_is_not_predicted_at_zero():
    """Month factor only on dense enough series: a sparse series whose May had no case in any reference year
    (Lot, situations de souffrance, national demo) was predicted at 0 and alerted on 4 cases with p ~ 1e-23."""
    y = np.array([2, 1, 0, 0, 2, 1, 0, 3, 0, 0, 2, 0, 0, 2, 2, 0, 1, 1, 0, 1, 1, 0, 1, 2, 1, 3, 1, 0, 0, 1, 0, 1, 0, 1,
                  1, 1, 0, 2, 3, 0, 1, 2, 0, 2, 0, 1, 2, 0, 0, 2, 4, 1, 3, 2, 4], dtype=float)
    result = farrington_series(y, 54, alpha=0.01, accumulate=True)
    assert result.season[0] != "month"
    assert result.expected[0] > 0.3 and not result.alarm[0]


def test_a_chance_decline_is_not_extrapolated_to_zero():
    """The trend is always kept (``farrington.TREND_P`` None, unlike Noufaily's significance rule), yet a flat
    sparse series rarely sees a chance decline drive its expected count towards zero."""
    rng = np.random.default_rng(4)
    hits = 0
    for _ in range(200):
        y = rng.poisson(0.8, 60).astype(float)
        result = farrington_series(y, 59, alpha=0.01)
        hits += result.expected[0] < 0.2
    assert hits <= 4  # a few per cent of the 200 draws at most


# --------------------------------------------------------------------------- short histories (< 3 years)


def test_short_history_count_test_is_calibrated_under_a_seasonal_null():
    """2 years of seasonal negative binomial series: the count test ("nb", the watch's) keeps about alpha of
    p <= alpha, where the normal approximation of EARS gives 8 % (measured: nb 0.96 %, EARS 8.1 %)."""
    rng = np.random.default_rng(1)
    n = 2000
    counts = nb_counts(rng, n, 24)
    frame = grid_frame(counts)
    out = detect_series(frame, since="2021-01", short="nb")  # 12 to 23 months of history
    assert out.height == 12 * n and set(out["methode"]) == {"nb"}
    p = out["p_value"].to_numpy()
    assert not np.isnan(p).any()
    assert float(np.mean(p <= 0.01)) <= 0.015
    assert float(np.mean(p <= 0.05)) <= 0.06
    assert float(np.mean(p <= 0.05)) > 0.02  # not degenerate
    assert np.array_equal(out["alerte"].to_numpy() == 1, p <= 0.01)
    observed = frame.filter(pl.col("periode") >= "2021-01").sort("serie", "periode")["effectif"].to_numpy()
    assert np.array_equal(out["alerte"].to_numpy() == 1, observed > out["seuil"].to_numpy())
    by_month = out.group_by("periode").agg(pl.col("alerte_fdr").sum())
    assert int(by_month["alerte_fdr"].max()) <= 2  # BH: about q months with any alert under the complete null
    ears = detect_series(frame, since="2021-01")  # the textbook fall-back, kept as the default of `detect`
    assert ears["methode"].str.starts_with("ears").all()
    assert float(np.mean(ears["p_value"].to_numpy() <= 0.01)) > 0.05


def test_short_history_count_test_flags_a_tripled_two_month_rise():
    for seed in range(5):
        rng = np.random.default_rng(seed)
        counts = nb_counts(rng, 300, 24)
        mu = 5 * (1 + 0.3 * np.cos(2 * np.pi * np.arange(24) / 12))  # the seasonality of the other series
        size = mu / 0.5
        counts[0] = rng.negative_binomial(size, size / (size + mu))
        counts[0, -2:] = np.round(3 * mu[-2:])  # x 3 over the last 2 months of a series averaging 5
        out = detect_series(grid_frame(counts), short="nb")
        row = out.filter(pl.col("serie") == "s0000").row(0, named=True)
        assert row["alerte"] == 1 and row["methode"] == "nb", (seed, row)
        assert row["attendu"] < 12 and row["seuil"] < 17  # 17 or 18 observed


def test_short_history_count_test_carries_the_seasonality_of_last_year():
    """The August of a service closed in August, 20 months of history: the count test expects last August's
    level (pooled over the series), so a quadrupled August is flagged; EARS's 7-month mean expects 30 and misses it."""
    rng = np.random.default_rng(6)
    mu = np.full(20, 30.0)
    mu[7::12] = 4.0  # August
    counts = rng.poisson(mu[None, :], (200, 20)).astype(float)  # 2020-01 .. 2021-08
    counts[0, -1] = 16
    nb = detect_series(grid_frame(counts), short="nb")
    assert nb["periode"].unique().to_list() == ["2021-08"]
    assert 2 < nb["attendu"].median() < 8
    assert nb["alerte"][1:].mean() <= 0.02
    assert nb.filter(pl.col("serie") == "s0000")["alerte"].item() == 1
    ears = detect_series(grid_frame(counts))
    assert ears["attendu"].median() > 20
    assert ears.filter(pl.col("serie") == "s0000")["alerte"].item() == 0


def test_c3_null_distribution_and_threshold():
    """C3 = sum of three max(0, Z - 1): its textbook threshold 2 is alpha 0.0093; Monte Carlo agrees."""
    assert c3_threshold(0.01) == pytest.approx(1.967, abs=0.005)
    assert float(c3_sf(2.0)) == pytest.approx(0.00925, rel=0.01)
    assert float(c3_sf(0.0)) == 1.0
    z = np.random.default_rng(0).standard_normal((400_000, 3))
    s = np.maximum(z - 1.0, 0.0).sum(axis=1)
    for c in (0.5, 1.5, 2.5):
        assert float(c3_sf(c)) == pytest.approx(float(np.mean(s >= c)), rel=0.05)


def test_ears_c123_matches_the_hand_computed_criteria():
    rng = np.random.default_rng(8)
    for _ in range(50):
        y = rng.poisson(rng.uniform(2, 30), 12).astype(float)
        y[-3:] += rng.integers(0, 15, 3)
        r = ears_c123(y[None, :], alpha=0.01)
        for i, (stat, _) in enumerate((c1(y, 11), c2(y, 11), c3(y, 11))):
            assert r.statistics[0, i] == pytest.approx(stat)
        assert r.fired[0, 2] == (r.statistics[0, 2] > c3_threshold(0.01))
        assert r.alarm[0] == (r.p_value[0] <= 0.01) == (y[-1] > r.threshold[0])


def test_c3_alerts_alone_on_a_moderate_three_month_rise_and_persists():
    """Textbook C3: the current month counts in the sum; once the two months before exceed the threshold on their
    own, the month alerts whatever its count (seuil -1)."""
    base = [10, 12] * 6
    out = detect_series(frame_of({"c3": np.array(base + [13, 13, 13]), "plat": np.array(base + [11, 11, 11])},
                                 start_year=2023))
    c3_row = out.filter(pl.col("serie") == "c3").row(0, named=True)
    assert c3_row["methode"] == "ears_c3" and c3_row["alerte"] == 1  # C1 1.03, C2 1.74 < 2.33; C3 2.48 > 1.97
    assert c3_row["score"] > 0.01 and c3_row["p_value"] <= 0.01 and 12 < c3_row["seuil"] < 13
    assert out.filter(pl.col("serie") == "plat").row(0, named=True)["methode"] == "ears"
    assert out.filter(pl.col("serie") == "plat")["alerte"].item() == 0
    after = detect_series(frame_of({"c3": np.array(base + [14, 14, 0])}, start_year=2023)).row(0, named=True)
    assert after["methode"] == "ears_c3" and after["alerte"] == 1 and after["seuil"] == -1.0


def test_short_must_name_a_method():
    with pytest.raises(ValueError):
        detect_series(grid_frame(np.ones((1, 12))), short="c3")


def test_a_sparse_reference_whose_few_cases_close_it_does_not_run_away():
    """Zeros, then a case in each of its last 3 months: the trend and the harmonics separate the data and the fit
    predicted exp(30) = 1e13 (0.8 % of the sparse département series of the national demo); refitted on its level."""
    reference = np.zeros(design(3).offsets.size)
    reference[-5:-2] = 1.0
    result = farrington(reference[None, :], np.array([0.0]), previous=np.array([1.0]))
    assert result.expected[0] == pytest.approx(3 / reference.size, rel=0.3)  # 3 cases in 30 months
    assert not result.trend_kept[0]
