"""Import-linter contracts (ARCHITECTURE.md, "Data flows one way"), run with the real `lint-imports`.

- The contracts of pyproject.toml (`[tool.importlinter]`): analytics.views never imports the
  import code, the batches, the demo loader nor analytics.publications.
- The presentation contract: app.py and pages/*.py never import the store, the import code, the
  batches, the demo loader, SQLAlchemy nor a database driver. They are scripts, not a package, so the test copies
  them into a temporary package `presentation` and runs `lint-imports` on it with the config
  below. Indirect imports are allowed: pages reach published cells through analytics.views,
  which itself reads the store.

Each contract is also shown to break on a real violation. tests/test_architecture.py keeps the
AST check of the same rule.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"

PRESENTATION_CONTRACT = """\
[importlinter]
root_packages =
    presentation
    analytics
include_external_packages = True

[importlinter:contract:presentation]
name = app.py and pages/ never import the store, the import code, the batches, the demo loader or a database driver
type = forbidden
source_modules =
    presentation
forbidden_modules =
    analytics.store
    analytics.ingest
    analytics.batches
    analytics.demo_loader
    sqlalchemy
    sqlite3
    psycopg
allow_indirect_imports = True
"""


def lint(config: Path | None, cwd: Path, pythonpath: list[Path]) -> subprocess.CompletedProcess:
    argv = [str(LINT_IMPORTS), "--no-cache"] + (["--config", str(config)] if config else [])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(p) for p in pythonpath)}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def presentation_package(tmp_path: Path) -> Path:
    """app.py and pages/*.py copied, unchanged, into the package `presentation` (pages as a subpackage)."""
    package = tmp_path / "presentation"
    (package / "pages").mkdir(parents=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "pages" / "__init__.py").write_text("", encoding="utf-8")
    shutil.copy(ROOT / "app.py", package / "app.py")
    pages = sorted((ROOT / "pages").glob("*.py"))
    assert pages, "pages/ is empty"
    for page in pages:
        shutil.copy(page, package / "pages" / page.name)
    (tmp_path / ".importlinter").write_text(PRESENTATION_CONTRACT, encoding="utf-8")
    return package


def test_lint_imports_is_installed():
    assert LINT_IMPORTS.is_file(), "import-linter manque : pip install -e '.[test]'"


def test_pyproject_contracts_are_kept():
    done = lint(None, ROOT, [ROOT])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "analytics.views reads publications only" in done.stdout and "KEPT" in done.stdout
    assert "charts and reports see published cells only" in done.stdout
    assert "2 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("module, bad_import", [
    ("views.py", "import analytics.batches"), ("views.py", "from analytics.ingest import import_bytes"),
    ("views.py", "from analytics import publications"), ("reports/docx_writer.py", "from analytics.store import aggregate"),
    ("charts.py", "import sqlalchemy"),
])
def test_pyproject_contract_breaks_on_a_forbidden_import(tmp_path, module, bad_import):
    shutil.copytree(ROOT / "analytics", tmp_path / "analytics", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    source = tmp_path / "analytics" / module
    source.write_text(source.read_text(encoding="utf-8") + f"\n{bad_import}\n", encoding="utf-8")
    done = lint(None, tmp_path, [tmp_path])
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout and "analytics." + module.removesuffix(".py").replace("/", ".") in done.stdout


def test_presentation_contract_is_kept(tmp_path):
    presentation_package(tmp_path)
    done = lint(tmp_path / ".importlinter", tmp_path, [tmp_path, ROOT])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


@pytest.mark.parametrize("bad_import", [
    "from analytics.store import aggregate",
    "import sqlalchemy as sa",
    "from analytics.ingest import import_bytes",
    "from analytics import batches",
    "import sqlite3",
])
def test_presentation_contract_breaks_when_a_page_imports_the_store(tmp_path, bad_import):
    package = presentation_package(tmp_path)
    page = package / "pages" / "accueil.py"
    page.write_text(page.read_text(encoding="utf-8") + f"\n{bad_import}  # noqa: E402\n", encoding="utf-8")
    done = lint(tmp_path / ".importlinter", tmp_path, [tmp_path, ROOT])
    assert done.returncode != 0, done.stdout
    assert "BROKEN" in done.stdout and "presentation.pages.accueil" in done.stdout
