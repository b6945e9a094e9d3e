"""RunSettings: every parameter of a conformance run, from flags, the environment or a TOML file.

One table (:data:`OPTIONS`) describes every option once; the pytest plugin and the
``mssante-conformance run`` command both register it, so the two entry points accept the
same flags. Precedence: command-line flag > TOML file (``--config``) > default.
Secrets never travel as flags: the bouchon admin secret comes from the environment only.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from mssante_conformance.scope import DEFAULT_SCOPE, SCOPES

ADMIN_SECRET_ENV = "MSSANTE_BOUCHON_ADMIN_SECRET"
OPERATOR_SCHEMES = ("imap", "imaps", "smtp", "smtps")
TLS_TRANSITIONS = ("during", "after")
PROFILES = ("full", "monitoring")


class SettingsError(ValueError):
    """A parameter is invalid; the message names it (in French, the user reads it)."""


@dataclass(frozen=True)
class Option:
    """One run parameter: its flag, RunSettings field, kind and help text."""

    flag: str
    dest: str
    help: str
    kind: str = "str"  # str | path | list | choice | float | int | bool
    choices: tuple[str, ...] = ()
    default: Any = None
    metavar: str | None = None


OPTIONS: tuple[Option, ...] = (
    Option("--operator-url", "operator_urls", "point d'accès API LPS de l'opérateur, répétable : "
           "imap://hôte[:143] (STARTTLS), imaps://hôte[:993], smtp://hôte[:587] (STARTTLS), "
           "smtps://hôte[:465]. Sans ce paramètre : l'opérateur de référence embarqué.",
           kind="list", default=(), metavar="URL"),
    Option("--resolve", "resolve", "se connecter à ADRESSE-IP pour HÔTE (le nom reste celui du SNI "
           "et de la vérification du certificat), répétable ; la console y fixe l'adresse qu'elle "
           "a vérifiée au lancement", kind="list", default=(), metavar="HÔTE:IP"),
    Option("--bal", "bal", "adresse de la BAL testée (ex. jean.dupont@operateur.fr)", metavar="ADRESSE"),
    Option("--idnat", "idnat", "IDNAT du professionnel titulaire de la BAL (ex. 899700366240)"),
    Option("--other-idnat", "other_idnat", "IDNAT d'un professionnel non titulaire de la BAL "
           "(par défaut : une identité de test du bouchon)"),
    Option("--bouchon-url", "bouchon_url", "URL d'un bouchon PSC distant (secret d'administration "
           f"dans la variable d'environnement {ADMIN_SECRET_ENV}) ; par défaut un bouchon embarqué",
           metavar="URL"),
    Option("--bouchon-ca-file", "bouchon_ca_file", "ancre de confiance (PEM) du certificat HTTPS du "
           "bouchon distant (défaut : magasin du système)", kind="path", metavar="FICHIER"),
    Option("--client-cert", "client_cert", "certificat client ORG AUTH_CLI (PEM) pour les contrôles "
           "LPS-CERT", kind="path", metavar="FICHIER"),
    Option("--client-key", "client_key", "clé privée du certificat AUTH_CLI (PEM)", kind="path",
           metavar="FICHIER"),
    Option("--expired-client-cert", "expired_client_cert", "certificat client AUTH_CLI expiré (PEM), "
           "émis par l'AC à laquelle l'opérateur fait confiance, pour LPS-CERT-03", kind="path",
           metavar="FICHIER"),
    Option("--expired-client-key", "expired_client_key", "clé privée du certificat AUTH_CLI expiré (PEM)",
           kind="path", metavar="FICHIER"),
    Option("--ca-file", "ca_file", "ancre de confiance (PEM) du certificat serveur de l'opérateur",
           kind="path", metavar="FICHIER"),
    Option("--trust-anchors", "trust_anchors", "ancres de confiance IGC Santé (PEM, une ou plusieurs AC, "
           "ex. IGC Santé TEST ou PROD) : vérifient le certificat serveur du MX, le certificat client du "
           "MTA de l'opérateur et, avec --ca-file, ceux de l'API LPS", kind="path", metavar="FICHIER"),
    Option("--tls-transition", "tls_transition", "période de transition TLS du Ref#1 v1.5 : "
           "'during' (acceptation de TLS 1.0/1.1 = mineure) ou 'after' (= bloquante)",
           kind="choice", choices=TLS_TRANSITIONS, default="during"),
    Option("--profile", "profile", "'full' (tous les contrôles) ou 'monitoring' (contrôles sans "
           "coopération de l'opérateur)", kind="choice", choices=PROFILES, default="full"),
    Option("--scope", "scope", "périmètre déclaré du verdict : 'api_lps' (API LPS), "
           "'operator_interface' (interface opérateurs) ou 'complet' ; « conforme » exige que "
           "chaque contrôle automatisé du périmètre ait été mené", kind="choice",
           choices=tuple(SCOPES), default=DEFAULT_SCOPE),
    Option("--report-dir", "report_dir", "répertoire du rapport (report.json, report.html)",
           kind="path", default="rapport-conformite", metavar="RÉPERTOIRE"),
    Option("--pdf", "pdf", "écrire aussi report.pdf", kind="bool", default=False),
    Option("--operator-mx", "operator_mx", "MX de l'opérateur pour l'interface opérateurs "
           "(smtp://hôte:port)", metavar="URL"),
    Option("--mta-cert", "mta_cert", "certificat (PEM, chaîne) de MTA de l'espace de confiance que le "
           "harnais présente au MX de l'opérateur (IGC Santé de test) ; défaut : l'IGC de test du harnais",
           kind="path", metavar="FICHIER"),
    Option("--mta-key", "mta_key", "clé privée de --mta-cert (PEM)", kind="path", metavar="FICHIER"),
    Option("--sink-cert", "sink_cert", "certificat serveur (PEM, chaîne) du puits MX du harnais ; "
           "défaut : l'IGC de test du harnais", kind="path", metavar="FICHIER"),
    Option("--sink-key", "sink_key", "clé privée de --sink-cert (PEM)", kind="path", metavar="FICHIER"),
    Option("--sink-listen", "sink_listen", "adresse d'écoute du puits MX du harnais (hôte:port)",
           metavar="HÔTE:PORT"),
    Option("--sink-domain", "sink_domain", "domaine de test de l'espace de confiance servi par le "
           "puits MX du harnais", metavar="DOMAINE"),
    Option("--trust-whitelist", "trust_whitelist", "liste blanche de l'espace de confiance (XML)",
           kind="path", metavar="FICHIER"),
    Option("--outbound-mode", "outbound_mode", "contrôles sortants : 'auto' (le harnais soumet le "
           "message par l'API LPS) ou 'manual' (le système de l'opérateur l'envoie ; le harnais "
           "affiche l'adresse et le marqueur à mettre dans l'objet, puis attend)",
           kind="choice", choices=("auto", "manual"), default="auto"),
    Option("--delivery-timeout", "delivery_timeout", "attente maximale d'une remise (secondes)",
           kind="float", default=60.0, metavar="SECONDES"),
    Option("--network-timeout", "network_timeout", "délai maximal de chaque étape réseau (secondes)",
           kind="float", default=10.0, metavar="SECONDES"),
    Option("--check-timeout", "check_timeout", "durée maximale de l'ensemble des échanges d'un "
           "contrôle (secondes) ; les contrôles qui attendent une remise y ajoutent --delivery-timeout",
           kind="float", default=60.0, metavar="SECONDES"),
    Option("--concurrency", "concurrency", "échanges indépendants menés en même temps sur chaque "
           "point d'accès (essais de jetons des contrôles de refus) ; 1 = un par un. Le rapport "
           "l'enregistre ; l'abaisser si l'opérateur limite les connexions par adresse IP",
           kind="int", default=8, metavar="N"),
    Option("--reference-profile", "reference_profile", "profil de l'opérateur de référence embarqué "
           "(conformant, ou un profil défectueux : tls_legacy, plaintext_auth…)",
           default="conformant", metavar="PROFIL"),
    Option("--config", "config", "fichier TOML donnant les mêmes paramètres (clés = noms des "
           "options sans tirets, ex. operator-url = [\"imaps://…\"])", kind="path", metavar="FICHIER"),
)

_BY_DEST = {o.dest: o for o in OPTIONS}
_BY_KEY = {o.flag.lstrip("-"): o for o in OPTIONS}


def _default(dest: str) -> Any:
    """A RunSettings field's default: the one its option declares."""
    option = _BY_DEST[dest]
    if option.kind == "path" and option.default is not None:
        return Path(option.default)
    return option.default


@dataclass(frozen=True)
class RunSettings:
    """Every parameter of a run, validated. Secrets are not fields (see :meth:`admin_secret`)."""

    operator_urls: tuple[str, ...] = _default("operator_urls")
    resolve: tuple[str, ...] = _default("resolve")
    bal: str | None = _default("bal")
    idnat: str | None = _default("idnat")
    other_idnat: str | None = _default("other_idnat")
    bouchon_url: str | None = _default("bouchon_url")
    bouchon_ca_file: Path | None = _default("bouchon_ca_file")
    client_cert: Path | None = _default("client_cert")
    client_key: Path | None = _default("client_key")
    expired_client_cert: Path | None = _default("expired_client_cert")
    expired_client_key: Path | None = _default("expired_client_key")
    ca_file: Path | None = _default("ca_file")
    trust_anchors: Path | None = _default("trust_anchors")
    tls_transition: str = _default("tls_transition")
    profile: str = _default("profile")
    scope: str = _default("scope")
    report_dir: Path = _default("report_dir")
    pdf: bool = _default("pdf")
    operator_mx: str | None = _default("operator_mx")
    mta_cert: Path | None = _default("mta_cert")
    mta_key: Path | None = _default("mta_key")
    sink_cert: Path | None = _default("sink_cert")
    sink_key: Path | None = _default("sink_key")
    sink_listen: str | None = _default("sink_listen")
    sink_domain: str | None = _default("sink_domain")
    trust_whitelist: Path | None = _default("trust_whitelist")
    outbound_mode: str = _default("outbound_mode")
    delivery_timeout: float = _default("delivery_timeout")
    network_timeout: float = _default("network_timeout")
    check_timeout: float = _default("check_timeout")
    concurrency: int = _default("concurrency")
    reference_profile: str = _default("reference_profile")
    config: Path | None = _default("config")
    explicit: frozenset[str] = field(default_factory=frozenset)  # fields the user set

    @property
    def embedded_reference(self) -> bool:
        """No operator named: the run targets the embedded reference operator."""
        return not self.operator_urls and not self.operator_mx

    @staticmethod
    def admin_secret() -> str | None:
        return os.environ.get(ADMIN_SECRET_ENV) or None

    def public_parameters(self) -> dict[str, Any]:
        """The parameters as the report shows them: JSON-ready, no secret."""
        out: dict[str, Any] = {}
        for f in fields(self):
            if f.name == "explicit":
                continue
            value = getattr(self, f.name)
            if isinstance(value, Path):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        out["bouchon_admin_secret"] = "configuré" if self.admin_secret() else None
        return out


def _convert(option: Option, value: Any, origin: str) -> Any:
    name = option.flag
    if value is None:
        return None
    if option.kind == "list":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise SettingsError(f"{name} ({origin}) : liste de chaînes attendue")
        return tuple(value)
    if option.kind == "bool":
        if not isinstance(value, bool):
            raise SettingsError(f"{name} ({origin}) : booléen attendu")
        return value
    if option.kind == "int":
        if isinstance(value, bool) or not (isinstance(value, int) or str(value).strip().isdigit()):
            raise SettingsError(f"{name} ({origin}) : entier attendu, reçu {value!r}")
        if not 1 <= int(value) <= 64:
            raise SettingsError(f"{name} ({origin}) : doit être entre 1 et 64")
        return int(value)
    if option.kind == "float":
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise SettingsError(f"{name} ({origin}) : nombre attendu, reçu {value!r}") from None
        if not 0 < number <= 3600:
            raise SettingsError(f"{name} ({origin}) : doit être entre 0 et 3600 secondes")
        return number
    if not isinstance(value, (str, os.PathLike)):
        raise SettingsError(f"{name} ({origin}) : chaîne attendue")
    if option.kind == "choice" and value not in option.choices:
        raise SettingsError(
            f"{name} ({origin}) : {value!r} invalide, valeurs possibles : {', '.join(option.choices)}"
        )
    if option.kind == "path":
        return Path(value).expanduser()
    return str(value)


def load_config_file(path: Path) -> dict[str, Any]:
    """Read a TOML settings file into ``{dest: raw value}``; unknown keys are errors."""
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"--config : fichier introuvable : {path}") from None
    except OSError as exc:
        raise SettingsError(f"--config : lecture impossible de {path} : {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"--config : {path} n'est pas un TOML valide : {exc}") from None
    values: dict[str, Any] = {}
    for key, value in data.items():
        option = _BY_KEY.get(key) or _BY_DEST.get(key)
        if option is None or option.dest == "config":
            known = ", ".join(sorted(k for k in _BY_KEY if k != "config"))
            raise SettingsError(f"--config : clé inconnue {key!r} dans {path} (connues : {known})")
        values[option.dest] = value
    return values


def build_settings(flag_values: dict[str, Any]) -> RunSettings:
    """Merge flags (``{dest: value}``, None/empty = not given) over the TOML file, validate."""
    given = {k: v for k, v in flag_values.items() if v not in (None, (), [], False)}
    file_values: dict[str, Any] = {}
    if given.get("config"):
        file_values = load_config_file(Path(given["config"]))
    merged: dict[str, Any] = {}
    explicit = set()
    for option in OPTIONS:
        if option.dest in given:
            merged[option.dest] = _convert(option, given[option.dest], "option")
            explicit.add(option.dest)
        elif option.dest in file_values:
            merged[option.dest] = _convert(option, file_values[option.dest], "fichier --config")
            explicit.add(option.dest)
    settings = RunSettings(**merged, explicit=frozenset(explicit))
    _validate(settings)
    return settings


def _validate(s: RunSettings) -> None:
    for url in s.operator_urls:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in OPERATOR_SCHEMES:
            raise SettingsError(
                f"--operator-url {url!r} : schéma inconnu, attendus : "
                + ", ".join(f"{x}://" for x in OPERATOR_SCHEMES)
            )
    for pin in s.resolve:
        from mssante_conformance.resolution import parse_pin

        try:
            parse_pin(pin)
        except ValueError as exc:
            raise SettingsError(f"--resolve {exc}") from None
    if s.operator_mx and not s.operator_mx.lower().startswith("smtp://"):
        raise SettingsError(f"--operator-mx {s.operator_mx!r} : attendu smtp://hôte:port")
    for cert, key in (("client_cert", "client_key"), ("expired_client_cert", "expired_client_key"),
                      ("mta_cert", "mta_key"), ("sink_cert", "sink_key")):
        if bool(getattr(s, cert)) != bool(getattr(s, key)):
            raise SettingsError(f"{_BY_DEST[cert].flag} et {_BY_DEST[key].flag} vont ensemble")
    for name in ("client_cert", "client_key", "expired_client_cert", "expired_client_key", "ca_file", "trust_anchors", "trust_whitelist", "mta_cert",
                 "mta_key", "sink_cert", "sink_key", "bouchon_ca_file"):
        path = getattr(s, name)
        if path is not None and not path.is_file():
            raise SettingsError(f"{_BY_DEST[name].flag} : fichier introuvable : {path}")
    if s.trust_anchors is not None:
        from mssante_conformance.trust import TrustAnchorError, TrustAnchors

        try:
            TrustAnchors.load(s.trust_anchors)
        except TrustAnchorError as exc:
            raise SettingsError(f"--trust-anchors : {exc}") from None
    for name in ("idnat", "other_idnat"):
        value = getattr(s, name)
        if value is not None and not (value.isdigit() and 9 <= len(value) <= 15):
            raise SettingsError(f"{_BY_DEST[name].flag} {value!r} : un IDNAT est une suite de chiffres "
                                "(ex. 899700366240)")
    if s.bal is not None and ("@" not in s.bal or any(c.isspace() for c in s.bal)):
        raise SettingsError(f"--bal {s.bal!r} : adresse de BAL attendue (prenom.nom@domaine)")
    if s.sink_listen is not None:
        host, _, port = s.sink_listen.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) < 65536:
            raise SettingsError(f"--sink-listen {s.sink_listen!r} : attendu hôte:port")
    if s.bouchon_ca_file and not s.bouchon_url:
        raise SettingsError("--bouchon-ca-file sans --bouchon-url : le bouchon embarqué parle http")
    if s.embedded_reference and s.bouchon_url:
        raise SettingsError("--bouchon-url sans --operator-url : l'opérateur de référence embarqué "
                            "utilise son propre bouchon")


def register_argparse(parser) -> None:
    """Add every option to an argparse parser (the `run` sub-command)."""
    for o in OPTIONS:
        _add(parser.add_argument, o)


def register_pytest(group) -> None:
    """Add every option to a pytest option group."""
    for o in OPTIONS:
        _add(group.addoption, o)


def _add(add, o: Option) -> None:
    kwargs: dict[str, Any] = {"dest": f"mssante_{o.dest}", "help": o.help}
    if o.kind == "bool":
        kwargs.update(action="store_true", default=False)
    else:
        kwargs["default"] = None
        if o.metavar:
            kwargs["metavar"] = o.metavar
        if o.kind == "list":
            kwargs["action"] = "append"
        if o.kind == "choice":
            kwargs["choices"] = o.choices
    add(o.flag, **kwargs)


def flag_values_from(namespace) -> dict[str, Any]:
    """``{dest: value}`` from a parsed namespace (argparse or pytest's option object)."""
    return {o.dest: getattr(namespace, f"mssante_{o.dest}", None) for o in OPTIONS}


def to_argv(values: RunSettings | dict[str, Any]) -> list[str]:
    """The flags that reproduce ``values``: settings (only the parameters the user set; no
    ``--config``, whose values they already hold) or raw flag values ``{dest: value}`` as
    :func:`flag_values_from` gives them (None, False or empty: not given)."""
    if isinstance(values, RunSettings):
        values = {d: getattr(values, d) for d in values.explicit if d != "config"}
    argv: list[str] = []
    for o in OPTIONS:
        value = values.get(o.dest)
        if value is None or value is False or value in ((), []):
            continue
        if o.kind == "list":
            for v in value:
                argv += [o.flag, str(v)]
        elif o.kind == "bool":
            argv.append(o.flag)
        else:
            argv += [o.flag, str(value)]
    return argv
