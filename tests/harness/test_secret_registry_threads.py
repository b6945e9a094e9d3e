"""The run's secret registry is shared by the threads of ``--concurrency``: one thread mints
(registers) a token while another opens a transcript (iterates) or redacts. A registry that
iterated its live dict raised "dictionary changed size during iteration" in a check (seen in
the concurrency e2e as a harness fault on LPS-SMTP-11)."""

from __future__ import annotations

import sys
import threading

from mssante_conformance.secret_registry import SecretRegistry


def test_registering_while_other_threads_read_never_breaks_them():
    registry = SecretRegistry()
    for i in range(2000):
        registry.add(f"secret-initial-{i:06d}")
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer():
        i = 0
        while not stop.is_set():
            registry.add(f"secret-added-{i:08d}", f"derived-form-{i:08d}")
            i += 1

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(300):
            try:
                list(registry)
                registry.redact("nothing secret here")
                registry.leaks("nothing secret here")
            except RuntimeError as exc:
                errors.append(exc)
                break
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(old)
    assert errors == []
    assert "secret-added-00000000" in set(registry)
