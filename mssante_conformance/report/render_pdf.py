"""PDF rendering: the same HTML through WeasyPrint, with report.json attached inside."""

from __future__ import annotations

import io
from collections.abc import Mapping

from mssante_conformance.report.integrity import canonical_json
from mssante_conformance.report.model import report_json_bytes
from mssante_conformance.report.render_html import render_html

ATTACHMENT_NAME = "report.json"


def _no_fetch(url, *args, **kwargs):
    # The report is self-contained: it never fetches anything (and never talks to the network).
    raise ValueError(f"ressource externe refusée : {url}")


def render_pdf(report: Mapping) -> bytes:
    """The PDF of ``report`` with ``report.json`` attached (for the Ségur file)."""
    import weasyprint  # heavy import: only when a PDF is asked for

    canonical_json(report)  # refuse NaN/unserialisable values before doing the work
    attachment = weasyprint.Attachment(
        file_obj=io.BytesIO(report_json_bytes(report)),
        name=ATTACHMENT_NAME,
        description="Rapport de conformité MSSanté (source de vérité, JSON)",
        relationship="Source",
    )
    html = weasyprint.HTML(string=render_html(report, pdf=True), url_fetcher=_no_fetch)
    return html.write_pdf(attachments=[attachment])
