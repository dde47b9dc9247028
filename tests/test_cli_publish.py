"""`python -m analytics publish | publications`, and `serve` publishing before it starts, as a person
runs them: real processes, a store in a temporary VIGIE_DATA_DIR. Exit codes: 0 published,
1 refused or nothing to publish, 2 usage error."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from analytics import store
from ingest_files import csv_bytes, write
from publication_data import frame

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def cli(tmp_path: Path):
    data_dir = tmp_path / "donnees"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIGIE_")}
    env.update(VIGIE_DATA_DIR=str(data_dir), VIGIE_USER="Camille Test", PYTHONIOENCODING="utf-8")

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "analytics", *args], cwd=ROOT, env=env,
                              capture_output=True, text=True, encoding="utf-8", timeout=300)

    run.env = env
    run.data_dir = data_dir
    return run


def publications(data_dir: Path) -> list[tuple]:
    engine = store.make_engine(f"sqlite:///{data_dir / 'vigie.sqlite'}")
    try:
        with engine.connect() as conn:
            p = store.publication
            return [tuple(r) for r in conn.execute(sa.select(p.c.id, p.c.status, p.c.author, p.c.k).order_by(p.c.id)).all()]
    finally:
        engine.dispose()


def test_publish_then_publish_again_then_history(tmp_path, cli):
    assert cli("import", str(write(tmp_path, "agregats.csv", csv_bytes(frame())))).returncode == 0

    done = cli("publish")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Publication n° 1 : ") and " cellules, " in done.stdout and " secrets " in done.stdout
    assert done.stdout.rstrip().endswith(" s.")
    assert "Année 2024 : masquage et audit" in done.stderr and "Année 2025 : masquage et audit" in done.stderr
    assert "[100 %]" in done.stderr  # progress on stderr, the result on stdout
    assert "HiGHS" not in done.stdout + done.stderr

    again = cli("publish", "--author", "Dominique")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Publication n° 2 : ")
    assert "masquage repris sans changement pour les années 2024 et 2025" in again.stdout
    assert "Année 2024 : données inchangées depuis la publication n° 1" in again.stderr
    assert publications(cli.data_dir) == [(1, "publiee", "Camille Test", 5), (2, "publiee", "Dominique", 5)]

    listed = cli("publications")
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("n°    2") and lines[1].startswith("n°    1")
    for part in ("publiée", "k = 5", "2024-01 à 2025-03", "cellules", "secrets", "reprises : 2024, 2025", "Dominique"):
        assert part in lines[0], (part, lines[0])
    assert "reprises" not in lines[1]


def test_publish_options(tmp_path, cli):
    assert cli("import", str(write(tmp_path, "agregats.csv", csv_bytes(frame(years=(2025,)))))).returncode == 0
    rules = tmp_path / "regles.yaml"
    rules.write_text("- {geo: national, periode: [annee]}\n- {geo: region, periode: [annee]}\n", encoding="utf-8")
    done = cli("publish", "--k", "3", "--published-set", str(rules), "--author", "Alex")
    assert done.returncode == 0, done.stderr
    assert "k = 3" in done.stderr
    assert publications(cli.data_dir) == [(1, "publiee", "Alex", 3)]

    env_k = subprocess.run([sys.executable, "-m", "analytics", "publish"], cwd=ROOT, env={**cli.env, "VIGIE_K": "4"},
                           capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert env_k.returncode == 0, env_k.stderr
    assert publications(cli.data_dir)[-1][3] == 4


def test_nothing_to_publish_exits_1(cli):
    done = cli("publish")
    assert done.returncode == 1
    assert "Rien à publier" in done.stderr and done.stdout == ""
    assert cli("publications").stdout.strip() == "Aucune publication."


def test_usage_errors_exit_2(tmp_path, cli):
    assert cli("import", str(write(tmp_path, "agregats.csv", csv_bytes(frame(years=(2025,)))))).returncode == 0
    k1 = cli("publish", "--k", "1")
    assert k1.returncode == 2 and "au moins 2" in k1.stderr
    assert cli("publish", "--k", "deux").returncode == 2
    missing = cli("publish", "--published-set", str(tmp_path / "absent.yaml"))
    assert missing.returncode == 2 and "introuvable" in missing.stderr
    bad = tmp_path / "faux.yaml"
    bad.write_text("- {geo: canton, periode: [annee]}\n", encoding="utf-8")
    wrong = cli("publish", "--published-set", str(bad))
    assert wrong.returncode == 2 and "canton" in wrong.stderr
    assert publications(cli.data_dir) == []  # nothing was stored


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_until(cli, tmp_path: Path, name: str, expected: str, timeout: float = 180.0) -> str:
    """Start `serve`, wait until its output contains `expected`, stop it; return the output."""
    log = tmp_path / f"{name}.log"
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, "-m", "analytics", "serve", "--port", str(_free_port()), "--headless"],
                                cwd=ROOT, env={**cli.env, "PYTHONUNBUFFERED": "1"}, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + timeout
            while expected not in log.read_text(encoding="utf-8") and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    text = log.read_text(encoding="utf-8")
    assert expected in text, text
    return text


def test_serve_publishes_in_the_background_when_nothing_is_published(tmp_path, cli):
    assert cli("import", str(write(tmp_path, "agregats.csv", csv_bytes(frame())))).returncode == 0
    first = _serve_until(cli, tmp_path, "premier", "URL:")  # Streamlit starts without waiting for the publication
    assert "publication lancée en arrière-plan" in first
    log = cli.data_dir / "publication.log"
    deadline = time.monotonic() + 180
    while not publications(cli.data_dir) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert publications(cli.data_dir) == [(1, "publiee", "Camille Test", 5)]
    while "Publication n° 1 : " not in log.read_text(encoding="utf-8") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Année 2024 : masquage et audit" in log.read_text(encoding="utf-8")

    second = _serve_until(cli, tmp_path, "second", "URL:")
    assert "Aucune publication en vigueur" not in second
    assert publications(cli.data_dir) == [(1, "publiee", "Camille Test", 5)]
