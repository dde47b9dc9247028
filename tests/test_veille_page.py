"""AppTest: the Veille RPS page on a real publication whose watch found the spike of tests/test_veille_watch.py."""

from __future__ import annotations

import re

import polars as pl
import pytest

from analytics.formatting import fr_int
from analytics.store import get_engine
from analytics.veille import board, register
from analytics.views import NATIONAL, published_cells
from test_dashboard_pages import chart_tables, run_page
from test_veille_watch import LAST, SOUFFRANCE

PAGE = "pages/veille_rps.py"
RANKS = {"très forte": 3, "forte": 2, "modérée": 1}


def _alerts(number: int) -> pl.DataFrame:
    engine = get_engine()
    run = register.watch_run(number, engine)
    assert run is not None and run["status"] == register.DONE, run  # the watch ran with the publication
    return register.alerts(NATIONAL, engine=engine)


@pytest.fixture
def published(published_shared):
    """The session's publication of test_veille_watch.veille_frame(), only read; returns its alerts."""
    return _alerts(published_shared("veille"))


@pytest.fixture
def published_own(published_copy):
    """The same publication copied into this test's own data folder: qualifying an alert writes into it."""
    return _alerts(published_copy("veille"))


def _choose(at, alert_id):
    at.selectbox(key="v_alerte").set_value(alert_id).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _listing(at):
    return next(df.value for df in at.dataframe if {"Territoire", "Gravité", "Type"} <= set(df.value.columns))


def _texts(at) -> list[str]:
    return [m.value for m in at.markdown] + [c.value for c in at.caption]


def test_nothing_published_says_so():
    at = run_page(PAGE)
    assert any("Aucune publication" in i.value for i in at.info)


def test_the_known_alert_is_listed_most_severe_first_with_the_expected_false_alerts(published):
    at = run_page(PAGE)
    listing = _listing(at)
    assert ((listing["Territoire"] == "Finistère (29)") & listing["Indicateur"].str.startswith("Situations avec souffrance")
            & (listing["Période"] == "mai 2025")).any()
    ranks = [RANKS[g] for g in listing["Gravité"]]
    assert ranks == sorted(ranks, reverse=True) and len(listing) == published.height
    assert any("fausses alertes par mois" in c.value for c in at.caption)
    assert chart_tables(at)  # the map
    at.segmented_control(key="v_tri").set_value("territoire").run()
    assert list(_listing(at)["Territoire"]) == sorted(_listing(at)["Territoire"])


def test_a_published_alert_shows_published_values_and_a_band_computed_on_them(published):
    national = published.filter((pl.col("geo_niveau") == "national") & (pl.col("modalite") == SOUFFRANCE)
                                & (pl.col("periode") == LAST)).row(0, named=True)
    assert not national["secret"]
    at = _choose(run_page(PAGE), national["id"])
    cells = published_cells(NATIONAL, geo_niveau="national", periode_niveau="mois", dimensions="rps", modalites=[SOUFFRANCE])
    last = cells.filter(pl.col("periode") == LAST)["valeur"].item()
    assert any(t == f"**Chiffre publié de la période** : {fr_int(last)}" for t in _texts(at))
    series = [d for d in chart_tables(at) if "attendu" in d.columns]
    assert len(series) == 1
    data = series[0]
    assert set(data.columns) <= {"periode", "valeur", "statut", "attendu", "seuil", "texte", "texte_attendu", "libelle_periode"}
    expected = dict(cells.select("periode", "valeur").iter_rows())
    assert all(expected[p] == v for p, v in data.select("periode", "valeur").iter_rows())  # published values only
    assert data.filter(pl.col("periode") == LAST)["attendu"].item() is not None  # the band is there
    assert data.filter(pl.col("periode") == LAST)["seuil"].item() < last


def test_an_alert_touching_a_secret_shows_no_figure_of_its_own(published):
    secret = published.filter((pl.col("geo_niveau") == "departement") & (pl.col("geo_code") == "29")
                              & (pl.col("periode") == LAST) & (pl.col("kind") == "temporelle")).row(0, named=True)
    assert secret["secret"]
    at = _choose(run_page(PAGE), secret["id"])
    listing = _listing(at)
    row = listing[(listing["Territoire"] == "Finistère (29)") & (listing["Période"] == "mai 2025")].iloc[0]
    assert row["Chiffre publié"] == ""
    texts = _texts(at)
    assert any("secret statistique ou non publiée" in t for t in texts)
    raw = {fr_int(secret["observe"]), str(int(secret["observe"])), fr_int(secret["seuil"] or 0), str(round(secret["attendu"], 1)),
           str(round(secret["attendu"], 1)).replace(".", ",")}
    facts = [t for t in at.markdown if t.value.startswith("**") and "** : " in t.value]
    assert {f.value.split("** : ")[0] for f in facts} == {"**Territoire", "**Indicateur", "**Période", "**Type", "**Gravité", "**État"}
    numbers = {n for f in facts for n in re.findall(r"\d+(?:[,.\u202f]\d+)*", f.value)}
    assert numbers <= {"2025", "29"}  # the year and the département code: no figure at all
    assert not numbers & raw
    # the chart, if any, carries the published (yearly) series of the département only, and no band
    yearly = published_cells(NATIONAL, geo_niveau="departement", periode_niveau="annee", dimensions="rps", modalites=[SOUFFRANCE])
    allowed = set(yearly.filter(pl.col("geo_code") == "29")["valeur"].drop_nulls().to_list())
    assert [d for d in chart_tables(at) if "attendu" in d.columns]
    for data in [d for d in chart_tables(at) if "attendu" in d.columns]:
        assert set(data["valeur"].drop_nulls().to_list()) <= allowed
        assert data["attendu"].null_count() == data.height
    series_tables = [df.value for df in at.dataframe if "Attendu" in df.value.columns]
    assert series_tables and all(set(t["Attendu"]) == {""} for t in series_tables)
    assert all(v == "s" or int(v.replace("\u202f", "")) in allowed for t in series_tables for v in t["Chiffre publié"])


def test_the_ctss_qualifies_with_history_and_personal_data_is_refused(published_own, monkeypatch):
    secret = published_own.filter((pl.col("geo_niveau") == "departement") & (pl.col("geo_code") == "29")
                              & (pl.col("periode") == LAST) & (pl.col("kind") == "temporelle")).row(0, named=True)
    at = _choose(run_page(PAGE, monkeypatch, scope="53", role="regional"), secret["id"])
    # the five states are offered, and the comment field warns against personal data before anything is written
    assert list(at.selectbox(key="v_etat").options) == ["à examiner", "confirmée", "suivie", "close", "fausse alerte"]
    assert any(c.value == board.COMMENT_HELP for c in at.caption) and "donnée personnelle" in board.COMMENT_HELP
    at.text_area(key="v_commentaire").input("Écrire à camille.martin@example.org")
    at.selectbox(key="v_etat").set_value("confirmee")
    at.button[0].click().run()
    assert any("Qualification refusée" in e.value and "adresse électronique" in e.value for e in at.error)
    at.text_area(key="v_commentaire").input("Réorganisation annoncée ; cellule d'écoute avec la F3SCT.")
    at.selectbox(key="v_etat").set_value("confirmee")
    at.button[0].click().run()
    assert not at.exception and any("enregistrée" in s.value for s in at.success)
    history = at.dataframe[-1].value
    assert list(history["État"]) == ["confirmée"] and list(history["Auteur"]) == ["utilisateur local"]
    assert list(history["Commentaire"]) == ["Réorganisation annoncée ; cellule d'écoute avec la F3SCT."]
    listing = _listing(at)
    mine = listing[(listing["Territoire"] == "Finistère (29)") & (listing["Période"] == "mai 2025")
                   & listing["Indicateur"].str.startswith("Situations avec souffrance")]
    assert list(mine["État"]) == ["confirmée"]


def test_a_local_profile_reads_but_does_not_qualify(published, monkeypatch):
    at = run_page(PAGE, monkeypatch, scope="DDTM-29", role="local")
    assert not at.text_area and any("réservée aux CTSS" in c.value for c in at.caption)
    assert "Corse" not in " ".join(_listing(at)["Territoire"])


def test_the_clusters_heading_names_the_kinds_of_clusters_shown():
    from analytics.veille import board

    schema = {c: pl.String for c in ("Départements", "Services", "Indicateur", "Période", "Gravité", "État")}

    def heading(services: list[str]) -> tuple[str, str]:
        return board.cluster_heading(pl.DataFrame([("Moselle (57)", s, "i", "p", "forte", "à examiner") for s in services],
                                                  schema=schema, orient="row"))

    assert heading([""])[0] == "Grappes de départements voisins" and "services" not in heading([""])[1]
    assert heading(["DDT de la Moselle"])[0] == "Grappes de services déconcentrés"
    assert "un à quatre mois" in heading(["DDT de la Moselle"])[1] and "trois derniers mois" not in heading(["DDT"])[1]
    both = heading(["", "DDT de la Moselle"])
    assert both[0] == "Grappes de départements voisins et de services déconcentrés"
    assert "trois derniers mois" in both[1] and "un à quatre mois" in both[1]


def test_a_services_cluster_is_listed_under_a_heading_that_names_the_services(published_own):
    """A services cluster (DDTM-29, its cells' figures not shown) added to the publication's register: the page's
    clusters heading names the services déconcentrés, and the cluster is listed with its services."""
    import datetime as dt

    import sqlalchemy as sa

    from analytics import store
    from analytics.veille.watch import signature

    engine = get_engine()
    number = int(published_own["publication_id"][0])
    code = "DDTM-29"
    with engine.begin() as conn:
        conn.execute(sa.insert(store.alert), [{
            "publication_id": number, "signature": signature("grappe", "service", code, "rps", SOUFFRANCE, LAST),
            "kind": "grappe", "geo_niveau": "service", "geo_code": code, "zones": "29", "dimension": "rps",
            "modalite": SOUFFRANCE, "periode_niveau": "mois", "periode": LAST, "debut": LAST, "fin": LAST,
            "methode": "scan", "observe": 30.0, "attendu": 10.0, "seuil": None, "p_value": 1e-5, "gravite": "forte",
            "secret": True, "created_at": dt.datetime.now(dt.timezone.utc)}])
    at = run_page(PAGE)
    headings = [h.value for h in at.subheader]
    assert any(h.startswith("Grappes de") and "services déconcentrés" in h for h in headings), headings
    assert "Grappes de départements voisins" not in headings
    clusters = next(df.value for df in at.dataframe if "Services" in df.value.columns)
    assert (clusters["Départements"] == "Finistère (29)").any() and (clusters["Services"] != "").any()
