"""`python -m analytics bench`: the figures that say whether Vigie is fast enough on this machine.

Parts (`run_bench(parts=...)`):
- "import": the import of a generated file, in a fresh subprocess (its own store, its own
  memory), so that the figures are end to end and the peak memory is the import's own;
- "publication": the national demo over 5 years imported and published in a fresh store, as the
  first `make run` does: every year's verdict (goal: published), time and secondaries per year.
  The store is VIGIE_DATA_DIR when that holds none yet (then kept, for "pages"), else a temporary one;
- "secret": statistical disclosure control.
  - How far `protect` is from the optimum: on a fixed set of small random tables (seeded), the
    number of secondary suppressions `protect` makes over the minimum found by the MILP of
    `analytics.disclosure.optimum`, as a mean and a worst case (goal <= 1.3).
  - Protecting and auditing one calendar year of the national demo (`protect_cells`, default
    published set, k = 5) in a fresh subprocess: seconds (goal < 60 s), share of the non-zero
    publishable cells made secret beyond the primaries, audit verdict. `secret_scope` (a région
    code) restricts the demo to one région, for a quick run.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import polars as pl

from analytics.formatting import fr_float, fr_int, fr_pct, plural

PARTS = ("import", "secret", "published-sets", "publication", "veille", "pages")
VEILLE_REPLICATES, VEILLE_SEED, VEILLE_ALPHA = 10, 2013, 0.01
SECRET_K = 5
SECRET_YEAR_END = "2025-12"  # one calendar year of the demo: publications are per year
RATIO_TABLES = 10
RATIO_SEED = 2026
RATIO_GOAL = 1.3
RATIO_TIME_LIMIT = 120.0  # seconds per table for the MILP


@dataclass
class Measure:
    key: str
    label: str
    value: float | None
    unit: str
    goal: str = ""
    ok: bool | None = None


def bench_file(rows: int, folder: Path) -> tuple[Path, int]:
    """A valid import file of about `rows` rows, cut at whole months so every rule still holds."""
    from analytics.demo import generate

    per_year = generate(years=1, seed=7, end="2026-10", include_zeros=True).aggregates.height
    years = max(1, -(-rows // per_year))
    frame = generate(years=years, seed=7, end="2026-10", include_zeros=True).aggregates
    per_month = frame.group_by("periode").len().sort("periode").with_columns(pl.col("len").cum_sum().alias("cum"))
    keep = per_month.filter(pl.col("cum").shift(1, fill_value=0) < rows)["periode"]
    frame = frame.filter(pl.col("periode").is_in(keep.implode()))
    path = folder / f"bench-{frame.height}.csv"
    frame.write_csv(path, separator=";")
    return path, frame.height


def measure_import(path: Path, rows: int) -> list[Measure]:
    with tempfile.TemporaryDirectory(prefix="vigie-bench-store-") as store_dir:
        env = {**os.environ, "VIGIE_DATA_DIR": store_dir}
        env.pop("VIGIE_DATABASE_URL", None)
        subprocess.run([sys.executable, "-c", "from analytics.store import get_engine; get_engine()"], env=env, check=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "analytics", "import", str(path)], env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        peak_mb = max(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, before) / 1024
        if done.returncode != 0:
            raise RuntimeError(f"l'import mesuré a échoué : {done.stderr[-2000:]}")
    return [
        Measure("import_rows", "Import CSV vers SQLite : lignes", rows, "lignes"),
        Measure("import_seconds", "Import CSV vers SQLite : durée de bout en bout", seconds, "s",
                "< 20 s pour 1 million de lignes", seconds < 20 * rows / 1_000_000),
        Measure("import_rows_per_s", "Import CSV vers SQLite : débit", rows / seconds, "lignes/s", "> 50 000 lignes/s", rows / seconds > 50_000),
        Measure("import_peak_mb", "Import CSV vers SQLite : mémoire maximale (RSS)", peak_mb, "Mo"),
    ]


# --------------------------------------------------------------------------- secret: protect against the optimum


def ratio_nomenclature():
    """`ensemble`, one partition (axe: pro, perso, mixte) and one multiple-response modality (santé)."""
    from analytics.nomenclature import parse_nomenclature

    raw = {
        "meta": {"code": "bench-secret", "version": "1", "libelle": "Petites tables du banc d'essai du secret"},
        "dimensions": {
            "ensemble": {"libelle": "Ensemble des situations", "relation": "total",
                         "modalites": [{"code": "ensemble", "libelle": "Situations suivies"}]},
            "axe": {"libelle": "Axe", "relation": "partition",
                    "modalites": [{"code": m, "libelle": m} for m in ("pro", "perso", "mixte")]},
            "problematique": {"libelle": "Problématiques", "relation": "multiple",
                              "groupes": [{"code": "sante", "libelle": "Santé"}],
                              "modalites": [{"code": "sante", "libelle": "Santé", "groupe": "sante"}]},
        },
        "types_service": [{"code": "ddtm", "libelle": "DDTM", "niveau": "departemental"}],
    }
    return parse_nomenclature(raw, Path("bench-secret.yaml"))


RATIO_DEPARTEMENTS = ("29", "35")  # two départements of one région (Bretagne)
RATIO_COUNTS = (0, 0, 1, 1, 1, 2, 2, 3, 4, 5, 7)  # per service-month and modality: many small counts


def ratio_tables(count: int = RATIO_TABLES, seed: int = RATIO_SEED) -> list[tuple[pl.DataFrame, pl.DataFrame]]:
    """`count` small random tables (fine rows, services): 2 to 4 services in two départements, 3 to 6 months."""
    rng = np.random.default_rng(seed)
    tables = []
    for _ in range(count):
        services = [f"S{i + 1}-{RATIO_DEPARTEMENTS[i % 2]}" for i in range(int(rng.integers(2, 5)))]
        months = [f"2025-{m:02d}" for m in range(1, int(rng.integers(3, 7)) + 1)]
        rows = []
        for month in months:
            for service in services:
                axe = rng.choice(RATIO_COUNTS, size=3)
                ens = int(axe.sum())
                rows.append((month, service, "ensemble", "ensemble", ens))
                rows += [(month, service, "axe", m, int(v)) for m, v in zip(("pro", "perso", "mixte"), axe)]
                rows.append((month, service, "problematique", "sante", int(rng.integers(0, ens + 1))))
        fine = pl.DataFrame(rows, schema={"periode": pl.String, "service": pl.String, "dimension": pl.String,
                                          "modalite": pl.String, "effectif": pl.Int64}, orient="row")
        frame = pl.DataFrame({"service": services, "departement": [s.rsplit("-", 1)[1] for s in services]})
        tables.append((fine, frame))
    return tables


@dataclass
class RatioRow:
    protect: int
    protect_ok: bool  # protect's own audit passed (else its count is no pattern to compare)
    optimum: int | None  # None: the MILP found no pattern in time
    status: str  # the MILP's: "optimal" when proven
    seconds: float


def secret_ratio_rows(count: int = RATIO_TABLES, seed: int = RATIO_SEED, k: int = SECRET_K,
                      time_limit: float = RATIO_TIME_LIMIT) -> list[RatioRow]:
    from analytics.disclosure.cube import build_cube
    from analytics.disclosure.optimum import optimal_secondary
    from analytics.disclosure.published_set import DEFAULT_RULES, parse_published_set
    from analytics.disclosure.suppression import protect

    nomenclature, published = ratio_nomenclature(), parse_published_set(DEFAULT_RULES)
    out = []
    for fine, services in ratio_tables(count, seed):
        cube = build_cube(fine, services, nomenclature, published)
        heuristic = protect(cube, k)
        best = optimal_secondary(cube, k, time_limit=time_limit)
        out.append(RatioRow(int(heuristic.secondary.sum()), bool(heuristic.audit.ok), best.secondary_count, best.status,
                            best.seconds))
    return out


def measure_secret_ratio(count: int = RATIO_TABLES, seed: int = RATIO_SEED) -> list[Measure]:
    rows = secret_ratio_rows(count, seed)
    compared = [r for r in rows if r.optimum and r.protect_ok]  # an optimum of 0 has no ratio: counted apart
    ratios = [r.protect / r.optimum for r in compared]
    unproven = sum(r.status != "optimal" for r in rows)
    zero = sum(r.optimum == 0 for r in rows)
    refused = sum(not r.protect_ok for r in rows)
    detail = f"sur {fr_int(len(rows))}, {fr_int(zero)} à optimum nul"
    if unproven:  # the MILP's best pattern then only bounds the optimum from above: the ratio is understated
        detail += f", {fr_int(unproven)} sans optimum prouvé"
    if refused:
        detail += f", {fr_int(refused)} où protect échoue à l'audit"
    mean = sum(ratios) / len(ratios) if ratios else None  # null: no table to compare
    worst = max(ratios) if ratios else None
    what = "Secret, petites tables"
    return [
        Measure("secret_ratio", f"{what} : secondaires de protect / optimum (MILP), moyenne", mean, "ratio",
                f"≤ {fr_float(RATIO_GOAL, 1)}", mean is not None and mean <= RATIO_GOAL),
        Measure("secret_ratio_worst", f"{what} : secondaires de protect / optimum (MILP), pire table", worst, "ratio"),
        Measure("secret_ratio_tables", f"{what} : tables comparées ({detail})", len(compared), "tables"),
        Measure("secret_ratio_protect", f"{what} : secondaires de protect (tables comparées)",
                sum(r.protect for r in compared), "cellules"),
        Measure("secret_ratio_optimum", f"{what} : secondaires de l'optimum (tables comparées)",
                sum(r.optimum for r in compared), "cellules"),
    ]


# --------------------------------------------------------------------------- secret: one year of the demo


def secret_demo_input(scope: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One calendar year of the national demo (or of some régions, codes separated by commas): fine rows and services."""
    from analytics.demo import generate
    from analytics.referentials import departement_region

    frame = generate(years=1, seed=7, end=SECRET_YEAR_END).aggregates
    if scope is not None:
        regions = set(scope.split(","))
        deps = [d for d, r in departement_region().items() if r in regions]
        frame = frame.filter(pl.col("departement").is_in(deps))
        if frame.is_empty():
            raise ValueError(f"aucun service de démonstration dans la région « {scope} »")
    services = frame.select("service", "departement").unique().sort("service")
    return frame.select("periode", "service", "dimension", "modalite", "effectif"), services


# The levels users look at (pages, bilans, fiches): the information a published set keeps there is
# the share of their non-zero cells that are published, hidden cells counting as lost.
VIEWED_LEVELS = (("national", "mois"), ("national", "trimestre"), ("national", "annee"), ("region", "trimestre"),
                 ("region", "annee"), ("departement", "annee"), ("service", "annee"))
_DETAILED = "[ensemble, axe, prevention, mode, categorie, public, rps]"
PUBLISHED_SET_CANDIDATES = {
    "défaut": None,  # DEFAULT_RULES
    "services et départements sans problématiques ni origines": f"""
- {{geo: national, periode: [mois, trimestre, annee]}}
- {{geo: region, periode: [trimestre, annee]}}
- {{geo: departement, periode: [annee], dimensions: {_DETAILED}}}
- {{geo: service, periode: [annee], dimensions: {_DETAILED}}}
""",
    "services sans problématiques ni origines": f"""
- {{geo: national, periode: [mois, trimestre, annee]}}
- {{geo: region, periode: [trimestre, annee]}}
- {{geo: departement, periode: [annee]}}
- {{geo: service, periode: [annee], dimensions: {_DETAILED}}}
""",
    "régions par année seulement": """
- {geo: national, periode: [mois, trimestre, annee]}
- {geo: region, periode: [annee]}
- {geo: departement, periode: [annee]}
- {geo: service, periode: [annee]}
""",
}


POOLED, LEVEL_MEAN = "ensemble des niveaux consultés", "moyenne des niveaux consultés"


def information_kept(protected) -> dict[str, float]:
    """Share of the non-zero cells of each viewed level that a protected cube publishes, over all of them
    pooled, and the mean of the levels' shares. The pooled share is mostly the service-year cells (a
    third of the viewed cells, nearly all primary secrets): a set that gives the nation away for a few
    more service figures scores better on it, so the choice of a default goes by the mean."""
    cells = protected.cube.cells.with_columns(
        (pl.col("publiable") & ~pl.Series(protected.protection.secret)).alias("shown"))
    out, shown_total, total = {}, 0, 0
    for geo, period in VIEWED_LEVELS:
        level = cells.filter((pl.col("geo_niveau") == geo) & (pl.col("periode_niveau") == period) & (pl.col("valeur") > 0))
        shown = int(level["shown"].sum())
        out[f"{geo} × {period}"] = shown / max(1, level.height)
        shown_total, total = shown_total + shown, total + level.height
    levels = list(out.values())
    out[POOLED] = shown_total / max(1, total)
    out[LEVEL_MEAN] = sum(levels) / len(levels)
    return out


def secret_demo_child(scope: str | None = None, rules: str | None = None) -> None:
    """Run in the measuring subprocess: protect and audit, print the figures as JSON on stdout."""
    from analytics.disclosure.protect import protect_cells
    from analytics.disclosure.published_set import DEFAULT_RULES, parse_published_set
    from analytics.nomenclature import default_nomenclature

    fine, services = secret_demo_input(scope)
    # The default published set itself, whatever VIGIE_PUBLISHED_SET says in this shell.
    protected = protect_cells(fine, services, default_nomenclature(), parse_published_set(rules or DEFAULT_RULES), SECRET_K)
    summary = protected.summary()
    summary.update(secondes=protected.seconds, audit_ok=bool(protected.protection.audit.ok), services=services.height,
                   conservee=information_kept(protected))
    print(json.dumps(summary))


def _run_secret_child(scope: str | None, rules: str | None = None) -> tuple[dict, float]:
    code = f"from analytics.bench import secret_demo_child; secret_demo_child({scope!r}, {rules!r})"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"le masquage mesuré a échoué : {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def _scope_label(scope: str | None) -> str:
    if scope is None:
        return "année nationale"
    from analytics.referentials import region_names

    regions = scope.split(",")
    names = ", ".join(f"{r} ({region_names().get(r, 'inconnue')})" for r in regions)
    return f"{'régions' if len(regions) > 1 else 'région'} {names}, une année"


def measure_secret_demo(scope: str | None = None) -> list[Measure]:
    figures, wall = _run_secret_child(scope)
    what = f"Secret, {_scope_label(scope)}"
    national = scope is None
    seconds = figures["secondes"]
    kept = figures["conservee"]
    return [
        Measure("secret_national_cells", f"{what} : cellules publiables ({plural(figures['services'], 'service')})",
                figures["cellules_publiables"], "cellules"),
        Measure("secret_national_seconds", f"{what} : masquage et audit", seconds, "s",
                "< 60 s pour l'année nationale", seconds < 60 if national else None),
        Measure("secret_national_wall_seconds", f"{what} : de bout en bout (génération comprise)", wall, "s"),
        Measure("secret_national_secondary_share", f"{what} : part des non nulles en secret secondaire",
                figures["part_secondaire_non_nulles"], "part"),
        Measure("secret_national_primary", f"{what} : secrets primaires", figures["secrets_primaires"], "cellules"),
        Measure("secret_national_secondary", f"{what} : secrets secondaires", figures["secrets_secondaires"], "cellules"),
        Measure("secret_national_audit_ok", f"{what} : audit", 1.0 if figures["audit_ok"] else 0.0, "audit",
                "réussi", bool(figures["audit_ok"])),
        *[Measure(f"secret_kept_{i}", f"{what} : non nulles publiées, {level}", share, "part")
          for i, (level, share) in enumerate(kept.items())],
        *_audit_time_measures(what, figures.get("audits_secondes") or []),
    ]


def _audit_time_measures(what: str, audits: list[dict]) -> list[Measure]:
    """Where the time of protect goes: the first audit phase by phase, then the repair rounds."""
    if not audits:
        return []
    first = audits[0]
    out = [Measure(f"secret_first_audit_{i}", f"{what} : premier audit, {phase}", seconds, "s")
           for i, (phase, seconds) in enumerate(first.items())]
    repairs = audits[1:]
    out.append(Measure("secret_repair_seconds", f"{what} : audits des {plural(len(repairs), 'réparation')}",
                       sum(sum(a.values()) for a in repairs), "s"))
    return out


def measure_published_sets(scope: str | None = None) -> list[Measure]:
    """Each candidate published set on the same demo year: information kept at the viewed levels, cost, time."""
    out = []
    for name, rules in PUBLISHED_SET_CANDIDATES.items():
        figures, _ = _run_secret_child(scope, rules)
        what = f"Ensemble publié « {name} », {_scope_label(scope)}"
        kept = figures["conservee"]
        out += [
            Measure(f"published_set_{name}_kept_mean", f"{what} : non nulles publiées, {LEVEL_MEAN}",
                    kept[LEVEL_MEAN], "part"),
            Measure(f"published_set_{name}_kept", f"{what} : non nulles publiées, {POOLED}", kept[POOLED], "part"),
            *[Measure(f"published_set_{name}_kept_{level}", f"{what} : non nulles publiées, {level}", share, "part")
              for level, share in kept.items() if level not in (POOLED, LEVEL_MEAN)],
            Measure(f"published_set_{name}_secondary_share", f"{what} : part des non nulles en secret secondaire",
                    figures["part_secondaire_non_nulles"], "part"),
            Measure(f"published_set_{name}_seconds", f"{what} : masquage et audit", figures["secondes"], "s"),
            Measure(f"published_set_{name}_audit_ok", f"{what} : audit", 1.0 if figures["audit_ok"] else 0.0, "audit",
                    "réussi", bool(figures["audit_ok"])),
        ]
    return out


# --------------------------------------------------------------------------- report


# --------------------------------------------------------------------------- veille: simulation and speed


def measure_veille(replicates: int = VEILLE_REPLICATES, seed: int = VEILLE_SEED, alpha: float = VEILLE_ALPHA) -> list[Measure]:
    """Noufaily et al. 2013 simulation adapted to months (analytics.veille.simulation), and detection speed."""
    import numpy as np

    from analytics.veille.detect import detect_series
    from analytics.veille.simulation import run_simulation

    started = time.perf_counter()
    sim = run_simulation(replicates, seed, alpha)
    sim_seconds = time.perf_counter() - started
    what = f"Veille (simulation Noufaily mensuelle, {fr_int(sim['series'])} séries, α = {fr_float(alpha, 2)})"
    rng = np.random.default_rng(seed)
    series, months = 500, 60
    periods = [f"{2021 + m // 12}-{m % 12 + 1:02d}" for m in range(months)]
    frame = pl.DataFrame({"serie": [f"s{i}" for i in range(series) for _ in range(months)],
                          "periode": periods * series, "effectif": rng.poisson(5.0, series * months).tolist()})
    started = time.perf_counter()
    detect_series(frame, since=periods[-24], alpha=alpha)
    detect_seconds = time.perf_counter() - started
    from analytics.demo import generate
    from analytics.veille.watch import watch_frame

    demo = generate(years=5).aggregates  # every series of the 5-year national demo, as a publication watches them
    watched = watch_frame(demo, published=set(), alpha=alpha)
    return [
        Measure("veille_fpr", f"{what} : taux de fausses alarmes", sim["fpr"], "part", "≤ 1 %", sim["fpr"] <= 0.01),
        Measure("veille_pod", f"{what} : probabilité de détection", sim["pod"], "part", "≥ 50 %", sim["pod"] >= 0.5),
        Measure("veille_sensitivity", f"{what} : sensibilité", sim["sensitivity"], "part"),
        Measure("veille_simulation_seconds", f"{what} : durée", sim_seconds, "s"),
        Measure("veille_detect_seconds", f"Veille : détection sur {series} séries × {months} mois", detect_seconds, "s",
                "< 60 s", detect_seconds < 60),
        Measure("veille_watch_seconds", f"Veille de la démonstration nationale sur 5 ans ({fr_int(watched.series_count)} séries, "
                f"{fr_int(watched.months_evaluated)} mois, grappes comprises)", watched.seconds, "s", "< 60 s", watched.seconds < 60),
        Measure("veille_watch_alerts", "Veille de la démonstration : alertes (après Benjamini-Hochberg)", watched.alert_count, "alertes"),
        Measure("veille_expected_false_alerts", "Veille de la démonstration : fausses alertes attendues par mois sans contrôle "
                f"(α × {fr_int(round(watched.monthly_series + watched.quarterly_series / 3))} tests)", watched.expected_false_alerts,
                "alertes/mois"),
        Measure("veille_expected_false_alerts_fdr", "Veille de la démonstration : fausses alertes attendues par mois, au plus, "
                "avec Benjamini-Hochberg", watched.expected_false_alerts_fdr, "alertes/mois"),
    ]


def measure_veille_clusters(**options) -> list[Measure]:
    """Calibration and power of the watch's cluster scans on the national demo (analytics.veille.scan_bench)."""
    from scipy import stats

    from analytics.veille.scan_bench import measure_clusters
    from analytics.veille.watch import FDR_Q, SCAN_DEPARTEMENTS, SCAN_SERVICES

    figures = measure_clusters(**options)
    months, false_months = figures["null_months"], figures["false_months"]
    what = (f"Veille, grappes ({fr_int(figures['replicates'])} réplications) : démonstrations sans hausse, "
            f"{plural(months, 'mois', 'mois')}")
    # at most q of the months without any rise: more false months than Binomial(months, q) gives 95 % of the time fail
    allowed = int(stats.binom.ppf(0.95, months, FDR_Q))
    out = [
        Measure("veille_cluster_false_months", f"{what}, part des mois avec une fausse grappe", false_months / months,
                "part", f"≤ {fr_pct(FDR_Q)} (au plus {allowed} mois sur {months})", false_months <= allowed),
        Measure("veille_cluster_false_departements", f"{what}, fausses grappes de départements",
                figures["false_clusters"][SCAN_DEPARTEMENTS], "grappes"),
        Measure("veille_cluster_false_services", f"{what}, fausses grappes de services",
                figures["false_clusters"][SCAN_SERVICES], "grappes"),
    ]
    for end, rises in figures["found"].items():
        found = [key for key, hit in rises.items() if hit]
        text = ", ".join(f"{key} (p {hit[1]:.1e})".replace(".", ",") for key, hit in rises.items() if hit) or "aucune"
        out.append(Measure(f"veille_cluster_rises_{end}", f"Veille, grappes : hausses plantées trouvées (sur {len(rises)}), "
                           f"fin {end} : {text}", len(found), "hausses"))
    out.append(Measure("veille_cluster_seconds", "Veille, grappes : durée moyenne des deux balayages d'un mois",
                       float(np.mean(figures["seconds"])), "s"))
    return out


# --------------------------------------------------------------------------- pages: server time of a filter change


PAGES_GOAL_MS = 200.0
PAGES_RUNS = 5  # filter changes measured per page and scope (the median is reported)
PAGES_DEMO_REGION, PAGES_DEMO_YEARS = "53", 2  # the demo published when VIGIE_DATA_DIR holds no publication
# page -> (title, key of the selectbox changed between two measured runs)
PAGE_FILTERS = {
    "vue_ensemble": ("Vue d'ensemble", "f_periode"),
    "problematiques": ("Problématiques", "p_annee"),
    "axes_modes": ("Axes et modes d'intervention", "f_periode"),
    "territoires": ("Territoires", "m_annee"),
    "tendances": ("Tendances", "f_periode"),
    "indicateurs_rps": ("Indicateurs RPS", "f_periode"),
}


def _has_publication() -> bool:
    """Whether the store of this environment (VIGIE_DATA_DIR / VIGIE_DATABASE_URL) holds a publication in force,
    without creating a database where there is none."""
    from analytics.settings import get_settings

    settings = get_settings()
    if settings.is_sqlite and not (settings.data_dir / "vigie.sqlite").is_file():
        return False
    from analytics.views import latest_publication

    return latest_publication() is not None


def publish_pages_demo(region: str = PAGES_DEMO_REGION, years: int = PAGES_DEMO_YEARS) -> str:
    """Load and publish the demo of one région over `years` years in this environment's store; returns its description."""
    import io

    from analytics import store
    from analytics.demo import generate
    from analytics.ingest import import_bytes
    from analytics.nomenclature import default_nomenclature
    from analytics.publications import publish
    from analytics.referentials import departement_region, region_names

    data = generate(years=years, seed=2026, end=SECRET_YEAR_END)  # whole calendar years (publications are per year)
    deps = [d for d, r in departement_region().items() if r == region]
    engine, nomenclature = store.get_engine(), default_nomenclature()
    for name, frame in (("agregats.csv", data.aggregates), ("effectifs.csv", data.headcounts)):
        buffer = io.BytesIO()
        frame.filter(pl.col("departement").is_in(deps)).write_csv(buffer, separator=";")
        report = import_bytes(buffer.getvalue(), name, engine, nomenclature, author="bench", source="demo")
        if not report.ok:
            raise RuntimeError("; ".join(report.issue_lines(limit=3)))
    if not publish("bench", engine=engine).ok:
        raise RuntimeError("la publication de la démonstration a échoué")
    return f"démo région {region} ({region_names().get(region, '?')}), {plural(years, 'an')}, publiée pour la mesure"


def _describe_publication() -> str:
    from analytics.views import latest_publication, service_directory

    p = latest_publication()
    return (f"publication n° {p.number} de VIGIE_DATA_DIR, {p.period_min} à {p.period_max}, "
            f"{plural(service_directory().height, 'service')}")


def _pages_scopes() -> list[tuple[str, str]]:
    """(scope, role) measured: France, the région with the most services, one of its services."""
    from analytics.views import service_directory

    directory = service_directory()
    scopes = [("FR", "national")]
    if directory.height:
        region = directory.group_by("region").len().sort("len", "region", descending=[True, False])["region"][0]
        scopes += [(region, "regional"), (directory.filter(pl.col("region") == region)["code"][0], "local")]
    return scopes


def pages_child(runs: int, demo: bool = False) -> None:
    """Run in the measuring subprocess: time each page's script run after a filter change (AppTest), print JSON."""
    from streamlit.testing.v1 import AppTest

    described = publish_pages_demo() if demo else _describe_publication()
    root = Path(__file__).resolve().parent.parent
    timings: dict[str, dict[str, list[float]]] = {}
    for scope, role in _pages_scopes():
        os.environ["VIGIE_DEFAULT_SCOPE"], os.environ["VIGIE_DEFAULT_ROLE"] = scope, role
        for page, (_, key) in PAGE_FILTERS.items():
            at = AppTest.from_file(str(root / "pages" / f"{page}.py"), default_timeout=900)
            at.run()  # the first visit (publication read, caches filled) is not a filter change
            if at.exception:
                raise RuntimeError(f"{page} ({scope}) : {at.exception[0].value}")
            count = len(at.selectbox(key=key).options)
            position = at.selectbox(key=key).index or 0
            seconds = []
            for _ in range(runs):  # a different value each time, among the first four (2 years: one, the other, ...)
                position = (position + 1) % min(count, 4) if count > 1 else position
                at.selectbox(key=key).select_index(position)
                began = time.perf_counter()
                at.run()
                seconds.append(time.perf_counter() - began)
                if at.exception:
                    raise RuntimeError(f"{page} ({scope}) : {at.exception[0].value}")
            timings.setdefault(page, {})[scope] = seconds
    print(json.dumps({"data": described, "pages": timings}))


# --------------------------------------------------------------------------- publication: what a first `make run` does

PUBLICATION_DEMO_YEARS = 5


def demo_publication_child(years: int, end: str) -> None:
    """Run in the measuring subprocess (its own VIGIE_DATA_DIR): load the national demo, publish it,
    print the outcome as JSON on stdout."""
    from analytics.demo_loader import load_demo
    from analytics.publications import publish

    start = time.perf_counter()
    reports = load_demo(years=years, end=end, author="bench")
    if not all(r.ok for r in reports):
        raise RuntimeError("; ".join(r.message for r in reports if not r.ok))
    loaded = time.perf_counter() - start
    outcome = publish("bench")
    print(json.dumps({"ok": outcome.ok, "message": outcome.message, "import_seconds": loaded, "seconds": outcome.seconds,
                      "years": [asdict(y) for y in outcome.years]}))


def measure_demo_publication(years: int = PUBLICATION_DEMO_YEARS, end: str = SECRET_YEAR_END) -> list[Measure]:
    """The national demo over `years` calendar years, imported and published in a fresh store, as the
    first start of `make run` does: every year must pass its audit, or the app has nothing to show."""
    kept = os.environ.get("VIGIE_DATA_DIR")
    if kept and (Path(kept) / "vigie.sqlite").exists():
        kept = None  # never into a store that holds data already
    with tempfile.TemporaryDirectory(prefix="vigie-bench-publication-") as scratch:
        # Into VIGIE_DATA_DIR when it holds no store yet, kept for `bench --parts pages`.
        env = {**os.environ, "VIGIE_DATA_DIR": kept or scratch}
        env.pop("VIGIE_DATABASE_URL", None)
        code = f"from analytics.bench import demo_publication_child; demo_publication_child({years!r}, {end!r})"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"la publication mesurée a échoué : {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    what = f"Publication de la démonstration nationale ({plural(years, 'an')}, jusqu'à {end})"
    measures = [
        Measure("publication_ok", f"{what} : audit de chaque année réussi", 1.0 if figures["ok"] else 0.0, "",
                "publiée (sinon un premier « make run » n'a rien à montrer)", bool(figures["ok"])),
        Measure("publication_seconds", f"{what} : masquage et audit de toutes les années", figures["seconds"], "s"),
    ]
    for year in figures["years"]:
        label = f"{what} : année {year['annee']}"
        measures += [
            Measure(f"publication_{year['annee']}_seconds", f"{label}, durée", year["seconds"], "s"),
            Measure(f"publication_{year['annee']}_failures", f"{label}, cellules en échec d'audit", year["audit_failures"],
                    "cellules", "0", year["audit_failures"] == 0),
            Measure(f"publication_{year['annee']}_secondary", f"{label}, secrets secondaires", year["secondary_count"],
                    "cellules"),
        ]
    return measures


def measure_pages(runs: int | None = None) -> list[Measure]:
    """Server time of each dashboard page after a filter change, on the publication of VIGIE_DATA_DIR when there is
    one, else on a small demo published for the purpose in a temporary store. One measure per page: the
    median over `runs` filter changes, for the slowest of the scopes measured (France, a région, a service)."""
    import statistics

    runs = PAGES_RUNS if runs is None else runs
    with tempfile.TemporaryDirectory(prefix="vigie-bench-pages-") as folder:
        demo = not _has_publication()
        env = dict(os.environ)
        if demo:
            env["VIGIE_DATA_DIR"] = folder
            env.pop("VIGIE_DATABASE_URL", None)
        print("Pages : " + ("aucune publication dans VIGIE_DATA_DIR, publication d'une petite démonstration "
                            f"(région {PAGES_DEMO_REGION}, {plural(PAGES_DEMO_YEARS, 'an')})…" if demo else
                            "mesure sur la publication en vigueur de VIGIE_DATA_DIR…"), file=sys.stderr)
        code = f"from analytics.bench import pages_child; pages_child({int(runs)}, {demo})"
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"la mesure des pages a échoué : {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"Pages : données mesurées : {result['data']}", file=sys.stderr)
    measures = []
    for page, (title, _) in PAGE_FILTERS.items():
        medians = {scope: statistics.median(times) * 1000 for scope, times in result["pages"][page].items()}
        worst = max(medians, key=medians.get)
        scopes = ", ".join(f"{scope} {fr_int(round(ms))}" for scope, ms in medians.items())
        measures.append(Measure(
            f"pages_{page}_ms", f"Pages ({result['data']}) : {title}, changement de filtre (médiane ; {scopes} ms)",
            medians[worst], "ms", f"< {fr_int(PAGES_GOAL_MS)} ms", medians[worst] < PAGES_GOAL_MS))
    return measures


def _fmt(m: Measure) -> str:
    if m.unit in ("lignes", "lignes/s", "cellules", "tables"):
        return f"{fr_int(m.value)} {m.unit}"
    if m.unit == "part":
        return fr_pct(m.value)
    if m.unit == "ratio":
        return "—" if m.value is None else fr_float(m.value, 2)
    if m.unit == "audit":
        return "réussi" if m.value else "échoué"
    return f"{fr_float(m.value, 1)} {m.unit}"


def run_bench(as_json: bool = False, rows: int = 1_000_000, parts: tuple[str, ...] = ("import",),
              secret_scope: str | None = None, secret_tables: int = RATIO_TABLES) -> int:
    """Run the chosen parts ("import", "secret"); `secret_scope` restricts the demo year to one région."""
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise ValueError(f"partie(s) inconnue(s) : {', '.join(unknown)} (attendu : {', '.join(PARTS)})")
    measures: list[Measure] = []
    if "import" in parts:
        print(f"Génération d'un fichier d'environ {fr_int(rows)} lignes…", file=sys.stderr)
        with tempfile.TemporaryDirectory(prefix="vigie-bench-") as folder:
            path, actual = bench_file(rows, Path(folder))
            print(f"Import mesuré ({fr_int(actual)} lignes, {fr_float(path.stat().st_size / 1e6, 1)} Mo)…", file=sys.stderr)
            measures += measure_import(path, actual)
    if "secret" in parts:
        print(f"Secret : masquage de {fr_int(secret_tables)} petites tables comparé à l'optimum (MILP)…", file=sys.stderr)
        measures += measure_secret_ratio(secret_tables)
        print(f"Secret : masquage et audit de la démonstration, {_scope_label(secret_scope)}…", file=sys.stderr)
        measures += measure_secret_demo(secret_scope)
    if "published-sets" in parts:
        print(f"Secret : ensembles publiés candidats, {_scope_label(secret_scope)}…", file=sys.stderr)
        measures += measure_published_sets(secret_scope)
    if "publication" in parts:
        print(f"Publication de la démonstration nationale sur {plural(PUBLICATION_DEMO_YEARS, 'an')} "
              "(plusieurs dizaines de minutes)…", file=sys.stderr)
        measures += measure_demo_publication()
    if "veille" in parts:
        print("Veille : simulation d'évaluation et vitesse de détection…", file=sys.stderr)
        measures += measure_veille()
        print("Veille : grappes sur des démonstrations sans hausse et avec les hausses plantées (quelques minutes)…",
              file=sys.stderr)
        measures += measure_veille_clusters()
    if "pages" in parts:
        measures += measure_pages()
    if as_json:
        print(json.dumps([asdict(m) for m in measures], ensure_ascii=False, indent=2))
        return 0
    width = max(len(m.label) for m in measures)
    print(f"{'Mesure':<{width}}  {'Valeur':>18}  Objectif")
    for m in measures:
        verdict = "" if m.ok is None else (" ✓" if m.ok else " ✗")
        print(f"{m.label:<{width}}  {_fmt(m):>18}  {m.goal}{verdict}")
    return 0
