"""Test identities (health professionals), from the shipped data file and an optional user file.

Format (JSON): ``{"identities": [{"idnat", "given_name", "family_name", "profession",
"profession_code", "category_code", "specialty", "structure_id", "structure_name",
"secteur_activite", "mode_exercice"}, …]}``. Only ``idnat``, ``given_name`` and ``family_name``
are required. ``<data-dir>/identities.json`` adds identities or replaces shipped ones (same idnat).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, fields
from importlib import resources
from pathlib import Path

USER_FILE = "identities.json"
IDNAT_RE = re.compile(r"^[0-9][0-9A-Za-z]{5,30}$")


class IdentitiesError(ValueError):
    """The identities file is unreadable or malformed."""


@dataclass(frozen=True)
class Identity:
    idnat: str
    given_name: str
    family_name: str
    profession: str = ""
    profession_code: str = ""
    category_code: str = "C"
    specialty: str = ""
    structure_id: str = ""
    structure_name: str = ""
    secteur_activite: str = ""
    mode_exercice: str = "L"

    @property
    def rpps(self) -> str:
        """RPPS number for an IDNAT of the form ``8`` + RPPS; else the IDNAT itself."""
        return self.idnat[1:] if self.idnat.startswith("8") else self.idnat

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


_FIELDS = {f.name for f in fields(Identity)}


def parse_identities(document: object, source: str) -> list[Identity]:
    if not isinstance(document, dict) or not isinstance(document.get("identities"), list):
        raise IdentitiesError(f"{source}: attendu un objet avec une liste 'identities'")
    result = []
    for index, entry in enumerate(document["identities"]):
        if not isinstance(entry, dict):
            raise IdentitiesError(f"{source}: identité n°{index + 1} n'est pas un objet")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise IdentitiesError(f"{source}: champ(s) inconnu(s) {sorted(unknown)}")
        for required in ("idnat", "given_name", "family_name"):
            if not isinstance(entry.get(required), str) or not entry[required]:
                raise IdentitiesError(f"{source}: identité n°{index + 1}: '{required}' manquant")
        if not IDNAT_RE.match(entry["idnat"]):
            raise IdentitiesError(f"{source}: IDNAT invalide {entry['idnat']!r}")
        if not all(isinstance(v, str) for v in entry.values()):
            raise IdentitiesError(f"{source}: identité n°{index + 1}: valeurs texte attendues")
        result.append(Identity(**entry))
    return result


def load_identities(data_dir: Path | None = None) -> list[Identity]:
    shipped = resources.files("mssante_conformance.psc").joinpath("data", USER_FILE)
    identities = {i.idnat: i for i in parse_identities(json.loads(shipped.read_text("utf-8")),
                                                        "identités fournies")}
    if data_dir is not None:
        user_file = Path(data_dir) / USER_FILE
        if user_file.exists():
            try:
                document = json.loads(user_file.read_text("utf-8"))
            except (OSError, ValueError) as exc:
                raise IdentitiesError(f"{user_file}: illisible ({exc})") from None
            identities.update({i.idnat: i for i in parse_identities(document, str(user_file))})
    return list(identities.values())
