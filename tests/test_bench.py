"""The benchmark runs end to end (its figures are read by people, not asserted here)."""

import json
import subprocess
import sys

import polars as pl
import pytest

from analytics.bench import bench_file


def test_bench_file_is_a_valid_import_of_the_requested_size(tmp_path):
    path, rows = bench_file(30_000, tmp_path)
    frame = pl.read_csv(path, separator=";", infer_schema=False)
    assert frame.height == rows >= 30_000
    assert rows < 30_000 + 20_000  # cut at whole months


def test_bench_command_prints_json_figures(tmp_path):
    done = subprocess.run([sys.executable, "-m", "analytics", "bench", "--json", "--rows", "20000", "--parts", "import"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    figures = {m["key"]: m for m in json.loads(done.stdout)}
    assert {"import_rows", "import_seconds", "import_rows_per_s", "import_peak_mb"} <= set(figures)
    assert figures["import_rows"]["value"] >= 20_000
    assert figures["import_peak_mb"]["value"] > 0


def test_bench_secret_part_on_one_small_region(capsys):
    """The secret part alone, on three of the small tables and one year of Mayotte (région 06, one service)."""
    from analytics.bench import run_bench

    assert run_bench(as_json=True, parts=("secret",), secret_scope="06", secret_tables=3) == 0
    figures = {m["key"]: m for m in json.loads(capsys.readouterr().out)}
    assert not {k for k in figures if k.startswith("import_")}, "the import part was not asked for"
    assert {"secret_ratio", "secret_ratio_worst", "secret_ratio_tables", "secret_national_seconds",
            "secret_national_secondary_share", "secret_national_audit_ok"} <= set(figures)
    # protect cannot beat the optimum, table by table, hence on average and in the worst case
    assert figures["secret_ratio_tables"]["value"] >= 1
    assert 1 <= figures["secret_ratio"]["value"] <= figures["secret_ratio_worst"]["value"]
    assert figures["secret_ratio_protect"]["value"] >= figures["secret_ratio_optimum"]["value"] >= 1
    assert figures["secret_ratio"]["goal"] == "≤ 1,3"
    assert 0 <= figures["secret_national_secondary_share"]["value"] <= 1
    assert figures["secret_national_seconds"]["value"] > 0
    audit_ok = figures["secret_national_audit_ok"]
    assert audit_ok["value"] in (0, 1) and audit_ok["ok"] is (audit_ok["value"] == 1)  # a verdict, read by people
    assert "région 06" in figures["secret_national_seconds"]["label"]
    assert figures["secret_national_seconds"]["ok"] is None  # the < 60 s goal is for the national year


def test_bench_published_sets_compares_every_candidate(capsys):
    """Each candidate published set measured on the same year: information kept at each viewed level, cost, audit."""
    from analytics.bench import PUBLISHED_SET_CANDIDATES, VIEWED_LEVELS, run_bench

    assert run_bench(as_json=True, parts=("published-sets",), secret_scope="06") == 0
    figures = {m["key"]: m for m in json.loads(capsys.readouterr().out)}
    for name in PUBLISHED_SET_CANDIDATES:
        kept = figures[f"published_set_{name}_kept"]["value"]
        levels = [figures[f"published_set_{name}_kept_{g} × {p}"]["value"] for g, p in VIEWED_LEVELS]
        assert all(0 <= share <= 1 for share in levels) and min(levels) <= kept <= max(levels)
        # the mean that chooses the default weighs every viewed level alike, whatever its number of cells
        assert figures[f"published_set_{name}_kept_mean"]["value"] == pytest.approx(sum(levels) / len(levels))
        assert figures[f"published_set_{name}_audit_ok"]["ok"] is True
        assert f"« {name} »" in figures[f"published_set_{name}_kept"]["label"]
        assert "région 06" in figures[f"published_set_{name}_seconds"]["label"]


def test_bench_secret_ratio_tables_are_fixed_and_small():
    from analytics.bench import ratio_tables

    first, again = ratio_tables(), ratio_tables()
    assert len(first) == 10
    for (fine, services), (fine2, services2) in zip(first, again):
        assert fine.equals(fine2) and services.equals(services2)
        assert 2 <= services.height <= 4 and set(services["departement"]) <= {"29", "35"}
        assert 3 <= fine["periode"].n_unique() <= 6
        assert set(fine["dimension"]) == {"ensemble", "axe", "problematique"}


def test_bench_text_output_in_french(capsys):
    from analytics.bench import Measure, _fmt

    assert _fmt(Measure("secret_ratio", "x", 1.25, "ratio")) == "1,25"
    assert _fmt(Measure("secret_ratio", "x", None, "ratio")) == "—"
    assert _fmt(Measure("secret_national_secondary_share", "x", 0.125, "part")) == "12,5\u00a0%"
    assert _fmt(Measure("secret_national_audit_ok", "x", 1.0, "audit")) == "réussi"
    assert _fmt(Measure("secret_national_seconds", "x", 12.34, "s")) == "12,3 s"


def test_bench_reports_the_veille_simulation_and_detection_speed():
    from analytics.bench import measure_veille

    measures = {m.key: m for m in measure_veille(replicates=1, seed=7)}
    assert {"veille_fpr", "veille_pod", "veille_sensitivity", "veille_detect_seconds"} <= set(measures)
    assert 0.0 <= measures["veille_fpr"].value < 0.05  # an outbreak detector that alarms everywhere is caught
    assert 0.0 < measures["veille_pod"].value <= 1.0
    assert measures["veille_fpr"].goal == "≤ 1 %" and measures["veille_pod"].goal == "≥ 50 %"


def test_bench_pages_part_times_each_page_on_the_store_in_place(published_copy, capsys, monkeypatch):
    """The pages part on a small published store (VIGIE_DATA_DIR holds a publication: it is the one measured)."""
    from analytics import bench

    published_copy("situations")  # the session's publication, copied into this test's VIGIE_DATA_DIR
    monkeypatch.setattr(bench, "PAGES_RUNS", 2)
    assert bench.run_bench(as_json=True, parts=("pages",)) == 0
    figures = json.loads(capsys.readouterr().out)
    assert [m["key"] for m in figures] == [f"pages_{page}_ms" for page in bench.PAGE_FILTERS]
    for m in figures:
        assert m["unit"] == "ms" and m["value"] > 0 and m["goal"] == "< 200 ms" and m["ok"] is (m["value"] < 200)
        assert "publication n° 1 de VIGIE_DATA_DIR" in m["label"] and "FR " in m["label"]  # which data, which scopes


def test_bench_reports_the_calibration_and_power_of_the_cluster_scans_the_watch_runs():
    """One demo month without any rise (no false cluster) and the planted demo at 2025-12 (the Finistère and the
    Lorraine found), with the watch's two scans and their families."""
    from analytics.bench import measure_veille_clusters

    measures = {m.key: m for m in measure_veille_clusters(null_seeds=(2026,), null_ends=("2026-10",),
                                                          planted_ends=("2025-12",))}
    assert measures["veille_cluster_false_months"].value == 0.0 and measures["veille_cluster_false_months"].ok
    assert measures["veille_cluster_false_departements"].value == measures["veille_cluster_false_services"].value == 0
    found = measures["veille_cluster_rises_2025-12"]
    assert found.value == 2 and "ddtm29_souffrance" in found.label and "grand_est_reorganisation" in found.label
    assert 0 < measures["veille_cluster_seconds"].value < 60
