"""`python -m analytics detect`: exit codes, output columns, French refusal messages."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "analytics", "detect", *args], capture_output=True, text=True, cwd=cwd or ROOT)


def write_series(path: Path, spike: bool = True) -> Path:
    rng = np.random.default_rng(1)
    lines = ["serie,periode,effectif"]
    for name in ("A", "B"):
        counts = rng.poisson(12, 48)
        if spike and name == "A":
            counts[-1] = 45
        lines += [f"{name},{2021 + m // 12}-{m % 12 + 1:02d},{c}" for m, c in enumerate(counts)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_detect_writes_alerts_and_a_french_summary(tmp_path):
    source, output = write_series(tmp_path / "series.csv"), tmp_path / "alertes.csv"
    result = run("--input", str(source), "--output", str(output), "--since", "2024-10")
    assert result.returncode == 0, result.stderr
    out = pl.read_csv(output)
    assert out.columns == ["serie", "periode", "attendu", "seuil", "alerte", "score", "methode", "p_value", "alerte_fdr"]
    assert set(out["alerte_fdr"].to_list()) <= {0, 1}
    assert ((out["alerte"] == 1) == (out["p_value"] <= 0.01)).all()  # alerte is the test at alpha on p_value
    assert out.height == 6
    assert out.filter((pl.col("serie") == "A") & (pl.col("periode") == "2024-12"))["alerte"].item() == 1
    assert out.filter((pl.col("serie") == "A") & (pl.col("periode") == "2024-12"))["alerte_fdr"].item() == 1
    assert "2 séries" in result.stdout and "3 périodes" in result.stdout
    assert "fausses alertes attendues par mois" in result.stdout


def test_refused_input_names_file_line_and_column(tmp_path):
    bad = tmp_path / "mauvais.csv"
    bad.write_text("serie,periode,effectif\nA,2024-01,3\nA,2024-02,-1\n", encoding="utf-8")
    result = run("--input", str(bad), "--output", str(tmp_path / "o.csv"))
    assert result.returncode == 1
    assert "mauvais.csv" in result.stderr and "ligne 3" in result.stderr and "effectif" in result.stderr
    assert "négatif" in result.stderr

    bad.write_text("serie,periode,effectif\nA,2024-13,3\n", encoding="utf-8")
    result = run("--input", str(bad), "--output", str(tmp_path / "o.csv"))
    assert result.returncode == 1 and "ligne 2" in result.stderr and "periode" in result.stderr

    bad.write_text("serie,periode,effectif\nA,2024-01,2.5\n", encoding="utf-8")
    result = run("--input", str(bad), "--output", str(tmp_path / "o.csv"))
    assert result.returncode == 1 and "entier" in result.stderr

    bad.write_text("serie;periode\nA;2024-01\n", encoding="utf-8")
    result = run("--input", str(bad), "--output", str(tmp_path / "o.csv"))
    assert result.returncode == 1 and "manquante" in result.stderr and "effectif" in result.stderr
    assert not (tmp_path / "o.csv").exists()


def test_usage_errors_exit_2(tmp_path):
    source = write_series(tmp_path / "series.csv", spike=False)
    assert run("--input", str(source)).returncode == 2
    result = run("--input", str(source), "--output", str(tmp_path / "o.csv"), "--alpha", "abc")
    assert result.returncode == 2 and "alpha" in result.stderr
    assert run("--input", str(source), "--output", str(tmp_path / "o.csv"), "--since", "2024/01").returncode == 2
    assert run("--input", str(tmp_path / "absent.csv"), "--output", str(tmp_path / "o.csv")).returncode == 2


def test_default_since_is_the_last_month_and_alpha_takes_a_french_decimal(tmp_path):
    source, output = write_series(tmp_path / "series.csv"), tmp_path / "alertes.csv"
    result = run("--input", str(source), "--output", str(output), "--alpha", "0,05")
    assert result.returncode == 0, result.stderr
    out = pl.read_csv(output)
    assert out.height == 2 and set(out["periode"]) == {"2024-12"}  # one row per series, the last month only
    assert ((out["alerte"] == 1) == (out["p_value"] <= 0.05)).all() and "alpha 0,050" in result.stdout


def test_a_short_series_gets_the_ears_method_and_a_bom_semicolon_file_is_read(tmp_path):
    source, output = tmp_path / "courte.csv", tmp_path / "alertes.csv"
    rows = [f"C;2024-{m:02d};{c}" for m, c in zip(range(1, 13), (9, 11, 10, 12, 8, 10, 11, 9, 10, 12, 11, 40))]
    source.write_bytes(("\ufeffserie;periode;effectif\r\n" + "\r\n".join(rows) + "\r\n").encode("utf-8"))
    result = run("--input", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    row = pl.read_csv(output).row(0, named=True)
    # changed on purpose: methode names the EARS criteria that alerted (C1, C2 and C3 side by side)
    assert row["serie"] == "C" and row["periode"] == "2024-12" and row["methode"] == "ears_c1_c2_c3" and row["alerte"] == 1
    assert "1 série, 1 période, 1 alerte ;" in result.stdout  # singular for one (was « 1 séries, 1 périodes »)
    assert "1 alerte après contrôle" in result.stdout


def test_a_short_series_where_only_c3_alerts(tmp_path):
    """Three months each a little above a 12-month baseline: neither C1 nor C2 exceeds z(0.99) = 2.33, their C3
    sum (0.74 + 0.74 + 1.0 = 2.48) exceeds its threshold 1.97."""
    source, output = tmp_path / "c3.csv", tmp_path / "alertes.csv"
    counts = [10, 12] * 6 + [13, 13, 13]
    rows = [f"D,{2023 + m // 12}-{m % 12 + 1:02d},{c}" for m, c in enumerate(counts)]
    source.write_text("serie,periode,effectif\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = run("--input", str(source), "--output", str(output))
    assert result.returncode == 0, result.stderr
    row = pl.read_csv(output).row(0, named=True)
    assert row["periode"] == "2024-03" and row["methode"] == "ears_c3" and row["alerte"] == 1
    assert row["score"] > 0.01 and row["p_value"] <= 0.01  # the month alone (C1, C2) would not alert
    assert 12 < row["seuil"] < 13  # 13 alerts, 12 would not


def test_an_output_in_a_missing_folder_is_a_usage_error_in_french(tmp_path):
    source = write_series(tmp_path / "series.csv")
    target = tmp_path / "absent" / "alertes.csv"
    result = run("--input", str(source), "--output", str(target))
    assert result.returncode == 2
    assert "Dossier introuvable" in result.stderr and str(target.parent) in result.stderr and "alertes.csv" in result.stderr
    assert "Traceback" not in result.stderr and not target.parent.exists()
    result = run("--input", str(source), "--output", str(tmp_path))  # a folder, not a file
    assert result.returncode == 2 and "pas le dossier" in result.stderr and "Traceback" not in result.stderr


def test_the_summary_uses_plurals_from_two(tmp_path):
    source, output = write_series(tmp_path / "series.csv", spike=False), tmp_path / "alertes.csv"
    result = run("--input", str(source), "--output", str(output), "--since", "2024-11")
    assert result.returncode == 0, result.stderr
    assert "2 séries, 2 périodes," in result.stdout
    n = int(pl.read_csv(output)["alerte"].sum())
    assert (f"{n} alertes ;" if n >= 2 else f"{n} alerte ;") in result.stdout
