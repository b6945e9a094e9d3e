"""Compare two reports: did two runs reach the same verdict and the same outcomes?"""

from __future__ import annotations

from collections.abc import Mapping

from mssante_conformance.report.render_labels import OUTCOME_LABELS, VERDICT_LABELS


def compare(a: Mapping, b: Mapping) -> list[dict]:
    """Differences between two reports in verdict and per-check outcomes (empty = same).

    Each difference is ``{"what": "verdict"|"outcome"|"catalog_version"|"tls_transition"|"scope",
    "id": check id or None, "a": ..., "b": ..., "text": French sentence}``. Checks run in only
    one of the reports show as outcome ``None`` on the other side. Reasons, durations and
    evidence are not compared: they legitimately vary between runs.
    """
    diffs = []
    for key, label in (("catalog_version", "version du catalogue"),
                       ("tls_transition", "transition TLS")):
        if a.get(key) != b.get(key):
            diffs.append({"what": key, "id": None, "a": a.get(key), "b": b.get(key),
                          "text": f"{label} différente : {a.get(key)} / {b.get(key)}"})
    scope_a, scope_b = (_scope_id(r) for r in (a, b))
    if scope_a != scope_b:
        diffs.append({"what": "scope", "id": None, "a": scope_a, "b": scope_b,
                      "text": f"périmètre différent : {scope_a} / {scope_b}"})
    if a.get("verdict") != b.get("verdict"):
        diffs.append({
            "what": "verdict", "id": None, "a": a.get("verdict"), "b": b.get("verdict"),
            "text": f"verdict différent : {VERDICT_LABELS.get(a.get('verdict'), a.get('verdict'))}"
                    f" / {VERDICT_LABELS.get(b.get('verdict'), b.get('verdict'))}",
        })
    out_a = {c["id"]: c["outcome"] for c in a.get("checks", [])}
    out_b = {c["id"]: c["outcome"] for c in b.get("checks", [])}
    for cid in sorted(out_a.keys() | out_b.keys()):
        oa, ob = out_a.get(cid), out_b.get(cid)
        if oa != ob:
            diffs.append({
                "what": "outcome", "id": cid, "a": oa, "b": ob,
                "text": f"{cid} : {OUTCOME_LABELS.get(oa, 'non exécuté')} / "
                        f"{OUTCOME_LABELS.get(ob, 'non exécuté')}",
            })
    return diffs


def _scope_id(report: Mapping):
    scope = report.get("scope")
    return scope.get("id") if isinstance(scope, Mapping) else scope
