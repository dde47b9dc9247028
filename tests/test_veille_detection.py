"""Temporal detection of the veille: Farrington (Noufaily 2013, monthly), EARS, Benjamini-Hochberg."""

import numpy as np
import polars as pl
import pytest

from analytics.veille.detect import detect_series
from analytics.veille.ears import c1, c2, c3, ears_batch
from analytics.veille.farrington import design, farrington, farrington_series
from analytics.veille.multiple import benjamini_hochberg, expected_false_alerts
from analytics.veille.simulation import run_simulation


def frame_of(series: dict[str, np.ndarray], start_year: int = 2020) -> pl.DataFrame:
    rows = []
    for name, counts in series.items():
        for m, c in enumerate(counts):
            rows.append((name, f"{start_year + m // 12}-{m % 12 + 1:02d}", int(c)))
    return pl.DataFrame(rows, schema=["serie", "periode", "effectif"], orient="row")


def test_design_excludes_the_last_six_months_and_reaches_three_years_back():
    d = design()
    assert d.offsets.max() == -7 and d.offsets.min() == -38
    assert d.X.shape == (32, 9)  # intercept, 7 blocks outside the 5-month window, trend


def test_a_clear_spike_is_flagged():
    rng = np.random.default_rng(7)
    counts = rng.poisson(20, 60).astype(float)
    counts[-1] = 60
    result = farrington_series(counts, 59, alpha=0.01)
    assert result.alarm[0]
    assert 15 < result.expected[0] < 25
    assert result.threshold[0] < 60
    assert result.score[0] < 1e-6


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
    result = farrington(np.zeros((2, 32)), np.array([0.0, 2.0]))
    assert list(result.expected) == [0.0, 0.0]
    assert list(result.alarm) == [False, True]


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
    assert out.columns == ["serie", "periode", "attendu", "seuil", "alerte", "score", "methode"]
    last = out.filter((pl.col("serie") == "longue") & (pl.col("periode") == "2024-12")).row(0, named=True)
    assert last["alerte"] == 1 and last["methode"] == "farrington"
    assert set(out.filter(pl.col("serie") == "courte")["methode"]) == {"ears"}
    assert out.filter(pl.col("serie") == "longue").height == 5  # 2024-08 .. 2024-12


def test_simulation_is_deterministic_and_reports_rates():
    a = run_simulation(replicates=1, seed=42, alpha=0.01)
    b = run_simulation(replicates=1, seed=42, alpha=0.01)
    assert a == b
    assert 0.0 <= a["fpr"] < 0.05
    assert a["by_k"][10]["pod"] > a["by_k"][1]["pod"]
