"""The trust-space whitelist ("liste blanche" of the MSSanté espace de confiance).

::

    from mssante_conformance.trust import TrustWhitelist
    wl = TrustWhitelist.load("listeblanche.xml")
    wl.domains                       # ("harnais.mssante.test", "operateur-reference.test", …)
    wl.contains("Operateur-Reference.TEST")     # True: case-insensitive, exact domain
    wl.contains_address("bal@operateur-reference.test")
    TrustWhitelist(["a.test", "b.test"]).write("listeblanche.xml")

Format. What is public (zehome/mssantelisteblanche, which reads the production list
``https://espacedeconfiance.mssante.fr/listeblanchemssante.xml``): elements in the namespace
``https://listeblanche.mssante.fr/schema``, domain names as the text of ``//Domaine/Nom``,
surrounded by whitespace at times, some of them non-ASCII. The root element's name and any
sibling of ``Nom`` are not public: we write ``<ListeBlanche>`` as the root (our inference) and,
when reading, accept any root and ignore every element but ``Domaine/Nom``. Elements without
the namespace are accepted too (hand-written test lists); a file with neither is an error.

Matching is exact on the domain (no subdomain inheritance): the trust space admits domains one
by one, and an operator's MX has to refuse ``x.domaine.fr`` if only ``domaine.fr`` is listed.
Comparison is case-insensitive and IDNA-aware (``hôpital.fr`` = ``xn--hpital-ixa.fr``).

Safety: parsed with defusedxml, which refuses any DTD, entity declaration or external
reference *after* decoding (a byte search for ``<!DOCTYPE`` misses a UTF-16 file): no entity is
ever expanded or fetched.
"""

from __future__ import annotations

import os
import tempfile
import xml.etree.ElementTree as ET

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

NAMESPACE = "https://listeblanche.mssante.fr/schema"
ROOT_ELEMENT = "ListeBlanche"  # inference: the public code never names the root
MAX_SIZE = 20 * 1024 * 1024


class WhitelistError(ValueError):
    """The whitelist cannot be read; the message is one French sentence for the user."""


def normalize_domain(domain: str) -> str:
    """Lower-case ASCII (IDNA) form of a domain, for comparison."""
    name = domain.strip().rstrip(".")
    try:
        return name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return name.casefold()


def _local(tag: str) -> tuple[str | None, str]:
    if tag.startswith("{"):
        ns, _, local = tag[1:].partition("}")
        return ns, local
    return None, tag


@dataclass(frozen=True)
class TrustWhitelist:
    """The domains of a trust space, in file order, without duplicates (as written)."""

    domains: tuple[str, ...]

    def __init__(self, domains: Iterable[str]) -> None:
        seen: set[str] = set()
        kept: list[str] = []
        for domain in domains:
            name = domain.strip().rstrip(".")
            if not name:
                continue
            key = normalize_domain(name)
            if key not in seen:
                seen.add(key)
                kept.append(name)
        object.__setattr__(self, "domains", tuple(kept))
        object.__setattr__(self, "_keys", frozenset(seen))

    def __len__(self) -> int:
        return len(self.domains)

    def contains(self, domain: str) -> bool:
        """``domain`` is listed (case-insensitive, exact; subdomains are not implied)."""
        return bool(domain and domain.strip()) and normalize_domain(domain) in self._keys  # type: ignore[attr-defined]

    __contains__ = contains

    def contains_address(self, address: str) -> bool:
        """The domain of the mail address ``local@domain`` is listed."""
        local, at, domain = address.strip().strip("<>").rpartition("@")
        return bool(at and local) and self.contains(domain)

    # -- reading -----------------------------------------------------------------------------
    @classmethod
    def parse(cls, data: bytes, *, source: str = "la liste blanche") -> "TrustWhitelist":
        if len(data) > MAX_SIZE:
            raise WhitelistError(f"{source} dépasse {MAX_SIZE // (1024 * 1024)} Mo")
        try:
            root = SafeET.fromstring(data, forbid_dtd=True)
        except DefusedXmlException:
            raise WhitelistError(f"{source} contient une déclaration DOCTYPE/ENTITY, refusée par sécurité") from None
        except ET.ParseError as exc:
            raise WhitelistError(f"{source} n'est pas un XML valide ({exc})") from None
        names: list[str] = []
        namespaces: set[str | None] = set()
        for element in root.iter():
            ns, local = _local(element.tag)
            if local != "Domaine" or ns not in (NAMESPACE, None):
                continue
            namespaces.add(ns)
            for child in element:
                child_ns, child_local = _local(child.tag)
                if child_local == "Nom" and child_ns == ns and child.text and child.text.strip():
                    names.append(child.text.strip())
        root_ns, _ = _local(root.tag)
        if not namespaces and root_ns != NAMESPACE:
            raise WhitelistError(f"{source} n'est pas une liste blanche MSSanté (espace de noms {NAMESPACE} attendu)")
        return cls(names)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrustWhitelist":
        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise WhitelistError(f"liste blanche illisible : {path} ({exc.strerror or exc})") from None
        return cls.parse(data, source=f"la liste blanche {path}")

    # -- writing -----------------------------------------------------------------------------
    def to_xml(self) -> bytes:
        ET.register_namespace("", NAMESPACE)
        root = ET.Element(f"{{{NAMESPACE}}}{ROOT_ELEMENT}")
        for domain in self.domains:
            entry = ET.SubElement(root, f"{{{NAMESPACE}}}Domaine")
            ET.SubElement(entry, f"{{{NAMESPACE}}}Nom").text = domain
        ET.indent(root)
        return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"

    def write(self, path: str | os.PathLike) -> Path:
        """Write atomically (temporary file + rename), UTF-8."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".listeblanche-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(self.to_xml())
                out.flush()
                os.fsync(out.fileno())
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path


# ------------------------------------------------------------------------------ trust anchors
class TrustAnchorError(ValueError):
    """The trust-anchor bundle cannot be used; one French sentence for the user."""


@dataclass(frozen=True)
class TrustAnchor:
    """One CA certificate of the bundle, as the report names it (public data only)."""

    subject: str
    sha256: str  # hex of the DER, lower-case
    not_after: str
    self_signed: bool

    def to_dict(self) -> dict:
        return {"subject": self.subject, "sha256": self.sha256, "not_after": self.not_after,
                "self_signed": self.self_signed}


@dataclass(frozen=True)
class TrustAnchors:
    """The IGC Santé trust anchors of a run (``--trust-anchors``, or the harness's test PKI for
    the embedded reference operator): the PEM bundle and what the report says about it.

    ``source``: ``"--trust-anchors"`` or ``"IGC de test du harnais (opérateur de référence)"``.
    """

    path: Path
    source: str
    anchors: tuple[TrustAnchor, ...]

    @classmethod
    def load(cls, path: str | os.PathLike, *, source: str = "--trust-anchors") -> "TrustAnchors":
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes

        path = Path(path)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise TrustAnchorError(f"ancres de confiance illisibles : {path} ({exc.strerror or exc})") from None
        try:
            certs = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise TrustAnchorError(f"{path} ne contient aucun certificat PEM lisible "
                                   "(attendu : les AC de l'IGC Santé au format PEM)") from None
        anchors = []
        for cert in certs:
            try:
                ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            except x509.ExtensionNotFound:
                ca = False
            if not ca:
                raise TrustAnchorError(f"{path} : {cert.subject.rfc4514_string()} n'est pas un certificat "
                                       "d'AC (basicConstraints CA absent) ; une ancre de confiance est une AC")
            anchors.append(TrustAnchor(cert.subject.rfc4514_string(), cert.fingerprint(hashes.SHA256()).hex(),
                                       cert.not_valid_after_utc.isoformat(), cert.subject == cert.issuer))
        return cls(path, source, tuple(anchors))

    def describe(self) -> dict:
        """JSON-ready, for the run metadata."""
        return {"source": self.source, "file": str(self.path),
                "anchors": [a.to_dict() for a in self.anchors]}


def combined_bundle(paths, out: str | os.PathLike) -> Path | None:
    """One PEM file holding every given bundle (``None`` entries skipped); ``None`` if none."""
    given = [Path(p) for p in paths if p]
    if not given:
        return None
    if len(given) == 1:
        return given[0]
    out = Path(out)
    out.write_bytes(b"".join(p.read_bytes().rstrip(b"\n") + b"\n" for p in given))
    return out
