"""The demo goes through the ordinary import path, and `make run` loads it only into an empty store."""

import os
import subprocess
import sys

import polars as pl
import sqlalchemy as sa

from analytics import store
from analytics.catalog import store_status
from analytics.demo_loader import AGGREGATES_FILE, HEADCOUNTS_FILE, ensure_demo_loaded, load_demo


def test_demo_loads_through_the_import_path_and_is_flagged_fictitious():
    reports = load_demo(years=1, end="2026-10")
    assert [r.status for r in reports] == ["importe", "importe"]
    status = store_status()
    assert status.has_demo
    assert (status.period_min, status.period_max, status.period_count) == ("2025-11", "2026-10", 12)
    assert status.service_count >= 140 and status.departement_count == 101 and status.region_count == 18
    with store.get_engine().connect() as conn:
        sources = conn.execute(sa.select(store.import_batch.c.source).distinct()).scalars().all()
        ddtm29 = conn.execute(sa.select(store.service).where(store.service.c.code == "DDTM-29")).mappings().one()
    assert sources == ["demo"]
    assert (ddtm29["libelle"], ddtm29["type_service"], ddtm29["departement"]) == ("DDTM du Finistère", "ddtm", "29")
    again = load_demo(years=1, end="2026-10")
    assert [r.status for r in again] == ["deja_importe", "deja_importe"]


def test_run_command_loads_the_demo_only_into_an_empty_store():
    assert ensure_demo_loaded() is True
    first = store_status()
    assert first.period_count == 60  # the default: five years
    assert ensure_demo_loaded() is False
    assert store_status().last_import == first.last_import


def test_cli_demo_writes_or_imports(tmp_path):
    env = {**os.environ, "VIGIE_DATA_DIR": str(tmp_path / "var")}
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "analytics", "demo", "--years", "1", "--end", "2026-10", "--output", str(out)],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    frame = pl.read_csv(out / AGGREGATES_FILE, separator=";", infer_schema=False)
    assert frame.columns[:3] == ["periode", "departement", "service"]
    assert (out / HEADCOUNTS_FILE).is_file()
    done = subprocess.run([sys.executable, "-m", "analytics", "demo", "--years", "1", "--end", "2026-10"],
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Lot 1 importé" in done.stdout and "Lot 2 importé" in done.stdout
    bad = subprocess.run([sys.executable, "-m", "analytics", "demo", "--end", "2026-13"], env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "AAAA-MM" in bad.stderr
