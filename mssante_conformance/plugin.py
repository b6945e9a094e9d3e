"""pytest plugin of the harness: options, the `check` marker, fixtures, outcome collection.

Theory of operation
-------------------
* Options come from :mod:`mssante_conformance.settings` (one table for pytest and the
  ``run`` command). They are validated once, at configure time: a bad flag is a usage error.
* A conformance test carries ``@pytest.mark.check("LPS-IMAP-06")`` and nothing else about
  the check: title, severity and requirements come from the catalog. Collection fails for an
  id missing from the catalog, for an id used twice, and for a catalog check of a collected
  family that has no test.
* ``--scope`` keeps only the checks of its catalog families (``--profile monitoring`` then
  keeps the monitoring ones among them); the others are deselected.
* Before a check runs, the catalog's ``needs`` are compared with the target (BAL, IDNAT,
  endpoints…): a missing parameter makes the check ``not_applicable`` without touching the
  operator, and the result records which parameters were missing (``CheckResult.missing``).
* Outcomes are read from pytest's own reports (:func:`pytest_runtest_makereport`):
  an assertion failure is a non-conformity (``failed``), a :class:`NotApplicable` skip is
  ``not_applicable``, any other exception is ``error`` — the check could not be carried out
  and is never counted as passed or failed.
* Each check runs under one deadline for its whole exchange (``--check-timeout``, plus
  ``--delivery-timeout`` for the interface opérateurs checks, which wait for deliveries, and
  the sslyze scan's own bound for the LPS-TLS checks, which share one scan of every endpoint) and
  the run's circuit breaker (:mod:`mssante_conformance.mail.deadline`, ``…mail.breaker``):
  both are made current around the check's setup and call, so every probe honours them.
* At the end of the session the results go to :mod:`mssante_conformance.report`, which writes
  ``report.json`` and ``report.html`` in ``--report-dir``.
"""

from __future__ import annotations

import shlex
import sys
import time
from datetime import datetime, timezone

import pytest

from mssante_conformance.catalog import FAMILIES, load_catalog
from mssante_conformance.conformance import CheckNotCarriedOut, NotApplicable, missing_needs
from mssante_conformance.evidence import Evidence
from mssante_conformance.exits import PROGRESS_FILE
from mssante_conformance.outcomes import CheckResult, Outcome
from mssante_conformance.report.render_labels import VERDICT_EXPLANATIONS, VERDICT_LABELS
from mssante_conformance.secret_registry import SecretRegistry
from mssante_conformance.scope import SCOPES
from mssante_conformance.settings import (
    SettingsError,
    build_settings,
    flag_values_from,
    register_pytest,
    to_argv,
)

SETTINGS = pytest.StashKey()
RESULTS = pytest.StashKey()
SECRETS = pytest.StashKey()
STARTED = pytest.StashKey()
REPORT_PATHS = pytest.StashKey()
VERDICT = pytest.StashKey()
CHECK_ID = pytest.StashKey()
EVIDENCE = pytest.StashKey()
T0 = pytest.StashKey()
BREAKER = pytest.StashKey()
DEADLINE = pytest.StashKey()


def pytest_addoption(parser):
    group = parser.getgroup("mssante-conformance", "Conformité MSSanté (Ref#1 v1.5)")
    register_pytest(group)


def pytest_configure(config):
    config.addinivalue_line("markers", "check(id): the catalog check this test evidences")
    try:
        settings = build_settings(flag_values_from(config.option))
    except SettingsError as exc:
        raise pytest.UsageError(str(exc)) from None
    config.stash[SETTINGS] = settings
    from mssante_conformance.resolution import install_pins

    install_pins(settings.resolve)  # every probe connects to the addresses the launcher checked
    config.stash[RESULTS] = {}
    config.stash[SECRETS] = SecretRegistry()
    config.stash[STARTED] = datetime.now(timezone.utc)
    from mssante_conformance.mail.breaker import CircuitBreaker

    config.stash[BREAKER] = CircuitBreaker()  # per run: endpoints given up on
    config.addinivalue_line("markers", "token_trial(protocol, **how): an independent token trial, "
                            "made ahead concurrently under --concurrency (concurrency.py)")
    from mssante_conformance.concurrency import PrefetchPlugin

    config.pluginmanager.register(PrefetchPlugin(SETTINGS, BREAKER), "mssante-token-trials")
    stale = settings.report_dir / PROGRESS_FILE
    if stale.exists():
        stale.unlink()


# ------------------------------------------------------------------------------ collection
def _check_id(item) -> str | None:
    marker = item.get_closest_marker("check")
    if marker is None:
        return None
    if len(marker.args) != 1 or not isinstance(marker.args[0], str):
        raise pytest.UsageError(f"{item.nodeid}: @pytest.mark.check takes exactly one check id")
    return marker.args[0]


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(session, config, items):
    catalog = load_catalog()
    tested: dict[str, str] = {}
    for item in items:
        check_id = _check_id(item)
        if check_id is None:
            continue
        if check_id not in catalog.checks:
            raise pytest.UsageError(
                f"{item.nodeid}: check {check_id!r} is not in catalog {catalog.version}"
            )
        if check_id in tested:
            raise pytest.UsageError(
                f"check {check_id} has two tests: {tested[check_id]} and {item.nodeid}"
            )
        tested[check_id] = item.nodeid
        item.stash[CHECK_ID] = check_id
    if not tested:
        return
    families = {catalog.checks[c].family for c in tested}
    untested = sorted(
        c.id for c in catalog.checks.values() if c.family in families and c.id not in tested
    )
    if untested:
        raise pytest.UsageError(f"catalog checks without a test: {', '.join(untested)}")
    settings = config.stash[SETTINGS]
    scope = SCOPES[settings.scope]  # the declared scope, then the monitoring profile within it
    keep, drop = [], []
    for item in items:
        check_id = item.stash.get(CHECK_ID, None)
        check = catalog.checks[check_id] if check_id else None
        out = check is not None and (not scope.covers(check.family) or (
            settings.profile == "monitoring" and not check.monitoring))
        (drop if out else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


# ------------------------------------------------------------------------------ fixtures
@pytest.fixture(scope="session")
def settings(request):
    """The validated RunSettings of this run."""
    return request.config.stash[SETTINGS]


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


@pytest.fixture(scope="session")
def secrets(request) -> SecretRegistry:
    """Every token and secret of the run, so transcripts can replace them by fingerprints."""
    return request.config.stash[SECRETS]


@pytest.fixture(scope="session")
def target(request, settings, secrets):
    """What the run is aimed at: endpoints, BAL, IDNATs, bouchon; the embedded reference
    operator (with its own bouchon) when no operator URL is given."""
    from mssante_conformance.target import open_target

    with open_target(settings, secrets) as resolved:
        request.config.stash[TARGET_KEY] = resolved
        from mssante_conformance.mail import deadline

        running = deadline.current()
        if running is not None:  # starting the target is not the first check's exchange
            running.restart()
        yield resolved


TARGET_KEY = pytest.StashKey()


@pytest.fixture
def evidence(request, secrets) -> Evidence:
    """Where a check puts its transcripts and facts; read by the plugin whatever the outcome."""
    from mssante_conformance.mail.transcript import Transcript

    ev = Evidence(secrets, Transcript)
    request.node.stash[EVIDENCE] = ev
    return ev


@pytest.fixture(autouse=True)
def _check_needs(request):
    """Turns a check whose needed parameters are absent into ``not_applicable``."""
    check_id = request.node.stash.get(CHECK_ID, None)
    if check_id is None:
        return
    request.node.stash[T0] = time.monotonic()
    target = request.getfixturevalue("target")
    missing = missing_needs(load_catalog().check(check_id), target)
    if missing:
        raise NotApplicable(missing)


# ------------------------------------------------------------------------------ time bounds
# Checks of a family that waits for a message to travel (catalog.Family.waits_for_delivery) get
# the delivery wait on top of their budget; the LPS-TLS checks get the TLS scan's bound on top
# of theirs (see _check_scope).


def _check_scope(item):
    """The check's deadline and the run's breaker, current for the block (see docstring)."""
    import contextlib

    check_id = item.stash.get(CHECK_ID, None)
    if check_id is None:
        return contextlib.nullcontext()
    from mssante_conformance.mail import breaker, deadline

    settings = item.config.stash[SETTINGS]
    limit = item.stash.get(DEADLINE, None)
    if limit is None:
        seconds = settings.check_timeout
        family = load_catalog().check(check_id).family
        if FAMILIES[family].waits_for_delivery:
            seconds += settings.delivery_timeout
        if family == "LPS-TLS":  # the first one runs the sslyze scan of every endpoint, itself bounded
            from mssante_conformance.mail.tls_scan import SCAN_BUDGET_FACTOR

            seconds += SCAN_BUDGET_FACTOR * settings.network_timeout
        limit = item.stash[DEADLINE] = deadline.Deadline(seconds, check_id)
    stack = contextlib.ExitStack()
    stack.enter_context(deadline.scope(limit))
    stack.enter_context(breaker.scope(item.config.stash[BREAKER], check_id))
    return stack


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item):
    with _check_scope(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    with _check_scope(item):
        return (yield)


# ------------------------------------------------------------------------------ outcomes
REASON_MAX = 300


def _one_line(text: str) -> str:
    line = " ".join(str(text).strip().splitlines()[0].split()) if str(text).strip() else ""
    return line[:REASON_MAX]


def classify_exception(exc: BaseException, when: str) -> tuple[Outcome, str]:
    """Outcome and one-line reason for an exception raised by a check in phase ``when``.

    An assertion in the check body is a non-conformity; anything else means the check could
    not be carried out (``error``), and says why.
    """
    from mssante_conformance.mail.errors import ProbeError
    from mssante_conformance.target import TargetError

    if isinstance(exc, (NotApplicable, pytest.skip.Exception)):
        return Outcome.NOT_APPLICABLE, _one_line(getattr(exc, "msg", "") or "non applicable")
    if when == "call" and isinstance(exc, (AssertionError, pytest.fail.Exception)):
        message = getattr(exc, "msg", None) or str(exc)
        return Outcome.FAILED, _one_line(message) or "assertion non satisfaite"
    if isinstance(exc, ProbeError):
        step = f" (étape {exc.step})" if exc.step else ""
        return Outcome.ERROR, _one_line(f"contrôle non mené{step} : {exc}")
    if isinstance(exc, (CheckNotCarriedOut, TargetError)):
        return Outcome.ERROR, _one_line(f"contrôle non mené : {exc}")
    if isinstance(exc, (TimeoutError, OSError)):
        return Outcome.ERROR, _one_line(f"contrôle non mené : erreur réseau : {exc}")
    phase = {"setup": "préparation", "call": "exécution", "teardown": "clôture"}.get(when, when)
    return Outcome.ERROR, _one_line(
        f"défaut du harnais pendant la {phase} : {type(exc).__name__}: {exc}"
    )


def _as_skip(item, report, exc: NotApplicable) -> None:
    """Show a ``not_applicable`` check to pytest as skipped, as ``pytest.skip`` would."""
    path, lineno, _ = item.reportinfo()
    report.outcome = "skipped"
    report.longrepr = (str(path), (lineno or 0) + 1, f"Skipped: {exc.msg}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if call.excinfo is not None and isinstance(call.excinfo.value, NotApplicable):
        _as_skip(item, report, call.excinfo.value)
    check_id = item.stash.get(CHECK_ID, None)
    if check_id is None:
        return report
    results = item.config.stash[RESULTS]
    previous = results.get(check_id)
    if call.when == "call" or (call.excinfo is not None and previous is None):
        if call.excinfo is None:
            outcome, reason = Outcome.PASSED, ""
        else:
            outcome, reason = classify_exception(call.excinfo.value, call.when)
        started = item.stash.get(T0, None)
        duration = round(time.monotonic() - started, 3) if started else round(call.duration, 3)
        ev = item.stash.get(EVIDENCE, None)
        results[check_id] = CheckResult(
            id=check_id,
            outcome=outcome,
            reason=reason,
            duration_s=duration,
            evidence=ev.to_dict() if ev is not None else {},
            missing=tuple(getattr(call.excinfo.value, "missing", ()))
            if call.excinfo is not None and outcome is Outcome.NOT_APPLICABLE else (),
        )
        _progress(item.config, results[check_id])
    elif call.when == "teardown" and call.excinfo is not None and previous is not None:
        if previous.outcome is Outcome.PASSED:  # a fault after the check: it did not complete
            _, reason = classify_exception(call.excinfo.value, "teardown")
            results[check_id] = CheckResult(
                check_id, Outcome.ERROR, reason, previous.duration_s, previous.evidence
            )
    return report


def _progress(config, result: CheckResult) -> None:
    """Append the check's outcome to ``<report-dir>/progress.jsonl`` as it finishes, so a
    console can show a run's progress live (one JSON object per line, no evidence). The reason
    goes through the secret registry like the report: it may quote what a server echoed."""
    import json

    report_dir = config.stash[SETTINGS].report_dir
    reason = config.stash[SECRETS].redact(result.reason) if result.reason else result.reason
    try:
        report_dir.mkdir(parents=True, exist_ok=True)
        with open(report_dir / PROGRESS_FILE, "a", encoding="utf-8") as f:
            f.write(json.dumps({"id": result.id, "outcome": result.outcome.value,
                                "reason": reason, "duration_s": result.duration_s},
                               ensure_ascii=False) + "\n")
    except OSError:
        pass  # progress is a convenience; the report is written at the end regardless


def _command(config) -> list[str]:
    settings = config.stash[SETTINGS]
    return ["mssante-conformance", "run", *to_argv(settings)]


def pytest_sessionfinish(session, exitstatus):
    config = session.config
    results = config.stash.get(RESULTS, None)
    if not results:
        return
    from mssante_conformance.runreport import write_run_report

    target = config.stash.get(TARGET_KEY, None)
    paths, verdict = write_run_report(
        settings=config.stash[SETTINGS],
        results=list(results.values()),
        secrets=config.stash[SECRETS],
        target=target,
        command=_command(config),
        invocation=" ".join(shlex.quote(a) for a in [sys.argv[0], *config.invocation_params.args]),
        started_at=config.stash[STARTED],
        finished_at=datetime.now(timezone.utc),
    )
    config.stash[REPORT_PATHS] = paths
    config.stash[VERDICT] = verdict


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    verdict = config.stash.get(VERDICT, None)
    if verdict is None:
        return
    results = config.stash[RESULTS]
    counts: dict[str, int] = {}
    for r in results.values():
        counts[r.outcome.value] = counts.get(r.outcome.value, 0) + 1
    terminalreporter.section("Conformité MSSanté — Ref#1 v1.5")
    terminalreporter.write_line(
        "Contrôles : " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    for r in sorted(results.values(), key=lambda r: r.id):
        if r.outcome in (Outcome.FAILED, Outcome.ERROR):
            terminalreporter.write_line(f"  {r.id} {r.outcome.value}: {r.reason}")
    terminalreporter.write_line(f"Périmètre : {SCOPES[config.stash[SETTINGS].scope].label}")
    terminalreporter.write_line(f"Verdict : {VERDICT_LABELS[verdict].upper()} — "
                                f"{VERDICT_EXPLANATIONS[verdict]}", bold=True)
    for fmt, path in config.stash[REPORT_PATHS].items():
        terminalreporter.write_line(f"Rapport {fmt} : {path}")
