"""HTML rendering of a report dict, from the Jinja2 templates shipped in the package."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from itertools import groupby

import jinja2

from mssante_conformance.report import render_labels as L
from mssante_conformance.report import verdicts

MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre")


def datetime_fr(value: str) -> str:
    """``2026-11-03T09:12:00Z`` → ``3 novembre 2026 à 09:12 UTC`` (the raw text if unparsable)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value) or "—"
    zone = " UTC" if moment.utcoffset() is not None and not moment.utcoffset() else ""
    return f"{moment.day} {MONTHS[moment.month - 1]} {moment.year} à {moment:%H:%M}{zone}"


def elapsed(t) -> str:
    return f"{t:8.3f}s" if isinstance(t, (int, float)) and not isinstance(t, bool) else " " * 9


TRANSCRIPT_KEYS = ("endpoint", "title", "tls", "lines", "entries")
DIRECTIONS = {"C": "C", "S": "S", "note": "note", "*": "note", "TLS": "tls"}


def transcript_view(transcript) -> dict:
    """One transcript in a single shape for the template, whatever shape the probe used.

    Accepted: ``{"endpoint"|"title", "tls": {..}|[{..}], "lines"|"entries": [...]}`` where a
    line is ``{"t", "dir", "line"|"text"}`` or a plain string (``"C: …"``).
    """
    if not isinstance(transcript, Mapping):
        return {"heading": "", "tls": [], "lines": [], "rest": {}, "raw": transcript}
    heading = " — ".join(str(transcript[k]) for k in ("endpoint", "title") if transcript.get(k))
    tls = transcript.get("tls") or []
    tls = [tls] if isinstance(tls, Mapping) else [t for t in tls if t] if isinstance(tls, list) else [tls]
    lines = []
    raw_lines = transcript.get("lines") or transcript.get("entries") or []
    for line in raw_lines if isinstance(raw_lines, list) else [raw_lines]:
        if isinstance(line, Mapping):
            text = line.get("line", line.get("text", ""))
            direction = str(line.get("dir", ""))
            lines.append({"t": line.get("t"), "dir": DIRECTIONS.get(direction, "note"),
                          "label": direction, "text": text if isinstance(text, str) else str(text)})
        else:
            lines.append({"t": None, "dir": "raw", "label": "", "text": str(line)})
    rest = {k: v for k, v in transcript.items() if k not in TRANSCRIPT_KEYS}
    return {"heading": heading, "tls": tls, "lines": lines, "rest": rest, "raw": None}


def columns(rows) -> list[str]:
    """Union of the keys of a list of dicts, in first-seen order ([] if any row is not a dict)."""
    if not isinstance(rows, list) or not all(isinstance(r, Mapping) for r in rows):
        return []
    seen: dict[str, None] = {}
    for row in rows:
        seen.update(dict.fromkeys(map(str, row)))
    return list(seen)


# Target facts shown in their own table, not in the one-line summary.
DETAILED_TARGET_KEYS = ("trust_anchors",)


def targets_text(targets) -> str:
    if isinstance(targets, Mapping):
        return ", ".join(f"{k} {v}" for k, v in targets.items()
                         if k not in DETAILED_TARGET_KEYS) or "—"
    if isinstance(targets, list):
        return ", ".join(map(str, targets)) or "—"
    return str(targets or "—")


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("mssante_conformance.report", "templates"),
        autoescape=True,
        undefined=jinja2.ChainableUndefined,  # a missing optional member renders empty
        trim_blocks=False,
        lstrip_blocks=False,
    )
    env.filters.update(
        datetime_fr=datetime_fr,
        elapsed=elapsed,
        columns=columns,
        compact_json=lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True),
        pretty_json=lambda v: json.dumps(v, ensure_ascii=False, sort_keys=True, indent=2),
        outcome=lambda v: L.OUTCOME_LABELS.get(v, v),
        severity=lambda v: L.SEVERITY_LABELS.get(v, v),
        req_status=lambda v: L.REQUIREMENT_STATUS_LABELS.get(v, v),
        family=lambda v: L.FAMILY_LABELS.get(v, v),
        direction=lambda v: L.DIRECTION_LABELS.get(v, f"{v}:" if v else ""),
        transcript_view=transcript_view,
        bouchon_mode=lambda v: {"embedded": "intégré", "remote": "distant"}.get(v, v),
        deadline_status=lambda v: L.DEADLINE_STATUS_LABELS.get(v, v),
    )
    env.filters["dictwithout"] = lambda d, *keys: {k: v for k, v in d.items() if k not in keys}
    return env


def render_html(report: Mapping, *, pdf: bool = False) -> str:
    """The self-contained French HTML of ``report`` (a dict read from report.json)."""
    checks = report["checks"]
    families = [(fam, list(group)) for fam, group in groupby(checks, key=lambda c: c["family"])]
    return environment().get_template("report.html.j2").render(
        r=report,
        pdf=pdf,
        families=families,
        verdict_label=L.VERDICT_LABELS[report["verdict"]],
        verdict_explanation=L.VERDICT_EXPLANATIONS[report["verdict"]],
        tls_label=L.TLS_TRANSITION_LABELS[report["tls_transition"]],
        targets_text=targets_text(report["targets"]),
        deadlines_heading=L.deadlines_heading(report["deadlines"]),
        deadlines_note=L.deadlines_note(report["deadlines"]),
        missing_parameters=verdicts.missing_parameters(report["not_run_in_scope"]),
        unrun_ids={c["id"] for c in report["not_run_in_scope"]},
    )
