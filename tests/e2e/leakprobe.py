"""A pytest plugin loaded (``-p tests.e2e.leakprobe``) into a conformance run to prove that no
token minted during the run is written anywhere: report files, progress, the bouchon's store,
the reference operator's logs (Dovecot, Postfix, token adapter), the sink, and the run's own
standard output. It scans in-process — the raw tokens never leave the run — and writes only
fingerprints and counts to ``$LEAKPROBE_RESULT``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from mssante_conformance.plugin import SECRETS, TARGET_KEY

_scanned: dict[str, int] = {}
_leaks: dict[str, list[str]] = {}


def _scan(config, paths) -> None:
    registry = config.stash[SECRETS]
    for path in paths:
        path = Path(path)
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()] if path.is_dir() else []
        for f in files:
            try:
                text = f.read_bytes().decode("utf-8", "replace")
            except OSError:
                continue
            _scanned[str(f)] = len(text)
            found = registry.leaks(text)
            if found:
                _leaks[str(f)] = found


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    if nextitem is None:  # last check: the target is still up, its files still there
        target = item.config.stash.get(TARGET_KEY, None)
        if target is not None:
            paths = [target.workdir]
            if target.reference is not None:
                paths += list(target.reference.log_paths().values())
            _scan(item.config, paths)
    return (yield)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    settings_dir = config.option.mssante_report_dir
    _scan(config, [settings_dir])
    sys.stdout.flush()
    sys.stderr.flush()
    _scan(config, [p for p in (os.environ.get("LEAKPROBE_STDOUT"), os.environ.get("LEAKPROBE_STDERR")) if p])
    Path(os.environ["LEAKPROBE_RESULT"]).write_text(json.dumps({
        "secrets": len(config.stash[SECRETS]),
        "scanned": _scanned,
        "leaks": _leaks,
    }))
