"""Fixtures shared by the interface opérateurs checks (one delivery each way per run)."""

from __future__ import annotations

import contextlib
import sys

import pytest

from mssante_conformance.suites.operator_interface.exchanges import Inbound, Outbound


@pytest.fixture(scope="session")
def inbound(target) -> Inbound:
    """The harness as a trust-space MTA towards the operator's MX (acts lazily)."""
    return Inbound(target)


@pytest.fixture(scope="session")
def outbound(target, request) -> Outbound:
    """The outbound delivery shared by OPI-OUT-01…04 (acts lazily, once)."""
    return Outbound(target, announcer(request.config))


def announcer(config):
    """Writes lines to the user's terminal even while pytest captures output (the manual
    outbound mode must reach the operator under `mssante-conformance run` as under pytest)."""

    def announce(lines: list[str]) -> None:
        capture = config.pluginmanager.getplugin("capturemanager")
        reporter = config.pluginmanager.getplugin("terminalreporter")
        suspended = capture.global_and_fixture_disabled() if capture else contextlib.nullcontext()
        with suspended:
            if reporter is not None:
                reporter.write_line("")
                for line in lines:
                    reporter.write_line(line, bold=True)
                reporter.flush()  # the user may be reading a pipe (web console, `| tee`)
            else:
                print("\n".join(lines), file=sys.stderr, flush=True)

    return announce
