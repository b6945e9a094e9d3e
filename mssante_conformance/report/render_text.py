"""Plain renderings of a report: Markdown (for a ticket or a mail) and JUnit XML (for CI)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from mssante_conformance.report import render_labels as L


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def render_markdown(report: Mapping) -> str:
    r = report
    out = [
        "# Rapport de conformité MSSanté",
        "",
        f"**Verdict : {L.VERDICT_LABELS[r['verdict']]}** — {r['verdict_reason']}.",
        "",
        f"Périmètre du verdict : {r['scope']['label']} (profil {r['profile']}).",
        "",
    ]
    if not r["complete"]:
        out += [f"Passage incomplet : {r['counts']['outcomes']['error']} contrôle(s) en erreur, "
                f"{len(r['not_run_in_scope'])} contrôle(s) du périmètre non mené(s).", ""]
    f = r["counts"]["failures_by_severity"]
    o = r["counts"]["outcomes"]
    out += [
        f"Non-conformités : {f['bloquante']} bloquante(s), {f['majeure']} majeure(s), "
        f"{f['mineure']} mineure(s). Contrôles : {o['passed']} réussi(s), {o['error']} en erreur, "
        f"{o['not_applicable']} non applicable(s), {len(r['not_run'])} non exécuté(s).",
        "",
    ]
    if r["not_run_in_scope"]:
        out += ["## Contrôles du périmètre non menés", "", "| Contrôle | Sévérité | Pour le mener |",
                "|---|---|---|"]
        for c in r["not_run_in_scope"]:
            how = ", ".join(m["parameter"] for m in c["missing"]) or c["reason"]
            out.append(f"| {c['id']} | {L.SEVERITY_LABELS[c['severity']]} | {_cell(how)} |")
        out.append("")
    if r["deadlines"]:
        out += [f"## {L.deadlines_heading(r['deadlines'])}", ""]
        out += [f"- {d['step']} : {d['duration']} — {d['description']} "
                f"({L.DEADLINE_STATUS_LABELS.get(d['status'], d['status'])})" for d in r["deadlines"]]
        out += ["", L.deadlines_note(r["deadlines"]), ""]
    out += ["## Bilan par exigence", "", "| Exigence | Statut | Réussis | Échecs / erreurs |",
            "|---|---|---|---|"]
    for q in r["requirements"]:
        out.append(
            f"| {_cell(q['id'])} | {L.REQUIREMENT_STATUS_LABELS[q['status']]} | "
            f"{q['passed']}/{len(q['checks'])} | {_cell(', '.join(q['failed'] + q['errors']) or '—')} |"
        )
    out += ["", "## Contrôles", "", "| Contrôle | Résultat | Sévérité | Motif |", "|---|---|---|---|"]
    for c in r["checks"]:
        out.append(
            f"| {c['id']} | {L.OUTCOME_LABELS[c['outcome']]} | {L.SEVERITY_LABELS[c['severity']]} | "
            f"{_cell(c['reason']) or '—'} |"
        )
    out += ["", "## Exigences déclaratives (engagement de l'opérateur)", ""]
    out += [f"- [ ] {d['id']} — {d['title']}" for d in r["declarations"]]
    out += [
        "", "## Reproductibilité", "",
        f"- Commande : `{r['command_line']}`",
        f"- Harnais : {r['harness_version']} ; catalogue : {r['catalog_version']}",
        f"- Périmètre : {r['scope']['id']} ({', '.join(r['scope']['families'])}) ; profil : {r['profile']}",
        f"- Bouchon PSC : {r['bouchon'].get('issuer', '—') if isinstance(r['bouchon'], Mapping) else '—'}",
        f"- Début : {r['started_at']} ; fin : {r['finished_at']}",
        f"- Empreinte : `{r['integrity']['digest']}`",
        "",
    ]
    return "\n".join(out)


def render_junit(report: Mapping) -> str:
    """JUnit XML: one testcase per check; failed → <failure>, error → <error>, others skipped."""
    checks = report["checks"]
    o = report["counts"]["outcomes"]
    suite = ET.Element(
        "testsuite",
        name="mssante-conformance",
        tests=str(len(checks) + len(report["not_run"])),
        failures=str(o["failed"]),
        errors=str(o["error"]),
        skipped=str(len(checks) - o["failed"] - o["error"] - o["passed"] + len(report["not_run"])),
        time=f"{sum(c['duration_s'] for c in checks):.3f}",
        timestamp=report["started_at"],
    )
    props = ET.SubElement(suite, "properties")
    for name in ("verdict", "catalog_version", "harness_version", "tls_transition"):
        ET.SubElement(props, "property", name=name, value=str(report[name]))
    ET.SubElement(props, "property", name="scope", value=str(report["scope"]["id"]))
    ET.SubElement(props, "property", name="digest", value=report["integrity"]["digest"])
    for c in checks:
        case = ET.SubElement(suite, "testcase", classname=c["family"], name=c["id"],
                             time=f"{c['duration_s']:.3f}")
        message = f"[{c['severity']}] {c['reason']}".strip()
        if c["outcome"] == "failed":
            ET.SubElement(case, "failure", message=message, type=c["severity"]).text = c["title"]
        elif c["outcome"] == "error":
            ET.SubElement(case, "error", message=c["reason"]).text = c["title"]
        elif c["outcome"] != "passed":
            ET.SubElement(case, "skipped", message=L.OUTCOME_LABELS[c["outcome"]])
    for c in report["not_run"]:
        case = ET.SubElement(suite, "testcase", classname=c["family"], name=c["id"], time="0")
        ET.SubElement(case, "skipped", message="non exécuté")
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"
