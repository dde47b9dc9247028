"""analytics.views, the one API for figures: only published values and `s`, scopes, filters,
available combinations, caches keyed by publication (SQLite and PostgreSQL)."""

from __future__ import annotations

import ast
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa

from analytics import store, views
from analytics.disclosure.protect import PRIMARY, PUBLISHED as CELL_PUBLISHED, SECONDARY
from analytics.publications import publish
from analytics.views import NATIONAL, Scope, ViewError, available_combinations, available_periods, published_cells
from publication_data import CELL_KEY, expected_cube, frame, load

VIEWS_SOURCE = Path(views.__file__)
DATA = frame()  # the rows of the session's publication « situations »


@pytest.fixture
def shared(published_engine):
    """An engine on the session's publication of the small dataset (SQLite, PostgreSQL), only read."""
    return published_engine("situations")


@pytest.fixture
def own(published_engine):
    """The same publication copied for this test alone: it may write into it."""
    return published_engine("situations", copy=True)


def ensemble(cells: pl.DataFrame, geo_code: str, periode: str) -> pl.DataFrame:
    return cells.filter((pl.col("geo_code") == geo_code) & (pl.col("periode") == periode) & (pl.col("dimension") == "ensemble"))


# --------------------------------------------------------------------------- only protected values


@pytest.fixture(scope="module")
def expected() -> pl.DataFrame:
    """The reference: DATA protected directly by analytics.disclosure, computed once for both backends."""
    return expected_cube(DATA)


def test_every_value_is_the_protected_cube_and_secrets_are_only_s(shared, expected):
    cells = published_cells(engine=shared)
    assert cells.columns == views.VIEW_COLUMNS
    assert dict(cells.schema)["valeur"] == pl.Int64
    assert set(cells["statut"].unique()) == {"publie", "s"}
    assert cells.height == expected.height

    joined = cells.join(expected.rename({"valeur": "attendu", "statut": "statut_cube"}), on=CELL_KEY, how="full", coalesce=True)
    assert joined.height == expected.height and joined["statut"].null_count() == 0 and joined["statut_cube"].null_count() == 0
    public = joined.filter(pl.col("statut_cube") == CELL_PUBLISHED)
    assert (public["statut"] == "publie").all() and public["valeur"].equals(public["attendu"])
    secret = joined.filter(pl.col("statut_cube") != CELL_PUBLISHED)
    assert set(secret["statut_cube"]) == {PRIMARY, SECONDARY}  # both kinds exist here ...
    assert (secret["statut"] == "s").all() and secret["valeur"].null_count() == secret.height  # ... and look the same

    # Nothing distinguishes a primary secret from a secondary one: same columns, same values.
    primary = joined.filter(pl.col("statut_cube") == PRIMARY).select(views.VIEW_COLUMNS)
    secondary = joined.filter(pl.col("statut_cube") == SECONDARY).select(views.VIEW_COLUMNS)
    for column in ("valeur", "statut"):
        assert set(primary[column].to_list()) == set(secondary[column].to_list())
    assert not {"secret", "secret_primaire", "secret_secondaire"} & set(cells.columns)
    assert not {"secret_primaire", "secret_secondaire"} & set(cells["statut"].to_list())


def test_the_views_read_publication_tables_only():
    """No path from this API to a raw aggregate: the module names no other table of the store."""
    tree = ast.parse(VIEWS_SOURCE.read_text(encoding="utf-8"))
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "store"}
    assert used == {"publication", "publication_year", "publication_cell", "publication_headcount", "service", "get_engine"}
    text = VIEWS_SOURCE.read_text(encoding="utf-8")
    assert "aggregate" not in text.replace("aggregates", "")  # not even in raw SQL


def test_labels_of_every_level(shared):
    cells = published_cells(engine=shared, periodes="2025", dimensions="ensemble")
    labels = dict(cells.select("geo_code", "geo_libelle").unique().iter_rows())
    assert labels["FR"] == "France"
    assert labels["53"] == "Bretagne" and labels["94"] == "Corse"
    assert labels["29"] == "Finistère" and labels["2A"] == "Corse-du-Sud"
    assert labels["DDTM-29"] == "DDTM du Finistère" and labels["DREAL-BRE"] == "DREAL Bretagne"


def test_national_value_is_the_sum_of_the_file(shared):
    total_2025 = DATA.filter(pl.col("periode").str.starts_with("2025") & (pl.col("dimension") == "ensemble"))["effectif"].sum()
    national = ensemble(published_cells(engine=shared), "FR", "2025")
    assert national.select("valeur", "statut").row(0) == (total_2025, "publie")


# --------------------------------------------------------------------------- scopes


def geo(cells: pl.DataFrame) -> set[tuple[str, str]]:
    return set(cells.select("geo_niveau", "geo_code").unique().iter_rows())


def test_scope_filtering(shared):
    everything = geo(published_cells(engine=shared))
    assert everything == {("national", "FR"), ("region", "53"), ("region", "94"), ("departement", "29"), ("departement", "35"),
                          ("departement", "2A"), ("service", "DDTM-29"), ("service", "DM-29"), ("service", "DDTM-35"),
                          ("service", "DREAL-BRE"), ("service", "DDT-2A")}

    bretagne = published_cells(Scope.region("53"), engine=shared)
    assert geo(bretagne) == {("national", "FR"), ("region", "53"), ("departement", "29"), ("departement", "35"),
                             ("service", "DDTM-29"), ("service", "DM-29"), ("service", "DDTM-35"), ("service", "DREAL-BRE")}
    corse = published_cells(Scope.region("94"), engine=shared)
    assert geo(corse) == {("national", "FR"), ("region", "94"), ("departement", "2A"), ("service", "DDT-2A")}

    one = published_cells(Scope.service("DDTM-29"), engine=shared)
    assert geo(one) == {("national", "FR"), ("region", "53"), ("departement", "29"), ("service", "DDTM-29")}
    group = published_cells(Scope.services(["DDTM-29", "DDT-2A"]), engine=shared)
    assert geo(group) == {("national", "FR"), ("region", "53"), ("region", "94"), ("departement", "29"), ("departement", "2A"),
                          ("service", "DDTM-29"), ("service", "DDT-2A")}

    # A scope only filters the one published cube: same cells, same values.
    whole = published_cells(engine=shared)
    assert bretagne.join(whole, on=CELL_KEY, how="anti").height == 0
    assert bretagne.equals(whole.join(bretagne.select(CELL_KEY), on=CELL_KEY, how="semi"))


def test_scope_parsing():
    assert Scope.parse("FR") == NATIONAL and Scope.parse("") == NATIONAL
    assert Scope.parse("53") == Scope.region("53")
    assert Scope.parse("DDTM-29") == Scope.services(["DDTM-29"])
    assert Scope.parse("DDTM-29, DM-29") == Scope.services(["DM-29", "DDTM-29"])
    with pytest.raises(ViewError):
        Scope.region("99")
    with pytest.raises(ViewError):
        Scope.services([])


# --------------------------------------------------------------------------- filters


def test_filters(shared):
    by_year = published_cells(engine=shared, geo_niveau="service", periode_niveau="annee", dimensions=["ensemble", "axe"])
    assert set(by_year["geo_niveau"]) == {"service"} and set(by_year["periode_niveau"]) == {"annee"}
    assert set(by_year["dimension"]) == {"ensemble", "axe"} and set(by_year["periode"]) == {"2024", "2025"}

    # The default published set has services by year only.
    assert published_cells(engine=shared, geo_niveau="service", periode_niveau="mois").is_empty()

    months = published_cells(engine=shared, periode_niveau="mois", periodes=["2024-02", "2025-03"], dimensions="ensemble")
    assert set(months["periode"]) == {"2024-02", "2025-03"} and set(months["geo_niveau"]) == {"national"}

    ranged = published_cells(engine=shared, debut="2025-01", fin="2025-03", dimensions="ensemble", geo_niveau=["national", "region"])
    assert set(ranged["periode"]) == {"2025-T1", "2025-01", "2025-02", "2025-03"}  # the year 2025 goes beyond March
    whole_year = published_cells(engine=shared, debut="2025", fin="2025", dimensions="ensemble", geo_niveau="national")
    assert set(whole_year["periode"]) == {"2025", "2025-T1", "2025-01", "2025-02", "2025-03"}
    narrow = published_cells(engine=shared, debut="2025-02", dimensions="ensemble", geo_niveau="national")
    assert set(narrow["periode"]) == {"2025-02", "2025-03"}  # 2025 and 2025-T1 start before February
    quarter = published_cells(engine=shared, debut="2024-T1", fin="2024-T1", geo_niveau="national", dimensions="ensemble")
    assert set(quarter["periode"]) == {"2024-T1", "2024-01", "2024-02", "2024-03"}

    modality = published_cells(engine=shared, dimensions="axe", modalites=[DATA.filter(pl.col("dimension") == "axe")["modalite"][0]])
    assert modality["modalite"].n_unique() == 1 and modality.height > 0
    with pytest.raises(ViewError, match="période"):
        published_cells(engine=shared, debut="2025-13")


def test_period_months():
    assert views.period_months("2025") == ("2025-01", "2025-12")
    assert views.period_months("2025-T2") == ("2025-04", "2025-06")
    assert views.period_months("2025-07") == ("2025-07", "2025-07")
    for bad in ("2025-T5", "25", "2025-00", "janvier"):
        with pytest.raises(ViewError):
            views.period_months(bad)


def test_available_combinations_are_what_is_published(shared):
    combos = available_combinations(engine=shared)
    cells = published_cells(engine=shared)
    assert set(combos) == set(cells.select("geo_niveau", "periode_niveau", "dimension").unique().iter_rows())
    assert len(combos) == len(set(combos))
    assert ("service", "mois", "ensemble") not in combos and ("service", "annee", "ensemble") in combos
    assert combos[0] == ("national", "annee", "ensemble")  # display order: nation first, year first, preset order
    assert available_periods("trimestre", engine=shared) == ["2024-T1", "2025-T1"]
    assert available_periods("annee", engine=shared) == ["2024", "2025"]


def test_nothing_published_gives_empty_answers(engine):
    cells = published_cells(engine=engine)
    assert cells.is_empty() and cells.columns == views.VIEW_COLUMNS
    assert available_combinations(engine=engine) == [] and available_periods("annee", engine=engine) == []
    assert views.latest_publication(engine) is None
    with pytest.raises(ViewError):
        published_cells(engine=engine, publication=1)


# --------------------------------------------------------------------------- caches


def test_a_new_publication_is_never_served_stale(tmp_path, own):
    before = published_cells(engine=own)
    assert ensemble(before, "FR", "2025")["valeur"].to_list() == [
        DATA.filter(pl.col("periode").str.starts_with("2025") & (pl.col("dimension") == "ensemble"))["effectif"].sum()]

    corrected = frame(years=(2025,), bump={2025: 10})
    load(tmp_path, own, corrected, name="corrige.csv", replace=True)
    assert published_cells(engine=own).equals(before)  # nothing changes until a publication is made
    assert publish("Camille", engine=own).number == 2

    after = published_cells(engine=own)
    assert ensemble(after, "FR", "2025")["valeur"].to_list() == [corrected.filter(pl.col("dimension") == "ensemble")["effectif"].sum()]
    assert ensemble(after, "FR", "2024").equals(ensemble(before, "FR", "2024"))
    # Older publications stay readable by number, with their own values.
    assert published_cells(engine=own, publication=1).equals(before)


def test_the_disk_cache_serves_other_processes(own):
    first = published_cells(Scope.region("53"), engine=own, periode_niveau="annee")
    folder = views.cache_directory()
    assert folder.is_dir() and any(folder.iterdir())

    # Another process has an empty memory; the database no longer holds the cells (deleted here
    # only to prove where the answer comes from): the disk cache answers, for that publication.
    views.clear_memory_cache()
    with own.begin() as conn:
        conn.execute(sa.delete(store.publication_cell))
    assert published_cells(Scope.region("53"), engine=own, periode_niveau="annee").equals(first)

    # An uncached query of the same publication reads the whole publication from the disk cache too.
    views.clear_memory_cache()
    assert not published_cells(engine=own, geo_niveau="departement").is_empty()


def test_returned_frames_do_not_alter_the_cache(shared):
    cells = published_cells(engine=shared, dimensions="ensemble")
    cells.drop_in_place("valeur")
    cells.insert_column(0, pl.Series("extra", [1] * cells.height))
    again = published_cells(engine=shared, dimensions="ensemble")
    assert again.columns == views.VIEW_COLUMNS
