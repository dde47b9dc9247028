"""`python -m analytics bench`: the figures that say whether Vigie is fast enough on this machine.

Parts (`run_bench(parts=...)`):
- "import": the import of a generated file, in a fresh subprocess (its own store, its own
  memory), so that the figures are end to end and the peak memory is the import's own;
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

PARTS = ("import", "secret", "veille")
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
    """One calendar year of the national demo (or of one région): fine rows and services."""
    from analytics.demo import generate
    from analytics.referentials import departement_region

    frame = generate(years=1, seed=7, end=SECRET_YEAR_END).aggregates
    if scope is not None:
        deps = [d for d, r in departement_region().items() if r == scope]
        frame = frame.filter(pl.col("departement").is_in(deps))
        if frame.is_empty():
            raise ValueError(f"aucun service de démonstration dans la région « {scope} »")
    services = frame.select("service", "departement").unique().sort("service")
    return frame.select("periode", "service", "dimension", "modalite", "effectif"), services


def secret_demo_child(scope: str | None = None) -> None:
    """Run in the measuring subprocess: protect and audit, print the figures as JSON on stdout."""
    from analytics.disclosure.protect import protect_cells
    from analytics.disclosure.published_set import DEFAULT_RULES, parse_published_set
    from analytics.nomenclature import default_nomenclature

    fine, services = secret_demo_input(scope)
    # The default published set itself, whatever VIGIE_PUBLISHED_SET says in this shell.
    protected = protect_cells(fine, services, default_nomenclature(), parse_published_set(DEFAULT_RULES), SECRET_K)
    summary = protected.summary()
    summary.update(secondes=protected.seconds, audit_ok=bool(protected.protection.audit.ok), services=services.height)
    print(json.dumps(summary))


def _scope_label(scope: str | None) -> str:
    if scope is None:
        return "année nationale"
    from analytics.referentials import region_names

    return f"région {scope} ({region_names().get(scope, 'inconnue')}), une année"


def measure_secret_demo(scope: str | None = None) -> list[Measure]:
    code = f"from analytics.bench import secret_demo_child; secret_demo_child({scope!r})"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"le masquage mesuré a échoué : {done.stderr[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    what = f"Secret, {_scope_label(scope)}"
    national = scope is None
    seconds = figures["secondes"]
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
    ]


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
    return [
        Measure("veille_fpr", f"{what} : taux de fausses alarmes", sim["fpr"], "part", "≤ 1 %", sim["fpr"] <= 0.01),
        Measure("veille_pod", f"{what} : probabilité de détection", sim["pod"], "part", "≥ 50 %", sim["pod"] >= 0.5),
        Measure("veille_sensitivity", f"{what} : sensibilité", sim["sensitivity"], "part"),
        Measure("veille_simulation_seconds", f"{what} : durée", sim_seconds, "s"),
        Measure("veille_detect_seconds", f"Veille : détection sur {series} séries × {months} mois", detect_seconds, "s",
                "< 60 s", detect_seconds < 60),
    ]


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
    if "veille" in parts:
        print("Veille : simulation d'évaluation et vitesse de détection…", file=sys.stderr)
        measures += measure_veille()
    if as_json:
        print(json.dumps([asdict(m) for m in measures], ensure_ascii=False, indent=2))
        return 0
    width = max(len(m.label) for m in measures)
    print(f"{'Mesure':<{width}}  {'Valeur':>18}  Objectif")
    for m in measures:
        verdict = "" if m.ok is None else (" ✓" if m.ok else " ✗")
        print(f"{m.label:<{width}}  {_fmt(m):>18}  {m.goal}{verdict}")
    return 0
