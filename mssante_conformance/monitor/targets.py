"""``targets.toml``: the operators to monitor, as frozen values (pure: no network).

::

    [defaults]                 # optional; any target key but name
    every = "6h"
    jitter = "10m"
    tls_transition = "during"

    [[targets]]
    name = "operateur-a"                      # unique; letters, digits, . _ -
    organisation = "operateur-a"              # the console accounts of this organisation see it
    operator_urls = ["imaps://imap.op-a.fr:993", "smtps://smtp.op-a.fr:465"]
    operator_mx = "smtp://mx.op-a.fr:25"
    bal = "test.monitoring@op-a.fr"           # optional: token-refusal checks need bal + idnat
    idnat = "899700366240"
    ca_file = "op-a-ca.pem"                   # relative to targets.toml
    trust_anchors = "igc-sante.pem"
    client_cert = "auth-cli.pem"              # optional: LPS-CERT-02/03 (with client_key,
    client_key = "auth-cli.key"               #   expired_client_cert, expired_client_key)
    every = "6h"
    jitter = "15m"
    deadline = "10m"                          # optional: overrides monitor --deadline

Every mistake is reported with the target's name and the key, in French (:class:`TargetsError`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

LPS_SCHEMES = ("imap", "imaps", "smtp", "smtps")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
DURATION_RE = re.compile(r"(\d+)\s*([smhd])")
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
TRANSITIONS = ("during", "after")
DEFAULT_EVERY = "6h"
DEFAULT_JITTER = "0s"
FILE_KEYS = ("ca_file", "trust_anchors", "client_cert", "client_key", "expired_client_cert",
             "expired_client_key")
KEYS = {"name", "organisation", "operator_urls", "operator_mx", "bal", "idnat", "tls_transition",
        "every", "jitter", "deadline", *FILE_KEYS}


class TargetsError(ValueError):
    """A mistake in targets.toml (French message naming the target and the key)."""


def parse_duration(text: str) -> int:
    """``"6h"``, ``"90m"``, ``"1h30m"``, ``"45s"``, ``"1d"`` → seconds."""
    if not isinstance(text, str):
        raise ValueError(f"durée attendue sous forme de texte (ex. \"6h\"), reçu {text!r}")
    compact = text.replace(" ", "").lower()
    parts = DURATION_RE.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"durée invalide {text!r} (ex. \"30s\", \"15m\", \"6h\", \"1h30m\", \"1d\")")
    return sum(int(n) * UNITS[u] for n, u in parts)


@dataclass(frozen=True)
class MonitoredTarget:
    """One operator to watch. ``every``/``jitter`` in seconds."""

    name: str
    organisation: str
    operator_urls: tuple[str, ...]
    operator_mx: str | None
    bal: str | None
    idnat: str | None
    files: tuple[tuple[str, Path], ...]  # (FILE_KEYS key, absolute path) of the files given
    tls_transition: str
    every: int
    jitter: int
    deadline: int | None = None  # seconds; None = the monitor's --deadline

    @property
    def scope(self) -> str:
        """The declared scope of the verdict: what the target's endpoints allow."""
        if self.operator_urls and self.operator_mx:
            return "complet"
        return "api_lps" if self.operator_urls else "operator_interface"

    def run_flags(self) -> list[str]:
        """The ``mssante-conformance run`` flags of this target (without --report-dir)."""
        flags = ["--profile", "monitoring", "--scope", self.scope,
                 "--tls-transition", self.tls_transition]
        for url in self.operator_urls:
            flags += ["--operator-url", url]
        for flag, value in (("--operator-mx", self.operator_mx), ("--bal", self.bal),
                            ("--idnat", self.idnat)):
            if value:
                flags += [flag, value]
        for key, path in self.files:
            flags += ["--" + key.replace("_", "-"), str(path)]
        return flags


def load_targets(path: str | Path) -> list[MonitoredTarget]:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise TargetsError(f"{path} : lecture impossible ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TargetsError(f"{path} : TOML invalide ({exc})") from None
    return parse_targets(data, base_dir=path.parent, where=str(path))


def parse_targets(data: dict, *, base_dir: Path = Path("."), where: str = "targets.toml") -> list[MonitoredTarget]:
    unknown = set(data) - {"defaults", "targets"}
    if unknown:
        raise TargetsError(f"{where} : section inconnue {', '.join(sorted(unknown))} "
                           "(attendu : [defaults] et [[targets]])")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise TargetsError(f"{where} : [defaults] doit être une table")
    if "name" in defaults:
        raise TargetsError(f"{where} : [defaults] ne peut pas donner de name")
    entries = data.get("targets")
    if not isinstance(entries, list) or not entries:
        raise TargetsError(f"{where} : aucune cible ([[targets]] avec au moins name et operator_urls "
                           "ou operator_mx)")
    targets, seen = [], set()
    for index, entry in enumerate(entries, 1):
        if not isinstance(entry, dict):
            raise TargetsError(f"{where} : la cible n° {index} doit être une table")
        target = _target({**defaults, **entry}, index, base_dir, where)
        if target.name in seen:
            raise TargetsError(f"{where} : cible {target.name!r} déclarée deux fois")
        seen.add(target.name)
        targets.append(target)
    return targets


def _target(entry: dict, index: int, base_dir: Path, where: str) -> MonitoredTarget:
    name = entry.get("name")
    label = f"{where}, cible {name!r}" if isinstance(name, str) else f"{where}, cible n° {index}"

    def fail(key: str, message: str):
        raise TargetsError(f"{label} : {key} : {message}")

    unknown = set(entry) - KEYS
    if unknown:
        fail(", ".join(sorted(unknown)), f"clé inconnue (clés admises : {', '.join(sorted(KEYS))})")
    if not isinstance(name, str) or not NAME_RE.match(name):
        fail("name", "obligatoire ; lettres, chiffres, . _ - (64 au plus)")

    def text(key: str) -> str | None:
        value = entry.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            fail(key, "texte non vide attendu")
        return value.strip()

    organisation = text("organisation") or name
    if not NAME_RE.match(organisation):
        fail("organisation", "lettres, chiffres, . _ - (64 au plus)")
    urls = entry.get("operator_urls", [])
    if isinstance(urls, str):
        urls = [urls]
    if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
        fail("operator_urls", "liste d'URL attendue")
    for url in urls:
        _check_url(url, LPS_SCHEMES, fail, "operator_urls")
    mx = text("operator_mx")
    if mx:
        _check_url(mx, ("smtp",), fail, "operator_mx")
    if not urls and not mx:
        fail("operator_urls", "au moins un point d'accès API LPS (operator_urls) ou un MX (operator_mx)")
    bal, idnat = text("bal"), text("idnat")
    if bal and "@" not in bal:
        fail("bal", f"adresse de BAL invalide {bal!r}")
    if idnat and not idnat.isalnum():
        fail("idnat", f"IDNAT invalide {idnat!r}")
    files = {}
    for key in FILE_KEYS:
        value = text(key)
        if value:
            p = (base_dir / value).resolve()
            if not p.is_file():
                fail(key, f"fichier introuvable : {p}")
            files[key] = p
    transition = text("tls_transition") or "during"
    if transition not in TRANSITIONS:
        fail("tls_transition", f"{transition!r} (valeurs : {', '.join(TRANSITIONS)})")
    try:
        every = parse_duration(entry.get("every", DEFAULT_EVERY))
        if every < 60:
            raise ValueError("intervalle d'au moins une minute attendu")
    except ValueError as exc:
        fail("every", str(exc))
    try:
        jitter = parse_duration(entry.get("jitter", DEFAULT_JITTER))
    except ValueError as exc:
        fail("jitter", str(exc))
    if jitter >= every:
        fail("jitter", "doit rester inférieur à l'intervalle (every)")
    for a, b in (("client_cert", "client_key"), ("expired_client_cert", "expired_client_key")):
        if (a in files) != (b in files):
            fail(b if a in files else a, f"{a} et {b} vont ensemble")
    deadline = None
    if "deadline" in entry:
        try:
            deadline = parse_duration(entry["deadline"])
            if deadline < 1:
                raise ValueError("durée positive attendue")
        except ValueError as exc:
            fail("deadline", str(exc))
    return MonitoredTarget(name, organisation, tuple(urls), mx, bal, idnat, tuple(files.items()),
                           transition, every, jitter, deadline)


def _check_url(url: str, schemes: tuple[str, ...], fail, key: str) -> None:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        fail(key, f"URL invalide {url!r}")
    if parts.scheme not in schemes or not parts.hostname:
        fail(key, f"URL invalide {url!r} (schémas : {', '.join(s + '://' for s in schemes)}hôte[:port])")
    del port
