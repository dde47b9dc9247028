"""Fictitious national demo dataset: the MTE/MTECT social-service network, month by month.

About 160 services (DDT/DDTM, DREAL, DIR, DIRM, central administration, public bodies) cover
every région and every département. Counts are generated *per situation* (one row per person
accompanied in a month, never returned) and then aggregated, so the consistency rules of the
nomenclature hold exactly: partition dimensions add up to `ensemble`, each problématique is at
most `ensemble`, and the RPS indicators derived from situations are unions of problématiques.

The model, in short (all figures are invented, only their orders of magnitude are plausible):
- headcount per service and year, by service type, slowly drifting;
- monthly rate of situations proportional to headcount, with a seasonal profile (August low,
  September-October and January high, December lower), a gentle national trend, a random level
  and trend per service and gamma-Poisson (negative binomial) overdispersion;
- per situation: one modality of every partition dimension (type-dependent probabilities), a set
  of problématiques (independent Bernoulli draws, at least one), a few couplings (retired people
  bring retirement problems, ayants cause a deceased agent);
- RPS indicators: gamma-Poisson counts on headcount rates (visits, violence, accidents…) and counts
  of situations carrying given problématiques (souffrance, réorganisation, PDP…);
- a handful of documented *injected rises* (`DemoData.rises`, docs/demo.md) over the last months,
  made of extra situations, so every rule still holds during the rise.

Everything is vectorised with numpy; `generate(years=5)` takes a fraction of a second.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import polars as pl

from analytics.nomenclature import TOTAL_CODE, default_nomenclature
from analytics.referentials import departement_names, departement_region, departements, region_names, regions

# --------------------------------------------------------------------------- public API


@dataclass(frozen=True)
class InjectedRise:
    """An emerging rise planted in the demo data, for the detection pages to find."""

    key: str
    description: str
    services: tuple[str, ...]
    departements: tuple[str, ...]
    start: str
    end: str
    indicators: tuple[tuple[str, str], ...]
    factor: float


@dataclass(frozen=True)
class DemoData:
    aggregates: pl.DataFrame
    headcounts: pl.DataFrame
    rises: tuple[InjectedRise, ...]


AGGREGATE_SCHEMA = {
    "periode": pl.Utf8,
    "departement": pl.Utf8,
    "service": pl.Utf8,
    "libelle_service": pl.Utf8,
    "type_service": pl.Utf8,
    "dimension": pl.Utf8,
    "modalite": pl.Utf8,
    "effectif": pl.Int64,
}
HEADCOUNT_SCHEMA = {
    "annee": pl.Int64,
    "service": pl.Utf8,
    "departement": pl.Utf8,
    "effectif_agents": pl.Int64,
}

# National volume of situations for the 12 months ending at `end` (before injected rises).
TARGET_YEARLY_SITUATIONS = 15_500
NATIONAL_TREND = 0.015  # +1.5 % a year
ENSEMBLE_SHAPE = 15.0  # gamma shape of the overdispersion (variance = mu + mu^2 / shape)
INDICATOR_SHAPE = 6.0
SHOWCASE_LEVEL = 1.5  # minimum activity level (relative to the type) of the services of a rise

# Seasonal profile, January..December (normalised to mean 1 below).
_SEASON = np.array([1.12, 1.02, 1.05, 0.98, 0.95, 1.00, 0.86, 0.55, 1.16, 1.15, 1.05, 0.84])
SEASON = _SEASON / _SEASON.mean()


def default_end_period(today: date | None = None) -> str:
    """The last complete month before `today` (default: today), as `YYYY-MM`."""
    today = today or date.today()
    year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
    return f"{year:04d}-{month:02d}"


# --------------------------------------------------------------------------- periods


def _parse_period(period: str) -> tuple[int, int]:
    try:
        year_text, month_text = period.split("-")
        year, month = int(year_text), int(month_text)
    except ValueError:
        raise ValueError(f"Période « {period} » invalide : format attendu AAAA-MM.") from None
    if not 1 <= month <= 12 or len(year_text) != 4:
        raise ValueError(f"Période « {period} » invalide : format attendu AAAA-MM.")
    return year, month


def _months(end: str, count: int) -> list[tuple[int, int]]:
    """`count` consecutive months ending at `end`, oldest first."""
    year, month = _parse_period(end)
    index = year * 12 + (month - 1)
    return [((i // 12), (i % 12) + 1) for i in range(index - count + 1, index + 1)]


def _label(year: int, month: int) -> str:
    return f"{year:04d}-{month:02d}"


# --------------------------------------------------------------------------- services

# Département code -> "de l'Ain", "du Finistère"... (French contraction of "de" + article).
_DE = {
    "01": "de l'Ain", "02": "de l'Aisne", "03": "de l'Allier", "04": "des Alpes-de-Haute-Provence",
    "05": "des Hautes-Alpes", "06": "des Alpes-Maritimes", "07": "de l'Ardèche", "08": "des Ardennes",
    "09": "de l'Ariège", "10": "de l'Aube", "11": "de l'Aude", "12": "de l'Aveyron",
    "13": "des Bouches-du-Rhône", "14": "du Calvados", "15": "du Cantal", "16": "de la Charente",
    "17": "de la Charente-Maritime", "18": "du Cher", "19": "de la Corrèze", "2A": "de la Corse-du-Sud",
    "2B": "de la Haute-Corse", "21": "de la Côte-d'Or", "22": "des Côtes-d'Armor", "23": "de la Creuse",
    "24": "de la Dordogne", "25": "du Doubs", "26": "de la Drôme", "27": "de l'Eure",
    "28": "d'Eure-et-Loir", "29": "du Finistère", "30": "du Gard", "31": "de la Haute-Garonne",
    "32": "du Gers", "33": "de la Gironde", "34": "de l'Hérault", "35": "d'Ille-et-Vilaine",
    "36": "de l'Indre", "37": "d'Indre-et-Loire", "38": "de l'Isère", "39": "du Jura",
    "40": "des Landes", "41": "de Loir-et-Cher", "42": "de la Loire", "43": "de la Haute-Loire",
    "44": "de la Loire-Atlantique", "45": "du Loiret", "46": "du Lot", "47": "de Lot-et-Garonne",
    "48": "de la Lozère", "49": "de Maine-et-Loire", "50": "de la Manche", "51": "de la Marne",
    "52": "de la Haute-Marne", "53": "de la Mayenne", "54": "de Meurthe-et-Moselle", "55": "de la Meuse",
    "56": "du Morbihan", "57": "de la Moselle", "58": "de la Nièvre", "59": "du Nord",
    "60": "de l'Oise", "61": "de l'Orne", "62": "du Pas-de-Calais", "63": "du Puy-de-Dôme",
    "64": "des Pyrénées-Atlantiques", "65": "des Hautes-Pyrénées", "66": "des Pyrénées-Orientales",
    "67": "du Bas-Rhin", "68": "du Haut-Rhin", "69": "du Rhône", "70": "de la Haute-Saône",
    "71": "de Saône-et-Loire", "72": "de la Sarthe", "73": "de la Savoie", "74": "de la Haute-Savoie",
    "75": "de Paris", "76": "de la Seine-Maritime", "77": "de Seine-et-Marne", "78": "des Yvelines",
    "79": "des Deux-Sèvres", "80": "de la Somme", "81": "du Tarn", "82": "de Tarn-et-Garonne",
    "83": "du Var", "84": "de Vaucluse", "85": "de la Vendée", "86": "de la Vienne",
    "87": "de la Haute-Vienne", "88": "des Vosges", "89": "de l'Yonne", "90": "du Territoire de Belfort",
    "91": "de l'Essonne", "92": "des Hauts-de-Seine", "93": "de la Seine-Saint-Denis",
    "94": "du Val-de-Marne", "95": "du Val-d'Oise", "971": "de la Guadeloupe", "972": "de la Martinique",
    "973": "de la Guyane", "974": "de La Réunion", "976": "de Mayotte",
}

# Départements with a sea front: their service is a DDTM (27, Eure, has the Seine estuary).
COASTAL = frozenset(
    "06 11 13 14 17 22 27 29 30 2A 2B 33 34 35 40 44 50 56 59 62 64 66 76 80 83 85".split()
)
# Petite couronne and Paris: no DDT (the DRIEAT and its units cover them).
NO_DDT = frozenset({"75", "92", "93", "94"})
# Populous départements: their DDT/DDTM sits in the upper half of the headcount range.
LARGE = frozenset("06 13 31 33 34 35 38 44 59 62 67 69 76 83".split())
# DREAL seat when it is not the région's chef-lieu (DREAL Grand Est is headquartered in Metz).
DREAL_SEAT = {"44": "57"}

# (service code, label, type, département, headcount low, high)
_OTHER_SERVICES: tuple[tuple[str, str, str, str, int, int], ...] = (
    ("DRIEAT-75", "DRIEAT Île-de-France", "drieat", "75", 1400, 1700),
    ("DRIEAT-93", "DRIEAT – unité départementale de la Seine-Saint-Denis", "drieat", "93", 50, 80),
    ("DEAL-971", "DEAL Guadeloupe", "deal", "971", 250, 330),
    ("DEAL-972", "DEAL Martinique", "deal", "972", 240, 320),
    ("DGTM-973", "DGTM Guyane", "dgtm", "973", 380, 460),
    ("DEAL-974", "DEAL La Réunion", "deal", "974", 330, 420),
    ("DEALM-976", "DEALM Mayotte", "dealm", "976", 170, 230),
    ("DIR-35", "DIR Ouest", "dir", "35", 650, 800),
    ("DIR-59", "DIR Nord", "dir", "59", 650, 800),
    ("DIR-57", "DIR Est", "dir", "57", 800, 1000),
    ("DIR-69", "DIR Centre-Est", "dir", "69", 950, 1150),
    ("DIR-87", "DIR Centre-Ouest", "dir", "87", 550, 700),
    ("DIR-63", "DIR Massif Central", "dir", "63", 450, 560),
    ("DIR-13", "DIR Méditerranée", "dir", "13", 850, 1000),
    ("DIR-31", "DIR Sud-Ouest", "dir", "31", 500, 650),
    ("DIR-33", "DIR Atlantique", "dir", "33", 500, 620),
    ("DIR-76", "DIR Nord-Ouest", "dir", "76", 600, 750),
    ("DIRM-76", "DIRM Manche Est – mer du Nord", "dirm", "76", 180, 240),
    ("DIRM-44", "DIRM Nord Atlantique – Manche Ouest", "dirm", "44", 230, 290),
    ("DIRM-33", "DIRM Sud-Atlantique", "dirm", "33", 150, 200),
    ("DIRM-13", "DIRM Méditerranée", "dirm", "13", 200, 260),
    ("DM-971", "DM Guadeloupe", "dm", "971", 70, 100),
    ("DM-972", "DM Martinique", "dm", "972", 60, 90),
    ("DM-974", "DM Sud océan Indien", "dm", "974", 90, 130),
    ("AC-92", "Administration centrale – La Défense", "ac_mte", "92", 3200, 3700),
    ("AC-75", "Administration centrale – Paris", "ac_mte", "75", 1500, 1900),
    ("CEREMA-69", "Cerema Centre-Est (Bron, siège)", "ep_cerema", "69", 280, 340),
    ("CEREMA-13", "Cerema Méditerranée (Aix-en-Provence)", "ep_cerema", "13", 200, 260),
    ("CEREMA-59", "Cerema Hauts-de-France (Lille)", "ep_cerema", "59", 180, 240),
    ("CEREMA-33", "Cerema Sud-Ouest (Bordeaux)", "ep_cerema", "33", 200, 260),
    ("CEREMA-57", "Cerema Est (Metz)", "ep_cerema", "57", 180, 230),
    ("CEREMA-44", "Cerema Ouest (Nantes)", "ep_cerema", "44", 200, 260),
    ("CEREMA-76", "Cerema Normandie-Centre (Le Grand-Quevilly)", "ep_cerema", "76", 170, 220),
    ("CEREMA-31", "Cerema Occitanie (Toulouse)", "ep_cerema", "31", 150, 200),
    ("AE-31", "Agence de l'eau Adour-Garonne", "ep_agences_eau", "31", 230, 280),
    ("AE-59", "Agence de l'eau Artois-Picardie", "ep_agences_eau", "59", 150, 190),
    ("AE-45", "Agence de l'eau Loire-Bretagne", "ep_agences_eau", "45", 280, 330),
    ("AE-57", "Agence de l'eau Rhin-Meuse", "ep_agences_eau", "57", 160, 200),
    ("AE-69", "Agence de l'eau Rhône-Méditerranée-Corse", "ep_agences_eau", "69", 300, 360),
    ("AE-92", "Agence de l'eau Seine-Normandie", "ep_agences_eau", "92", 280, 340),
    ("PN-73", "Parc national de la Vanoise", "ep_parcs_nationaux", "73", 70, 90),
    ("PN-83", "Parc national de Port-Cros", "ep_parcs_nationaux", "83", 60, 80),
    ("PN-65", "Parc national des Pyrénées", "ep_parcs_nationaux", "65", 70, 90),
    ("PN-48", "Parc national des Cévennes", "ep_parcs_nationaux", "48", 70, 95),
    ("PN-05", "Parc national des Écrins", "ep_parcs_nationaux", "05", 70, 90),
    ("PN-06", "Parc national du Mercantour", "ep_parcs_nationaux", "06", 70, 90),
    ("PN-13", "Parc national des Calanques", "ep_parcs_nationaux", "13", 40, 60),
    ("PN-52", "Parc national de forêts", "ep_parcs_nationaux", "52", 30, 45),
    ("PN-971", "Parc national de la Guadeloupe", "ep_parcs_nationaux", "971", 60, 80),
    ("PN-973", "Parc amazonien de Guyane", "ep_parcs_nationaux", "973", 70, 95),
    ("PN-974", "Parc national de La Réunion", "ep_parcs_nationaux", "974", 60, 80),
    ("IGN-94", "IGN (Saint-Mandé)", "ep_ign", "94", 650, 800),
    ("METEO-31", "Météo-France (Toulouse)", "ep_meteo_france", "31", 850, 1000),
    ("VNF-62", "Voies navigables de France (Béthune)", "ep_vnf", "62", 250, 320),
    ("ENSM-76", "École nationale supérieure maritime (Le Havre)", "ep_ensm", "76", 90, 130),
    ("OFB-94", "Office français de la biodiversité (Vincennes)", "ep_ofb", "94", 220, 280),
    ("UGE-77", "Université Gustave Eiffel (Champs-sur-Marne)", "ep_univ_gustave_eiffel", "77", 220, 300),
)

_HEADCOUNT_RANGE = {"ddt": (120, 300), "ddtm": (200, 450), "dreal": (250, 700)}

# Service type -> profile group (drives probabilities and rates).
GROUPS = ("territorial", "regional", "routes", "mer", "centrale", "etablissement")
_GROUP_OF_TYPE = {
    "ddt": "territorial", "ddtm": "territorial",
    "dreal": "regional", "drieat": "regional", "deal": "regional", "dealm": "regional", "dgtm": "regional",
    "dir": "routes", "dirm": "mer", "dm": "mer", "ac_mte": "centrale",
}


def _group(type_code: str) -> str:
    return _GROUP_OF_TYPE.get(type_code, "etablissement")


def _stable_uniform(code: str) -> float:
    """A pseudo-random number in [0, 1) fixed by the service code (no seed: the catalogue is fixed)."""
    return float(np.random.default_rng(zlib.crc32(code.encode("utf-8"))).random())


@lru_cache(maxsize=1)
def _service_rows() -> tuple[tuple[str, str, str, str, int], ...]:
    names = departement_names()
    dep_region = departement_region()
    rows: list[tuple[str, str, str, str, int]] = []
    for dep in names:
        if len(dep) == 3 or dep in NO_DDT:  # overseas: DEAL/DGTM/DEALM instead of a DDT
            continue
        kind = "ddtm" if dep in COASTAL else "ddt"
        code = f"{kind.upper()}-{dep}"
        low, high = _HEADCOUNT_RANGE[kind]
        u = _stable_uniform(code)
        share = 0.55 + 0.45 * u if dep in LARGE else 0.6 * u
        rows.append((code, f"{kind.upper()} {_DE[dep]}", kind, dep, round(low + share * (high - low))))
    # One DREAL per metropolitan région (Île-de-France: DRIEAT, listed with the others).
    regional_size = {r: sum(1 for d in dep_region.values() if d == r) for r in set(dep_region.values())}
    chef_lieu_dep = _chef_lieu_departements()
    for region, name in sorted(region_names().items()):
        if region in {"01", "02", "03", "04", "06", "11"}:
            continue
        dep = DREAL_SEAT.get(region, chef_lieu_dep[region])
        code = f"DREAL-{dep}"
        low, high = _HEADCOUNT_RANGE["dreal"]
        share = min(1.0, regional_size[region] / 13) * 0.8 + 0.2 * _stable_uniform(code)
        rows.append((code, f"DREAL {name}", "dreal", dep, round(low + share * (high - low))))
    for code, label, kind, dep, low, high in _OTHER_SERVICES:
        rows.append((code, label, kind, dep, round(low + _stable_uniform(code) * (high - low))))
    rows.sort(key=lambda row: row[0])
    codes = [row[0] for row in rows]
    if len(set(codes)) != len(codes):  # guard against an edit of the tables above
        raise RuntimeError("codes de service en double dans le jeu de démonstration")
    return tuple(rows)


def _chef_lieu_departements() -> dict[str, str]:
    """Région code -> département whose chef-lieu is the région's chef-lieu."""
    deps = departements()
    by_city = {
        (row["code_region"], row["chef_lieu"]): row["code_departement"]
        for row in deps.iter_rows(named=True)
    }
    return {
        row["code_region"]: by_city[(row["code_region"], row["chef_lieu"])]
        for row in regions().iter_rows(named=True)
    }


def services_catalogue() -> pl.DataFrame:
    """The demo's services: service, libelle_service, type_service, departement, effectif_base.

    `effectif_base` is the headcount (number of agents) of the service around the end of the
    series; `generate` lets it drift slowly from year to year.
    """
    rows = _service_rows()
    return pl.DataFrame(
        {
            "service": [r[0] for r in rows],
            "libelle_service": [r[1] for r in rows],
            "type_service": [r[2] for r in rows],
            "departement": [r[3] for r in rows],
            "effectif_base": [r[4] for r in rows],
        },
        schema={
            "service": pl.Utf8,
            "libelle_service": pl.Utf8,
            "type_service": pl.Utf8,
            "departement": pl.Utf8,
            "effectif_base": pl.Int64,
        },
    )


# --------------------------------------------------------------------------- probabilities
# Relative weights; modalities missing from a table get weight 0, codes unknown to the preset are
# ignored and each row is renormalised, so a slightly different preset still adds up.

_COMMON_PARTITIONS: dict[str, dict[str, float]] = {
    "prevention": {"primaire": 8, "secondaire": 30, "tertiaire": 55, "non_renseigne": 7},
    "mode": {"individuel": 92, "collectif": 5, "non_renseigne": 3},
    "origine": {
        "agent_lui_meme": 46, "hierarchie": 10, "ressources_humaines": 7, "medecin_prevention": 8,
        "equipe_sante_travail": 3, "acteur_prevention": 1.5, "collegue": 3, "representant_personnel": 2,
        "reseau_action_sociale": 1.5, "dispositif_signalement": 1, "partenaire_externe": 4,
        "famille_entourage": 2, "autre_service_social": 2, "initiative_ass": 6, "autre": 1,
        "non_renseigne": 3,
    },
    "public": {"agent_actif": 86, "retraite": 3.5, "ayant_droit": 5, "ayant_cause": 1.5, "autre": 1.5,
               "non_renseigne": 2.5},
}

_AXE = {
    "territorial": (52, 12, 14, 17, 5),
    "regional": (50, 15, 13, 17, 5),
    "routes": (41, 8, 21, 26, 4),
    "mer": (50, 12, 15, 18, 5),
    "centrale": (55, 14, 10, 16, 5),
    "etablissement": (50, 16, 14, 15, 5),
}
_AXE_CODES = ("amelioration_conditions_vie", "accompagnement_changement",
              "prevention_desinsertion_professionnelle", "prevention_rps", "non_renseigne")

_CATEGORIE = {  # agents only; other beneficiaries mostly get "non renseigné" (see generate)
    "territorial": (23, 39, 33, 2, 3),
    "regional": (43, 35, 18, 1, 3),
    "routes": (8, 23, 63, 3, 3),
    "mer": (26, 34, 29, 8, 3),
    "centrale": (47, 28, 21, 1, 3),
    "etablissement": (33, 31, 19, 14, 3),
}
_CATEGORIE_CODES = ("a", "b", "c", "sans_categorie", "non_renseigne")


def _partition_weights(dimension: str, group: str) -> dict[str, float]:
    if dimension == "axe":
        return dict(zip(_AXE_CODES, _AXE[group]))
    if dimension == "categorie":
        return dict(zip(_CATEGORIE_CODES, _CATEGORIE[group]))
    weights = dict(_COMMON_PARTITIONS.get(dimension, {}))
    if dimension == "origine" and group == "routes":
        weights["hierarchie"] = 14
        weights["medecin_prevention"] = 10
    if dimension == "public" and group == "centrale":
        weights["retraite"] = 5
    return weights


# Marginal share of situations carrying each problématique (base: all groups), then group factors.
_PROBLEMATIQUE_BASE: dict[str, float] = {
    "conditions_organisation_travail": 0.12, "relations_travail": 0.13, "souffrance_travail": 0.10,
    "harcelement_discrimination_travail": 0.03, "agression_usagers_public": 0.02,
    "reorganisation_changement": 0.05, "mobilite_mutation": 0.06, "carriere_statut_remuneration": 0.07,
    "sens_travail_conflit_valeurs": 0.03, "reconversion_professionnelle": 0.03,
    "prise_poste_integration": 0.03, "evenement_grave_travail": 0.01,
    "maladie_arret_travail": 0.16, "maintien_emploi_inaptitude": 0.07, "accident_service_maladie_pro": 0.03,
    "invalidite": 0.015, "sante_psychique": 0.06, "conduites_addictives": 0.015,
    "acces_soins_protection_complementaire": 0.03,
    "reconnaissance_handicap": 0.03, "compensation_handicap_travail": 0.02, "handicap_proche": 0.015,
    "difficultes_financieres": 0.09, "endettement_surendettement": 0.04, "baisse_ressources": 0.04,
    "gestion_budgetaire": 0.03, "demande_aide_pret": 0.06,
    "acces_logement": 0.05, "maintien_logement_impayes": 0.015, "logement_inadapte_indigne": 0.01,
    "sans_logement_hebergement": 0.008, "logement_mobilite": 0.02, "sinistre_catastrophe": 0.004,
    "separation_divorce": 0.05, "parentalite_garde_enfants": 0.025, "famille_monoparentale": 0.02,
    "proche_aidant": 0.025, "conciliation_vie_pro_perso": 0.03, "isolement_social": 0.015,
    "violences_conjugales_intrafamiliales": 0.012, "enfant_danger": 0.004, "autres_violences_subies": 0.005,
    "prestations_sociales_droit_commun": 0.04, "action_sociale_ministerielle": 0.05,
    "demarches_administratives_juridiques": 0.03, "protection_juridique_majeur": 0.004,
    "information_orientation": 0.05,
    "preparation_depart_retraite": 0.025, "situation_retraite": 0.006, "perte_autonomie_retraite": 0.004,
    "deces_agent": 0.002, "deces_proche": 0.01,
    "autre_problematique": 0.02,
}
_PROBLEMATIQUE_FACTORS: dict[str, dict[str, float]] = {
    "routes": {"agression_usagers_public": 3.5, "evenement_grave_travail": 3.0,
               "accident_service_maladie_pro": 2.3, "maintien_emploi_inaptitude": 1.4,
               "conduites_addictives": 2.0, "conditions_organisation_travail": 1.1},
    "territorial": {"agression_usagers_public": 1.5, "reorganisation_changement": 1.1},
    "mer": {"agression_usagers_public": 2.0, "evenement_grave_travail": 2.0},
    "regional": {"reorganisation_changement": 1.2, "sinistre_catastrophe": 2.0},
    "centrale": {"acces_logement": 1.8, "logement_mobilite": 1.5, "prise_poste_integration": 1.5,
                 "mobilite_mutation": 1.3, "agression_usagers_public": 0.2},
    "etablissement": {"reorganisation_changement": 1.3, "agression_usagers_public": 0.4},
}
PROBLEMATIQUE_UNKNOWN = "non_renseigne"
SHARE_PROBLEMATIQUE_NON_RENSEIGNE = 0.03

# RPS indicators derived from situations: code -> problématiques (count of situations with any).
_RPS_FROM_SITUATIONS: dict[str, tuple[str, ...]] = {
    "situations_souffrance_travail": ("souffrance_travail", "relations_travail",
                                      "harcelement_discrimination_travail"),
    "situations_reorganisation": ("reorganisation_changement", "mobilite_mutation"),
    "situations_pdp": ("maintien_emploi_inaptitude", "reconnaissance_handicap",
                       "compensation_handicap_travail", "invalidite"),
    "soutiens_post_evenement": ("evenement_grave_travail",),
}
# RPS indicators drawn on headcount: events per 100 agents per year, by group (default, overrides).
_RPS_RATES: dict[str, tuple[float, dict[str, float]]] = {
    "visites_demande_medecin": (4.0, {"routes": 5.5}),
    "violences_physiques": (0.15, {"territorial": 0.3, "routes": 2.0, "mer": 0.6, "centrale": 0.05}),
    "demandes_mobilite_interne": (7.0, {"centrale": 10.0, "routes": 5.0}),
    "accidents_service_travail": (2.0, {"routes": 9.0, "mer": 3.5, "centrale": 1.0}),
    "situations_graves": (0.12, {"routes": 0.2}),
    "signalements_harcelement_violences": (0.5, {}),
    "inaptitudes_reclassements": (0.6, {"routes": 1.2}),
    "interventions_collectives_rps": (1.0, {}),
}
# Seasonal profile of a few headcount-based indicators (January..December).
_RPS_SEASON = {
    "demandes_mobilite_interne": np.array([1.5, 1.6, 1.2, 0.9, 0.8, 0.9, 0.7, 0.4, 1.1, 1.3, 1.0, 0.6]),
    "accidents_service_travail": np.array([1.3, 1.3, 1.1, 0.9, 0.9, 1.0, 1.0, 0.7, 1.0, 1.0, 1.1, 1.2]),
}

# Relative propensity to call on the social service, by group (rates are then normalised).
_PROPENSITY = {"territorial": 1.0, "regional": 0.9, "routes": 1.15, "mer": 1.05, "centrale": 0.75,
               "etablissement": 0.85}
_OVERSEAS_PROPENSITY = 1.2


# --------------------------------------------------------------------------- injected rises


@dataclass(frozen=True)
class _RiseSpec:
    key: str
    description: str
    services: tuple[str, ...]
    months: int
    factor: float
    problematiques: tuple[str, ...]
    rps_derived: tuple[str, ...]  # RPS indicators following from the problématiques
    rps_scaled: tuple[str, ...]  # headcount-based RPS indicators multiplied too
    profile: str  # partition tilt of the extra situations


def _rise_specs() -> list[_RiseSpec]:
    hdf = sorted(
        code for code, _, _, dep, _ in _service_rows() if departement_region()[dep] == "32"
    )
    return [
        _RiseSpec(
            key="ddtm29_souffrance",
            description=(
                "DDTM du Finistère : montée de la souffrance au travail et des relations de travail "
                "dégradées (×3 au dernier mois)."
            ),
            services=("DDTM-29",),
            months=3,
            factor=3.0,
            problematiques=("souffrance_travail", "relations_travail"),
            rps_derived=("situations_souffrance_travail",),
            rps_scaled=(),
            profile="souffrance",
        ),
        _RiseSpec(
            key="grand_est_reorganisation",
            description=(
                "Grand Est (Meurthe-et-Moselle, Meuse, Moselle, Vosges) : hausse groupée des situations "
                "liées à une réorganisation et aux mobilités qu'elle entraîne (×2,5 au dernier mois)."
            ),
            services=("DDT-54", "DDT-55", "DDT-57", "DDT-88", "DREAL-57"),
            months=4,
            factor=2.5,
            problematiques=("reorganisation_changement", "mobilite_mutation"),
            rps_derived=("situations_reorganisation",),
            rps_scaled=(),
            profile="reorganisation",
        ),
        _RiseSpec(
            key="dir13_agressions",
            description=(
                "DIR Méditerranée : agressions et menaces d'usagers envers les agents d'exploitation, "
                "actes de violence physique (×3 au dernier mois)."
            ),
            services=("DIR-13",),
            months=2,
            factor=3.0,
            problematiques=("agression_usagers_public",),
            rps_derived=(),
            rps_scaled=("violences_physiques",),
            profile="agression",
        ),
        _RiseSpec(
            key="hauts_de_france_endettement",
            description=(
                "Hauts-de-France : hausse de l'endettement et du surendettement dans tous les services "
                "de la région (×2,5 au dernier mois)."
            ),
            services=tuple(hdf),
            months=3,
            factor=2.5,
            problematiques=("endettement_surendettement",),
            rps_derived=(),
            rps_scaled=(),
            profile="endettement",
        ),
    ]


# Partition tilts of the extra situations of a rise (other dimensions keep the service's profile).
_RISE_PARTITIONS: dict[str, dict[str, dict[str, float]]] = {
    "souffrance": {
        "axe": dict(zip(_AXE_CODES, (25, 8, 8, 55, 4))),
        "prevention": {"primaire": 5, "secondaire": 45, "tertiaire": 45, "non_renseigne": 5},
        "origine": {"agent_lui_meme": 35, "hierarchie": 12, "medecin_prevention": 18, "equipe_sante_travail": 6,
                    "collegue": 8, "representant_personnel": 8, "dispositif_signalement": 4, "initiative_ass": 4,
                    "non_renseigne": 5},
    },
    "reorganisation": {
        "axe": dict(zip(_AXE_CODES, (12, 60, 4, 20, 4))),
        "prevention": {"primaire": 30, "secondaire": 40, "tertiaire": 25, "non_renseigne": 5},
        "mode": {"individuel": 80, "collectif": 17, "non_renseigne": 3},
        "origine": {"agent_lui_meme": 40, "hierarchie": 15, "ressources_humaines": 15,
                    "representant_personnel": 10, "initiative_ass": 12, "collegue": 3, "non_renseigne": 5},
    },
    "agression": {
        "axe": dict(zip(_AXE_CODES, (28, 4, 10, 54, 4))),
        "prevention": {"primaire": 5, "secondaire": 35, "tertiaire": 55, "non_renseigne": 5},
        "origine": {"agent_lui_meme": 25, "hierarchie": 30, "acteur_prevention": 10, "dispositif_signalement": 10,
                    "medecin_prevention": 10, "collegue": 8, "non_renseigne": 7},
    },
    "endettement": {
        "axe": dict(zip(_AXE_CODES, (88, 2, 4, 2, 4))),
        "origine": {"agent_lui_meme": 60, "partenaire_externe": 14, "ressources_humaines": 6, "hierarchie": 4,
                    "reseau_action_sociale": 6, "famille_entourage": 3, "initiative_ass": 3, "non_renseigne": 4},
    },
}


def _ramp(factor: float, months: int) -> np.ndarray:
    """Multiplicative factor for each month of a rise: from 70 % of the rise to `factor` at the end."""
    return 1.0 + (factor - 1.0) * np.linspace(0.7, 1.0, months) if months > 1 else np.array([factor])


# --------------------------------------------------------------------------- generator


def _normalised(weights: dict[str, float], codes: tuple[str, ...]) -> np.ndarray:
    row = np.array([max(0.0, float(weights.get(c, 0.0))) for c in codes])
    if row.sum() <= 0:  # a dimension this generator does not know: everything "non renseigné"
        row = np.array([1.0 if c == "non_renseigne" else 0.0 for c in codes])
        if row.sum() == 0:
            row[0] = 1.0
    return row / row.sum()


def _draw_categorical(rng: np.random.Generator, cumulative: np.ndarray, profile: np.ndarray) -> np.ndarray:
    """One category per row, `cumulative[profile[i]]` being row i's cumulative probabilities."""
    u = rng.random(profile.size)
    cum = cumulative[profile]
    return np.minimum((u[:, None] >= cum).sum(axis=1), cumulative.shape[1] - 1)


def _segment_sums(values: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Sums of `values` rows over [starts[i], ends[i]) (empty segments give 0)."""
    csum = np.zeros((values.shape[0] + 1,) + values.shape[1:], dtype=np.int64)
    np.cumsum(values, axis=0, out=csum[1:])
    return csum[ends] - csum[starts]


def _stochastic_round(rng: np.random.Generator, values: np.ndarray) -> np.ndarray:
    """Round to an integer below or above at random, unbiased (extra counts of a rise, little noise)."""
    values = np.maximum(values, 0.0)
    return np.floor(values + rng.random(values.shape)).astype(np.int64)


def _gamma_poisson(rng: np.random.Generator, mean: np.ndarray, shape: float) -> np.ndarray:
    mean = np.maximum(mean, 0.0)
    return rng.poisson(rng.gamma(shape, 1.0, size=mean.shape) * mean / shape)


def generate(years: int = 5, seed: int = 2026, end: str | None = None, include_zeros: bool = False,
             rises: bool = True) -> DemoData:
    """Generate `years` × 12 months of the national demo, ending at `end` (default: last complete month).

    Deterministic in (years, seed, end). Rows are sorted by periode, service, dimension, modalite.
    With `include_zeros`, every (service, month, dimension, modalité) of the preset is present;
    otherwise zero counts are dropped except the `ensemble` rows. With `rises=False` no rise is
    planted (same services and levels, no extra situation; `DemoData.rises` is empty): a null
    dataset for the false alarms of the watch.
    """
    if years < 1:
        raise ValueError("Le nombre d'années doit être au moins 1.")
    end = end or default_end_period()
    nomenclature = default_nomenclature()
    rng = np.random.default_rng(seed)

    # ---- services and months
    catalogue = services_catalogue()
    services = catalogue["service"].to_list()  # sorted
    types = catalogue["type_service"].to_list()
    deps = catalogue["departement"].to_list()
    base_headcount = catalogue["effectif_base"].to_numpy().astype(float)
    n_services = len(services)
    group_index = np.array([GROUPS.index(_group(t)) for t in types])
    overseas = np.array([len(d) == 3 for d in deps])

    months = _months(end, years * 12)
    n_months = len(months)
    periods = [_label(y, m) for y, m in months]
    month_of_year = np.array([m for _, m in months]) - 1
    end_year = months[-1][0]
    calendar_years = sorted({y for y, _ in months})
    t_years = (np.arange(n_months) - (n_months - 1)) / 12.0  # 0 at `end`, negative before

    # ---- headcounts: slow drift per service around the base (fixed at the end year)
    drift = rng.normal(-0.006, 0.015, n_services)
    noise = rng.normal(0.0, 0.01, (len(calendar_years), n_services))
    year_offsets = np.array(calendar_years)[:, None] - end_year
    headcount_years = np.maximum(5, np.round(base_headcount[None, :] * np.exp(drift * year_offsets + noise)))
    headcount_years = headcount_years.astype(np.int64)
    year_row = np.array([calendar_years.index(y) for y, _ in months])
    headcount = headcount_years[year_row].astype(float)  # (months, services)

    # ---- expected situations per service-month
    propensity = np.array([_PROPENSITY[GROUPS[g]] for g in group_index]) * np.where(overseas, _OVERSEAS_PROPENSITY, 1.0)
    level = np.exp(rng.normal(0.0, 0.25, n_services) - 0.25**2 / 2)
    specs = _rise_specs()
    showcased = [services.index(s) for spec in specs for s in spec.services]
    slope = rng.normal(0.0, 0.04, n_services)
    # Services of a rise are busy ones, with a steady or rising history (no decline masking the rise).
    level[showcased] = np.maximum(level[showcased], SHOWCASE_LEVEL)
    slope[showcased] = np.maximum(slope[showcased], 0.0)
    scale = TARGET_YEARLY_SITUATIONS / float((propensity * level * base_headcount).sum())
    rate = scale * propensity * level / 12.0  # situations per agent per month at `end`
    trend = np.exp(NATIONAL_TREND * t_years)[:, None] * np.exp(slope[None, :] * t_years[:, None])
    mean = rate[None, :] * headcount * trend * SEASON[month_of_year][:, None]  # (months, services)
    base_counts = _gamma_poisson(rng, mean, ENSEMBLE_SHAPE)

    # ---- problématique probabilities per group (preset order)
    prob_dim = nomenclature.dimensions.get("problematique")
    prob_codes = prob_dim.codes if prob_dim is not None and prob_dim.relation == "multiple" else ()
    p_table = np.zeros((len(GROUPS), len(prob_codes)))
    for g, group in enumerate(GROUPS):
        factors = _PROBLEMATIQUE_FACTORS.get(group, {})
        for j, code in enumerate(prob_codes):
            p_table[g, j] = min(0.9, _PROBLEMATIQUE_BASE.get(code, 0.0) * factors.get(code, 1.0))
    prob_index = {c: j for j, c in enumerate(prob_codes)}

    # ---- injected rises: extra situations on the last months
    service_index = {s: i for i, s in enumerate(services)}
    planted = specs if rises else []
    rises: list[InjectedRise] = []
    extra_blocks: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (sm index, count, kind)
    rps_multipliers: dict[str, np.ndarray] = {}  # (months, services) factor on the expected count
    for r, spec in enumerate(planted):
        cols = np.array([service_index[s] for s in spec.services])
        rows = np.arange(n_months - spec.months, n_months)
        ramp = _ramp(spec.factor, spec.months)
        raised = [prob_index[c] for c in spec.problematiques if c in prob_index]
        p_raised = p_table[group_index[cols]][:, raised] if raised else np.zeros((cols.size, 0))
        share = 1.0 - np.prod(1.0 - p_raised, axis=1)  # situations with at least one raised problem
        extra_mean = mean[np.ix_(rows, cols)] * (ramp[:, None] - 1.0) * share[None, :]
        extra = _stochastic_round(rng, extra_mean)
        sm = rows[:, None] * n_services + cols[None, :]
        extra_blocks.append((sm.ravel(), extra.ravel(), np.full(sm.size, r + 1)))
        for code in spec.rps_scaled:
            mult = rps_multipliers.setdefault(code, np.ones((n_months, n_services)))
            mult[np.ix_(rows, cols)] *= ramp[:, None]
        indicators = [("problematique", c) for c in spec.problematiques]
        indicators += [("rps", c) for c in spec.rps_derived + spec.rps_scaled]
        rises.append(
            InjectedRise(
                key=spec.key,
                description=spec.description,
                services=spec.services,
                departements=tuple(sorted({deps[service_index[s]] for s in spec.services})),
                start=periods[n_months - spec.months],
                end=periods[-1],
                indicators=tuple(indicators),
                factor=spec.factor,
            )
        )

    # ---- situations (sorted by service-month; base block first, then each rise's extras)
    n_sm = n_months * n_services
    block_sm = np.concatenate([np.arange(n_sm)] + [b[0] for b in extra_blocks])
    block_count = np.concatenate([base_counts.ravel()] + [b[1] for b in extra_blocks])
    block_kind = np.concatenate([np.zeros(n_sm, dtype=np.int64)] + [b[2] for b in extra_blocks])
    order = np.lexsort((block_kind, block_sm))
    block_sm, block_count, block_kind = block_sm[order], block_count[order], block_kind[order]
    sit_sm = np.repeat(block_sm, block_count)
    sit_kind = np.repeat(block_kind, block_count)
    n_sit = sit_sm.size
    ensemble = np.bincount(sit_sm, minlength=n_sm)
    seg_end = np.cumsum(ensemble)
    seg_start = seg_end - ensemble
    sit_service = sit_sm % n_services
    sit_group = group_index[sit_service]

    counts: dict[tuple[str, str], np.ndarray] = {(TOTAL_CODE, TOTAL_CODE): ensemble}

    # ---- partition dimensions: one modality per situation
    profiles = ["base"] + [spec.profile for spec in specs]
    drawn: dict[str, np.ndarray] = {}
    partition_dims = [d for d in nomenclature.dimensions.values() if d.relation == "partition"]
    for dim in partition_dims:
        table = np.zeros((len(profiles), len(GROUPS), len(dim.codes)))
        for k, profile in enumerate(profiles):
            for g, group in enumerate(GROUPS):
                weights = _RISE_PARTITIONS.get(profile, {}).get(dim.code) or _partition_weights(dim.code, group)
                table[k, g] = _normalised(weights, dim.codes)
        cumulative = np.cumsum(table.reshape(-1, len(dim.codes)), axis=1)
        cumulative[:, -1] = 1.0
        drawn[dim.code] = _draw_categorical(rng, cumulative, sit_kind * len(GROUPS) + sit_group)

    # Beneficiaries who are not agents rarely have a statutory category recorded.
    if "public" in drawn and "categorie" in drawn:
        pub, cat = nomenclature.dimensions["public"].codes, nomenclature.dimensions["categorie"].codes
        non_agents = [pub.index(c) for c in ("ayant_droit", "ayant_cause", "autre") if c in pub]
        if non_agents and "non_renseigne" in cat:
            mask = np.isin(drawn["public"], non_agents) & (rng.random(n_sit) < 0.7)
            drawn["categorie"][mask] = cat.index("non_renseigne")

    for dim in partition_dims:
        k = len(dim.codes)
        grid = np.bincount(sit_sm * k + drawn[dim.code], minlength=n_sm * k).reshape(n_sm, k)
        for j, code in enumerate(dim.codes):
            counts[(dim.code, code)] = grid[:, j]

    # ---- problématiques: Bernoulli per situation, at least one
    flags = np.zeros((n_sit, len(prob_codes)), dtype=bool)
    if prob_codes:
        p_sit = p_table[sit_group]
        flags = rng.random((n_sit, len(prob_codes))) < p_sit
        none = ~flags.any(axis=1)
        totals = p_table.sum(axis=1, keepdims=True)
        cumulative = np.cumsum(p_table / np.where(totals > 0, totals, 1.0), axis=1)
        cumulative[:, -1] = 1.0
        pick = _draw_categorical(rng, cumulative, sit_group[none])
        flags[np.flatnonzero(none), pick] = True
        # Couplings with the beneficiary.
        pub = nomenclature.dimensions["public"].codes if "public" in drawn else ()
        for public_code, prob_code, prob in (("retraite", "situation_retraite", 0.6),
                                             ("ayant_cause", "deces_agent", 0.5)):
            if public_code in pub and prob_code in prob_index:
                mask = (drawn["public"] == pub.index(public_code)) & (rng.random(n_sit) < prob)
                flags[mask, prob_index[prob_code]] = True
        # Extra situations of a rise carry the raised problématiques.
        for r, spec in enumerate(specs):
            members = np.flatnonzero(sit_kind == r + 1)
            raised = [prob_index[c] for c in spec.problematiques if c in prob_index]
            if members.size == 0 or not raised:
                continue
            p_raised = p_table[sit_group[members]][:, raised]
            share = 1.0 - np.prod(1.0 - p_raised, axis=1, keepdims=True)
            q = p_raised / share  # P(raised problem | extra situation), so each rises by the factor
            hit = rng.random(p_raised.shape) < q
            # An extra situation always carries at least one raised problématique.
            lacking = ~hit.any(axis=1)
            first = np.argmax(p_raised, axis=1)
            hit[np.flatnonzero(lacking), first[lacking]] = True
            for j, col in enumerate(raised):
                flags[members[hit[:, j]], col] = True
        # A few situations have no problématique recorded at all.
        if PROBLEMATIQUE_UNKNOWN in prob_index:
            unknown = (rng.random(n_sit) < SHARE_PROBLEMATIQUE_NON_RENSEIGNE) & (sit_kind == 0)
            flags[unknown] = False
            flags[unknown, prob_index[PROBLEMATIQUE_UNKNOWN]] = True
        prob_counts = _segment_sums(flags.astype(np.int32), seg_start, seg_end)
        for j, code in enumerate(prob_codes):
            counts[("problematique", code)] = prob_counts[:, j]

    # ---- RPS indicators
    rps_dim = nomenclature.dimensions.get("rps")
    if rps_dim is not None:
        headcount_flat = headcount.ravel()
        month_flat = np.repeat(month_of_year, n_services)
        group_flat = np.tile(group_index, n_months)
        for code in rps_dim.codes:
            if code in _RPS_FROM_SITUATIONS:
                cols = [prob_index[c] for c in _RPS_FROM_SITUATIONS[code] if c in prob_index]
                if not cols:
                    counts[("rps", code)] = np.zeros(n_sm, dtype=np.int64)
                    continue
                any_flag = flags[:, cols].any(axis=1).astype(np.int32)
                counts[("rps", code)] = _segment_sums(any_flag, seg_start, seg_end)
            elif code in _RPS_RATES:
                default, overrides = _RPS_RATES[code]
                per_100 = np.array([overrides.get(g, default) for g in GROUPS])[group_flat]
                seasonal = _RPS_SEASON.get(code, np.ones(12))[month_flat]
                expected = headcount_flat * per_100 / 100.0 / 12.0 * seasonal
                drawn_counts = _gamma_poisson(rng, expected, INDICATOR_SHAPE)
                if code in rps_multipliers:  # injected rise: extra events on top of the usual ones
                    drawn_counts += _stochastic_round(rng, expected * (rps_multipliers[code].ravel() - 1.0))
                counts[("rps", code)] = drawn_counts
            else:
                counts[("rps", code)] = np.zeros(n_sm, dtype=np.int64)

    # Any other dimension of the preset (unknown to this generator) stays at zero.
    for dim_code, mod_code in nomenclature.pairs():
        counts.setdefault((dim_code, mod_code), np.zeros(n_sm, dtype=np.int64))

    aggregates = _assemble(counts, catalogue, periods, include_zeros)
    headcounts = pl.DataFrame(
        {
            "annee": np.repeat(np.array(calendar_years, dtype=np.int64), n_services),
            "service": services * len(calendar_years),
            "departement": deps * len(calendar_years),
            "effectif_agents": headcount_years.ravel(),
        },
        schema=HEADCOUNT_SCHEMA,
    )
    return DemoData(aggregates=aggregates, headcounts=headcounts, rises=tuple(rises))


def _assemble(
    counts: dict[tuple[str, str], np.ndarray],
    catalogue: pl.DataFrame,
    periods: list[str],
    include_zeros: bool,
) -> pl.DataFrame:
    """Long import-format frame, already in (periode, service, dimension, modalite) order."""
    pairs = sorted(counts)
    n_services = catalogue.height
    n_sm = len(periods) * n_services
    n_pairs = len(pairs)
    matrix = np.empty((n_sm, n_pairs), dtype=np.int64)
    for j, pair in enumerate(pairs):
        matrix[:, j] = counts[pair]
    values = matrix.ravel()
    sm_idx = np.repeat(np.arange(n_sm), n_pairs)
    pair_idx = np.tile(np.arange(n_pairs), n_sm)
    if not include_zeros:
        is_total = np.array([p == (TOTAL_CODE, TOTAL_CODE) for p in pairs])
        keep = (values > 0) | is_total[pair_idx]
        values, sm_idx, pair_idx = values[keep], sm_idx[keep], pair_idx[keep]
    service_idx = pl.Series(sm_idx % n_services, dtype=pl.UInt32)
    period_idx = pl.Series(sm_idx // n_services, dtype=pl.UInt32)
    pair_series = pl.Series(pair_idx, dtype=pl.UInt32)
    return pl.DataFrame(
        {
            "periode": pl.Series(periods, dtype=pl.Utf8).gather(period_idx),
            "departement": catalogue["departement"].gather(service_idx),
            "service": catalogue["service"].gather(service_idx),
            "libelle_service": catalogue["libelle_service"].gather(service_idx),
            "type_service": catalogue["type_service"].gather(service_idx),
            "dimension": pl.Series([p[0] for p in pairs], dtype=pl.Utf8).gather(pair_series),
            "modalite": pl.Series([p[1] for p in pairs], dtype=pl.Utf8).gather(pair_series),
            "effectif": pl.Series(values, dtype=pl.Int64),
        },
        schema=AGGREGATE_SCHEMA,
    )
