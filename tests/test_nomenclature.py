"""The preset ships unchanged and is validated on load; a bad preset stops with a clear message."""

from pathlib import Path

import pytest
import yaml

from analytics.nomenclature import NomenclatureError, default_nomenclature, load_nomenclature

SHARED = Path(__file__).resolve().parents[2] / "shared" / "domain" / "nomenclature.yaml"
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "nomenclature.yaml"


def test_shipped_preset_is_the_shared_one_with_codes_unchanged():
    shipped = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    if SHARED.exists():  # CI has ../shared beside the clone
        assert shipped == yaml.safe_load(SHARED.read_text(encoding="utf-8"))
    preset = load_nomenclature(SHIPPED)
    assert list(preset.dimensions) == ["ensemble", "problematique", "axe", "prevention", "mode", "origine", "public", "categorie", "rps"]
    assert preset.dimension("axe").codes[:4] == (
        "amelioration_conditions_vie", "accompagnement_changement", "prevention_desinsertion_professionnelle", "prevention_rps")
    assert preset.dimension("problematique").relation == "multiple"
    assert preset.dimension("rps").relation == "independent"
    assert {d.code for d in preset.by_relation("partition")} == {"axe", "prevention", "mode", "origine", "public", "categorie"}
    assert preset.dimension("rps").modality("visites_demande_medecin").par_effectif is True
    assert "ddtm" in preset.service_types and "dreal" in preset.service_types


def _write(tmp_path, mutate) -> Path:
    raw = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    mutate(raw)
    path = tmp_path / "preset.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("mutate", "phrase"),
    [
        (lambda r: r["dimensions"]["axe"].__setitem__("relation", "somme"), "relation « somme » inconnue"),
        (lambda r: r["dimensions"]["mode"]["modalites"].append({"code": "individuel", "libelle": "x"}), "« individuel » en double"),
        (lambda r: r["dimensions"].pop("ensemble"), "exactement une dimension « total »"),
        (lambda r: r["dimensions"]["public"].__setitem__("modalites", []), "aucune modalité"),
        (lambda r: r["dimensions"]["problematique"]["modalites"][0].__setitem__("groupe", "inexistant"), "groupe inconnu « inexistant »"),
        (lambda r: r["types_service"].append({"code": "DDT", "libelle": "doublon"}), "« DDT » en double"),
    ],
)
def test_bad_preset_is_refused_with_a_french_reason(tmp_path, mutate, phrase):
    with pytest.raises(NomenclatureError) as refused:
        load_nomenclature(_write(tmp_path, mutate))
    assert phrase in str(refused.value)


def test_every_problem_is_listed_at_once(tmp_path):
    def mutate(raw):
        raw["dimensions"]["axe"]["relation"] = "x"
        raw["dimensions"]["mode"]["modalites"] = []

    with pytest.raises(NomenclatureError) as refused:
        load_nomenclature(_write(tmp_path, mutate))
    assert len(refused.value.problems) == 2


def test_unreadable_or_missing_preset(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("dimensions: [unclosed", encoding="utf-8")
    with pytest.raises(NomenclatureError, match="YAML illisible"):
        load_nomenclature(bad)
    with pytest.raises(NomenclatureError, match="fichier introuvable"):
        load_nomenclature(tmp_path / "absent.yaml")


def test_deployment_can_point_to_another_preset(tmp_path, monkeypatch):
    other = _write(tmp_path, lambda r: r["meta"].__setitem__("code", "autre_ministere"))
    monkeypatch.setenv("VIGIE_NOMENCLATURE", str(other))
    assert default_nomenclature().code == "autre_ministere"


def test_cli_stops_on_a_bad_preset(tmp_path, monkeypatch):
    import subprocess
    import sys

    bad = _write(tmp_path, lambda r: r["dimensions"]["axe"].__setitem__("relation", "somme"))
    csv = tmp_path / "f.csv"
    csv.write_text("periode;departement;service;dimension;modalite;effectif\n2025-01;29;DDTM-29;ensemble;ensemble;3\n", encoding="utf-8")
    env = {**__import__("os").environ, "VIGIE_NOMENCLATURE": str(bad), "VIGIE_DATA_DIR": str(tmp_path / "var")}
    done = subprocess.run([sys.executable, "-m", "analytics", "import", str(csv)], env=env, capture_output=True, text=True)
    assert done.returncode == 1
    assert "Nomenclature invalide" in done.stderr and "relation « somme » inconnue" in done.stderr
