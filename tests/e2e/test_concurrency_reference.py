"""``--concurrency``: the token trials made ahead and at once give, check by check, the outcome
and the reason of a run made one exchange at a time (mssante_conformance/concurrency.py).

Against the conformant reference (every refusal) and ``no_holder_check`` (a token of another
professional accepted: two failures among the prefetched checks), each at concurrency 1 and 8.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.e2e.test_api_lps_reference import cli, finish

PROFILES = ("conformant", "no_holder_check")


@pytest.fixture(scope="module")
def paired_runs(tmp_path_factory):
    started = {}
    for profile in PROFILES:
        for concurrency in (1, 8):
            report_dir = tmp_path_factory.mktemp(f"{profile}-c{concurrency}")
            proc = subprocess.Popen(cli(report_dir, "--scope", "api_lps", "--reference-profile", profile,
                                        "--concurrency", str(concurrency)),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            started[profile, concurrency] = (proc, report_dir)
    return {key: finish(proc, report_dir) for key, (proc, report_dir) in started.items()}


def judged(report: dict) -> dict[str, tuple[str, str]]:
    """Outcome and reason of every check; each run has its own reference, on its own ports."""
    return {c["id"]: (c["outcome"], re.sub(r"(127\.0\.0\.\d+):\d+", r"\1:PORT", c.get("reason", "")))
            for c in report["checks"]}


@pytest.mark.parametrize("profile", PROFILES)
def test_concurrent_run_judges_every_check_as_the_sequential_one(paired_runs, profile):
    (code_1, _, sequential), (code_8, _, concurrent) = paired_runs[profile, 1], paired_runs[profile, 8]
    assert judged(concurrent) == judged(sequential)
    assert (code_8, concurrent["verdict"]) == (code_1, sequential["verdict"])
    assert sequential["parameters"]["concurrency"] == 1 and concurrent["parameters"]["concurrency"] == 8
    if profile == "no_holder_check":
        failed = {cid for cid, (outcome, _) in judged(concurrent).items() if outcome == "failed"}
        assert {"LPS-IMAP-13", "LPS-SMTP-12"} <= failed


def test_prefetched_trials_keep_their_evidence(paired_runs):
    _, _, report = paired_runs["conformant", 8]
    check = next(c for c in report["checks"] if c["id"] == "LPS-IMAP-06")
    evidence = check["evidence"]
    assert evidence.get("transcripts"), "the prefetched exchanges' transcripts are in the check's evidence"
    facts = evidence["facts"]
    trial = next(v for k, v in facts.items() if k.endswith("/ expired"))
    assert trial["variante"] == "expired" and trial["authentification"]
    assert any(call.get("endpoint") == "introspection" for call in trial["appels_au_bouchon"])
