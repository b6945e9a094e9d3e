"""The relying-party call log is shared by forked worker processes: every call of every process
is read back, in time order (psc/call_journal.py, the store's pooled connections)."""

from __future__ import annotations

import os

from mssante_conformance.psc.store import RelyingPartyCall, Store


def test_calls_of_forked_processes_are_merged_in_time_order(tmp_path):
    store = Store(tmp_path)
    store.record_call(RelyingPartyCall(1.0, "jwks", None, None, {"status": 200}))
    children = []
    for n in range(3):
        pid = os.fork()
        if pid == 0:  # a gunicorn worker would be this: same Store object, another process
            try:
                for i in range(50):
                    store.record_call(RelyingPartyCall(2.0 + i + n / 10, "introspection", f"c{n}",
                                                       "fp", {"status": 200, "active": True}))
                store.revoke_jti(f"jti-{n}", 2.0)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        assert os.waitpid(pid, 0)[1] == 0
    calls = store.calls()
    assert len(calls) == 151 and calls[0].endpoint == "jwks"
    assert [c.time for c in calls] == sorted(c.time for c in calls)
    assert len(store.calls(since=2.0, endpoint="introspection")) == 150
    assert all(store.is_jti_revoked(f"jti-{n}") for n in range(3))
    assert len(list((tmp_path / "calls").glob("*.jsonl"))) == 4
    store.close()
