"""Which cross-classifications geography level x period level x dimension are published.

A deployment declares it in a short list (YAML or the `VIGIE_PUBLISHED_SET` setting), e.g.

    - {geo: national, periode: [mois, trimestre, annee]}
    - {geo: region, periode: [trimestre, annee]}
    - {geo: departement, periode: [annee], dimensions: [ensemble, axe, rps]}

Cells outside it are hidden: never shown, but still variables of the audit.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from analytics.disclosure.levels import GEO_LEVELS, PERIOD_LEVELS

ALL = "*"


@dataclass(frozen=True)
class Rule:
    geo: str
    periods: tuple[str, ...]
    dimensions: tuple[str, ...] = (ALL,)

    def covers(self, geo: str, period: str, dimension: str) -> bool:
        return geo == self.geo and period in self.periods and (ALL in self.dimensions or dimension in self.dimensions)


@dataclass(frozen=True)
class PublishedSet:
    rules: tuple[Rule, ...]

    def covers(self, geo: str, period: str, dimension: str) -> bool:
        return any(r.covers(geo, period, dimension) for r in self.rules)

    def combos(self) -> list[tuple[str, str]]:
        return [(g, p) for g in GEO_LEVELS for p in PERIOD_LEVELS if any(g == r.geo and p in r.periods for r in self.rules)]

    def describe(self) -> str:
        def dims(r: Rule) -> str:
            return "toutes dimensions" if ALL in r.dimensions else ", ".join(r.dimensions)

        return " ; ".join(f"{r.geo} × {'/'.join(r.periods)} ({dims(r)})" for r in self.rules)


# Default, measured on the national demo (see docs/secret-statistique.md): with single-digit
# service-months, service and département cells are published by year only, régions by
# quarter and year, the nation by month too.
DEFAULT_RULES = """
- {geo: national, periode: [mois, trimestre, annee]}
- {geo: region, periode: [trimestre, annee]}
- {geo: departement, periode: [annee]}
- {geo: service, periode: [annee]}
"""


class PublishedSetError(ValueError):
    pass


def parse_published_set(text: str) -> PublishedSet:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PublishedSetError(f"ensemble publié illisible : {exc}") from None
    if not isinstance(raw, list) or not raw:
        raise PublishedSetError("ensemble publié : une liste de règles {geo, periode, dimensions} est attendue")
    rules = []
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise PublishedSetError(f"ensemble publié, règle {i} : un dictionnaire est attendu")
        geo = item.get("geo")
        periods = item.get("periode") or item.get("periodes")
        periods = [periods] if isinstance(periods, str) else periods
        dims = item.get("dimensions", [ALL])
        dims = [dims] if isinstance(dims, str) else dims
        if geo not in GEO_LEVELS:
            raise PublishedSetError(f"ensemble publié, règle {i} : niveau géographique « {geo} » inconnu ({', '.join(GEO_LEVELS)})")
        if not periods or any(p not in PERIOD_LEVELS for p in periods):
            raise PublishedSetError(f"ensemble publié, règle {i} : périodes {periods} invalides ({', '.join(PERIOD_LEVELS)})")
        rules.append(Rule(geo, tuple(periods), tuple(dims)))
    return PublishedSet(tuple(rules))


def default_published_set() -> PublishedSet:
    import os

    return parse_published_set(os.environ.get("VIGIE_PUBLISHED_SET") or DEFAULT_RULES)
