"""The console's pages (blueprint ``console``): login, Jobs, runs, reports, operator setup."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
from datetime import datetime
from pathlib import Path

from flask import (Blueprint, abort, current_app, g, jsonify, redirect, render_template, request,
                   send_file, url_for)

from mssante_conformance.catalog import load_catalog
from mssante_conformance.console import access
from mssante_conformance.console.forms import FIELDS, TARGET_OPERATOR, parse_submission
from mssante_conformance.console.jobs import JOBS, JOBS_BY_ID
from mssante_conformance.console.operator_setup import bouchon_facts
from mssante_conformance.console.store import RunStatus
from mssante_conformance.console.targets import target_key
from mssante_conformance.console.worker import read_progress, read_report
from mssante_conformance.report.render_labels import OUTCOME_LABELS, VERDICT_LABELS
from mssante_conformance.scope import SCOPES
from mssante_conformance.settings import build_settings, to_argv

blueprint = Blueprint("console", __name__, template_folder="templates", static_folder="static",
                      static_url_path="/static")

STATUS_LABELS = {RunStatus.QUEUED: "En attente", RunStatus.RUNNING: "En cours",
                 RunStatus.FINISHED: "Terminé", RunStatus.FAILED: "Échoué",
                 RunStatus.INTERRUPTED: "Interrompu"}
REPORT_FILES = {"html": ("report.html", "text/html"), "json": ("report.json", "application/json"),
                "pdf": ("report.pdf", "application/pdf")}


def _console():
    return current_app.extensions["mssante_console"]


@blueprint.before_request
def _before():
    access.load_user()
    access.check_csrf()


@blueprint.after_request
def _headers(response):
    response.headers.setdefault("Content-Security-Policy",
                                "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.endpoint != "console.static":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


@blueprint.app_template_filter("when")
def _when(ts):
    return datetime.fromtimestamp(ts).strftime("%d/%m/%Y %H:%M:%S") if ts else "—"


@blueprint.context_processor
def _globals():
    return {"csrf_token": access.csrf_token, "user": g.get("user"), "JOBS": JOBS_BY_ID,
            "SCOPES": SCOPES,
            "OUTCOME_LABELS": OUTCOME_LABELS, "STATUS_LABELS": STATUS_LABELS,
            "VERDICT_LABELS": VERDICT_LABELS}


@blueprint.errorhandler(400)
@blueprint.errorhandler(403)
@blueprint.errorhandler(404)
@blueprint.errorhandler(405)
@blueprint.errorhandler(413)
@blueprint.errorhandler(429)
def _error(exc):
    return render_template("console/error.html", code=exc.code, message=exc.description), exc.code


@blueprint.errorhandler(500)
def _fault(exc):  # never a traceback to the user
    current_app.logger.error("console fault on %s: %s", request.path,
                             type(getattr(exc, "original_exception", exc)).__name__)
    return render_template("console/error.html", code=500,
                           message="Erreur interne de la console ; le lancement éventuel n'est pas perdu."), 500


# ------------------------------------------------------------------------------ access
@blueprint.route("/connexion", methods=["GET", "POST"])
def login():
    error, status, headers = None, 200, {}
    if request.method == "POST":
        name = request.form.get("name", "").strip()[:128]
        address = request.remote_addr
        throttle = _console().throttle
        wait = throttle.retry_after(name, address)
        if wait > 0:  # refused before hashing anything: a flood costs no scrypt
            current_app.logger.warning("console login refused (throttled %.0f s): account %r from %s",
                                       wait, name, address)
            error, status = _throttled_message(wait), 429
            headers["Retry-After"] = str(int(wait) + 1)
        else:
            user = _console().store.authenticate(name, request.form.get("password", ""))
            if user is not None:
                throttle.succeeded(name, address)
                access.log_in(user)
                target = request.args.get("next", "")
                # Only a path of this console: never an open redirect.
                if not target.startswith(url_for("console.dashboard")) or "//" in target:
                    target = url_for("console.dashboard")
                return redirect(target)
            lock = throttle.failed(name, address)
            current_app.logger.warning("console login failed: account %r from %s%s", name, address,
                                       f" (locked {lock:.0f} s)" if lock else "")
            error, status = "Identifiant ou mot de passe incorrect.", 401
    return render_template("console/login.html", error=error), status, headers


def _throttled_message(wait: float) -> str:
    return (f"Trop d'échecs de connexion : réessayez dans {int(wait) + 1} s "
            "(identifiant ou adresse temporairement bloqué).")


@blueprint.route("/deconnexion", methods=["POST"])
def logout():
    access.log_out()
    return redirect(url_for("console.login"))


# ------------------------------------------------------------------------------ jobs
@blueprint.route("/")
@access.login_required
def dashboard():
    console = _console()
    runs = console.store.runs(None if g.user.sees_all_runs else g.user.name, limit=10)
    return render_template("console/dashboard.html", jobs=JOBS, runs=runs, catalog=load_catalog())


def _job_or_404(job_id):
    job = JOBS_BY_ID.get(job_id)
    if job is None:
        abort(404, description="Job inconnu.")
    return job


@blueprint.route("/jobs/<job_id>", methods=["GET", "POST"])
@access.login_required
def job(job_id):
    job = _job_or_404(job_id)
    console = _console()
    form, errors = request.form, {}
    if request.method == "POST":
        if not g.user.may_launch:
            abort(403, description="Votre rôle (auditeur) ne permet pas de lancer des contrôles.")
        run_id = datetime.now().strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)
        run_dir = console.runs_dir / run_id
        run_dir.mkdir(mode=0o700)
        submission = parse_submission(job, request.form, request.files, run_dir / "entrees",
                                      allowlist=console.store.allowlist_for(g.user),
                                      exposed=console.exposed, resolver=console.resolver)
        errors = submission.errors
        if not errors:
            values = dict(submission.values, report_dir=str(run_dir / "rapport"))
            if submission.target == TARGET_OPERATOR and console.bouchon_url:
                values["bouchon_url"] = console.bouchon_url
                if console.bouchon_ca_file is not None:
                    values["bouchon_ca_file"] = str(console.bouchon_ca_file)
            argv = job.run_flags() + to_argv(build_settings(values))
            urls = list(values.get("operator_urls", [])) + [values.get("operator_mx") or ""]
            console.store.add_run(run_id, g.user.name, job.id, target_key([u for u in urls if u]),
                                  submission.shown, argv, run_dir)
            console.worker.submit(run_id)
            return redirect(url_for("console.run", run_id=run_id))
        shutil.rmtree(run_dir, ignore_errors=True)
    status = 400 if errors else 200
    return render_template("console/job.html", job=job, checks=job.checks(), fields=FIELDS,
                           form=form, errors=errors), status


# ------------------------------------------------------------------------------ runs
def _visible_run(run_id):
    run = _console().store.run(run_id)
    # Another operator's run is "not found", not "forbidden": its existence is not disclosed.
    if run is None or not access.may_see(g.user, run):
        abort(404, description="Lancement introuvable.")
    return run


def _run_view(run):
    """Everything the run page and its JSON show: progress as checks finish, then the report."""
    job = JOBS_BY_ID.get(run.job)
    catalog = load_catalog()
    report = read_report(run.report_dir) if run.status == RunStatus.FINISHED else None
    if report is not None:
        done = [{"id": c.get("id"), "outcome": c.get("outcome"), "reason": c.get("reason", ""),
                 "duration_s": c.get("duration_s")} for c in report.get("checks", [])]
    else:
        done = read_progress(run.report_dir)
    titles = {c.id: c.title for c in catalog.checks.values()}
    for item in done:
        item["title"] = titles.get(item["id"], "")
        item["label"] = OUTCOME_LABELS.get(item.get("outcome"), item.get("outcome"))
    expected = len(job.checks(catalog)) if job else len(done)
    return {"id": run.id, "status": run.status, "status_label": STATUS_LABELS.get(run.status),
            "scope": _scope_label(job, report),
            "not_run_in_scope": (report or {}).get("not_run_in_scope", []),
            "verdict": run.verdict, "verdict_label": VERDICT_LABELS.get(run.verdict or ""),
            "message": run.message, "done": len(done), "expected": max(expected, len(done)),
            "checks": done, "active": run.active}


def _scope_label(job, report) -> str:
    """The declared scope of a run: the report's once written, else the Job's."""
    scope = (report or {}).get("scope")
    if isinstance(scope, dict) and scope.get("label"):
        return str(scope["label"])
    return job.scope_label if job else "—"


@blueprint.route("/lancements")
@access.login_required
def runs():
    console = _console()
    listed = console.store.runs(None if g.user.sees_all_runs else g.user.name)
    return render_template("console/runs.html", runs=listed)


@blueprint.route("/lancements/<run_id>")
@access.login_required
def run(run_id):
    run = _visible_run(run_id)
    view = _run_view(run)
    report = read_report(run.report_dir) if run.status == RunStatus.FINISHED else None
    counts = (report.get("counts") or {}).get("outcomes", {}) if report else {}
    return render_template("console/run.html", run=run, job=JOBS_BY_ID.get(run.job), view=view,
                           counts=counts, report=report)


@blueprint.route("/lancements/<run_id>/progression")
@access.login_required
def progress(run_id):
    return jsonify(_run_view(_visible_run(run_id)))


@blueprint.route("/lancements/<run_id>/rapport.<fmt>")
@access.login_required
def report_file(run_id, fmt):
    run = _visible_run(run_id)
    if fmt not in REPORT_FILES or run.status != RunStatus.FINISHED:
        abort(404, description="Rapport indisponible.")
    name, mimetype = REPORT_FILES[fmt]
    path = run.report_dir / name
    if fmt == "pdf" and not path.exists():
        _render_pdf(run.report_dir)
    if not path.is_file():
        abort(404, description="Rapport indisponible.")
    return send_file(path, mimetype=mimetype, as_attachment=True,
                     download_name=f"rapport-conformite-{run.id}.{fmt}")


_PDF_LOCK = threading.Lock()  # one WeasyPrint at a time: it is CPU-heavy


def _render_pdf(report_dir: Path) -> None:
    """Render report.pdf from report.json on first request, in a subprocess with a timeout
    (the `report` command also checks the report's integrity before rendering it)."""
    timeout = _console().pdf_timeout
    unavailable = ("Le rapport PDF n'a pas pu être produit ; les formats HTML et JSON restent "
                   "disponibles.")
    if not _PDF_LOCK.acquire(timeout=timeout):
        abort(404, description=unavailable)
    try:
        if (report_dir / "report.pdf").exists():
            return
        partial = report_dir / ".report.pdf.tmp"
        proc = subprocess.Popen(
            [sys.executable, "-m", "mssante_conformance.cli", "report", str(report_dir / "report.json"),
             "--format", "pdf", "-o", str(partial)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            code = None
        if code != 0 or not partial.exists():
            partial.unlink(missing_ok=True)
            current_app.logger.error("PDF rendering failed for %s (exit %s)", report_dir, code)
            abort(404, description=unavailable)
        os.replace(partial, report_dir / "report.pdf")
    finally:
        _PDF_LOCK.release()


# ------------------------------------------------------------------------------ operator setup
def _facts():
    console = _console()
    return bouchon_facts(current_app, console.bouchon, console.public_url or request.url_root)


@blueprint.route("/operateur")
@access.login_required
def operator_setup():
    facts = _facts()
    revealed = _console().store.revealed(facts.secret_fingerprint) if facts.client_secret else None
    return render_template("console/operator_setup.html", facts=facts, revealed=revealed,
                           secret=None)


@blueprint.route("/operateur/secret", methods=["POST"])
@access.login_required
def reveal_secret():
    facts = _facts()
    if not g.user.may_launch:
        abort(403, description="Votre rôle ne permet pas d'obtenir le secret client.")
    if not facts.client_secret:
        abort(404, description="Aucun secret client : le bouchon n'est pas joint à cette console.")
    store = _console().store
    shown = store.reveal_once(facts.secret_fingerprint, g.user.name)
    return render_template("console/operator_setup.html", facts=facts,
                           revealed=store.revealed(facts.secret_fingerprint),
                           secret=facts.client_secret if shown else None)


def _pki():
    from mssante_conformance.pki import TestPKI

    return TestPKI.ensure(_console().data_dir / "pki")


@blueprint.route("/operateur/ac-igc-sante-test.pem")
@access.login_required
def ca_file():
    return send_file(_pki().ca_file, mimetype="application/x-pem-file", as_attachment=True,
                     download_name="ac-igc-sante-test.pem")


@blueprint.route("/operateur/liste-blanche.xml")
@access.login_required
def whitelist():
    from mssante_conformance.pki import HARNESS_DOMAIN
    from mssante_conformance.trust import TrustWhitelist

    xml = TrustWhitelist([HARNESS_DOMAIN]).to_xml()
    response = current_app.response_class(xml, mimetype="application/xml")
    response.headers["Content-Disposition"] = "attachment; filename=liste-blanche-test.xml"
    return response


# The « Supervision » pages register their routes on this blueprint (console/supervision.py).
from mssante_conformance.console import supervision  # noqa: E402,F401
