"""A Job's parameter form: fields, parsing, validation (through settings.build_settings).

Validation reuses :func:`mssante_conformance.settings.build_settings`, so the console accepts
exactly what ``mssante-conformance run`` accepts, with the same French messages; each message
is attached to the field it names. Uploaded certificate files are written into the run's
directory (mode 0600) and only ever shown by name and fingerprint.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.settings import OPTIONS, SettingsError, build_settings
from mssante_conformance.console.targets import refused_hosts, url_host
from mssante_conformance.resolution import ResolutionRefused, check_target

MAX_UPLOAD_BYTES = 256 * 1024
TARGET_REFERENCE = "reference"
TARGET_OPERATOR = "operator"
_FLAGS = {o.dest: o.flag for o in OPTIONS}


@dataclass(frozen=True)
class Field:
    name: str  # the RunSettings field
    label: str
    kind: str = "text"  # text | lines | choice | file
    hint: str = ""
    choices: tuple[tuple[str, str], ...] = ()
    operator_only: bool = True  # ignored when the target is the reference operator


FIELDS = {f.name: f for f in (
    Field("operator_urls", "Adresses API LPS", "lines",
          "Une par ligne : imaps://imap.operateur.fr:993, smtp://smtp.operateur.fr:587 (STARTTLS)…"),
    Field("bal", "BAL testée", hint="Adresse de la boîte aux lettres, ex. jean.dupont@operateur.fr"),
    Field("idnat", "IDNAT du titulaire", hint="Identifiant national du professionnel, ex. 899700366240"),
    Field("other_idnat", "IDNAT d'un non-titulaire",
          hint="Facultatif : par défaut une identité de test du bouchon"),
    Field("ca_file", "Ancre de confiance du serveur (PEM)", "file",
          "Facultatif : certificat de l'AC qui a émis le certificat serveur de l'opérateur"),
    Field("client_cert", "Certificat ORG AUTH_CLI (PEM)", "file",
          "Facultatif : pour les contrôles LPS-CERT (authentification par certificat)"),
    Field("client_key", "Clé privée du certificat AUTH_CLI (PEM, non chiffrée)", "file",
          "Conservée dans le répertoire du lancement (accès restreint), jamais affichée"),
    Field("operator_mx", "MX de l'opérateur", hint="smtp://mx.operateur.fr:25"),
    Field("sink_domain", "Domaine de test du harnais", hint="Domaine de l'espace de confiance de "
          "test servi par le puits MX du harnais (par défaut harnais.mssante.test)"),
    Field("outbound_mode", "Contrôles sortants", "choice",
          choices=(("auto", "Automatique (le harnais soumet par l'API LPS)"),
                   ("manual", "Manuel (le système de l'opérateur envoie le message)"))),
    Field("tls_transition", "Période de transition TLS", "choice",
          "Pendant la transition, l'acceptation de TLS 1.0/1.1 est une non-conformité mineure ; "
          "après, bloquante.",
          choices=(("during", "Pendant la période de transition du Ref#1 v1.5"),
                   ("after", "Après la période de transition")),
          operator_only=False),
)}


@dataclass
class Submission:
    """The outcome of parsing a form: flag values for build_settings, errors by field, and
    what the run page shows of the parameters (never a key, never a secret)."""

    target: str
    values: dict
    errors: dict
    shown: dict


def _strip_flag(message: str, dest: str) -> str:
    flag = _FLAGS.get(dest, "")
    if flag and message.startswith(flag):
        message = message[len(flag):].lstrip(" :")
    return message[:1].upper() + message[1:]


def _save_upload(storage, dest: Path) -> bytes:
    data = storage.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValueError(f"fichier trop volumineux (au plus {MAX_UPLOAD_BYTES // 1024} Kio)")
    if not data.strip():
        raise ValueError("fichier vide")
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return data


def _check_pem(name: str, data: bytes) -> str:
    """What the page may show of an uploaded PEM file; ValueError (French) if it is not one."""
    if name == "client_key":
        try:
            serialization.load_pem_private_key(data, password=None)
        except TypeError:
            raise ValueError("clé privée chiffrée : fournir la clé sans phrase de passe") from None
        except ValueError:
            raise ValueError("ce fichier n'est pas une clé privée PEM") from None
        return f"clé privée fournie ({fingerprint(data)})"
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ValueError("ce fichier n'est pas un certificat PEM") from None
    first = certs[0]
    return f"{first.subject.rfc4514_string()} ({fingerprint(first.public_bytes(serialization.Encoding.DER))})"


def _pin(urls, allowlist, exposed: bool, resolver) -> dict[str, str]:
    """{host: checked address} for the named hosts of ``urls`` (IP literals need no pin)."""
    import ipaddress
    from urllib.parse import urlsplit

    pins = {}
    for url in urls:
        host = url_host(url) or ""
        try:
            port = urlsplit(url.strip()).port
        except ValueError:
            port = None
        address = check_target(host, port, allowlist=allowlist, loopback_ok=not exposed,
                               resolver=resolver)
        try:
            ipaddress.ip_address(host)
        except ValueError:
            pins[host.lower().rstrip(".")] = address
    return pins


def parse_submission(job, form, files, inputs_dir: Path, *, allowlist, exposed: bool,
                     resolver=None) -> Submission:
    """Read ``form``/``files`` (werkzeug MultiDicts) for ``job``; uploads go to ``inputs_dir``.

    ``allowlist``: the entries this user may reach (their organisation's). Target names are
    resolved now (``resolver``, default the system's) and the run is pinned to the checked
    addresses (``--resolve``): see :mod:`mssante_conformance.resolution`."""
    target = form.get("target", TARGET_REFERENCE)
    errors: dict[str, str] = {}
    values: dict = {}
    shown: dict[str, str] = {}
    pins: dict[str, str] = {}
    if target not in (TARGET_REFERENCE, TARGET_OPERATOR):
        errors["target"] = "Cible inconnue"
        target = TARGET_REFERENCE
    for name in job.fields:
        field = FIELDS[name]
        if field.operator_only and target == TARGET_REFERENCE:
            continue
        if field.kind == "file":
            storage = files.get(name)
            if storage is None or not storage.filename:
                continue
            path = inputs_dir / f"{name}.pem"
            try:
                shown[field.label] = _check_pem(name, _save_upload(storage, path))
            except ValueError as exc:
                errors[name] = str(exc)[:1].upper() + str(exc)[1:]
                continue
            values[name] = str(path)
        elif field.kind == "lines":
            lines = [x for x in form.get(name, "").split() if x]
            if lines:
                values[name] = lines
                shown[field.label] = ", ".join(lines)
        else:
            value = form.get(name, "").strip()
            if value:
                values[name] = value
                shown[field.label] = dict(field.choices).get(value, value)
    if target == TARGET_OPERATOR and not values.get("operator_urls") and not values.get("operator_mx"):
        key = "operator_urls" if "operator_urls" in job.fields else "operator_mx"
        errors.setdefault(key, "Indiquer au moins une adresse de l'opérateur à tester")
    # Field by field first, so that every wrong field gets its own message.
    for name, value in values.items():
        if name in ("client_cert", "client_key") or name in errors:
            continue
        try:
            build_settings({name: value})
        except SettingsError as exc:
            errors[name] = _strip_flag(str(exc), name)
    if bool(values.get("client_cert")) != bool(values.get("client_key")) and not (
            {"client_cert", "client_key"} & set(errors)):
        missing = "client_key" if values.get("client_cert") else "client_cert"
        errors[missing] = "Le certificat AUTH_CLI et sa clé privée vont ensemble"
    for name in ("operator_urls", "operator_mx"):
        if name in values and name not in errors:
            urls = values[name] if isinstance(values[name], list) else [values[name]]
            refused = refused_hosts(urls, allowlist, exposed=exposed)
            if refused:
                errors[name] = ("Cible non autorisée sur cette plateforme : " + ", ".join(refused)
                                + " (l'administrateur tient la liste des cibles autorisées)")
                continue
            try:
                pins.update(_pin(urls, allowlist, exposed, resolver))
            except ResolutionRefused as exc:
                errors[name] = f"Cible non autorisée : {exc}"
    if pins and not errors:
        values["resolve"] = [f"{host}:{address}" for host, address in sorted(pins.items())]
        shown["Adresses vérifiées au lancement"] = ", ".join(
            f"{host} → {address}" for host, address in sorted(pins.items()))
    if not errors:
        try:
            build_settings(values)
        except SettingsError as exc:
            errors["_form"] = str(exc)
    shown = {"Cible": "Opérateur de référence (démonstration)" if target == TARGET_REFERENCE
             else "Opérateur désigné", **shown}
    return Submission(target, values, errors, shown)
