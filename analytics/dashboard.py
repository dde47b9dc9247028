"""What the dashboard pages show, computed from published cells only (no Streamlit here).

Every figure comes from `analytics.views`: a published value, or arithmetic on published values
(a share of a published total, a change between two published cells). A secret cell stays `s`;
a change or a share that would need a secret is not computed (None), never estimated.

Filters are plain values (`Filters`) that round-trip through URL query parameters, so that a view
can be shared as a link and kept from page to page. A territory is written `FR`,
`region:53`, `departement:29` or `service:DDTM-29` (région and département codes overlap).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from analytics import views
from analytics.formatting import SECRET_MARK, display_rank, fr_int, fr_pct, fr_period
from analytics.views import NATIONAL_CODE, STATUT_SECRET, Scope

GRANULARITIES = ("annee", "trimestre", "mois")
GRANULARITY_LABELS = {"annee": "Année", "trimestre": "Trimestre", "mois": "Mois"}
COARSER = {"mois": "trimestre", "trimestre": "annee"}
TERRITORY_LEVELS = ("national", "region", "departement", "service")
MOSTLY_SECRET = 0.5  # above this share of secret cells, the page advises a coarser level


class FilterError(ValueError):
    """A filter value that the publication cannot answer (unknown territory, period, level)."""


@dataclass(frozen=True)
class Territory:
    level: str  # national | region | departement | service
    code: str

    @classmethod
    def parse(cls, text: str | None) -> Territory:
        text = (text or "").strip()
        if not text or text.upper() == NATIONAL_CODE:
            return NATIONAL
        level, _, code = text.partition(":")
        if level not in TERRITORY_LEVELS[1:] or not code:
            raise FilterError(f"territoire « {text} » invalide (attendu : FR, region:CODE, departement:CODE ou service:CODE)")
        return cls(level, code)

    def key(self) -> str:
        return NATIONAL_CODE if self.level == "national" else f"{self.level}:{self.code}"


NATIONAL = Territory("national", NATIONAL_CODE)


@dataclass(frozen=True)
class Filters:
    territory: Territory = NATIONAL
    granularity: str = "annee"
    period: str | None = None  # a period code of `granularity`; None: the latest published
    service_type: str | None = None  # narrows the lists of services only

    @classmethod
    def from_query(cls, params: dict[str, str]) -> Filters:
        """Filters from URL query parameters; an unknown value falls back to the default, it never fails the page."""
        try:
            territory = Territory.parse(params.get("territoire"))
        except FilterError:
            territory = NATIONAL
        granularity = params.get("granularite") if params.get("granularite") in GRANULARITIES else "annee"
        return cls(territory, granularity, params.get("periode") or None, params.get("type_service") or None)

    def to_query(self) -> dict[str, str]:
        query = {"territoire": self.territory.key(), "granularite": self.granularity}
        if self.period:
            query["periode"] = self.period
        if self.service_type:
            query["type_service"] = self.service_type
        return query


# --------------------------------------------------------------------------- what may be chosen


def _scope_directory(scope: Scope) -> pl.DataFrame:
    directory = views.service_directory()
    if scope.kind == "services":
        return directory.filter(pl.col("code").is_in(list(scope.codes)))
    if scope.kind == "region":
        return directory.filter(pl.col("region") == scope.codes[0])
    return directory


def territory_options(scope: Scope, service_type: str | None = None) -> list[tuple[str, str]]:
    """(key, label) of the territories a user of `scope` may look at, in display order.

    With `service_type`, only the scope's published services of that type: a figure of a territory is
    never a figure of a type of service (no such cell is published), so choosing a type lists its
    services and nothing else. A type with no such service is ignored."""
    from analytics.referentials import departement_names, region_names

    directory = _scope_directory(scope)
    if service_type:
        typed = directory.filter(pl.col("type_service") == service_type)
        if typed.height:
            return [(f"service:{code}", f"{label} ({code})") for code, label in typed.select("code", "libelle").iter_rows()]
    regions, departements = region_names(), departement_names()
    options: list[tuple[str, str]] = []
    if scope.kind == "national":
        options.append((NATIONAL_CODE, "France entière"))
        options += [(f"region:{code}", f"Région {name}") for code, name in regions.items()
                    if code in set(directory["region"].to_list())]
    elif scope.kind == "region":
        options.append((f"region:{scope.codes[0]}", f"Région {regions.get(scope.codes[0], scope.codes[0])}"))
    if scope.kind != "services":
        for dep in sorted(set(directory["departement"].to_list())):
            options.append((f"departement:{dep}", f"{departements.get(dep, dep)} ({dep})"))
    options += [(f"service:{code}", f"{label} ({code})") for code, label in directory.select("code", "libelle").iter_rows()]
    return options


def granularities(territory: Territory) -> list[str]:
    """Period levels published for the territory's geography level, finest last."""
    published = {p for g, p, _ in views.available_combinations() if g == territory.level}
    return [g for g in GRANULARITIES if g in published]


def periods(granularity: str) -> list[str]:
    return views.available_periods(granularity)


def resolve(filters: Filters, scope: Scope, keys: list[str] | None = None) -> Filters:
    """The filters made answerable: a territory inside the scope, a published level, a published period.

    `keys`: the scope's territory keys when the caller already has them (territory_options)."""
    keys = keys if keys is not None else [key for key, _ in territory_options(scope)]
    territory = filters.territory if filters.territory.key() in keys else (Territory.parse(keys[0]) if keys else NATIONAL)
    levels = granularities(territory)
    granularity = filters.granularity if filters.granularity in levels else (levels[0] if levels else "annee")
    known = periods(granularity)
    period = filters.period if filters.period in known else (known[-1] if known else None)
    return replace(filters, territory=territory, granularity=granularity, period=period)


def service_types(scope: Scope | None = None) -> list[str]:
    """Service types of the published services (of `scope` when given), sorted: only types that have something to show."""
    directory = views.service_directory() if scope is None else _scope_directory(scope)
    return directory["type_service"].drop_nulls().unique().sort().to_list()


def services_of_type(scope: Scope, service_type: str, within: Territory | None = None) -> list[str]:
    """Codes of the scope's published services of a type, in a région or département when `within` says so
    (to narrow a list of services, never to add them up)."""
    directory = _scope_directory(scope).filter(pl.col("type_service") == service_type)
    if within is not None and within.level in ("region", "departement"):
        directory = directory.filter(pl.col(within.level) == within.code)
    return directory["code"].to_list()


def service_type_label(code: str | None) -> str:
    """The preset's name of a service type (shortened), « Tous les types » for none."""
    if not code:
        return "Tous les types"
    from analytics.nomenclature import NomenclatureError, default_nomenclature

    try:
        label = default_nomenclature().service_types[code].libelle
    except (KeyError, NomenclatureError):
        return code.upper()
    return label if len(label) <= 70 else label[:69].rstrip() + "…"


# --------------------------------------------------------------------------- periods


def previous_year(period: str) -> str:
    """The same period one year earlier: '2025' -> '2024', '2025-T2' -> '2024-T2', '2025-03' -> '2024-03'."""
    return f"{int(period[:4]) - 1}{period[4:]}"


def period_label(period: str | None) -> str:
    return fr_period(period)


# --------------------------------------------------------------------------- figures


def cells(filters: Filters, scope: Scope, *, dimensions=None, periodes=None) -> pl.DataFrame:
    """Published cells of the chosen territory and level, for the chosen period or for `periodes`."""
    chosen = periodes if periodes is not None else [filters.period] if filters.period else []
    frame = views.published_cells(scope, geo_niveau=filters.territory.level, periode_niveau=filters.granularity,
                                  periodes=chosen, dimensions=dimensions)
    return frame.filter(pl.col("geo_code") == filters.territory.code)


def secret_share(frame: pl.DataFrame) -> float:
    return float((frame["statut"] == STATUT_SECRET).mean()) if frame.height else 0.0


def granularity_advice(filters: Filters, scope: Scope) -> str | None:
    """The coarser level to suggest when most cells at the chosen level are secret, or None."""
    coarser = COARSER.get(filters.granularity)
    if coarser is None or coarser not in granularities(filters.territory):
        return None
    return coarser if secret_share(cells(filters, scope)) > MOSTLY_SECRET else None


@dataclass(frozen=True)
class Headline:
    situations: int | None  # None when secret or not published
    situations_secret: bool
    previous: int | None
    previous_secret: bool  # the same period a year earlier is published as `s`
    change: float | None  # relative change from the same period a year earlier (published values only)
    problematiques: pl.DataFrame  # libelle, valeur, statut, part (share of situations)
    axes: pl.DataFrame


def _modality_table(frame: pl.DataFrame, dimension: str, total: int | None) -> pl.DataFrame:
    from analytics.nomenclature import default_nomenclature

    dim = default_nomenclature().dimension(dimension)
    labels = {m.code: m.libelle_court or m.libelle for m in dim.modalites}
    rows = frame.filter(pl.col("dimension") == dimension)
    return rows.select(
        pl.col("modalite"),
        pl.col("modalite").replace_strict(labels, default=pl.col("modalite"), return_dtype=pl.String).alias("libelle"),
        "valeur", "statut",
        (pl.col("valeur") / total if total else pl.lit(None, dtype=pl.Float64)).alias("part"),
    ).sort(display_rank("valeur"), pl.col("valeur"), descending=[False, True], nulls_last=True)


def headline(filters: Filters, scope: Scope) -> Headline:
    if filters.period is None:
        empty = pl.DataFrame(schema={"modalite": pl.String, "libelle": pl.String, "valeur": pl.Int64, "statut": pl.String, "part": pl.Float64})
        return Headline(None, False, None, False, None, empty, empty)
    now = cells(filters, scope)
    before = cells(filters, scope, periodes=[previous_year(filters.period)], dimensions="ensemble")
    total_row = now.filter(pl.col("dimension") == "ensemble")
    situations = total_row["valeur"][0] if total_row.height else None
    secret = bool(total_row.height and total_row["statut"][0] == STATUT_SECRET)
    previous = before["valeur"][0] if before.height else None
    previous_secret = bool(before.height and before["statut"][0] == STATUT_SECRET)
    change = (situations - previous) / previous if situations is not None and previous else None
    return Headline(situations, secret, previous, previous_secret, change, _modality_table(now, "problematique", situations),
                    _modality_table(now, "axe", situations))


def series(filters: Filters, scope: Scope, dimension: str = "ensemble", modalites=None) -> pl.DataFrame:
    """Every published period of the territory at the chosen level (for trend charts): periode, modalite, valeur, statut."""
    frame = views.published_cells(scope, geo_niveau=filters.territory.level, periode_niveau=filters.granularity,
                                  dimensions=dimension, modalites=modalites)
    return frame.filter(pl.col("geo_code") == filters.territory.code).select("periode", "modalite", "valeur", "statut").sort("periode", "modalite")


# --------------------------------------------------------------------------- shown as text


def value_text(value: int | None, statut: str | None) -> str:
    if statut == STATUT_SECRET or value is None:
        return SECRET_MARK
    return fr_int(value)


def change_text(change: float | None) -> str | None:
    if change is None:
        return None
    return ("+" if change > 0 else "") + fr_pct(change)


def share_texts(shares: pl.Series, statuts: pl.Series) -> pl.Series:
    """Shares in French (« 12,5 % »), `s` where the share needs a secret."""
    return pl.Series([SECRET_MARK if st == STATUT_SECRET or v is None else fr_pct(v)
                      for v, st in zip(shares.to_list(), statuts.to_list())], dtype=pl.String)


def display_table(frame: pl.DataFrame, columns: dict[str, str], value: str = "valeur", share: str | None = None) -> pl.DataFrame:
    """A table as shown and as downloaded: the listed columns renamed, the value as text (`s` when secret)."""
    out = frame.with_columns(
        pl.struct(value, "statut").map_elements(lambda r: value_text(r[value], r["statut"]), return_dtype=pl.String).alias("_texte"))
    selected = [pl.col(src).alias(label) for src, label in columns.items() if src != value]
    selected.append(pl.col("_texte").alias(columns.get(value, "Valeur")))
    if share:
        selected.append(pl.col(share).map_elements(fr_pct, return_dtype=pl.String).fill_null(SECRET_MARK).alias("Part des situations"))
    return out.select(selected)


# --------------------------------------------------------------------------- maps


def map_periods(level: str) -> list[str]:
    """Years published at `level` (région or département): maps compare territories over one year."""
    published = {p for g, p, _ in views.available_combinations() if g == level}
    return views.available_periods("annee") if "annee" in published else []


# --------------------------------------------------------------------------- problématiques by territory


def problem_matrix(scope: Scope, level: str, year: str, group: str | None = None,
                   service_type: str | None = None) -> pl.DataFrame:
    """Territory × problématique for one year: libelle_territoire, libelle, valeur, part, statut.

    `part` is the published count over the territory's published number of situations; when either
    is secret the share is `s`. A group only chooses which problématiques are shown: no sum over a
    group or a service type is made (it would not be a published cell)."""
    from analytics.nomenclature import default_nomenclature

    dim = default_nomenclature().dimension("problematique")
    wanted = [m for m in dim.modalites if group is None or m.groupe == group]
    labels = {m.code: m.libelle_court or m.libelle for m in wanted}
    frame = views.published_cells(scope, geo_niveau=level, periode_niveau="annee", periodes=[year],
                                  dimensions=["ensemble", "problematique"])
    if level == "service" and service_type:
        typed = views.service_directory().filter(pl.col("type_service") == service_type)["code"].to_list()
        frame = frame.filter(pl.col("geo_code").is_in(typed))
    totals = frame.filter(pl.col("dimension") == "ensemble").select("geo_code", pl.col("valeur").alias("_total"))
    rows = frame.filter((pl.col("dimension") == "problematique") & pl.col("modalite").is_in(list(labels)))
    rank = {code: i for i, code in enumerate(labels)}
    return rows.join(totals, on="geo_code", how="left").with_columns(
        pl.col("modalite").replace_strict(labels, return_dtype=pl.String).alias("libelle"),
        pl.col("modalite").replace_strict(rank, return_dtype=pl.Int64).alias("_rang"),
        (pl.col("valeur") / pl.col("_total")).alias("part"),
        pl.when(pl.col("valeur").is_null() | pl.col("_total").is_null()).then(pl.lit(STATUT_SECRET))
        .otherwise(pl.lit("publie")).alias("statut_part"),
    ).sort("geo_code", "_rang").select(
        "geo_code", pl.col("geo_libelle").alias("libelle_territoire"), "modalite", "libelle", "valeur", "statut", "part", "statut_part")


def indicator_choices() -> dict[tuple[str, str], str]:
    """(dimension, modalite) -> label of every indicator a page may chart, « Situations suivies » first."""
    from analytics.nomenclature import default_nomenclature

    labels = {("ensemble", "ensemble"): "Situations suivies"}
    labels.update({(d.code, m.code): f"{d.libelle} : {m.libelle_court or m.libelle}"
                   for d in default_nomenclature().dimensions.values() if d.code != "ensemble" for m in d.modalites})
    return labels


PARTITION_TITLES = {
    "axe": "Axes d'intervention (instruction du 27 mars 2014)",
    "prevention": "Niveaux de prévention",
    "mode": "Modes d'intervention (individuel ou collectif)",
    "origine": "Origine de la demande",
    "public": "Publics",
    "categorie": "Catégories A, B, C",
}


def partitions(filters: Filters, scope: Scope) -> list[tuple[str, str, pl.DataFrame]]:
    """(dimension, title, table) for each partition dimension published for the territory and period,
    each table as in `headline` (shares of the published number of situations)."""
    now = cells(filters, scope)
    total = now.filter(pl.col("dimension") == "ensemble")["valeur"]
    situations = total[0] if total.len() else None
    present = set(now["dimension"].to_list())
    return [(dim, title, _modality_table(now, dim, situations)) for dim, title in PARTITION_TITLES.items() if dim in present]
