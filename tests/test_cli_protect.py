"""`python -m analytics protect`: an import-format file in, the protected cube CSV out (no store)."""

import os
import subprocess
import sys

import polars as pl

HEADER = "periode;departement;service;dimension;modalite;effectif\n"


def _file(tmp_path, rows: list[str]):
    path = tmp_path / "entree.csv"
    path.write_text(HEADER + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def _run(tmp_path, *args):
    env = {**os.environ, "VIGIE_DATA_DIR": str(tmp_path / "var")}
    return subprocess.run([sys.executable, "-m", "analytics", "protect", *args], env=env, capture_output=True, text=True)


def _rows():
    out = []
    for month, (a, b) in {"2025-01": (12, 2), "2025-02": (9, 7)}.items():
        for service, dep, n in (("DDTM-29", "29", a), ("DDT-35", "35", b)):
            out += [f"{month};{dep};{service};ensemble;ensemble;{n}", f"{month};{dep};{service};axe;prevention_rps;{n}"]
    return out


def test_protect_writes_the_published_cells_with_their_status(tmp_path):
    out = tmp_path / "cube.csv"
    done = _run(tmp_path, "--k", "5", "--input", str(_file(tmp_path, _rows())), "--output", str(out))
    assert done.returncode == 0, done.stderr
    assert "audit réussi" in done.stdout and "HiGHS" not in done.stdout
    cube = pl.read_csv(out, infer_schema=False)
    assert cube.columns == ["geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite", "valeur", "statut"]
    assert set(cube["statut"]) <= {"publie", "secret_primaire", "secret_secondaire"}
    assert set(cube["geo_niveau"]) == {"national", "region", "departement", "service"}
    secret = cube.filter(pl.col("statut") != "publie")
    assert secret["valeur"].null_count() == secret.height
    national = cube.filter((pl.col("geo_niveau") == "national") & (pl.col("periode") == "2025") & (pl.col("modalite") == "ensemble"))
    assert national.select("geo_code", "valeur", "statut").row(0) == ("FR", "30", "publie")  # 12 + 2 + 9 + 7
    ddt35 = cube.filter((pl.col("geo_code") == "DDT-35") & (pl.col("periode") == "2025") & (pl.col("modalite") == "ensemble"))
    assert ddt35["valeur"].to_list() == ["9"] and ddt35["statut"].to_list() == ["publie"]
    zeros = cube.filter(pl.col("valeur") == "0")
    assert zeros.height > 0 and (zeros["statut"] == "publie").all()  # zeros are published, every modality present


def test_protect_refuses_a_bad_file_and_usage_errors(tmp_path):
    bad = _file(tmp_path, ["2025-13;29;DDTM-29;ensemble;ensemble;3"])
    done = _run(tmp_path, "--input", str(bad), "--output", str(tmp_path / "c.csv"))
    assert done.returncode == 1 and "ligne 2" in done.stderr and "periode" in done.stderr
    assert not (tmp_path / "c.csv").exists()
    assert _run(tmp_path, "--input", str(tmp_path / "absent.csv"), "--output", "x.csv").returncode == 2
    assert _run(tmp_path, "--input", str(bad)).returncode == 2  # --output missing
    assert _run(tmp_path, "--k", "1", "--input", str(bad), "--output", "x.csv").returncode == 2


def test_an_output_that_cannot_be_written_is_a_usage_error_in_french_before_any_protection(tmp_path):
    source = _file(tmp_path, _rows())
    target = tmp_path / "absent" / "cube.csv"
    done = _run(tmp_path, "--input", str(source), "--output", str(target))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "Dossier introuvable" in done.stderr and str(target.parent) in done.stderr and "cube.csv" in done.stderr
    assert "audit" not in done.stderr  # refused before the protection ran (no progress line)
    folder = _run(tmp_path, "--input", str(source), "--output", str(tmp_path))
    assert folder.returncode == 2 and "pas le dossier" in folder.stderr and "Traceback" not in folder.stderr
