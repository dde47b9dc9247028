"""Rules that keep raw data out of the presentation layer (ARCHITECTURE.md, 'Data flows one way')."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PRESENTATION = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
FORBIDDEN = ("sqlalchemy", "analytics.store", "analytics.ingest", "analytics.batches", "analytics.demo_loader", "sqlite3", "psycopg")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


@pytest.mark.parametrize("path", PRESENTATION, ids=lambda p: p.name)
def test_presentation_never_imports_the_store_or_the_import_code(path):
    bad = sorted(m for m in imported_modules(path) if m.startswith(FORBIDDEN))
    assert not bad, f"{path.name} importe {bad}"


@pytest.mark.parametrize("path", PRESENTATION, ids=lambda p: p.name)
def test_no_raw_html_in_pages(path):
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.keyword) and node.arg in ("unsafe_allow_html", "unsafe_allow_javascript"):
            assert not (isinstance(node.value, ast.Constant) and node.value.value is True), path.name


def test_the_rule_detects_a_forbidden_import(tmp_path):
    sample = tmp_path / "page.py"
    sample.write_text("from analytics.store import aggregate\nimport sqlalchemy as sa\n", encoding="utf-8")
    assert {"analytics.store", "sqlalchemy"} <= imported_modules(sample)
