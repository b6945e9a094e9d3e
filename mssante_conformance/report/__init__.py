"""The Ref#1 v1.5 conformance report: outcomes → verdicts → report.json → HTML, PDF, MD, JUnit.

``report.json`` (a plain dict built by :func:`build_report`) is the source of truth; every
other format is rendered from it alone, and ``verify`` recomputes its digest and verdict.
See docs/report.md.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from mssante_conformance.report.compare import compare
from mssante_conformance.report.integrity import digest
from mssante_conformance.report.load import (
    ReportInvalid,
    ReportUnreadable,
    load_report,
    parse_report,
    report_schema,
    schema_errors,
)
from mssante_conformance.report.model import FORMAT, build_report, report_json_bytes
from mssante_conformance.report.verify import Verification, verify_report

# format → file name written by write_report
FILE_NAMES = {
    "json": "report.json",
    "html": "report.html",
    "pdf": "report.pdf",
    "md": "report.md",
    "junit": "report.junit.xml",
}
FORMATS = tuple(FILE_NAMES)

__all__ = [
    "FORMAT", "FORMATS", "ReportInvalid", "ReportUnreadable", "Verification", "build_report",
    "compare", "digest", "load_report", "parse_report", "render", "report_schema",
    "schema_errors", "verify_report", "write_report",
]


def render(report: Mapping, fmt: str) -> bytes:
    """The bytes of ``report`` in format ``fmt`` (one of :data:`FORMATS`)."""
    if fmt == "json":
        return report_json_bytes(report)
    if fmt == "html":
        from mssante_conformance.report.render_html import render_html

        return render_html(report).encode("utf-8")
    if fmt == "pdf":
        from mssante_conformance.report.render_pdf import render_pdf

        return render_pdf(report)
    if fmt == "md":
        from mssante_conformance.report.render_text import render_markdown

        return render_markdown(report).encode("utf-8")
    if fmt == "junit":
        from mssante_conformance.report.render_text import render_junit

        return render_junit(report).encode("utf-8")
    raise ValueError(f"unknown report format {fmt!r}; expected one of {FORMATS}")


def write_file(path: Path, data: bytes) -> Path:
    """Write atomically (temporary file + rename): a reader never sees half a report."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_report(
    report: Mapping, report_dir: str | Path, formats: Iterable[str] = ("json", "html")
) -> dict[str, Path]:
    """Write ``report`` in each format under ``report_dir``; returns ``{format: path}``.

    JSON is written first, so that a failure of a later renderer (e.g. the PDF) never loses
    the source of truth.
    """
    formats = list(dict.fromkeys(formats))
    for fmt in formats:
        if fmt not in FILE_NAMES:
            raise ValueError(f"unknown report format {fmt!r}; expected one of {FORMATS}")
    formats.sort(key=lambda f: f != "json")
    report_dir = Path(report_dir)
    return {fmt: write_file(report_dir / FILE_NAMES[fmt], render(report, fmt)) for fmt in formats}
