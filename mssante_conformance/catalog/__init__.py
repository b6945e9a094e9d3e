"""The Ref#1 v1.5 catalog: requirements, checks, declarative items, loaded from a data file.

The catalog is the single source of check ids, French titles, requirement references,
sources and severities. Code refers to a check by id only. ``load_catalog()`` validates
the file and fails with :class:`CatalogError` naming the faulty entry.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from mssante_conformance.outcomes import Severity

DEFAULT_CATALOG = "ref1-v1.5.toml"


@dataclass(frozen=True)
class Family:
    """A family of checks: the prefix of their ids, the part of Ref#1 it belongs to, its French
    title, and the kind of API LPS endpoint its checks need besides their catalog ``needs``
    (``lps``: any of them; None: none), and whether its checks wait for a message to travel
    (they get the delivery wait on top of their deadline)."""

    id: str
    interface: str  # "api_lps" | "operator_interface"
    title: str
    endpoint: str | None
    waits_for_delivery: bool = False


FAMILIES: dict[str, Family] = {f.id: f for f in (
    Family("LPS-IMAP", "api_lps", "API LPS — IMAP", "imap"),
    Family("LPS-SMTP", "api_lps", "API LPS — SMTP (soumission)", "smtp"),
    Family("LPS-TLS", "api_lps", "API LPS — TLS", "lps"),
    Family("LPS-CERT", "api_lps", "API LPS — AUTH_CLI (certificat)", "imap"),
    Family("OPI-IN", "operator_interface", "Interface opérateurs — entrant", None,
           waits_for_delivery=True),
    Family("OPI-OUT", "operator_interface", "Interface opérateurs — sortant", "smtp",
           waits_for_delivery=True),
)}
CHECK_ID = re.compile(rf"^({'|'.join(FAMILIES)})-\d{{2}}$")
KNOWN_NEEDS = frozenset(
    {"bal", "idnat", "other_idnat", "bouchon_trusted", "client_cert", "mx", "sink", "trust_anchors",
     "expired_client"}
)
# What a rejection check may count as a refusal (mssante_conformance.mail.refusal judges).
REFUSAL_KINDS = frozenset({"smtp_5xx", "imap_no_bad", "tls_handshake", "smtp_4xx_tls_policy"})
SEVERITY_TLS_TRANSITION = "tls_transition"
TLS_TRANSITIONS = ("during", "after")


class CatalogError(ValueError):
    """The catalog file is malformed; the message names the entry and the field."""


@dataclass(frozen=True)
class Requirement:
    id: str
    title: str
    source: str


@dataclass(frozen=True)
class Check:
    """One automated check. ``severity`` is a Severity value or ``"tls_transition"``."""

    id: str
    title: str
    requirements: tuple[str, ...]
    severity: str
    needs: frozenset[str]
    monitoring: bool
    refusal: tuple[str, ...] = ()  # rejection checks: the answers that count as a refusal

    @property
    def family(self) -> str:
        return self.id.rsplit("-", 1)[0]

    def severity_for(self, tls_transition: str = "during") -> Severity:
        """The non-conformity level if this check fails, given the TLS transition setting."""
        if self.severity == SEVERITY_TLS_TRANSITION:
            if tls_transition not in TLS_TRANSITIONS:
                raise ValueError(f"tls_transition must be one of {TLS_TRANSITIONS}")
            return Severity.MINEURE if tls_transition == "during" else Severity.BLOQUANTE
        return Severity(self.severity)


@dataclass(frozen=True)
class Declaration:
    """A requirement that cannot be tested black-box: the operator commits to it in writing."""

    id: str
    title: str
    source: str


@dataclass(frozen=True)
class Deadline:
    """A contract deadline the report states when a run is non-conforme (``[[deadlines]]``).

    ``status`` is ``"proposition"`` while the values are the ones submitted to consultation,
    ``"definitif"`` once the final contract sets them.
    """

    step: str
    duration: str
    description: str
    status: str
    source: str


DEADLINE_STATUSES = ("proposition", "definitif")


@dataclass(frozen=True)
class Catalog:
    version: str
    referential: str
    requirements: dict[str, Requirement]
    checks: dict[str, Check]
    declarations: tuple[Declaration, ...]
    deadlines: tuple[Deadline, ...] = ()

    def check(self, check_id: str) -> Check:
        try:
            return self.checks[check_id]
        except KeyError:
            raise KeyError(f"check {check_id!r} is not in catalog {self.version}") from None

    def checks_of(self, prefix: str) -> list[Check]:
        return [c for c in self.checks.values() if c.id.startswith(prefix)]


def _require(entry: dict, field: str, kind: type, where: str):
    if field not in entry:
        raise CatalogError(f"{where}: missing field {field!r}")
    value = entry[field]
    if not isinstance(value, kind):
        raise CatalogError(f"{where}: field {field!r} must be {kind.__name__}")
    return value


def parse_catalog(data: dict) -> Catalog:
    version = _require(data, "version", str, "catalog")
    referential = _require(data, "referential", str, "catalog")
    requirements: dict[str, Requirement] = {}
    for i, entry in enumerate(data.get("requirements", [])):
        where = f"requirements[{i}]"
        req = Requirement(
            _require(entry, "id", str, where),
            _require(entry, "title", str, where),
            _require(entry, "source", str, where),
        )
        if req.id in requirements:
            raise CatalogError(f"{where}: duplicate requirement id {req.id!r}")
        requirements[req.id] = req
    checks: dict[str, Check] = {}
    allowed_severities = {s.value for s in Severity} | {SEVERITY_TLS_TRANSITION}
    for i, entry in enumerate(data.get("checks", [])):
        where = f"checks[{i}]"
        check_id = _require(entry, "id", str, where)
        where = f"check {check_id}"
        if not CHECK_ID.match(check_id):
            raise CatalogError(f"{where}: id does not match {CHECK_ID.pattern}")
        if check_id in checks:
            raise CatalogError(f"{where}: duplicate id")
        reqs = tuple(_require(entry, "requirements", list, where))
        for r in reqs:
            if r not in requirements:
                raise CatalogError(f"{where}: unknown requirement {r!r}")
        if not reqs:
            raise CatalogError(f"{where}: evidences no requirement")
        severity = _require(entry, "severity", str, where)
        if severity not in allowed_severities:
            raise CatalogError(f"{where}: severity {severity!r} not in {sorted(allowed_severities)}")
        needs = frozenset(_require(entry, "needs", list, where))
        if unknown := needs - KNOWN_NEEDS:
            raise CatalogError(f"{where}: unknown needs {sorted(unknown)}")
        refusal = tuple(entry.get("refusal", ()))
        if not isinstance(entry.get("refusal", []), list) or not all(isinstance(k, str) for k in refusal):
            raise CatalogError(f"{where}: field 'refusal' must be a list of strings")
        if "refusal" in entry and not refusal:
            raise CatalogError(f"{where}: field 'refusal' is empty (omit it for a check that is no rejection)")
        if unknown := set(refusal) - REFUSAL_KINDS:
            raise CatalogError(f"{where}: unknown refusal kinds {sorted(unknown)} (known: {sorted(REFUSAL_KINDS)})")
        checks[check_id] = Check(
            id=check_id,
            title=_require(entry, "title", str, where),
            requirements=reqs,
            severity=severity,
            needs=needs,
            monitoring=_require(entry, "monitoring", bool, where),
            refusal=refusal,
        )
    declarations = []
    for i, entry in enumerate(data.get("declarations", [])):
        where = f"declarations[{i}]"
        declarations.append(
            Declaration(
                _require(entry, "id", str, where),
                _require(entry, "title", str, where),
                _require(entry, "source", str, where),
            )
        )
    if not checks:
        raise CatalogError("catalog: no checks")
    return Catalog(version, referential, requirements, checks, tuple(declarations),
                   _parse_deadlines(data.get("deadlines", [])))


def _parse_deadlines(entries) -> tuple[Deadline, ...]:
    if not isinstance(entries, list):
        raise CatalogError("deadlines: must be an array of tables ([[deadlines]])")
    deadlines: list[Deadline] = []
    for i, entry in enumerate(entries):
        where = f"deadlines[{i}]"
        values = {f: _require(entry, f, str, where)
                  for f in ("step", "duration", "description", "status", "source")}
        if not all(v.strip() for v in values.values()):
            raise CatalogError(f"{where}: empty field")
        if values["status"] not in DEADLINE_STATUSES:
            raise CatalogError(f"{where}: status {values['status']!r} not in {list(DEADLINE_STATUSES)}")
        if any(d.step == values["step"] for d in deadlines):
            raise CatalogError(f"{where}: duplicate step {values['step']!r}")
        deadlines.append(Deadline(**values))
    return tuple(deadlines)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Load and validate a catalog file (the packaged Ref#1 v1.5 catalog by default)."""
    if path is None:
        return _packaged_catalog()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise CatalogError(f"catalog {path} is not valid TOML: {exc}") from None
    return parse_catalog(data)


@lru_cache(maxsize=1)
def _packaged_catalog() -> Catalog:
    text = resources.files(__package__).joinpath(DEFAULT_CATALOG).read_text(encoding="utf-8")
    return parse_catalog(tomllib.loads(text))
