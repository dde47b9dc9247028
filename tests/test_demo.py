"""The fictitious national demo dataset (analytics/demo.py)."""

from __future__ import annotations

import re
from datetime import date

import polars as pl
import pytest

from analytics import demo
from analytics.nomenclature import default_nomenclature
from analytics.referentials import departement_region, departements, regions
from analytics.settings import PROJECT_ROOT

END = "2026-10"
YEARS = 2


@pytest.fixture(scope="module")
def data() -> demo.DemoData:
    return demo.generate(years=YEARS, end=END)


@pytest.fixture(scope="module")
def aggregates(data: demo.DemoData) -> pl.DataFrame:
    return data.aggregates


@pytest.fixture(scope="module")
def catalogue() -> pl.DataFrame:
    return demo.services_catalogue()


def _ensemble(aggregates: pl.DataFrame) -> pl.DataFrame:
    return aggregates.filter(pl.col("dimension") == "ensemble").select(
        "periode", "service", pl.col("effectif").alias("ensemble")
    )


# --------------------------------------------------------------------------- determinism, format


def test_deterministic(aggregates: pl.DataFrame, data: demo.DemoData) -> None:
    again = demo.generate(years=YEARS, end=END)
    assert again.aggregates.equals(aggregates)
    assert again.headcounts.equals(data.headcounts)
    assert again.rises == data.rises
    other = demo.generate(years=YEARS, end=END, seed=7)
    assert not other.aggregates.equals(aggregates)


def test_schema_and_order(aggregates: pl.DataFrame, data: demo.DemoData) -> None:
    assert aggregates.schema == pl.Schema(demo.AGGREGATE_SCHEMA)
    assert data.headcounts.schema == pl.Schema(demo.HEADCOUNT_SCHEMA)
    keys = ["periode", "service", "dimension", "modalite"]
    assert aggregates.equals(aggregates.sort(keys))
    assert aggregates.select(keys).is_duplicated().sum() == 0
    assert aggregates["effectif"].min() >= 0
    assert aggregates.null_count().sum_horizontal().item() == 0


def test_periods(aggregates: pl.DataFrame) -> None:
    periods = aggregates["periode"].unique().sort().to_list()
    assert len(periods) == YEARS * 12
    assert periods[-1] == END and periods[0] == "2024-11"


def test_pairs_belong_to_preset(aggregates: pl.DataFrame) -> None:
    valid = set(default_nomenclature().pairs())
    present = set(aggregates.select("dimension", "modalite").unique().iter_rows())
    assert present <= valid


def test_default_end_period() -> None:
    assert demo.default_end_period(date(2026, 11, 3)) == "2026-10"
    assert demo.default_end_period(date(2026, 1, 31)) == "2025-12"
    assert re.fullmatch(r"\d{4}-\d{2}", demo.default_end_period())


def test_invalid_end() -> None:
    with pytest.raises(ValueError, match="AAAA-MM"):
        demo.generate(years=1, end="2026-13")


# --------------------------------------------------------------------------- services


def test_service_catalogue(catalogue: pl.DataFrame) -> None:
    assert 140 <= catalogue.height <= 170
    assert catalogue["service"].is_unique().all()
    for code, dep in catalogue.select("service", "departement").iter_rows():
        match = re.fullmatch(r"([A-Z]+)-([0-9AB]{2,3})", code)
        assert match, code
        assert match.group(2) == dep, code
    assert set(catalogue["departement"]) <= set(departements()["code_departement"])


def test_service_types_are_preset_codes(catalogue: pl.DataFrame, aggregates: pl.DataFrame) -> None:
    types = set(default_nomenclature().service_types)
    assert set(catalogue["type_service"]) <= types
    assert set(aggregates["type_service"]) <= types


def test_expected_services(catalogue: pl.DataFrame) -> None:
    labels = dict(catalogue.select("service", "libelle_service").iter_rows())
    kinds = dict(catalogue.select("service", "type_service").iter_rows())
    assert labels["DDTM-29"] == "DDTM du Finistère"
    assert labels["DDT-01"] == "DDT de l'Ain"
    assert labels["DREAL-35"] == "DREAL Bretagne"
    assert labels["DIR-35"] == "DIR Ouest"
    for dep in ("06", "13", "29", "2A", "2B", "33", "59", "62", "76", "85"):
        assert kinds[f"DDTM-{dep}"] == "ddtm"
    for code in ("DDT-75", "DDT-92", "DDT-93", "DDT-94", "DDTM-75"):
        assert code not in labels
    metropole = departements().filter(pl.col("type") == "metropole")["code_departement"]
    for dep in metropole:
        if dep not in {"75", "92", "93", "94"}:
            assert f"DDT-{dep}" in labels or f"DDTM-{dep}" in labels, dep
    expected = {
        "DRIEAT-75", "DEAL-971", "DEAL-972", "DEAL-974", "DGTM-973", "DEALM-976",
        "DIR-35", "DIR-59", "DIR-57", "DIR-69", "DIR-87", "DIR-63", "DIR-13", "DIR-31", "DIR-33", "DIR-76",
        "DIRM-76", "DIRM-44", "DIRM-33", "DIRM-13", "DM-971", "DM-972", "DM-974", "AC-92", "AC-75",
        "IGN-94", "METEO-31", "VNF-62", "ENSM-76",
    }
    assert expected <= set(labels)
    assert sum(1 for t in kinds.values() if t == "dir") == 10
    assert sum(1 for t in kinds.values() if t == "dreal") == 12  # metropolitan régions but Île-de-France


def test_every_region_and_departement_covered(catalogue: pl.DataFrame, aggregates: pl.DataFrame) -> None:
    assert set(catalogue["departement"]) == set(departements()["code_departement"])
    assert len(set(catalogue["departement"])) == 101
    dep_region = departement_region()
    assert {dep_region[d] for d in catalogue["departement"]} == set(regions()["code_region"])
    assert set(aggregates["departement"]) == set(departements()["code_departement"])


def test_headcounts(catalogue: pl.DataFrame, data: demo.DemoData) -> None:
    ranges = {"ddt": (120, 300), "ddtm": (200, 450), "dreal": (250, 700), "dir": (400, 1200),
              "ac_mte": (1500, 4000), "ep_parcs_nationaux": (30, 300), "ep_agences_eau": (30, 400)}
    for kind, base in catalogue.select("type_service", "effectif_base").iter_rows():
        if kind in ranges:
            low, high = ranges[kind]
            assert low <= base <= high, (kind, base)
    heads = data.headcounts
    assert sorted(heads["annee"].unique().to_list()) == [2024, 2025, 2026]
    assert heads.height == 3 * catalogue.height
    assert heads["effectif_agents"].min() > 0
    # Slow drift: less than 10 % from one year to the next.
    wide = heads.pivot(on="annee", index="service", values="effectif_agents")
    for a, b in (("2024", "2025"), ("2025", "2026")):
        ratio = (wide[b] / wide[a]).to_numpy()
        assert (abs(ratio - 1) < 0.10).all()


# --------------------------------------------------------------------------- volumes


def test_every_service_month_has_ensemble(aggregates: pl.DataFrame, catalogue: pl.DataFrame) -> None:
    ens = _ensemble(aggregates)
    assert ens.height == YEARS * 12 * catalogue.height
    assert (ens["ensemble"] == 0).sum() > 0  # zeros are kept for ensemble


def test_yearly_national_volume() -> None:
    full = demo.generate(years=3, end="2026-12").aggregates
    yearly = (
        _ensemble(full)
        .group_by(pl.col("periode").str.slice(0, 4).alias("annee"))
        .agg(pl.col("ensemble").sum())
    )
    assert yearly.height == 3
    for annee, total in yearly.iter_rows():
        assert 12_000 <= total <= 18_000, (annee, total)


def test_small_counts(aggregates: pl.DataFrame) -> None:
    ens = _ensemble(aggregates)["ensemble"]
    assert ens.median() < 10
    assert ens.max() < 200


def test_seasonality(aggregates: pl.DataFrame) -> None:
    by_month = (
        _ensemble(aggregates)
        .group_by(pl.col("periode").str.slice(5, 2).alias("mois"))
        .agg(pl.col("ensemble").sum())
    )
    totals = dict(by_month.iter_rows())
    assert totals["08"] == min(totals.values())
    assert totals["08"] < 0.7 * totals["09"]
    assert totals["12"] < totals["01"]


# --------------------------------------------------------------------------- consistency


def test_partitions_add_up_exactly(aggregates: pl.DataFrame) -> None:
    ens = _ensemble(aggregates)
    partitions = [d.code for d in default_nomenclature().by_relation("partition")]
    assert set(partitions) >= {"axe", "prevention", "mode", "origine", "public", "categorie"}
    sums = (
        aggregates.filter(pl.col("dimension").is_in(partitions))
        .group_by("periode", "service", "dimension")
        .agg(pl.col("effectif").sum().alias("somme"))
    )
    # Every service-month with situations has every partition; the sums equal ensemble.
    grid = ens.filter(pl.col("ensemble") > 0).join(pl.DataFrame({"dimension": partitions}), how="cross")
    checked = grid.join(sums, on=["periode", "service", "dimension"], how="left")
    assert checked["somme"].null_count() == 0
    assert (checked["somme"] == checked["ensemble"]).all()
    # No partition row where there is no situation.
    empty = ens.filter(pl.col("ensemble") == 0).join(sums, on=["periode", "service"], how="inner")
    assert empty.height == 0


def test_problematiques_bounded(aggregates: pl.DataFrame) -> None:
    ens = _ensemble(aggregates)
    prob = aggregates.filter(pl.col("dimension") == "problematique").join(ens, on=["periode", "service"])
    assert (prob["effectif"] <= prob["ensemble"]).all()
    per_situation = prob["effectif"].sum() / ens["ensemble"].sum()
    assert 1.5 <= per_situation <= 2.5
    groups = {m.code: m.groupe for m in default_nomenclature().dimension("problematique").modalites}
    by_group = (
        prob.with_columns(pl.col("modalite").replace_strict(groups).alias("groupe"))
        .group_by("groupe")
        .agg(pl.col("effectif").sum())
        .sort("effectif", descending=True)
    )
    assert by_group["groupe"].head(2).sort().to_list() == ["sante", "vie_professionnelle"]


def test_plausible_shares(aggregates: pl.DataFrame) -> None:
    def shares(dimension: str, **filters: str) -> dict[str, float]:
        frame = aggregates.filter(pl.col("dimension") == dimension)
        for column, value in filters.items():
            frame = frame.filter(pl.col(column) == value)
        totals = frame.group_by("modalite").agg(pl.col("effectif").sum())
        whole = totals["effectif"].sum()
        return {m: n / whole for m, n in totals.iter_rows()}

    public = shares("public")
    assert public["agent_actif"] > 0.75 and public["retraite"] < 0.08
    for dim in ("axe", "origine", "public", "categorie", "mode", "prevention"):
        assert shares(dim).get("non_renseigne", 0) < 0.10, dim
    assert shares("axe", type_service="dir")["prevention_rps"] > shares("axe", type_service="ddt")["prevention_rps"]
    assert shares("categorie", type_service="dir")["c"] > 0.4


def test_rps_indicators(aggregates: pl.DataFrame) -> None:
    ens = _ensemble(aggregates)
    rps = aggregates.filter(pl.col("dimension") == "rps")
    assert set(rps["modalite"]) == set(default_nomenclature().dimension("rps").codes)
    totals = dict(rps.group_by("modalite").agg(pl.col("effectif").sum()).iter_rows())
    assert totals["situations_graves"] < totals["violences_physiques"] < totals["visites_demande_medecin"]
    # Situation-based indicators count situations: never above ensemble.
    linked = rps.filter(pl.col("modalite").is_in(["situations_souffrance_travail", "situations_reorganisation"]))
    linked = linked.join(ens, on=["periode", "service"])
    assert (linked["effectif"] <= linked["ensemble"]).all()
    prob = aggregates.filter(
        (pl.col("dimension") == "problematique") & (pl.col("modalite") == "souffrance_travail")
    ).select("periode", "service", pl.col("effectif").alias("souffrance"))
    both = linked.filter(pl.col("modalite") == "situations_souffrance_travail").join(
        prob, on=["periode", "service"], how="left"
    )
    assert (both["effectif"] >= both["souffrance"].fill_null(0)).all()


# --------------------------------------------------------------------------- zeros


def test_include_zeros_gives_full_grid(aggregates: pl.DataFrame, catalogue: pl.DataFrame) -> None:
    full = demo.generate(years=1, end=END, include_zeros=True).aggregates
    pairs = default_nomenclature().pairs()
    assert full.height == 12 * catalogue.height * len(pairs)
    assert full.select("periode", "service", "dimension", "modalite").is_duplicated().sum() == 0
    short = demo.generate(years=1, end=END).aggregates
    assert full.filter((pl.col("effectif") > 0) | (pl.col("dimension") == "ensemble")).equals(short)
    assert short.filter((pl.col("effectif") == 0) & (pl.col("dimension") != "ensemble")).height == 0


# --------------------------------------------------------------------------- injected rises


def test_rises_documented(data: demo.DemoData, catalogue: pl.DataFrame) -> None:
    rises = {r.key: r for r in data.rises}
    assert len(rises) >= 4
    services = set(catalogue["service"])
    valid = set(default_nomenclature().pairs())
    for rise in data.rises:
        assert set(rise.services) <= services
        assert rise.end == END
        assert "2026-07" <= rise.start <= "2026-09"  # the last 2 to 4 months
        assert set(rise.indicators) <= valid
        assert rise.factor >= 2
        assert rise.description
    assert rises["ddtm29_souffrance"].services == ("DDTM-29",)
    assert ("problematique", "souffrance_travail") in rises["ddtm29_souffrance"].indicators
    assert ("rps", "situations_souffrance_travail") in rises["ddtm29_souffrance"].indicators
    assert {"DDT-54", "DDT-55", "DDT-57", "DDT-88"} <= set(rises["grand_est_reorganisation"].services)
    assert ("rps", "violences_physiques") in rises["dir13_agressions"].indicators
    text = (PROJECT_ROOT / "docs" / "demo.md").read_text(encoding="utf-8")
    for rise in data.rises:
        assert rise.key in text
        assert rise.services[0] in text


def _shift_year(period: str, years: int) -> str:
    return f"{int(period[:4]) - years:04d}{period[4:]}"


def _rise_totals(data: demo.DemoData, rise: demo.InjectedRise) -> dict[tuple[str, str], tuple[float, float]]:
    """(dimension, modalite) -> (total over the rise months, mean total over the same months of previous years)."""
    agg = data.aggregates
    periods = set(agg["periode"])
    months = sorted(p for p in periods if rise.start <= p <= rise.end)
    previous = [k for k in range(1, 10) if all(_shift_year(p, k) in periods for p in months)]
    assert previous, "no previous year to compare with"
    selected = agg.filter(pl.col("service").is_in(rise.services))
    totals = {}
    for dimension, modalite in rise.indicators:
        series = selected.filter((pl.col("dimension") == dimension) & (pl.col("modalite") == modalite))
        now = series.filter(pl.col("periode").is_in(months))["effectif"].sum()
        before = [series.filter(pl.col("periode").is_in([_shift_year(p, k) for p in months]))["effectif"].sum()
                  for k in previous]
        totals[(dimension, modalite)] = (float(now), sum(before) / len(before))
    return totals


@pytest.fixture(scope="module")
def history() -> demo.DemoData:
    """Four years, so a rise is compared with the mean of the same months over three years."""
    return demo.generate(years=4, end=END)


@pytest.mark.parametrize("key", ["ddtm29_souffrance", "grand_est_reorganisation", "dir13_agressions",
                                 "hauts_de_france_endettement"])
def test_rise_visible(history: demo.DemoData, key: str) -> None:
    rise = next(r for r in history.rises if r.key == key)
    totals = _rise_totals(history, rise)
    for indicator, (now, before) in totals.items():
        assert now > before, (indicator, before, now)
    now = sum(t[0] for t in totals.values())
    before = sum(t[1] for t in totals.values())
    assert now >= 1.5 * before, (before, now)


def test_rise_visible_with_two_years(data: demo.DemoData) -> None:
    """With the short series too, the raised indicators exceed the same months a year before."""
    now = before = 0.0
    for rise in data.rises:
        for current, previous in _rise_totals(data, rise).values():
            now, before = now + current, before + previous
    assert now >= 1.5 * before, (before, now)


def test_rises_visible_across_seeds() -> None:
    """Not a lucky seed: summed over all rises, the indicators at least double on other seeds too."""
    for seed in (1, 2, 3):
        data = demo.generate(years=4, end=END, seed=seed)
        now = before = 0.0
        for rise in data.rises:
            for current, previous in _rise_totals(data, rise).values():
                now, before = now + current, before + previous
        assert now >= 1.8 * before, (seed, before, now)


def test_rise_keeps_consistency(history: demo.DemoData) -> None:
    """During a rise the extra situations raise ensemble: the raised problématique stays <= ensemble."""
    agg = history.aggregates
    for rise in history.rises:
        ens = _ensemble(agg).filter(pl.col("service").is_in(rise.services) & (pl.col("periode") >= rise.start))
        for dimension, modalite in rise.indicators:
            if dimension != "problematique":
                continue
            cells = agg.filter((pl.col("dimension") == dimension) & (pl.col("modalite") == modalite)).join(
                ens, on=["periode", "service"]
            )
            assert (cells["effectif"] <= cells["ensemble"]).all()
