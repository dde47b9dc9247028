"""The nomenclature preset: dimensions, their modalities and how they relate to `ensemble`.

A preset is a YAML file (default `data/nomenclature.yaml`, codes unchanged from the shared
preset). Loading validates it; a bad preset raises `NomenclatureError` with every problem
listed in French, and the app and the CLI refuse to start on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

RELATIONS = ("total", "partition", "multiple", "independent")
TOTAL_CODE = "ensemble"


class NomenclatureError(ValueError):
    """The preset cannot be used; `problems` lists every reason in French."""

    def __init__(self, path: Path, problems: list[str]):
        self.path = path
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"Nomenclature invalide ({path}) :\n{lines}")


@dataclass(frozen=True)
class Modality:
    code: str
    libelle: str
    libelle_court: str
    groupe: str | None = None
    par_effectif: bool = False
    deprecated: bool = False
    famille: str | None = None  # RPS indicators: obligatoire_fp_2014, fonctionnement, sante_securite, service_social
    hausse_signifie: str | None = None  # RPS indicators: how a rise reads (shown beside the indicator)


@dataclass(frozen=True)
class Dimension:
    code: str
    libelle: str
    relation: str
    modalites: tuple[Modality, ...]
    groupes: dict[str, str] = field(default_factory=dict)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(m.code for m in self.modalites)

    def modality(self, code: str) -> Modality:
        for m in self.modalites:
            if m.code == code:
                return m
        raise KeyError(code)


@dataclass(frozen=True)
class ServiceType:
    code: str
    libelle: str
    niveau: str


@dataclass(frozen=True)
class Nomenclature:
    code: str
    version: str
    libelle: str
    path: Path
    dimensions: dict[str, Dimension]
    service_types: dict[str, ServiceType]

    def dimension(self, code: str) -> Dimension:
        return self.dimensions[code]

    def pairs(self) -> list[tuple[str, str]]:
        """Every valid (dimension, modalite) pair, in preset order."""
        return [(d.code, m.code) for d in self.dimensions.values() for m in d.modalites]

    def by_relation(self, relation: str) -> list[Dimension]:
        return [d for d in self.dimensions.values() if d.relation == relation]


def _text(value, default: str = "") -> str:
    return default if value is None else str(value).strip()


def parse_nomenclature(raw: object, path: Path) -> Nomenclature:
    """Build and validate a preset from parsed YAML; raise NomenclatureError listing all problems."""
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise NomenclatureError(path, ["le fichier ne contient pas un dictionnaire YAML"])
    meta = raw.get("meta") or {}
    dims_raw = raw.get("dimensions")
    if not isinstance(dims_raw, dict) or not dims_raw:
        raise NomenclatureError(path, ["section « dimensions » absente ou vide"])

    dimensions: dict[str, Dimension] = {}
    for dim_code, spec in dims_raw.items():
        where = f"dimension « {dim_code} »"
        if not isinstance(spec, dict):
            problems.append(f"{where} : la définition n'est pas un dictionnaire")
            continue
        relation = spec.get("relation")
        if relation not in RELATIONS:
            problems.append(
                f"{where} : relation « {relation} » inconnue (attendu : {', '.join(RELATIONS)})"
            )
        groupes = {}
        for g in spec.get("groupes") or []:
            gcode = _text(g.get("code")) if isinstance(g, dict) else ""
            if not gcode:
                problems.append(f"{where} : groupe sans code")
            elif gcode in groupes:
                problems.append(f"{where} : groupe « {gcode} » en double")
            else:
                groupes[gcode] = _text(g.get("libelle"), gcode)
        modalities: list[Modality] = []
        seen: set[str] = set()
        for m in spec.get("modalites") or []:
            code = _text(m.get("code")) if isinstance(m, dict) else ""
            if not code:
                problems.append(f"{where} : modalité sans code")
                continue
            if code in seen:
                problems.append(f"{where} : code de modalité « {code} » en double")
                continue
            seen.add(code)
            groupe = m.get("groupe")
            if groupe is not None and groupe not in groupes:
                problems.append(f"{where} : modalité « {code} » rattachée au groupe inconnu « {groupe} »")
            libelle = _text(m.get("libelle"), code)
            modalities.append(
                Modality(
                    code=code,
                    libelle=libelle,
                    libelle_court=_text(m.get("libelle_court"), libelle),
                    groupe=groupe,
                    par_effectif=bool(m.get("par_effectif", False)),
                    deprecated=bool(m.get("deprecated", False)),
                    famille=m.get("famille"),
                    hausse_signifie=m.get("hausse_signifie"),
                )
            )
        if not modalities:
            problems.append(f"{where} : aucune modalité")
        if relation == "total" and [m.code for m in modalities] != [TOTAL_CODE]:
            problems.append(f"{where} : une dimension « total » a une seule modalité, « {TOTAL_CODE} »")
        dimensions[str(dim_code)] = Dimension(
            code=str(dim_code),
            libelle=_text(spec.get("libelle"), str(dim_code)),
            relation=str(relation),
            modalites=tuple(modalities),
            groupes=groupes,
        )

    totals = [d.code for d in dimensions.values() if d.relation == "total"]
    if totals != [TOTAL_CODE]:
        problems.append(
            f"il faut exactement une dimension « total » nommée « {TOTAL_CODE} » (trouvé : {totals or 'aucune'})"
        )

    service_types: dict[str, ServiceType] = {}
    for t in raw.get("types_service") or []:
        code = _text(t.get("code")) if isinstance(t, dict) else ""
        if not code:
            problems.append("types_service : type sans code")
        elif code.lower() in service_types:
            problems.append(f"types_service : code « {code} » en double (la casse ne compte pas)")
        else:
            service_types[code.lower()] = ServiceType(
                code=code, libelle=_text(t.get("libelle"), code), niveau=_text(t.get("niveau"))
            )
    if not service_types:
        problems.append("section « types_service » absente ou vide")

    if problems:
        raise NomenclatureError(path, problems)
    return Nomenclature(
        code=_text(meta.get("code"), path.stem),
        version=_text(meta.get("version"), "1"),
        libelle=_text(meta.get("libelle"), path.stem),
        path=path,
        dimensions=dimensions,
        service_types=service_types,
    )


def load_nomenclature(path: Path | str) -> Nomenclature:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NomenclatureError(path, ["fichier introuvable"]) from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise NomenclatureError(path, [f"YAML illisible : {exc}"]) from None
    return parse_nomenclature(raw, path)


@lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> Nomenclature:
    return load_nomenclature(path)


def default_nomenclature() -> Nomenclature:
    """The deployment's preset (VIGIE_NOMENCLATURE or data/nomenclature.yaml), cached by mtime."""
    from analytics.settings import get_settings

    path = get_settings().nomenclature_path
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise NomenclatureError(path, ["fichier introuvable"]) from None
    return _cached(str(path), mtime)
