"""Validation of import files: every rule, every failure, all at once.

Works on the text frame from `reading` (all columns text, `_ligne` = line a person sees)
and returns typed rows only when no issue at all was found: a file is loaded whole or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from analytics.ingest.issues import issue_frame
from analytics.ingest.reading import LINE, MAX_COLUMNS, MAX_FIELD_CHARS, RawTable
from analytics.nomenclature import TOTAL_CODE, Nomenclature
from analytics.referentials import departement_region

AGGREGATE_COLUMNS = ("periode", "departement", "service", "dimension", "modalite", "effectif")
HEADCOUNT_COLUMNS = ("annee", "departement", "service", "effectif_agents")
OPTIONAL_COLUMNS = ("libelle_service", "type_service")
MAX_COUNT = 100_000  # situations in one service-month: beyond this the file is absurd
MAX_AGENTS = 200_000
FIRST_YEAR = 2000
SERVICE_PATTERN = r"^[A-Z0-9][A-Z0-9_.\-/]*$"
WHOLE = r"^[0-9]+([.,]0+)?$"
# Service-code prefixes that are not literally a preset type code.
TYPE_PREFIXES = {
    "AC": "ac_mte", "SCN": "scn_mte", "CEREMA": "ep_cerema", "ONF": "ep_onf", "OFB": "ep_ofb",
    "VNF": "ep_vnf", "IGN": "ep_ign", "METEO": "ep_meteo_france", "ENSM": "ep_ensm",
    "PN": "ep_parcs_nationaux", "AE": "ep_agences_eau", "UGE": "ep_univ_gustave_eiffel",
}


@dataclass(frozen=True)
class Validated:
    kind: str  # agregats | effectifs
    rows: pl.DataFrame  # typed rows (empty when issues)
    services: pl.DataFrame  # service, departement, libelle, type_service
    issues: pl.DataFrame

    @property
    def ok(self) -> bool:
        return self.issues.is_empty()


def file_kind(columns: list[str]) -> str:
    return "effectifs" if "effectif_agents" in columns else "agregats"


def guess_service_type(code: str, nomenclature: Nomenclature) -> str | None:
    prefix = code.split("-", 1)[0].strip().lower()
    if prefix in nomenclature.service_types:
        return nomenclature.service_types[prefix].code
    return TYPE_PREFIXES.get(prefix.upper())


def _issues(frame: pl.DataFrame, name: str, column: str, motif: pl.Expr | str, value: pl.Expr | None = None) -> pl.DataFrame:
    """Turn the offending rows of `frame` into issue rows."""
    value = pl.col(column).cast(pl.String) if value is None and column in frame.columns else value
    return frame.select(
        pl.lit(name).alias("fichier"),
        pl.col(LINE).alias("ligne"),
        pl.lit(column).alias("colonne"),
        (value if value is not None else pl.lit("")).fill_null("").str.slice(0, 80).alias("valeur"),
        (pl.lit(motif) if isinstance(motif, str) else motif).alias("motif"),
    )


def _check_columns(raw: RawTable, required: tuple[str, ...]) -> pl.DataFrame:
    name, cols = raw.file_name, [c for c in raw.frame.columns if c != LINE]
    allowed = set(required) | set(OPTIONAL_COLUMNS)
    problems = []
    if len(cols) > MAX_COLUMNS:
        problems.append({"fichier": name, "ligne": 1, "colonne": "", "valeur": str(len(cols)),
                         "motif": f"fichier aberrant : {len(cols)} colonnes (au plus {MAX_COLUMNS})"})
        return issue_frame(problems)
    seen = set()
    for col in cols:
        if col in seen:
            problems.append({"fichier": name, "ligne": 1, "colonne": col, "valeur": col, "motif": "colonne en double"})
        seen.add(col)
        if col not in allowed:
            problems.append({"fichier": name, "ligne": 1, "colonne": col, "valeur": col[:80],
                             "motif": f"colonne inconnue (colonnes attendues : {', '.join(required + OPTIONAL_COLUMNS)})"})
    for col in required:
        if col not in seen:
            problems.append({"fichier": name, "ligne": 1, "colonne": col, "valeur": "",
                             "motif": "colonne obligatoire manquante"})
    if not problems and raw.frame.height == 0:
        problems.append({"fichier": name, "ligne": 2, "colonne": "", "valeur": "", "motif": "aucune ligne de données"})
    return issue_frame(problems)


def _normalise(frame: pl.DataFrame) -> pl.DataFrame:
    text = [c for c in frame.columns if c != LINE]
    frame = frame.with_columns([pl.col(c).str.strip_chars() for c in text])
    dep = pl.col("departement").str.to_uppercase()
    return frame.with_columns(
        pl.when(dep.str.contains(r"^[0-9]$")).then(pl.lit("0") + dep).otherwise(dep).alias("departement"),
        pl.col("service").str.to_uppercase(),
    )


def _generic_cell_issues(frame: pl.DataFrame, name: str) -> list[pl.DataFrame]:
    out = []
    for col in (c for c in frame.columns if c != LINE):
        out.append(_issues(frame.filter(pl.col(col).str.len_chars() > MAX_FIELD_CHARS), name, col,
                           pl.format("valeur anormalement longue ({} caractères, au plus {})",
                                     pl.col(col).str.len_chars(), pl.lit(MAX_FIELD_CHARS))))
        out.append(_issues(frame.filter(pl.col(col).str.contains(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")), name, col,
                           "caractère de contrôle dans la valeur"))
    return out


def _whole_number_issues(frame: pl.DataFrame, name: str, col: str, maximum: int) -> tuple[list[pl.DataFrame], pl.Expr]:
    v = pl.col(col)
    missing = v.is_null() | (v == "")
    whole = v.str.contains(WHOLE)
    parsed = v.str.replace(r"[.,]0+$", "").cast(pl.Int64, strict=False)
    out = [
        _issues(frame.filter(missing), name, col, "valeur manquante"),
        _issues(frame.filter(~missing & v.str.contains(r"^-\s*[0-9]")), name, col, "nombre négatif : un effectif est un entier positif ou nul"),
        _issues(frame.filter(~missing & v.str.contains(r"^[0-9]+[.,][0-9]*[1-9][0-9]*$")), name, col, "nombre non entier : un effectif est un nombre entier"),
        _issues(frame.filter(~missing & ~whole & ~v.str.contains(r"^-\s*[0-9]") & ~v.str.contains(r"^[0-9]+[.,][0-9]*[1-9][0-9]*$")),
                name, col, "nombre entier attendu"),
        # A number too long for 64 bits does not parse (null): it is aberrant too, never dropped silently.
        _issues(frame.filter(whole & (parsed.is_null() | (parsed > maximum))), name, col,
                f"valeur aberrante (plus de {maximum:,} ; vérifiez l'unité ou la colonne)".replace(",", "\u202f")),
    ]
    ok = ~missing & whole & parsed.is_not_null() & (parsed <= maximum)
    return out, ok


def _periode_issues(frame: pl.DataFrame, name: str, today: date) -> tuple[list[pl.DataFrame], pl.Expr]:
    p = pl.col("periode")
    missing = p.is_null() | (p == "")
    shaped = p.str.contains(r"^[0-9]{4}-(0[1-9]|1[0-2])$")
    year = p.str.slice(0, 4).cast(pl.Int32, strict=False)
    current = f"{today.year:04d}-{today.month:02d}"
    out = [
        _issues(frame.filter(missing), name, "periode", "valeur manquante"),
        _issues(frame.filter(~missing & ~shaped), name, "periode", "période attendue au format AAAA-MM (par exemple 2025-03)"),
        _issues(frame.filter(shaped & (year < FIRST_YEAR)), name, "periode", f"année hors de la plage plausible (à partir de {FIRST_YEAR})"),
        _issues(frame.filter(shaped & (year >= FIRST_YEAR) & (p > current)), name, "periode",
                f"période future (le mois en cours est {current})"),
    ]
    return out, shaped & (year >= FIRST_YEAR) & (p <= current)


def _departement_issues(frame: pl.DataFrame, name: str) -> tuple[list[pl.DataFrame], pl.Expr]:
    d = pl.col("departement")
    missing = d.is_null() | (d == "")
    known = d.is_in(list(departement_region()))
    return [
        _issues(frame.filter(missing), name, "departement", "valeur manquante"),
        _issues(frame.filter(~missing & ~known), name, "departement",
                "département inconnu (code COG attendu : 01 à 95, 2A, 2B, 971 à 976)"),
    ], known


def _service_issues(frame: pl.DataFrame, name: str) -> tuple[list[pl.DataFrame], pl.Expr]:
    s = pl.col("service")
    missing = s.is_null() | (s == "")
    shaped = s.str.contains(SERVICE_PATTERN) & (s.str.len_chars() <= 64)
    return [
        _issues(frame.filter(missing), name, "service", "service vide : le code du service est obligatoire"),
        _issues(frame.filter(~missing & ~shaped), name, "service",
                "code de service invalide (lettres, chiffres et - _ . / ; 64 caractères au plus)"),
    ], shaped


def _type_issues(frame: pl.DataFrame, name: str, nomenclature: Nomenclature) -> tuple[list[pl.DataFrame], pl.Expr]:
    if "type_service" not in frame.columns:
        return [], pl.lit(True)
    t = pl.col("type_service").str.to_lowercase()
    given = t.is_not_null() & (t != "")
    known = t.is_in(list(nomenclature.service_types))
    return [_issues(frame.filter(given & ~known), name, "type_service",
                    "type de service inconnu de la nomenclature (par exemple ddt, ddtm, dreal, dir)")], ~given | known


def _service_consistency(valid: pl.DataFrame, name: str, known_services: pl.DataFrame) -> list[pl.DataFrame]:
    """A service belongs to one département: in the file and against the store."""
    out = []
    firsts = valid.group_by("service", "departement").agg(pl.col(LINE).min())
    home = firsts.sort(LINE).group_by("service").agg(
        pl.col("departement").first().alias("_dep1"), pl.col(LINE).first().alias("_line1"))
    clash = firsts.join(home, on="service").filter(pl.col("departement") != pl.col("_dep1"))
    out.append(_issues(clash, name, "departement",
                       pl.format("le service {} figure déjà dans le département {} (ligne {}) : un service appartient à un seul département",
                                 pl.col("service"), pl.col("_dep1"), pl.col("_line1"))))
    if known_services.height:
        stored = firsts.join(known_services.rename({"departement": "_stored"}), left_on="service", right_on="code").filter(
            pl.col("departement") != pl.col("_stored"))
        out.append(_issues(stored, name, "departement",
                           pl.format("le service {} est rattaché au département {} dans la base : un service appartient à un seul département",
                                     pl.col("service"), pl.col("_stored"))))
    if "type_service" in valid.columns:
        types = valid.filter(pl.col("type_service") != "").with_columns(pl.col("type_service").str.to_lowercase())
        tfirst = types.group_by("service", "type_service").agg(pl.col(LINE).min())
        thome = tfirst.sort(LINE).group_by("service").agg(pl.col("type_service").first().alias("_t1"), pl.col(LINE).first().alias("_line1"))
        tclash = tfirst.join(thome, on="service").filter(pl.col("type_service") != pl.col("_t1"))
        out.append(_issues(tclash, name, "type_service",
                           pl.format("le service {} a déjà le type {} (ligne {})", pl.col("service"), pl.col("_t1"), pl.col("_line1"))))
    return out


def _duplicate_issues(valid: pl.DataFrame, name: str, key: list[str], label: str) -> pl.DataFrame:
    keyed = valid.with_columns(pl.col(LINE).min().over(key).alias("_first"))
    return _issues(keyed.filter(pl.col(LINE) != pl.col("_first")), name, key[-1],
                   pl.format("doublon de la ligne {} (même " + label + ")", pl.col("_first")))


def _relation_issues(valid: pl.DataFrame, name: str, nomenclature: Nomenclature, ensemble_keys: pl.DataFrame) -> list[pl.DataFrame]:
    out = []
    sm = ["periode", "service"]
    others = valid.filter(pl.col("dimension") != TOTAL_CODE)
    orphan = others.join(ensemble_keys, on=sm, how="anti").group_by(sm).agg(pl.col(LINE).min(), pl.col("dimension").first())
    out.append(_issues(orphan, name, "dimension",
                       pl.format("aucune ligne « ensemble » pour {} en {} : le nombre de situations du mois est obligatoire",
                                 pl.col("service"), pl.col("periode"))))
    ens = valid.filter(pl.col("dimension") == TOTAL_CODE).select(*sm, pl.col("effectif").alias("_ens"), pl.col(LINE).alias("_ens_line"))
    partitions = [d.code for d in nomenclature.by_relation("partition")]
    present = valid.filter(pl.col("dimension").is_in(partitions))["dimension"].unique().sort().to_list()
    if present and ens.height:
        sums = valid.filter(pl.col("dimension").is_in(present)).group_by(*sm, "dimension").agg(pl.col("effectif").sum().alias("_sum"))
        grid = ens.join(pl.DataFrame({"dimension": present}), how="cross").join(sums, on=[*sm, "dimension"], how="left").with_columns(
            pl.col("_sum").fill_null(0))
        bad = grid.filter(pl.col("_sum") != pl.col("_ens")).rename({"_ens_line": LINE})
        out.append(_issues(bad, name, "effectif",
                           pl.format("dimension « {} » : la somme des modalités ({}) diffère de l'ensemble ({}) pour {} en {}",
                                     pl.col("dimension"), pl.col("_sum"), pl.col("_ens"), pl.col("service"), pl.col("periode")),
                           value=pl.col("_ens").cast(pl.String)))
    multiples = [d.code for d in nomenclature.by_relation("multiple")]
    over = valid.filter(pl.col("dimension").is_in(multiples)).join(ens, on=sm).filter(pl.col("effectif") > pl.col("_ens"))
    out.append(_issues(over, name, "effectif",
                       pl.format("« {} / {} » compte {} situations, plus que l'ensemble ({}) : une problématique ne peut dépasser le nombre de situations",
                                 pl.col("dimension"), pl.col("modalite"), pl.col("effectif"), pl.col("_ens")),
                       value=pl.col("effectif").cast(pl.String)))
    return out


def _services_frame(valid: pl.DataFrame, nomenclature: Nomenclature) -> pl.DataFrame:
    cols = [pl.col("departement").first()]
    cols.append((pl.col("libelle_service").filter(pl.col("libelle_service") != "").first()
                 if "libelle_service" in valid.columns else pl.lit(None, pl.String)).alias("libelle"))
    if "type_service" in valid.columns:
        cols.append(pl.col("type_service").filter(pl.col("type_service") != "").first().str.to_lowercase().alias("type_service"))
    else:
        cols.append(pl.lit(None, pl.String).alias("type_service"))
    services = valid.sort(LINE).group_by("service").agg(cols).sort("service")
    codes = {k: t.code for k, t in nomenclature.service_types.items()}
    return services.with_columns(
        pl.struct("service", "type_service").map_elements(
            lambda r: codes.get(r["type_service"]) if r["type_service"] else guess_service_type(r["service"], nomenclature),
            return_dtype=pl.String).alias("type_service"))


def _finish(kind: str, cell: list[pl.DataFrame], rows: pl.DataFrame, services: pl.DataFrame) -> Validated:
    issues = pl.concat([f for f in cell if f.height], how="vertical") if any(f.height for f in cell) else issue_frame()
    issues = issues.unique().sort("ligne", "colonne", "motif", nulls_last=False)
    if issues.height:
        return Validated(kind, rows.clear(), services.clear(), issues)
    return Validated(kind, rows, services, issues)


def validate_aggregates(raw: RawTable, nomenclature: Nomenclature, known_services: pl.DataFrame, today: date | None = None) -> Validated:
    name, today = raw.file_name, today or date.today()
    head = _check_columns(raw, AGGREGATE_COLUMNS)
    empty = pl.DataFrame(schema={"periode": pl.String, "service": pl.String, "dimension": pl.String, "modalite": pl.String, "effectif": pl.Int64})
    if head.height:
        return Validated("agregats", empty, empty.clear(), head)
    frame = _normalise(raw.frame).with_columns(pl.col("dimension").str.to_lowercase(), pl.col("modalite").str.to_lowercase())
    issues = _generic_cell_issues(frame, name)
    p_issues, p_ok = _periode_issues(frame, name, today)
    d_issues, d_ok = _departement_issues(frame, name)
    s_issues, s_ok = _service_issues(frame, name)
    e_issues, e_ok = _whole_number_issues(frame, name, "effectif", MAX_COUNT)
    t_issues, t_ok = _type_issues(frame, name, nomenclature)
    dims = list(nomenclature.dimensions)
    dim_missing = pl.col("dimension").is_null() | (pl.col("dimension") == "")
    dim_ok = pl.col("dimension").is_in(dims).fill_null(False)  # null is not a dimension: never drop a row silently
    pairs = pl.DataFrame(nomenclature.pairs(), schema=["dimension", "modalite"], orient="row").with_columns(pl.lit(True).alias("_pair"))
    frame = frame.join(pairs, on=["dimension", "modalite"], how="left", maintain_order="left")
    pair_ok = pl.col("_pair").fill_null(False)
    issues += p_issues + d_issues + s_issues + e_issues + t_issues + [
        _issues(frame.filter(dim_missing), name, "dimension", "valeur manquante"),
        _issues(frame.filter(~dim_missing & ~dim_ok), name, "dimension", f"dimension inconnue (attendu : {', '.join(dims)})"),
        _issues(frame.filter(dim_ok & ~pair_ok), name, "modalite",
                pl.format("modalité inconnue pour la dimension « {} »", pl.col("dimension"))),
    ]
    key_ok = p_ok & s_ok & dim_ok & pair_ok
    keyed = frame.filter(key_ok)
    issues.append(_duplicate_issues(keyed, name, ["periode", "service", "dimension", "modalite"], "période, service, dimension et modalité"))
    issues += _service_consistency(frame.filter(s_ok & d_ok), name, known_services)
    first_of_key = pl.col(LINE) == pl.col(LINE).min().over("periode", "service", "dimension", "modalite")
    # A bad type_service does not make the count wrong: the sums are still checked.
    valid = frame.filter(key_ok & d_ok & e_ok).filter(first_of_key).with_columns(
        pl.col("effectif").str.replace(r"[.,]0+$", "").cast(pl.Int64))
    ensemble_keys = keyed.filter(pl.col("dimension") == TOTAL_CODE).select("periode", "service").unique()
    issues += _relation_issues(valid, name, nomenclature, ensemble_keys)
    rows = valid.select("periode", "service", "dimension", "modalite", "effectif")
    return _finish("agregats", issues, rows, _services_frame(frame.filter(s_ok & d_ok), nomenclature))


def validate_headcounts(raw: RawTable, nomenclature: Nomenclature, known_services: pl.DataFrame, today: date | None = None) -> Validated:
    name, today = raw.file_name, today or date.today()
    head = _check_columns(raw, HEADCOUNT_COLUMNS)
    empty = pl.DataFrame(schema={"service": pl.String, "annee": pl.Int64, "effectif_agents": pl.Int64})
    if head.height:
        return Validated("effectifs", empty, empty.clear(), head)
    frame = _normalise(raw.frame)
    issues = _generic_cell_issues(frame, name)
    a = pl.col("annee")
    a_missing = a.is_null() | (a == "")
    a_shaped = a.str.contains(r"^[0-9]{4}$")
    year = a.cast(pl.Int32, strict=False)
    a_ok = a_shaped & (year >= FIRST_YEAR) & (year <= today.year + 1)
    issues += [
        _issues(frame.filter(a_missing), name, "annee", "valeur manquante"),
        _issues(frame.filter(~a_missing & ~a_shaped), name, "annee", "année attendue sur quatre chiffres (par exemple 2025)"),
        _issues(frame.filter(a_shaped & ~a_ok), name, "annee", f"année hors de la plage plausible ({FIRST_YEAR} à {today.year + 1})"),
    ]
    d_issues, d_ok = _departement_issues(frame, name)
    s_issues, s_ok = _service_issues(frame, name)
    e_issues, e_ok = _whole_number_issues(frame, name, "effectif_agents", MAX_AGENTS)
    t_issues, t_ok = _type_issues(frame, name, nomenclature)
    issues += d_issues + s_issues + e_issues + t_issues
    keyed = frame.filter(a_ok & s_ok)
    issues.append(_duplicate_issues(keyed, name, ["service", "annee"], "service et année"))
    issues += _service_consistency(frame.filter(s_ok & d_ok), name, known_services)
    valid = frame.filter(a_ok & s_ok & d_ok & e_ok & t_ok)
    rows = valid.select("service", pl.col("annee").cast(pl.Int64),
                        pl.col("effectif_agents").str.replace(r"[.,]0+$", "").cast(pl.Int64))
    return _finish("effectifs", issues, rows, _services_frame(frame.filter(s_ok & d_ok), nomenclature))


def validate(raw: RawTable, nomenclature: Nomenclature, known_services: pl.DataFrame, today: date | None = None) -> Validated:
    if file_kind(raw.frame.columns) == "effectifs":
        return validate_headcounts(raw, nomenclature, known_services, today)
    return validate_aggregates(raw, nomenclature, known_services, today)
