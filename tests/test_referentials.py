"""COG référentials and maps shipped in data/ (codes as text, overseas included, licence present)."""

from analytics import referentials as ref
from analytics.settings import DATA_DIR


def test_regions_and_departements_are_complete_and_read_as_text():
    assert ref.regions().height == 18
    assert ref.departements().height == 101
    dep_region = ref.departement_region()
    assert dep_region["01"] == "84" and dep_region["2A"] == "94" and dep_region["976"] == "06"
    assert set(dep_region.values()) == set(ref.regions()["code_region"].to_list())


def test_adjacency_is_symmetric_usable_and_metropolitan_only():
    adj = ref.adjacency()
    codes = set(ref.departement_region())
    assert set(adj["departement_a"]) | set(adj["departement_b"]) <= codes
    assert ("2A", "2B") in set(zip(adj["departement_a"], adj["departement_b"]))
    assert not {"971", "972", "973", "974", "976"} & (set(adj["departement_a"]) | set(adj["departement_b"]))


def test_maps_cover_every_territory_with_their_licence_note():
    for level, frame, col in (("region", ref.regions(), "code_region"), ("departement", ref.departements(), "code_departement")):
        codes = {f["properties"]["code"] for f in ref.geojson(level)["features"]}
        assert codes == set(frame[col].to_list())
    licence = (DATA_DIR / "geo" / "SOURCE_LICENCE.md").read_text(encoding="utf-8")
    assert "Licence Ouverte" in licence
    assert "Licence Ouverte" in ref.MAP_ATTRIBUTION and "IGN" in ref.MAP_ATTRIBUTION


def test_departement_codes_are_normalised_like_spreadsheets_damage_them():
    assert ref.normalise_departement("1") == "01"
    assert ref.normalise_departement(" 2a ") == "2A"
    assert ref.normalise_departement("971") == "971"
