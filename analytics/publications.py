"""Numbered publications: the protected cube of the store's active aggregates, written in one transaction.

This is the only module besides analytics.disclosure that reads raw aggregates to publish them.
`publish` reads the active aggregates and services, splits them by calendar year (the cube has
no level above the year, so years are independent systems), and for each year either

- reuses the cells of the latest *published* publication whose year had the same input hash
  (same fine rows, k, published set, preset and protection code: the protection is
  deterministic, so the pattern would be the same), or
- runs `protect_cells` on that year (primary and secondary suppression, then the LP audit).

If any year fails its audit, the publication is stored with status `refusee` and its audit
figures, but without any cell: it is never shown. Otherwise every cell of every year is written
with status `publiee`. A cell records whether it is secret, never whether the secret is primary
or secondary (only the counts are kept, on the publication).

Reading publications (latest, history, cells) is analytics.views' job; `latest_publication` and
`publication_history` are re-exported here for the admin and the command line.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Callable

import polars as pl
import sqlalchemy as sa
import yaml
from sqlalchemy.engine import Connection, Engine

from analytics import store
from analytics.disclosure.protect import PUBLISHED as CELL_PUBLISHED, ProtectedCube, protect_cells
from analytics.disclosure.published_set import ALL, PublishedSet, default_published_set
from analytics.formatting import fr_float, plural
from analytics.headcounts import read_headcounts, territory_headcounts
from analytics.nomenclature import Nomenclature, default_nomenclature
from analytics.views import PUBLISHED, REFUSED, PublicationInfo, latest_publication, publication_history

__all__ = [
    "PUBLISHED", "REFUSED", "NOTHING", "BUSY", "PublicationInfo", "PublicationOutcome", "YearOutcome", "YearPlan", "PublicationRun",
    "publish", "plan_publication", "record_publication", "latest_publication", "publication_history",
    "published_set_yaml", "year_input_hash",
]

Progress = Callable[[float, str], None]
NOTHING = "rien_a_publier"  # no aggregate in the store: nothing is stored
BUSY = "en_cours"  # another publication is running: nothing is done

CELL_COLUMNS = ["geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite", "valeur", "secret"]
FINE_SCHEMA = {"periode": pl.String, "service": pl.String, "departement": pl.String, "dimension": pl.String,
               "modalite": pl.String, "effectif": pl.Int64, "batch_id": pl.Int64}
HASHED_COLUMNS = ["periode", "service", "departement", "dimension", "modalite", "effectif"]
READ_SLICE = 200_000  # rows fetched at a time from the store (memory stays flat)


def no_progress(_fraction: float, _label: str) -> None:
    pass


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class YearOutcome:
    annee: int
    input_hash: str
    reused_from: int | None  # publication whose cells were reused, or None when protected now
    cell_count: int
    primary_count: int
    secondary_count: int
    audited_cells: int
    audit_failures: int
    seconds: float

    @property
    def secret_count(self) -> int:
        return self.primary_count + self.secondary_count


@dataclass
class PublicationOutcome:
    status: str  # publiee | refusee | rien_a_publier
    number: int | None
    message: str
    years: list[YearOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == PUBLISHED

    @property
    def cell_count(self) -> int:
        return sum(y.cell_count for y in self.years)

    @property
    def primary_count(self) -> int:
        return sum(y.primary_count for y in self.years)

    @property
    def secondary_count(self) -> int:
        return sum(y.secondary_count for y in self.years)

    @property
    def secret_count(self) -> int:
        return self.primary_count + self.secondary_count

    @property
    def audit_failures(self) -> int:
        return sum(y.audit_failures for y in self.years)

    @property
    def reused_years(self) -> list[int]:
        return [y.annee for y in self.years if y.reused_from is not None]

    @property
    def protected_years(self) -> list[int]:
        return [y.annee for y in self.years if y.reused_from is None]


# --------------------------------------------------------------------------- what a publication is made of


@dataclass
class YearPlan:
    """One calendar year of a publication: freshly protected, or reused from an earlier publication."""

    annee: int
    input_hash: str
    protected: ProtectedCube | None = None
    reused_from: int | None = None
    reused_counts: dict | None = None  # publication_year row of the reused publication
    reused_summary: dict | None = None  # its protection summary, as stored then

    def summary(self) -> dict:
        if self.protected is not None:
            return {"annee": self.annee, **self.protected.summary()}
        return {**(self.reused_summary or {}), "annee": self.annee, "reprise_de_publication": self.reused_from}

    def outcome(self, seconds: float) -> YearOutcome:
        if self.protected is not None:
            s = self.protected.summary()
            return YearOutcome(self.annee, self.input_hash, None, int(s["cellules_publiables"]), int(s["secrets_primaires"]),
                               int(s["secrets_secondaires"]), int(s["cellules_auditees"]), int(s["echecs_audit"]), seconds)
        c, s = self.reused_counts or {}, self.reused_summary or {}
        return YearOutcome(self.annee, self.input_hash, self.reused_from, int(c["cell_count"]), int(c["primary_count"]),
                           int(c["secondary_count"]), int(s.get("cellules_auditees", 0)), 0, seconds)

    @property
    def audit_ok(self) -> bool:
        return self.protected is None or bool(self.protected.protection.audit.ok)


@dataclass
class PublicationRun:
    """Everything a publication records besides its cells."""

    author: str
    k: int
    published_set: str  # YAML
    nomenclature_code: str
    nomenclature_hash: str
    source_batches: list[int]
    period_min: str | None
    period_max: str | None
    years: list[YearPlan]
    year_seconds: dict[int, float] = field(default_factory=dict)
    headcounts: pl.DataFrame | None = None  # agents per territory and year (analytics.headcounts), frozen with the cells
    started: float = field(default_factory=time.perf_counter)


# --------------------------------------------------------------------------- hashing


def published_set_yaml(published: PublishedSet) -> str:
    """The rules as YAML (what `publication.published_set` stores; `parse_published_set` reads it back)."""
    rules = []
    for r in published.rules:
        rule = {"geo": r.geo, "periode": list(r.periods)}
        if ALL not in r.dimensions:
            rule["dimensions"] = list(r.dimensions)
        rules.append(rule)
    return yaml.safe_dump(rules, allow_unicode=True, default_flow_style=None, sort_keys=False)


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@lru_cache(maxsize=1)
def protection_code_fingerprint() -> str:
    """SHA-256 of the disclosure code: a new version of the protection never reuses an old pattern."""
    folder = Path(__file__).resolve().parent / "disclosure"
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def year_input_hash(fine_year: pl.DataFrame, k: int, published_yaml: str, nomenclature_hash: str) -> str:
    """SHA-256 of one year's fine rows (sorted, with each service's département), k, published set and preset."""
    rows = fine_year.select(HASHED_COLUMNS).sort("periode", "service", "dimension", "modalite")
    digest = hashlib.sha256()
    digest.update(rows.write_csv(separator=";", line_terminator="\n").encode("utf-8"))
    digest.update(f"\0k={k}\0".encode())
    digest.update(published_yaml.encode("utf-8") + b"\0")
    digest.update(nomenclature_hash.encode() + b"\0")
    digest.update(protection_code_fingerprint().encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------- reading the store


def read_active_aggregates(conn: Connection) -> pl.DataFrame:
    """Every active fine row with its service's département and batch, in one statement (one consistent snapshot)."""
    a, s = store.aggregate, store.service
    stmt = (sa.select(a.c.periode, a.c.service, s.c.departement, a.c.dimension, a.c.modalite, a.c.effectif, a.c.batch_id)
            .select_from(a.outerjoin(s, a.c.service == s.c.code)))
    result = conn.execution_options(yield_per=READ_SLICE).execute(stmt)
    frames = [pl.DataFrame(part, schema=FINE_SCHEMA, orient="row") for part in result.partitions()]
    return pl.concat(frames) if frames else pl.DataFrame(schema=FINE_SCHEMA)


def _reusable_year(conn: Connection, input_hash: str) -> tuple[int, dict, dict] | None:
    """The latest published publication whose year had this input: (number, counts, summary)."""
    p, y = store.publication, store.publication_year
    row = conn.execute(
        sa.select(y, p.c.audit_summary).join(p, p.c.id == y.c.publication_id)
        .where(y.c.input_hash == input_hash, p.c.status == PUBLISHED)
        .order_by(y.c.publication_id.desc()).limit(1)
    ).mappings().first()
    if row is None:
        return None
    try:
        summary = json.loads(row["audit_summary"] or "{}").get("annees", {}).get(str(row["annee"]), {})
    except (ValueError, AttributeError):
        summary = {}
    return int(row["publication_id"]), dict(row), summary


# --------------------------------------------------------------------------- publish


def plan_publication(
    engine: Engine,
    author: str,
    k: int,
    published: PublishedSet,
    nomenclature: Nomenclature,
    progress: Progress = no_progress,
) -> PublicationRun | None:
    """Read the store and protect (or reuse) every year. None when the store holds no aggregate."""
    progress(0.02, "Lecture des agrégats actifs")
    with engine.connect() as conn:
        fine = read_active_aggregates(conn)
        agents = read_headcounts(conn)
    if fine.is_empty():
        return None
    if fine["departement"].null_count():
        missing = sorted(fine.filter(pl.col("departement").is_null())["service"].unique().to_list())[:5]
        raise ValueError(f"services sans département connu dans la base : {', '.join(missing)}")
    published_yaml = published_set_yaml(published)
    nomenclature_hash = file_sha256(nomenclature.path)
    fine = fine.with_columns(pl.col("periode").str.slice(0, 4).cast(pl.Int32).alias("annee"))
    years = sorted(fine["annee"].unique().to_list())
    run = PublicationRun(
        author=author, k=k, published_set=published_yaml, nomenclature_code=nomenclature.code,
        nomenclature_hash=nomenclature_hash, source_batches=sorted(fine["batch_id"].unique().to_list()),
        period_min=fine["periode"].min(), period_max=fine["periode"].max(), years=[],
        headcounts=territory_headcounts(fine.select("service", "departement", "annee"), agents),
    )
    span = 0.85 / len(years)
    for i, annee in enumerate(years):
        start = time.perf_counter()
        fraction = 0.1 + i * span
        rows = fine.filter(pl.col("annee") == annee)
        input_hash = year_input_hash(rows, k, published_yaml, nomenclature_hash)
        with engine.connect() as conn:
            reusable = _reusable_year(conn, input_hash)
        if reusable is not None:
            number, counts, summary = reusable
            progress(fraction, f"Année {annee} : données inchangées depuis la publication n° {number}, masquage repris tel quel")
            run.years.append(YearPlan(annee, input_hash, reused_from=number, reused_counts=counts, reused_summary=summary))
        else:
            progress(fraction, f"Année {annee} : masquage et audit ({plural(rows.height, 'ligne')})")
            services = rows.select("service", "departement").unique()
            protected = protect_cells(rows.select("periode", "service", "dimension", "modalite", "effectif"),
                                      services, nomenclature, published, k,
                                      progress=lambda f, label, at=fraction, y=annee: progress(at + span * min(f, 1.0), f"Année {y} : {label}"))
            plan = YearPlan(annee, input_hash, protected=protected)
            if not plan.audit_ok:
                failures = protected.summary()["echecs_audit"]
                progress(fraction + span, f"Année {annee} : audit en échec ({plural(failures, 'cellule insuffisamment protégée', 'cellules insuffisamment protégées')})")
            run.years.append(plan)
        run.year_seconds[annee] = time.perf_counter() - start
    return run


def publish(
    author: str,
    k: int | None = None,
    published_set: PublishedSet | None = None,
    progress: Progress = no_progress,
    *,
    engine: Engine | None = None,
    nomenclature: Nomenclature | None = None,
) -> PublicationOutcome:
    """Protect the store's active aggregates and store the result as a numbered publication."""
    from analytics.settings import get_settings

    k = get_settings().k if k is None else k
    if k < 2:
        raise ValueError("le seuil k du secret statistique doit être au moins 2")
    from analytics.publication_progress import Tracker, running

    under_way = running()
    if under_way is not None:
        return PublicationOutcome(BUSY, None, f"Une publication est déjà en cours (lancée par {under_way.author}) : "
                                              f"{under_way.label}. Réessayez quand elle sera terminée.")
    engine = engine or store.get_engine()
    published = published_set or default_published_set()
    nomenclature = nomenclature or default_nomenclature()
    with Tracker(author) as tracker:
        def report(fraction: float, label: str) -> None:
            tracker(fraction, label)
            progress(fraction, label)

        run = plan_publication(engine, author, k, published, nomenclature, report)
        if run is None:
            return PublicationOutcome(NOTHING, None, "Rien à publier : aucun agrégat n'est chargé dans la base. "
                                                     "Importez d'abord un fichier d'agrégats.")
        report(0.95, "Écriture de la publication")
        outcome = record_publication(engine, run)
        if outcome.ok:  # the veille: its alerts go to the register; a failure is logged, the publication stands
            report(0.98, "Veille : recherche des hausses inhabituelles")
            from analytics.veille.publish_hook import after_publication

            after_publication(engine, outcome.number)
    progress(1.0, "Publication terminée" if outcome.ok else "Publication refusée")
    return outcome


# --------------------------------------------------------------------------- storing


def _copy_year_cells(conn: Connection, source: int, target: int, annee: int) -> None:
    """Reuse a year's cells of an earlier publication (every period code of a year starts with the year)."""
    c = store.publication_cell
    cols = CELL_COLUMNS
    select = sa.select(sa.literal(target, sa.Integer), *[c.c[n] for n in cols]).where(
        c.c.publication_id == source, c.c.periode.like(f"{annee}%"))
    conn.execute(sa.insert(c).from_select(["publication_id", *cols], select))


def _year_cells(plan: YearPlan, number: int) -> pl.DataFrame:
    table = plan.protected.table()
    return table.select(
        pl.lit(number, pl.Int64).alias("publication_id"),
        "geo_niveau", "geo_code", "periode_niveau", "periode", "dimension", "modalite",
        pl.when(pl.col("statut") == CELL_PUBLISHED).then(pl.col("valeur")).otherwise(None).cast(pl.Int64).alias("valeur"),
        (pl.col("statut") != CELL_PUBLISHED).alias("secret"),
    )


def _totals(outcomes: list[YearOutcome]) -> dict:
    return {
        "cellules_publiables": sum(y.cell_count for y in outcomes),
        "secrets_primaires": sum(y.primary_count for y in outcomes),
        "secrets_secondaires": sum(y.secondary_count for y in outcomes),
        "cellules_auditees": sum(y.audited_cells for y in outcomes),
        "echecs_audit": sum(y.audit_failures for y in outcomes),
        "annees_reprises": [y.annee for y in outcomes if y.reused_from is not None],
        "annees_protegees": [y.annee for y in outcomes if y.reused_from is None],
    }


def _plain(value):
    """JSON for numpy scalars and arrays that a protection summary may hold."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"non sérialisable en JSON : {type(value).__name__}")


def record_publication(engine: Engine, run: PublicationRun) -> PublicationOutcome:
    """Store a publication in one transaction: `publiee` with all its cells, or `refusee` without any."""
    outcomes = [plan.outcome(run.year_seconds.get(plan.annee, 0.0)) for plan in run.years]
    failed = [plan.annee for plan in run.years if not plan.audit_ok]
    status = REFUSED if failed or not run.years else PUBLISHED
    totals = _totals(outcomes)
    summary = {"annees": {str(plan.annee): plan.summary() for plan in run.years}, "total": totals}
    p, y = store.publication, store.publication_year
    with engine.begin() as conn:
        seconds = time.perf_counter() - run.started
        number = int(conn.execute(sa.insert(p).values(
            created_at=datetime.now(timezone.utc), author=run.author[:120], k=run.k, published_set=run.published_set,
            nomenclature_code=run.nomenclature_code[:64], nomenclature_hash=run.nomenclature_hash,
            source_batches=json.dumps(run.source_batches), period_min=run.period_min, period_max=run.period_max,
            status=status, cell_count=totals["cellules_publiables"], primary_count=totals["secrets_primaires"],
            secondary_count=totals["secrets_secondaires"], audited_cells=totals["cellules_auditees"],
            audit_failures=totals["echecs_audit"], audit_summary=json.dumps(summary, ensure_ascii=False, default=_plain), seconds=0.0,
        ).returning(p.c.id)).scalar_one())
        conn.execute(sa.insert(y), [
            {"publication_id": number, "annee": o.annee, "input_hash": o.input_hash, "primary_count": o.primary_count,
             "secondary_count": o.secondary_count, "cell_count": o.cell_count, "audit_failures": o.audit_failures}
            for o in outcomes
        ])
        if status == PUBLISHED:
            for plan in run.years:
                if plan.protected is not None:
                    store.bulk_insert(conn, store.publication_cell, _year_cells(plan, number))
                else:
                    _copy_year_cells(conn, plan.reused_from, number, plan.annee)
            if run.headcounts is not None and run.headcounts.height:
                store.bulk_insert(conn, store.publication_headcount,
                                  run.headcounts.select(pl.lit(number, pl.Int64).alias("publication_id"), pl.all()))
        seconds = time.perf_counter() - run.started
        conn.execute(sa.update(p).where(p.c.id == number).values(seconds=seconds))
    outcome = PublicationOutcome(status, number, "", outcomes, seconds)
    outcome.message = _message(outcome, failed, engine)
    return outcome


def _years_text(years: list[int]) -> str:
    if len(years) == 1:
        return f"l'année {years[0]}"
    return "les années " + ", ".join(str(a) for a in years[:-1]) + f" et {years[-1]}"


def _message(outcome: PublicationOutcome, failed: list[int], engine: Engine) -> str:
    if outcome.status == REFUSED:
        current = latest_publication(engine)
        still = (f" La publication n° {current.number} reste en vigueur." if current else " Aucune publication n'est en vigueur.")
        if not outcome.years:
            return f"Publication n° {outcome.number} refusée : aucune année à publier." + still
        return (f"Publication n° {outcome.number} refusée : l'audit trouve "
                f"{plural(outcome.audit_failures, 'cellule insuffisamment protégée', 'cellules insuffisamment protégées')} "
                f"({_years_text(failed)}). Rien n'est publié." + still)
    reused = [y for y in outcome.years if y.reused_from is not None]
    text = (f"Publication n° {outcome.number} : {plural(outcome.cell_count, 'cellule')}, "
            f"{plural(outcome.secret_count, 'secret')} (dont {plural(outcome.primary_count, 'primaire')} et "
            f"{plural(outcome.secondary_count, 'secondaire')}), {_years_text([y.annee for y in outcome.years])}")
    if reused:
        sources = sorted({y.reused_from for y in reused})
        text += (f" ; masquage repris sans changement pour {_years_text([y.annee for y in reused])} "
                 f"(données identiques à la publication n° {', '.join(str(s) for s in sources)})")
    return text + f" ; en {fr_float(outcome.seconds, 1)} s."
