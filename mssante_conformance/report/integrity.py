"""Evidence integrity: a SHA-256 digest over the canonical JSON of the report.

Canonical form (RFC 8785-like): object keys sorted, no whitespace, UTF-8 without escaping
non-ASCII, no NaN/Infinity. It differs from RFC 8785 only in number formatting (Python's
shortest round-trip ``repr`` of floats, e.g. ``1e-05`` where RFC 8785 writes ``0.00001``);
since the digest is always recomputed by this same code, that is enough.

The digest covers every member of the report except ``integrity`` itself: checks, evidence
(transcripts), parameters, command, versions, verdict. What it proves, honestly: that the
file was not changed *by accident or by a naive edit* since the run. Whoever edits the file
can also recompute the digest; the digest is printed in the HTML/PDF and can be written in
the Ségur file, so it binds the JSON to that record. Authorship is proved by re-running the
command (see docs/report.md), not by this digest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

ALGORITHM = "sha256"
INTEGRITY_KEY = "integrity"


def canonical_json(value) -> bytes:
    """The canonical UTF-8 bytes of a JSON value (sorted keys, no whitespace)."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def digest(report: Mapping) -> str:
    """``sha256:<64 hex>`` of the report's canonical JSON without its ``integrity`` member."""
    covered = {k: v for k, v in report.items() if k != INTEGRITY_KEY}
    return f"{ALGORITHM}:" + hashlib.sha256(canonical_json(covered)).hexdigest()


def seal(report: dict) -> dict:
    """Set ``report["integrity"]`` to the digest of everything else; returns the report."""
    report[INTEGRITY_KEY] = {
        "algorithm": ALGORITHM,
        "canonicalization": "json-sorted-keys-compact-utf8",
        "covers": "tout le rapport sauf le membre « integrity »",
        "digest": digest(report),
    }
    return report


def digest_matches(report: Mapping) -> tuple[bool, str, str]:
    """(matches, stored digest, recomputed digest)."""
    stored = (report.get(INTEGRITY_KEY) or {}).get("digest", "")
    actual = digest(report)
    return stored == actual, stored, actual
