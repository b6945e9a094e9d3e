"""The reference operator's directory: which professional may open which BAL.

Pure data and rules, no I/O beyond reading the JSON/XML files. The token adapter
(:mod:`token_adapter`) and the configuration renderer both read it, so Dovecot's userdb,
Postfix's recipient map and the IDNAT → BAL authorisation come from one source.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

KINDS = ("PER", "CAB", "ORG", "APP")
WHITELIST_NS = "https://listeblanche.mssante.fr/schema"


class DirectoryError(ValueError):
    """The directory file is unreadable or malformed."""


@dataclass(frozen=True)
class Mailbox:
    """One BAL: its address, type, the IDNATs allowed to open it, its structure."""

    address: str
    kind: str
    holders: tuple[str, ...]
    structure_id: str = ""
    auth_cli: bool = False  # may be opened with an ORG AUTH_CLI certificate (CN = address)

    def to_json(self) -> dict:
        data = asdict(self)
        data["holders"] = list(self.holders)
        return data


@dataclass(frozen=True)
class Directory:
    domain: str
    mailboxes: tuple[Mailbox, ...]

    def find(self, address: str) -> Mailbox | None:
        address = address.strip().lower()
        return next((m for m in self.mailboxes if m.address == address), None)

    def may_open(self, idnat: str, address: str) -> bool:
        """True when the professional ``idnat`` holds the BAL ``address``."""
        mailbox = self.find(address)
        return mailbox is not None and idnat in mailbox.holders

    def bals_of(self, idnat: str) -> list[str]:
        return [m.address for m in self.mailboxes if idnat in m.holders]

    def to_json(self) -> dict:
        return {"domain": self.domain, "mailboxes": [m.to_json() for m in self.mailboxes]}


def parse_directory(document: object, source: str = "annuaire") -> Directory:
    if not isinstance(document, dict) or not isinstance(document.get("mailboxes"), list):
        raise DirectoryError(f"{source}: attendu un objet avec 'domain' et une liste 'mailboxes'")
    domain = str(document.get("domain", "")).lower()
    boxes = []
    for index, entry in enumerate(document["mailboxes"]):
        try:
            address = str(entry["address"]).strip().lower()
            kind = str(entry.get("kind", "PER")).upper()
            holders = tuple(str(h) for h in entry.get("holders", []))
        except (TypeError, KeyError) as exc:
            raise DirectoryError(f"{source}: BAL n°{index + 1} invalide ({exc})") from None
        if "@" not in address or not address.endswith("@" + domain):
            raise DirectoryError(f"{source}: {address!r} n'est pas une adresse du domaine {domain}")
        if kind not in KINDS:
            raise DirectoryError(f"{source}: type de BAL inconnu {kind!r} (attendu {', '.join(KINDS)})")
        boxes.append(Mailbox(address, kind, holders, str(entry.get("structure_id", "")),
                             bool(entry.get("auth_cli", False))))
    if not boxes:
        raise DirectoryError(f"{source}: aucune BAL")
    return Directory(domain, tuple(boxes))


def load_directory(path: str | Path | None = None) -> Directory:
    """The shipped directory, or the JSON file at ``path``."""
    try:
        if path is None:
            text = resources.files(__package__).joinpath("data/directory.json").read_text("utf-8")
            source = "directory.json"
        else:
            text, source = Path(path).read_text("utf-8"), str(path)
        return parse_directory(json.loads(text), source)
    except (OSError, json.JSONDecodeError) as exc:
        raise DirectoryError(f"annuaire illisible: {exc}") from None


def load_whitelist(path: str | Path | None = None) -> list[str]:
    """Domain names of a trust-space whitelist (``//Domaine/Nom``), lower-cased."""
    if path is None:
        data = resources.files(__package__).joinpath("data/liste-blanche-test.xml").read_bytes()
    else:
        data = Path(path).read_bytes()
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise DirectoryError(f"liste blanche illisible: {exc}") from None
    names = root.iter(f"{{{WHITELIST_NS}}}Nom")
    return [n.text.strip().lower() for n in names if n.text and n.text.strip()]
