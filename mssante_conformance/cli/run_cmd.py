"""`mssante-conformance run`: the conformance suites, like `pytest --operator-url …` does.

Exit codes: 0 conforme, 1 non conforme, 3 incomplet (or no verdict), 2 usage error.
Without --operator-url the run targets the embedded reference operator (the demo); the
reference daemons of an earlier harness that was killed are stopped first (see
``reference.processes``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from mssante_conformance.exits import EXIT_BY_VERDICT, EXIT_INTERRUPTED, EXIT_NO_VERDICT, EXIT_USAGE
from mssante_conformance.settings import flag_values_from, register_argparse, to_argv



class _VerdictProbe:
    """A pytest plugin object that reads the verdict the harness plugin computed."""

    verdict: str | None = None

    def pytest_unconfigure(self, config):
        from mssante_conformance.plugin import VERDICT

        self.verdict = config.stash.get(VERDICT, None)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="lance les suites de conformité (par défaut contre l'opérateur de référence embarqué)",
        description=__doc__.split("\n\n")[0],
    )
    register_argparse(parser)
    parser.add_argument("-k", dest="pytest_k", metavar="EXPR",
                        help="ne lancer que les contrôles dont l'identifiant correspond (syntaxe pytest -k)")
    parser.add_argument("-v", dest="verbose", action="store_true", help="une ligne par contrôle")
    parser.set_defaults(func=run)


def pytest_args(args: argparse.Namespace) -> list[str]:
    """The pytest command line equivalent to a `run` invocation."""
    import mssante_conformance.suites as suites

    argv = [str(Path(suites.__file__).parent), "-p", "no:cacheprovider",
            "--rootdir", str(Path(suites.__file__).parent), "-c", str(Path(suites.__file__).parent / "pytest.ini")]
    # The harness package is imported before pytest starts, so pytest cannot rewrite its
    # asserts; that is expected and not the user's concern.
    argv += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    argv.append("-v" if args.verbose else "-q")
    if args.pytest_k:
        argv += ["-k", args.pytest_k]
    return argv + to_argv(flag_values_from(args))


def _reap_stale_references() -> None:
    """Stop the reference daemons a killed harness left behind (their owner is gone)."""
    from mssante_conformance.reference.processes import reap_stale

    for run_dir in reap_stale():
        print(f"mssante-conformance: opérateur de référence orphelin arrêté ({run_dir})")


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run(args: argparse.Namespace) -> int:
    import signal

    import pytest

    # SIGTERM (a console stopping a run, a CI timeout) must tear down like Ctrl-C does: the
    # embedded reference's Dovecot and Postfix run in their own sessions and would outlive us.
    signal.signal(signal.SIGTERM, _interrupt)
    _reap_stale_references()
    probe = _VerdictProbe()
    code = pytest.main(pytest_args(args), plugins=[probe])
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE
    if code == pytest.ExitCode.INTERRUPTED and probe.verdict is None:
        return EXIT_INTERRUPTED
    if probe.verdict is None:
        print("mssante-conformance: aucun verdict : aucun contrôle n'a été mené")
        return EXIT_NO_VERDICT
    return EXIT_BY_VERDICT.get(probe.verdict, EXIT_NO_VERDICT)
