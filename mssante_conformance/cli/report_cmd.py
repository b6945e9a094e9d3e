"""`mssante-conformance report` (re-render a report.json) and `verify` (is it intact?).

Exit codes: 0 done / intact; 1 the report is damaged or edited (schema violation, digest or
verdict mismatch), or differs from ``--against``; 2 usage mistake (missing file, not JSON,
not a mssante-conformance report, bad flag).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mssante_conformance.cli import CommandFailed, UsageError

RENDER_FORMATS = ("html", "pdf", "md", "junit")
SUFFIXES = {"html": ".html", "pdf": ".pdf", "md": ".md", "junit": ".junit.xml"}


def register(subparsers) -> None:
    report = subparsers.add_parser(
        "report",
        help="produit le rapport HTML, PDF, Markdown ou JUnit à partir de report.json",
        description="Produit un rendu du rapport à partir du seul fichier report.json, "
        "après en avoir vérifié l'intégrité.",
    )
    report.add_argument("report_json", metavar="REPORT.json", help="le rapport JSON d'un passage")
    report.add_argument("--format", "-f", choices=RENDER_FORMATS, default="html",
                        help="format produit (défaut : html)")
    report.add_argument("-o", "--output", metavar="FICHIER",
                        help="fichier produit (défaut : à côté du JSON, même nom, extension du format)")
    report.set_defaults(func=run_report)

    verify = subparsers.add_parser(
        "verify",
        help="vérifie l'empreinte et le verdict d'un report.json (et le compare à un autre)",
        description="Recalcule l'empreinte SHA-256 de report.json et le verdict à partir des "
        "contrôles ; avec --against, compare verdict et résultats à ceux d'un autre passage.",
    )
    verify.add_argument("report_json", metavar="REPORT.json", help="le rapport JSON à vérifier")
    verify.add_argument("--against", metavar="AUTRE.json",
                        help="un autre rapport (p. ex. le passage d'origine) à comparer")
    verify.set_defaults(func=run_verify)


def _load(path: str) -> dict:
    from mssante_conformance.report import ReportInvalid, ReportUnreadable, load_report

    try:
        return load_report(path)
    except ReportUnreadable as exc:
        raise UsageError(str(exc)) from None
    except ReportInvalid as exc:
        raise CommandFailed(str(exc), exit_code=1) from None


def run_report(args: argparse.Namespace) -> int:
    from mssante_conformance.report import render, verify_report, write_file

    report = _load(args.report_json)
    verification = verify_report(report)
    if not verification.ok:
        raise CommandFailed(
            "rapport non rendu, il n'est pas intact : " + " ; ".join(verification.problems)
            + f" (voir « mssante-conformance verify {args.report_json} »)",
            exit_code=1,
        )
    source = Path(args.report_json)
    output = Path(args.output) if args.output else source.with_name(
        source.name.removesuffix(".json") + SUFFIXES[args.format]
    )
    if output.resolve() == source.resolve():
        raise UsageError(f"le fichier produit écraserait le rapport JSON : {output}")
    if output.is_dir():
        raise UsageError(f"{output} est un répertoire : donnez un nom de fichier avec -o")
    try:
        data = render(report, args.format)
        write_file(output, data)
    except OSError as exc:
        raise CommandFailed(f"impossible d'écrire {output} : {exc.strerror}") from None
    print(f"Rapport {args.format} écrit : {output}")
    return 0


def run_verify(args: argparse.Namespace) -> int:
    from mssante_conformance.report import compare, verify_report
    from mssante_conformance.report.render_labels import VERDICT_LABELS

    report = _load(args.report_json)
    other = _load(args.against) if args.against else None
    verification = verify_report(report)
    out = sys.stdout
    if verification.ok:
        print(f"Rapport intact : l'empreinte {verification.actual_digest} correspond et le verdict "
              f"« {VERDICT_LABELS[report['verdict']]} » (périmètre : {report['scope']['label']}) "
              "découle des résultats des contrôles.", file=out)
    else:
        print("RAPPORT ALTÉRÉ : " + args.report_json, file=out)
        for problem in verification.problems:
            print(f"  - {problem}", file=out)
    same = True
    if other is not None:
        other_check = verify_report(other)
        if not other_check.ok:
            print(f"Attention : le rapport de comparaison {args.against} n'est pas intact "
                  f"({'; '.join(other_check.problems)}).", file=out)
        diffs = compare(other, report)
        same = not diffs
        if same:
            print(f"Identique à {args.against} : même verdict, mêmes résultats pour "
                  f"{len(report['checks'])} contrôle(s).", file=out)
        else:
            print(f"Différences avec {args.against} (référence / ce rapport) :", file=out)
            for diff in diffs:
                print(f"  - {diff['text']}", file=out)
    return 0 if verification.ok and same else 1
