"""Read a ``report.json`` back, with errors that name what is wrong (in French).

Two kinds of failure, because the CLI answers them differently:

* :class:`ReportUnreadable` — the input is not a report at all (missing file, not JSON,
  JSON of another tool): a usage mistake, exit 2.
* :class:`ReportInvalid` — it claims to be a mssante-conformance report but breaks the schema:
  it was truncated or edited, exit 1.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsonschema

from mssante_conformance.report.model import FORMAT

SCHEMA_FILE = "report.schema.json"
MAX_REPORT_BYTES = 200 * 1024 * 1024  # a report is megabytes at most; refuse to swallow a disk


class ReportUnreadable(ValueError):
    """The file is not a mssante-conformance report (usage mistake)."""


class ReportInvalid(ValueError):
    """The file is a report that breaks its schema (damaged or edited)."""


@lru_cache(maxsize=1)
def report_schema() -> dict:
    """The JSON Schema (draft 2020-12) of ``report.json``, shipped in the package."""
    text = resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def schema_errors(report) -> list[str]:
    """Schema violations, each as ``"<path>: <message>"``, most specific first, at most 10."""
    validator = jsonschema.Draft202012Validator(report_schema())
    errors = sorted(validator.iter_errors(report), key=lambda e: (list(e.absolute_path), e.message))
    return [f"{_path(e.absolute_path)} : {e.message}" for e in errors[:10]]


def _path(parts) -> str:
    path = "$"
    for part in parts:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def parse_report(text: str, name: str = "rapport") -> dict:
    try:
        report = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ReportUnreadable(
            f"{name} n'est pas du JSON valide (ligne {exc.lineno}, colonne {exc.colno} : {exc.msg})"
        ) from None
    if not isinstance(report, dict) or "format" not in report:
        raise ReportUnreadable(
            f"{name} n'est pas un rapport mssante-conformance (membre « format » absent)"
        )
    if report["format"] != FORMAT:
        raise ReportUnreadable(
            f"{name} n'est pas un rapport mssante-conformance au format {FORMAT} "
            f"(format : {str(report['format'])[:80]!r})"
        )
    errors = schema_errors(report)
    if errors:
        more = f" (et {len(errors) - 1} autre(s))" if len(errors) > 1 else ""
        raise ReportInvalid(f"{name} ne respecte pas le schéma du rapport : {errors[0]}{more}")
    return report


def load_report(path: str | Path) -> dict:
    """Read, parse and schema-validate ``path``; raises ReportUnreadable or ReportInvalid."""
    path = Path(path)
    try:
        if path.is_dir():
            raise ReportUnreadable(f"{path} est un répertoire, pas un fichier de rapport")
        size = path.stat().st_size
        if size > MAX_REPORT_BYTES:
            raise ReportUnreadable(f"{path} est trop gros pour un rapport ({size} octets)")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ReportUnreadable(f"fichier introuvable : {path}") from None
    except OSError as exc:
        raise ReportUnreadable(f"impossible de lire {path} : {exc.strerror}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportUnreadable(
            f"{path} n'est pas du texte UTF-8 (octet {exc.start}) : ce n'est pas un rapport JSON"
        ) from None
    return parse_report(text, str(path))
