"""The benchmark runs end to end (its figures are read by people, not asserted here)."""

import json
import subprocess
import sys

import polars as pl

from analytics.bench import bench_file


def test_bench_file_is_a_valid_import_of_the_requested_size(tmp_path):
    path, rows = bench_file(30_000, tmp_path)
    frame = pl.read_csv(path, separator=";", infer_schema=False)
    assert frame.height == rows >= 30_000
    assert rows < 30_000 + 20_000  # cut at whole months


def test_bench_command_prints_json_figures(tmp_path):
    done = subprocess.run([sys.executable, "-m", "analytics", "bench", "--json", "--rows", "20000"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    figures = {m["key"]: m for m in json.loads(done.stdout)}
    assert {"import_rows", "import_seconds", "import_rows_per_s", "import_peak_mb"} <= set(figures)
    assert figures["import_rows"]["value"] >= 20_000
    assert figures["import_peak_mb"]["value"] > 0
