"""`mssante-conformance monitor`: the monitoring profile against many operators, on a schedule.

Exit codes (``--once``): 0 no regression, 1 a regression appeared, 3 nothing evaluated (every
target ended in error), 2 usage error, 130 interrupted. As a service it runs until SIGTERM or
Ctrl-C (130). See docs/monitor.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from pathlib import Path

from mssante_conformance.cli import UsageError

from mssante_conformance.exits import EXIT_INTERRUPTED, EXIT_NOTHING_EVALUATED, EXIT_REGRESSION
from mssante_conformance.report.render_labels import VERDICT_LABELS

EXIT_OK = 0

STATUS_FR = {"finished": "terminé", "error": "erreur"}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "monitor", help="supervision : le profil monitoring contre plusieurs opérateurs, historique, régressions",
        description=__doc__.split("\n\n")[0])
    parser.add_argument("--targets", required=True, metavar="FICHIER", help="cibles (targets.toml)")
    parser.add_argument("--once", action="store_true", help="un seul tour sur toutes les cibles, puis sortir")
    parser.add_argument("--json", action="store_true", help="résultat en JSON (une ligne par tour en service)")
    parser.add_argument("--data-dir", metavar="REP",
                        help="répertoire de données de la console (historique dans console.sqlite3)")
    parser.add_argument("--webhook", metavar="URL", help="URL où poster (JSON) chaque régression")
    parser.add_argument("--alerts-jsonl", metavar="FICHIER", help="fichier JSONL où ajouter chaque régression")
    parser.add_argument("--max-parallel", type=int, default=8, metavar="N",
                        help="cibles contrôlées en même temps (défaut 8)")
    parser.add_argument("--deadline", type=float, default=900, metavar="S",
                        help="durée maximale du contrôle d'une cible, en secondes (défaut 900)")
    parser.set_defaults(func=run)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    from mssante_conformance.console import default_data_dir
    from mssante_conformance.monitor.alerts import Alerter
    from mssante_conformance.monitor.history import MonitorHistory
    from mssante_conformance.monitor.runner import Monitor
    from mssante_conformance.monitor.targets import TargetsError, load_targets

    if args.max_parallel < 1:
        raise UsageError("--max-parallel : au moins 1")
    if args.deadline <= 0:
        raise UsageError("--deadline : durée positive attendue (secondes)")
    if args.webhook and not args.webhook.startswith(("http://", "https://")):
        raise UsageError("--webhook : URL http:// ou https:// attendue")
    try:
        targets = load_targets(args.targets)
    except TargetsError as exc:
        raise UsageError(str(exc)) from None
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    history = MonitorHistory(data_dir)
    monitor = Monitor(history, data_dir=data_dir, alerter=Alerter(args.webhook, args.alerts_jsonl),
                      max_parallel=args.max_parallel, deadline=args.deadline)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        if args.once:
            results = monitor.run_round(targets)
            _show(results, history, args.json)
            return exit_code(results)
        return _serve(monitor, targets, history, args.json)
    except KeyboardInterrupt:
        monitor.stop.set()
        print("mssante-conformance monitor: interrompu", file=sys.stderr)
        return EXIT_INTERRUPTED


def exit_code(results) -> int:
    if any(r.changes.regressions for r in results):
        return EXIT_REGRESSION
    if not any(r.status == "finished" for r in results):
        return EXIT_NOTHING_EVALUATED
    return EXIT_OK


def _serve(monitor, targets, history, as_json: bool, *, schedule=None, sleep=None) -> int:
    """Run each target when due, forever (until KeyboardInterrupt, raised by SIGTERM too).
    ``schedule``/``sleep`` are injectable (tests drive the loop with a fake clock)."""
    from mssante_conformance.monitor.schedule import Schedule

    schedule = schedule or Schedule(targets)
    sleep = sleep or threading.Event().wait
    while True:
        due = schedule.due()
        if due:
            for target in due:
                schedule.ran(target)
            _show(monitor.run_round(due), history, as_json)
            sys.stdout.flush()
        sleep(min(60.0, max(1.0, schedule.seconds_until_next())))


def results_json(results, history) -> dict:
    return {"cibles": [{
        "cible": r.target, "organisation": r.organisation, "statut": r.status, "verdict": r.verdict,
        "reussis": r.count("passed"), "echecs": r.count("failed"), "erreurs": r.count("error"),
        "regressions": list(r.changes.regressions), "retablissements": list(r.changes.recoveries),
        "regressions_ouvertes": history.open_regressions(r.target),
        "duree_s": round(r.duration, 1), "rapport": r.report_path, "message": r.message,
        "lancement": r.id, "tour": r.round_id,
        "version_harnais": r.harness_version, "version_catalogue": r.catalog_version,
    } for r in results]}


def _show(results, history, as_json: bool) -> None:
    if as_json:
        print(json.dumps(results_json(results, history), ensure_ascii=False))
        return
    print(render_table(results))


def render_table(results) -> str:
    head = ("Cible", "Statut", "Verdict", "Réussis", "Échecs", "Erreurs", "Régressions",
            "Rétablissements", "Durée")
    rows = [(r.target, STATUS_FR.get(r.status, r.status), VERDICT_LABELS.get(r.verdict or "", "—"),
             str(r.count("passed")), str(r.count("failed")), str(r.count("error")),
             ", ".join(r.changes.regressions) or "—", ", ".join(r.changes.recoveries) or "—",
             f"{r.duration:.0f} s") for r in results]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(head)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths)),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows]
    for r in results:
        if r.status == "error":
            lines.append(f"{r.target} : {r.message}")
        elif r.report_path:
            lines.append(f"{r.target} : rapport {r.report_path}")
    regressed = [r for r in results if r.changes.regressions]
    lines.append(f"{len(results)} cible(s), {len(regressed)} avec régression")
    return "\n".join(lines)
