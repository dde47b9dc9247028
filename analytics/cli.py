"""`python -m analytics <command>`: English command names, French messages.

Exit codes: 0 success, 1 input refused, 2 usage error.
"""

from __future__ import annotations

import argparse
import getpass
import os
import subprocess
import sys
from pathlib import Path

from analytics.formatting import fr_float, fr_int
from analytics.nomenclature import NomenclatureError

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class FrenchParser(argparse.ArgumentParser):
    TRANSLATIONS = (
        ("invalid choice", "choix invalide"), ("choose from", "choisir parmi"),
        ("the following arguments are required", "arguments obligatoires manquants"),
        ("unrecognized arguments", "arguments non reconnus"), ("invalid int value", "nombre entier attendu"),
        ("expected one argument", "une valeur est attendue"), ("argument", "argument"),
    )

    def error(self, message: str):  # argparse's own exit code for usage errors is 2: keep it
        for english, french in self.TRANSLATIONS:
            message = message.replace(english, french)
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog} : erreur d'utilisation : {message}\n")


def _err(message: str) -> None:
    print(message, file=sys.stderr)


def _output_file_problem(output: Path) -> str | None:
    """Why `--output` cannot be written as a file (a folder, or a missing folder), in French; None when it can."""
    if output.is_dir():
        return f"--output attend un fichier, pas le dossier {output}"
    if not output.parent.is_dir():
        return f"Dossier introuvable pour --output : {output.parent} (créez-le ou choisissez un autre chemin pour {output.name})"
    return None


def _written(output: Path, write) -> bool:
    """`write(output)`; False, with a French message, when the file cannot be written."""
    try:
        write(output)
    except OSError as exc:
        _err(f"Écriture impossible de {output} : {exc.strerror or exc}")
        return False
    return True


def _progress(fraction: float, label: str) -> None:
    _err(f"  [{int(fraction * 100):3d} %] {label}")


def default_author() -> str:
    try:
        return os.environ.get("VIGIE_USER") or getpass.getuser()
    except (KeyError, OSError):
        return "inconnu"


def cmd_import(args) -> int:
    from analytics.ingest import import_path, issues_csv
    from analytics.nomenclature import default_nomenclature
    from analytics.store import get_engine

    missing = [f for f in args.files if not Path(f).is_file()]
    if missing:
        _err(f"Fichier introuvable : {', '.join(missing)}")
        return EXIT_USAGE
    engine, nomenclature = get_engine(), default_nomenclature()
    code = EXIT_OK
    for path in args.files:
        _err(f"Import de {path}")
        report = import_path(path, engine, nomenclature, replace=args.replace, author=args.author, progress=_progress)
        if report.ok:
            print(report.message)
            continue
        code = EXIT_REFUSED
        _err(report.message)
        for line in report.issue_lines(limit=args.max_errors):
            _err(f"  - {line}")
        if report.issues.height > args.max_errors:
            _err(f"  … et {report.issues.height - args.max_errors} autres erreurs (--errors-csv pour la liste complète)")
        if args.errors_csv:
            Path(args.errors_csv).write_bytes(issues_csv(report))
            _err(f"Rapport d'erreurs écrit dans {args.errors_csv}")
    return code


def cmd_history(args) -> int:
    from analytics.batches import history
    from analytics.store import get_engine

    frame = history(get_engine())
    if frame.is_empty():
        print("Aucun import.")
        return EXIT_OK
    for r in frame.iter_rows(named=True):
        periods = r["period_min"] if r["period_min"] == r["period_max"] else f"{r['period_min']} à {r['period_max']}"
        print(f"lot {r['id']:>4}  {r['created_at']:%d/%m/%Y %H:%M}  {r['status']:<6}  {r['kind']:<9}  {r['row_count']:>9} lignes  "
              f"{periods:<18}  {r['file_name']}  ({r['author']}, {r['content_hash'][:12]})")
    return EXIT_OK


def cmd_rollback(args) -> int:
    from analytics.batches import RollbackRefused, rollback
    from analytics.store import get_engine

    try:
        print(rollback(get_engine(), args.batch, args.author))
    except RollbackRefused as refused:
        _err(f"Annulation refusée : {refused}")
        return EXIT_REFUSED
    return EXIT_OK


def cmd_demo(args) -> int:
    from analytics.demo_loader import load_demo, write_demo

    if args.output:
        for path in write_demo(Path(args.output), years=args.years, seed=args.seed, end=args.end):
            print(f"Écrit : {path}")
        return EXIT_OK
    reports = load_demo(years=args.years, seed=args.seed, end=args.end, author=args.author, replace=args.replace, progress=_progress)
    code = EXIT_OK
    for report in reports:
        (print if report.ok else _err)(report.message)
        for line in report.issue_lines(limit=20):
            _err(f"  - {line}")
        code = code if report.ok else EXIT_REFUSED
    return code


def cmd_serve(args) -> int:
    from analytics.demo_loader import ensure_demo_loaded

    loaded = ensure_demo_loaded(progress=_progress)
    if loaded:
        _err("Base vide : données fictives de démonstration chargées.")
    from analytics.publication_progress import running
    from analytics.publications import latest_publication

    if latest_publication() is None and running() is None:
        # Protecting several national years takes minutes: publish in the background, and let the
        # app show how far it is (the home page reads analytics.publication_progress).
        from analytics.settings import get_settings

        log = get_settings().data_dir / "publication.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "ab") as out:
            subprocess.Popen([sys.executable, "-m", "analytics", "publish", "--author", default_author()],
                             stdout=out, stderr=out, stdin=subprocess.DEVNULL, start_new_session=True)
        _err(f"Aucune publication en vigueur : publication lancée en arrière-plan (journal : {log}). "
             "L'application l'affichera dès qu'elle sera prête.")
    app = Path(__file__).resolve().parent.parent / "app.py"
    argv = [sys.executable, "-m", "streamlit", "run", str(app), "--server.port", str(args.port),
            "--browser.gatherUsageStats", "false"]
    if args.headless:
        argv += ["--server.headless", "true"]
    os.execv(sys.executable, argv)
    return EXIT_OK  # not reached


def cmd_protect(args) -> int:
    from analytics.disclosure.protect import protect_file
    from analytics.disclosure.published_set import PublishedSetError, default_published_set, parse_published_set

    source = Path(args.input)
    if not source.is_file():
        _err(f"Fichier introuvable : {source}")
        return EXIT_USAGE
    if args.k < 2:
        _err("--k doit être au moins 2")
        return EXIT_USAGE
    output = Path(args.output)
    if (problem := _output_file_problem(output)) is not None:  # before minutes of protection, not after
        _err(problem)
        return EXIT_USAGE
    try:
        published = parse_published_set(Path(args.published_set).read_text(encoding="utf-8")) if args.published_set else default_published_set()
    except (PublishedSetError, OSError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    outcome = protect_file(source, args.k, published, progress=_progress)
    if outcome.refused is not None:
        _err(outcome.refused.message)
        for line in outcome.refused.issue_lines(limit=args.max_errors):
            _err(f"  - {line}")
        return EXIT_REFUSED
    summary = outcome.protected.summary()
    if not outcome.protected.protection.audit.ok:
        _err(f"Publication refusée : l'audit trouve {summary['echecs_audit']} cellules insuffisamment protégées.")
        return EXIT_REFUSED
    from analytics.exports import write_cube_csv

    if not _written(output, lambda path: write_cube_csv(outcome.protected.table(), path)):
        return EXIT_USAGE
    print(f"Cube protégé écrit dans {output} : {fr_int(summary['cellules_publiables'])} cellules, "
          f"{fr_int(summary['secrets_primaires'])} secrets primaires, {fr_int(summary['secrets_secondaires'])} secondaires ; "
          f"audit réussi ({fr_int(summary['cellules_auditees'])} cellules vérifiées) en {fr_float(summary['secondes'], 1)} s.")
    return EXIT_OK


def _published_set_arg(path: str | None):
    """The published set of `--published-set`, or the deployment's; raises PublishedSetError / OSError."""
    from analytics.disclosure.published_set import default_published_set, parse_published_set

    return parse_published_set(Path(path).read_text(encoding="utf-8")) if path else default_published_set()


def cmd_publish(args) -> int:
    from analytics.disclosure.published_set import PublishedSetError
    from analytics.publications import publish
    from analytics.settings import get_settings

    k = get_settings().k if args.k is None else args.k
    if k < 2:
        _err("--k doit être au moins 2")
        return EXIT_USAGE
    if args.published_set and not Path(args.published_set).is_file():
        _err(f"Fichier introuvable : {args.published_set}")
        return EXIT_USAGE
    try:
        published = _published_set_arg(args.published_set)
    except (PublishedSetError, OSError, UnicodeDecodeError) as exc:
        _err(str(exc))
        return EXIT_USAGE
    _err(f"Publication (k = {k}, ensemble publié : {published.describe()})")
    try:
        outcome = publish(args.author, k, published, progress=_progress)
    except ValueError as exc:  # the store holds services the referential cannot place
        _err(f"Publication impossible : {exc}")
        return EXIT_REFUSED
    if outcome.ok:
        print(outcome.message)
        return EXIT_OK
    _err(outcome.message)  # refused by the audit, or nothing to publish
    return EXIT_REFUSED


def cmd_publications(args) -> int:
    from analytics.publications import publication_history

    history = publication_history()
    if not history:
        print("Aucune publication.")
        return EXIT_OK
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    for p in history:
        periods = p.period_min if p.period_min == p.period_max else f"{p.period_min} à {p.period_max}"
        status = "publiée" if p.published else "refusée"
        line = (f"n° {p.number:>4}  {p.created_at.astimezone(paris):%d/%m/%Y %H:%M}  {status:<8}  k = {p.k}  {periods:<18}  "
                f"{fr_int(p.cell_count):>9} cellules  {fr_int(p.secret_count):>7} secrets")
        if not p.published:
            line += f"  {fr_int(p.audit_failures)} échecs d'audit"
        years = ", ".join(str(a) for a in p.years)
        if p.reused_years:
            years += f" (reprises : {', '.join(str(a) for a in p.reused_years)})"
        print(f"{line}  années {years}  ({p.author}, {fr_float(p.seconds, 1)} s)")
    return EXIT_OK


def cmd_bench(args) -> int:
    from analytics.bench import PARTS, run_bench

    parts = tuple(p.strip() for p in args.parts.split(",") if p.strip())
    if not parts or any(p not in PARTS for p in parts):
        _err(f"--parts attend une liste parmi {', '.join(PARTS)}, pas « {args.parts} »")
        return EXIT_USAGE
    return run_bench(as_json=args.json, rows=args.rows, parts=parts, secret_scope=args.secret_scope,
                     secret_tables=args.secret_tables)


def _alpha_value(text: str) -> float:
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--alpha attend un nombre, pas « {text} »") from None
    if not 0.0 < value < 0.5:
        raise argparse.ArgumentTypeError(f"--alpha doit être strictement compris entre 0 et 0,5, pas « {text} »")
    return value


def cmd_detect(args) -> int:
    from analytics.formatting import plural
    from analytics.veille.detect import OUTPUT_COLUMNS, detect_series
    from analytics.veille.io import PERIOD, SeriesInputError, read_series_csv
    from analytics.veille.multiple import expected_false_alerts

    source = Path(args.input)
    if not source.is_file():
        _err(f"Fichier introuvable : {source}")
        return EXIT_USAGE
    if args.since is not None and not PERIOD.match(args.since):
        _err(f"--since attend un mois AAAA-MM, pas « {args.since} »")
        return EXIT_USAGE
    output = Path(args.output)
    if (problem := _output_file_problem(output)) is not None:  # checked first: a usage error, nothing computed
        _err(problem)
        return EXIT_USAGE
    try:
        frame = read_series_csv(source)
    except SeriesInputError as exc:
        _err(f"Fichier refusé : {exc}")
        return EXIT_REFUSED
    alerts = detect_series(frame, since=args.since, alpha=args.alpha)
    # p_value: the test's; alerte_fdr: Benjamini-Hochberg per month
    if not _written(output, alerts.select(OUTPUT_COLUMNS).write_csv):
        return EXIT_USAGE
    n_series = alerts["serie"].n_unique()
    n_periods = alerts["periode"].n_unique()
    n_alerts = int(alerts["alerte"].sum())
    n_fdr = int(alerts["alerte_fdr"].sum())
    print(f"Alertes écrites dans {output} : {plural(n_series, 'série')}, {plural(n_periods, 'période')}, "
          f"{plural(n_alerts, 'alerte')} ; fausses alertes attendues par mois : "
          f"{fr_float(expected_false_alerts(args.alpha, n_series), 1)} (alpha {fr_float(args.alpha, 3)}) ; "
          f"{plural(n_fdr, 'alerte')} après contrôle du taux de fausses découvertes (colonne alerte_fdr).")
    return EXIT_OK


def cmd_report(args) -> int:
    from analytics.report_jobs import ReportRequest, make, parse_services
    from analytics.reports.builders import ReportError
    from analytics.views import ViewError

    services = parse_services(args.service)
    if args.type == "bilan-regional" and not args.region:
        _err("Le bilan régional demande une région : --region CODE (ex. 53 pour la Bretagne).")
        return EXIT_REFUSED
    if args.type == "fiche-f3sct" and not services:
        _err("La fiche F3SCT demande au moins un service : --service CODE [CODE ...].")
        return EXIT_REFUSED
    request = ReportRequest(args.type, args.year, region=args.region if args.type == "bilan-regional" else None,
                            services=services if args.type == "fiche-f3sct" else ())
    try:
        data = make(request, args.format, progress=_progress)
    except (ReportError, ViewError) as exc:
        _err(f"Rapport refusé : {exc}")
        return EXIT_REFUSED
    output = Path(args.output)
    if not _written(output, lambda path: (path.parent.mkdir(parents=True, exist_ok=True), path.write_bytes(data))):
        return EXIT_REFUSED
    print(f"Rapport écrit dans {output} ({fr_int(len(data) // 1024)} Kio).")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = FrenchParser(prog="python -m analytics", description="Vigie : observatoire statistique et veille RPS du service social.")
    sub = parser.add_subparsers(dest="command", metavar="COMMANDE", parser_class=FrenchParser)
    sub.required = True

    p = sub.add_parser("import", help="importer un ou plusieurs fichiers d'agrégats ou d'effectifs (CSV, XLSX, Parquet)")
    p.add_argument("files", nargs="+", metavar="FICHIER")
    p.add_argument("--replace", action="store_true", help="remplacer les mois-services déjà chargés par ceux du fichier")
    p.add_argument("--author", default=default_author(), help="auteur de l'import (par défaut : l'utilisateur système)")
    p.add_argument("--errors-csv", metavar="SORTIE.csv", help="écrire le rapport d'erreurs complet en CSV")
    p.add_argument("--max-errors", type=int, default=50, help="nombre d'erreurs affichées (50 par défaut)")
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("history", help="historique des imports")
    p.set_defaults(func=cmd_history)

    p = sub.add_parser("rollback", help="annuler un lot d'import")
    p.add_argument("batch", type=int, metavar="LOT")
    p.add_argument("--author", default=default_author())
    p.set_defaults(func=cmd_rollback)

    p = sub.add_parser("demo", help="générer et importer les données fictives de démonstration")
    p.add_argument("--years", type=int, default=5, help="nombre d'années (5 par défaut)")
    p.add_argument("--seed", type=int, default=2026, help="graine aléatoire (2026 par défaut)")
    p.add_argument("--end", metavar="AAAA-MM", help="dernier mois (par défaut : le dernier mois complet)")
    p.add_argument("--output", metavar="DOSSIER", help="écrire les fichiers CSV au lieu de les importer")
    p.add_argument("--replace", action="store_true", help="remplacer des données déjà chargées")
    p.add_argument("--author", default="démonstration")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="préparer la base (démo si vide) et lancer l'application")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument("--headless", action="store_true", help="ne pas ouvrir de navigateur")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("protect", help="protéger un fichier au format d'import sans passer par la base et écrire le cube en CSV")
    p.add_argument("--k", type=int, default=int(os.environ.get("VIGIE_K", "5")), help="seuil du secret statistique (5 par défaut)")
    p.add_argument("--input", required=True, metavar="FICHIER")
    p.add_argument("--output", required=True, metavar="CUBE.csv")
    p.add_argument("--published-set", metavar="REGLES.yaml", help="ensemble publié (liste de règles geo / periode / dimensions)")
    p.add_argument("--max-errors", type=int, default=50)
    p.set_defaults(func=cmd_protect)

    p = sub.add_parser("publish", help="protéger les agrégats de la base et enregistrer une publication numérotée")
    p.add_argument("--k", type=int, default=None, help="seuil du secret statistique (par défaut VIGIE_K, 5)")
    p.add_argument("--published-set", metavar="REGLES.yaml", help="ensemble publié (liste de règles geo / periode / dimensions)")
    p.add_argument("--author", default=default_author(), help="auteur de la publication (par défaut : l'utilisateur système)")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("publications", help="historique des publications")
    p.set_defaults(func=cmd_publications)

    p = sub.add_parser("bench", help="mesures de performance")
    p.add_argument("--json", action="store_true", help="sortie JSON")
    p.add_argument("--rows", type=int, default=1_000_000, help="taille du fichier d'import mesuré (1 000 000 par défaut)")
    p.add_argument("--parts", default="import,secret,veille", help="parties mesurées : import, secret, published-sets (ensembles publiés candidats), publication (démonstration nationale sur 5 ans publiée, plusieurs dizaines de minutes), veille, pages "
                   "(import, secret, veille par défaut)")
    p.add_argument("--secret-scope", metavar="REGIONS",
                   help="limiter la mesure du secret à une ou plusieurs régions (codes séparés par des virgules, ex. 53 ou 53,44)")
    p.add_argument("--secret-tables", type=int, default=10, help="nombre de petites tables comparées à l'optimum (10)")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("detect", help="détecter les hausses inhabituelles de séries mensuelles (Farrington, EARS)")
    p.add_argument("--input", required=True, metavar="SERIES.csv", help="CSV à colonnes serie, periode (AAAA-MM), effectif")
    p.add_argument("--output", required=True, metavar="ALERTES.csv")
    p.add_argument("--since", metavar="AAAA-MM", help="premier mois examiné (par défaut : le dernier mois du fichier)")
    p.add_argument("--alpha", type=_alpha_value, default=0.01, help="risque de fausse alerte par série et par mois (0,01 par défaut)")
    p.set_defaults(func=cmd_detect)

    p = sub.add_parser("report", help="produire un rapport (bilan régional, synthèse nationale, fiche F3SCT) en DOCX, PDF ou XLSX")
    p.add_argument("--type", required=True, choices=("bilan-regional", "synthese-nationale", "fiche-f3sct"))
    p.add_argument("--year", required=True, type=int, metavar="AAAA", help="année du rapport")
    p.add_argument("--region", metavar="CODE", help="code de la région (bilan régional), ex. 53")
    p.add_argument("--service", nargs="+", metavar="CODE", help="code d'un ou plusieurs services (fiche F3SCT)")
    p.add_argument("--format", required=True, choices=("docx", "pdf", "xlsx"))
    p.add_argument("--output", required=True, metavar="FICHIER")
    p.set_defaults(func=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "years", 1) is not None and getattr(args, "years", 1) < 1:
        _err("--years doit être au moins 1")
        return EXIT_USAGE
    end = getattr(args, "end", None)
    if end is not None and not (len(end) == 7 and end[4] == "-" and end[:4].isdigit() and end[5:].isdigit() and 1 <= int(end[5:]) <= 12):
        _err(f"--end attend un mois AAAA-MM, pas « {end} »")
        return EXIT_USAGE
    try:
        return args.func(args)
    except NomenclatureError as exc:
        _err(str(exc))
        return EXIT_REFUSED
