"""The console's « Supervision » pages: what ``mssante-conformance monitor`` recorded.

* ``/supervision``: one line per monitored operator — last verdict, trend of its last runs as
  an inline SVG, open regressions.
* ``/supervision/<cible>``: the timeline of its runs (with their reports) and each check's
  history across runs.

Auditors and administrators see every target; an operator account sees the targets of its own
organisation (``organisation`` in targets.toml = the account's organisation) and nothing else:
another organisation's target is "not found", as another user's run is.
The history is read from the console's own store; a report is served only from the console's
data directory (``<data-dir>/monitor/…``).
"""

from __future__ import annotations

from pathlib import Path

from flask import abort, current_app, g, render_template, send_file

from mssante_conformance.catalog import load_catalog
from mssante_conformance.console import access
from mssante_conformance.console.views import blueprint
from mssante_conformance.monitor.history import MonitorHistory, MonitorRun

TREND_RUNS = 20
HISTORY_RUNS = 12
BAR_W, BAR_GAP, BAR_H = 8, 3, 28
REPORT_FILES = {"html": ("report.html", "text/html"), "json": ("report.json", "application/json")}


def _history() -> MonitorHistory:
    return MonitorHistory(current_app.extensions["mssante_console"].data_dir)


def visible_targets(user, history: MonitorHistory) -> list[tuple[str, str]]:
    if user.sees_all_runs:
        return history.targets()
    return history.targets(user.organisation) if user.organisation else []


def _visible_target(target: str) -> MonitorHistory:
    history = _history()
    if target not in {name for name, _ in visible_targets(g.user, history)}:
        abort(404, description="Cible de supervision introuvable.")
    return history


def trend_bars(runs: list[MonitorRun]) -> list[dict]:
    """The trend chart, oldest run on the left: one bar per run, its height the share of the
    decided checks that passed, its colour the verdict (grey: the run ended in error)."""
    bars = []
    for i, run in enumerate(reversed(runs)):
        decided = run.count("passed") + run.count("failed")
        share = run.count("passed") / decided if decided else 0.0
        height = max(3, round(BAR_H * share)) if run.status == "finished" else BAR_H
        kind = "error" if run.status != "finished" else (run.verdict or "error")
        bars.append({"x": i * (BAR_W + BAR_GAP), "y": BAR_H - height, "w": BAR_W, "h": height,
                     "kind": kind, "regressed": bool(run.changes.regressions),
                     "title": f"{run.finished_at:.0f}"})
    return bars


@blueprint.route("/supervision")
@access.login_required
def supervision():
    history = _history()
    rows = []
    for name, organisation in visible_targets(g.user, history):
        runs = history.runs(name, limit=TREND_RUNS, with_outcomes=True)
        rows.append({"name": name, "organisation": organisation, "last": runs[0] if runs else None,
                     "bars": trend_bars(runs), "open": history.open_regressions(name),
                     "runs": len(runs)})
    return render_template("console/supervision.html", rows=rows, bar_h=BAR_H,
                           bar_step=BAR_W + BAR_GAP)


@blueprint.route("/supervision/<target>")
@access.login_required
def supervision_target(target):
    history = _visible_target(target)
    runs = history.runs(target, limit=HISTORY_RUNS)
    catalog = load_catalog()
    seen = {c for run in runs for c in run.outcomes}
    checks = [c for c in catalog.checks.values() if c.id in seen]
    return render_template("console/supervision_target.html", target=target, runs=runs,
                           checks=checks, open=history.open_regressions(target),
                           organisation=runs[0].organisation if runs else "")


@blueprint.route("/supervision/<target>/<int:run_id>/rapport.<fmt>")
@access.login_required
def supervision_report(target, run_id, fmt):
    history = _visible_target(target)
    run = history.run(run_id)
    if run is None or run.target != target or not run.report_path or fmt not in REPORT_FILES:
        abort(404, description="Rapport introuvable.")
    name, mimetype = REPORT_FILES[fmt]
    root = (current_app.extensions["mssante_console"].data_dir / "monitor").resolve()
    path = (Path(run.report_path).parent / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        abort(404, description="Rapport introuvable.")
    return send_file(path, mimetype=mimetype, as_attachment=fmt != "html",
                     download_name=f"supervision-{target}-{run_id}.{fmt}")
