"""concurrency.py without a server: which exchanges a prefetch plans, and how a check takes them."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from mssante_conformance import concurrency
from mssante_conformance.concurrency import CONTROL_LABEL, TrialKey, TrialPrefetcher, TrialResult


class Marker(SimpleNamespace):
    pass


class Item:
    def __init__(self, check_id, protocol, variant=None, **how):
        self.markers = {"check": Marker(args=(check_id,), kwargs={}),
                        "token_trial": Marker(args=(protocol,), kwargs=how)}
        if variant:
            self.callspec = SimpleNamespace(params={"variant": variant})

    def get_closest_marker(self, name):
        return self.markers.get(name)


def endpoint(url):
    return SimpleNamespace(url=url)


@pytest.fixture
def target(monkeypatch):
    import mssante_conformance.conformance as conformance

    monkeypatch.setattr(conformance, "missing_needs", lambda check, target: [])
    return SimpleNamespace(imap=[endpoint("imap://a:143"), endpoint("imaps://a:993")],
                           smtp=[endpoint("smtp://a:587")], bal="jean@op.test", idnat="899700366240",
                           other_idnat="899700771191", profile="full")


def test_plan_is_control_then_token_per_endpoint_as_a_check_would_go(target):
    planned = TrialPrefetcher(target, 8).plan(
        [Item("LPS-IMAP-06", "imap", "expired"), Item("LPS-SMTP-12", "smtp", other_professional=True)])
    assert [key for key, _, _ in planned] == [
        TrialKey("imap", "imap://a:143", "valid", None, CONTROL_LABEL),
        TrialKey("imap", "imap://a:143", "expired", None, "jeton expired"),
        TrialKey("imap", "imaps://a:993", "valid", None, CONTROL_LABEL),
        TrialKey("imap", "imaps://a:993", "expired", None, "jeton expired"),
        TrialKey("smtp", "smtp://a:587", "valid", None, CONTROL_LABEL),
        TrialKey("smtp", "smtp://a:587", "valid", "899700771191", "jeton valid"),
    ]
    assert {check for _, _, check in planned} == {"LPS-IMAP-06", "LPS-SMTP-12"}


def test_monitoring_profile_plans_no_control(target):
    target.profile = "monitoring"
    planned = TrialPrefetcher(target, 8).plan([Item("LPS-IMAP-06", "imap", "expired")])
    assert all(key.variant == "expired" for key, _, _ in planned) and len(planned) == 2


def test_a_check_takes_its_results_in_order_then_goes_live(target, monkeypatch):
    prefetcher = TrialPrefetcher(target, 8)
    key = TrialKey("imap", "imap://a:143", "valid", None, CONTROL_LABEL)
    first, second = TrialResult(attempt="first"), TrialResult(attempt="second")
    prefetcher._results[key] = __import__("collections").deque([first, second])
    monkeypatch.setattr(concurrency, "_ACTIVE", prefetcher)
    take = lambda t: concurrency.take(t, "imap", target.imap[0], "valid", None, CONTROL_LABEL)
    assert take(object()) is None  # another run's target
    assert take(target) is first and take(target) is second and take(target) is None


def test_replay_adopts_transcripts_and_raises_the_exchange_error():
    adopted = []
    evidence = SimpleNamespace(adopt_transcript=adopted.append)
    failed = TrialResult(minted="m", error=TimeoutError("sans réponse"), transcripts=["t1"])
    with pytest.raises(TimeoutError):
        concurrency.replay(failed, evidence)
    assert adopted == ["t1"]
    assert concurrency.replay(TrialResult(minted="m", attempt="a", transcripts=["t2"]), evidence) == ("m", "a")
    assert adopted == ["t1", "t2"]


def test_concurrency_option_defaults_to_8_is_bounded_and_reported():
    from mssante_conformance.settings import SettingsError, build_settings, to_argv

    assert build_settings({}).concurrency == 8
    chosen = build_settings({"concurrency": "2"})
    assert chosen.concurrency == 2 and chosen.public_parameters()["concurrency"] == 2
    assert to_argv(chosen) == ["--concurrency", "2"]
    for bad in ("0", "65", "x", "1.5"):
        with pytest.raises(SettingsError):
            build_settings({"concurrency": bad})
