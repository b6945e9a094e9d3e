"""The target of a run: the operator's endpoints and parameters, and the bouchon that mints.

Either the operator named by the settings (``--operator-url``…), with an embedded bouchon or a
remote one (``--bouchon-url``); or, when no operator is named, the **embedded reference
operator** (real Dovecot + Postfix) started on loopback with its own bouchon — the demo.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mssante_conformance.conformance import CheckNotCarriedOut
from mssante_conformance.secret_registry import SecretRegistry, xoauth2_b64_forms
from mssante_conformance.settings import RunSettings


class TargetError(Exception):
    """The target could not be set up (reference failed to start, bouchon unreachable…): the
    checks that need it are not carried out (``error``, see ``plugin.classify_exception``)."""


@dataclass(frozen=True)
class Target:
    """Everything a check aims at and runs with, fixed for the run: the operator's endpoints and
    parameters, the harness's own pieces (bouchon, sink, PKI) and the run's parameters (profile,
    timeouts, modes). Built once by :meth:`from_settings`; checks read it, never settings."""

    imap: tuple  # tuple[Endpoint, ...]
    smtp: tuple
    bal: str | None
    idnat: str | None
    other_idnat: str | None
    ca_file: Path | None
    client_cert: Path | None
    client_key: Path | None
    mx: Any  # Endpoint | None
    bouchon: Any  # psc.BouchonPort: Bouchon (embedded) or RemoteBouchon
    secrets: SecretRegistry
    workdir: Path  # private files of the run (bouchon store, PKI, sink), removed at the end
    # the run's parameters (from RunSettings)
    profile: str  # full | monitoring (no delivery to the operator's BALs, no valid-token control)
    network_timeout: float
    delivery_timeout: float
    tls_transition: str
    outbound_mode: str  # auto: the harness submits through the API LPS; manual: the operator sends
    foreign_client: tuple[str, str] | None = None  # (cert, key) under a CA outside IGC Santé
    expired_client: tuple[str, str] | None = None  # (cert, key) of the operator's CA, expired
    reference: Any = None  # ReferenceOperator when embedded
    sink: Any = None  # MxSink when the run has one
    sink_domain: str | None = None  # the harness's trust-space test domain (served by the sink)
    harness_mta: tuple[str, str] | None = None  # (cert, key): the harness as a trust-space MTA
    mta_ca_file: Path | None = None  # trust anchor of the MX's server certificate
    trusted_domains: tuple[str, ...] = ()  # the trust-space whitelist
    pki: Any = None  # the harness's test PKI (TestPKI)
    trust_anchors: Any = None  # TrustAnchors: the IGC Santé CAs (--trust-anchors; reference: its test PKI)

    @classmethod
    def from_settings(cls, settings: RunSettings, **resolved) -> "Target":
        """The target: what was resolved (endpoints, identities, bouchon, sink…) and the run's
        parameters, taken from ``settings``."""
        return cls(
            **resolved,
            profile=settings.profile,
            network_timeout=settings.network_timeout,
            delivery_timeout=settings.delivery_timeout,
            tls_transition=settings.tls_transition,
            outbound_mode=settings.outbound_mode,
        )

    @property
    def sink_available(self) -> bool:
        return self.sink is not None

    @property
    def endpoints(self) -> list:
        return [*self.imap, *self.smtp]

    def mint(self, variant: str, *, idnat: str | None = None, user: str | None = None):
        """Mint a token of ``variant`` for ``idnat`` (the BAL holder by default); the token
        and its SASL forms are registered as secrets before anyone can print them."""
        try:
            minted = self.bouchon.mint(variant, idnat=idnat or self.idnat)
        except Exception as exc:  # bouchon down, unknown IDNAT…: the check cannot be carried out
            raise CheckNotCarriedOut(f"le bouchon n'a pas pu émettre le jeton « {variant} » : {exc}") from exc
        self.secrets.add(minted.token, *xoauth2_b64_forms(user or self.bal or "", minted.token))
        return minted

    def describe(self) -> dict[str, Any]:
        """JSON-ready description for the report (no secret)."""
        return {
            "operator_urls": [e.url for e in self.endpoints],
            "mx": self.mx.url if self.mx is not None else None,
            "bal": self.bal,
            "idnat": self.idnat,
            "other_idnat": self.other_idnat,
            "embedded_reference": self.reference is not None,
            "reference_profile": self.reference.profile.name if self.reference is not None else None,
            "trust_anchors": self.trust_anchors.describe() if self.trust_anchors is not None else None,
        }


def _split_endpoints(urls):
    from mssante_conformance.mail.endpoint import parse_operator_url

    endpoints = [parse_operator_url(u) for u in urls]
    return (
        tuple(e for e in endpoints if e.protocol == "imap"),
        tuple(e for e in endpoints if e.protocol == "smtp"),
    )


def _mx_endpoint(url: str | None):
    if not url:
        return None
    from mssante_conformance.mail.endpoint import parse_operator_url

    return parse_operator_url(url)


def _default_other_idnat(bouchon, holders: set[str]) -> str | None:
    """A test professional of the bouchon (embedded or remote) who holds none of ``holders``."""
    from mssante_conformance.psc import RemoteBouchonError

    try:
        identities = bouchon.identities
    except RemoteBouchonError as exc:
        raise TargetError(f"identités de test du bouchon illisibles : {exc} ; "
                          "ou donner --other-idnat") from exc
    for identity in identities:
        if identity.idnat not in holders:
            return identity.idnat
    return None


@contextlib.contextmanager
def open_target(settings: RunSettings, secrets: SecretRegistry):
    """Yield the :class:`Target` of a run; stop whatever was started, whatever happens."""
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="mssante-conformance-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        if settings.embedded_reference:
            yield _embedded_reference(settings, secrets, stack, workdir)
        else:
            yield _named_operator(settings, secrets, stack, workdir)


def _start_bouchon(settings: RunSettings, stack, workdir: Path):
    if settings.bouchon_url:
        from mssante_conformance.psc import RemoteBouchon, RemoteBouchonError

        secret = settings.admin_secret()
        if not secret:
            from mssante_conformance.settings import ADMIN_SECRET_ENV

            raise TargetError(f"--bouchon-url exige le secret d'administration dans {ADMIN_SECRET_ENV}")
        try:
            remote = RemoteBouchon(settings.bouchon_url, secret, timeout_s=settings.network_timeout,
                                   ca_file=settings.bouchon_ca_file)
            remote.info()  # reached once now: every check then fails for the same clear reason
        except RemoteBouchonError as exc:
            raise TargetError(f"bouchon distant inutilisable : {exc}") from exc
        return remote
    from mssante_conformance.psc import Bouchon

    bouchon = Bouchon.start(workdir / "bouchon", host="127.0.0.1", port=0)
    stack.callback(bouchon.stop)
    return bouchon


def _named_operator(settings, secrets, stack, workdir) -> Target:
    imap, smtp = _split_endpoints(settings.operator_urls)
    bouchon = _start_bouchon(settings, stack, workdir)
    other = settings.other_idnat or _default_other_idnat(bouchon, {settings.idnat})
    from mssante_conformance.pki import TestPKI

    harness_pki = TestPKI.ensure(workdir / "pki")
    anchors = _trust_anchors(settings)
    sink = (_start_sink(settings, stack, workdir, harness_pki, anchors=anchors)
            if settings.sink_listen else None)
    trusted: tuple[str, ...] = ()
    if settings.trust_whitelist:
        from mssante_conformance.trust import TrustWhitelist, WhitelistError

        try:
            trusted = tuple(TrustWhitelist.load(settings.trust_whitelist).domains)
        except WhitelistError as exc:
            raise TargetError(f"--trust-whitelist : {exc}") from exc
    return Target.from_settings(
        settings,
        workdir=workdir,
        imap=imap,
        smtp=smtp,
        bal=settings.bal,
        idnat=settings.idnat,
        other_idnat=other,
        ca_file=_lps_anchors(settings.ca_file, anchors, workdir),
        client_cert=settings.client_cert,
        client_key=settings.client_key,
        expired_client=_given_pair(settings.expired_client_cert, settings.expired_client_key),
        mx=_mx_endpoint(settings.operator_mx),
        bouchon=bouchon,
        secrets=secrets,
        foreign_client=_pair(harness_pki.foreign_client),
        sink=sink,
        sink_domain=sink.domain if sink else None,
        harness_mta=((str(settings.mta_cert), str(settings.mta_key)) if settings.mta_cert
                     else _pair(harness_pki.harness_mta)),
        mta_ca_file=anchors.path if anchors else settings.ca_file,
        trusted_domains=trusted,
        pki=harness_pki,
        trust_anchors=anchors,
    )


def _trust_anchors(settings):
    """The IGC Santé trust anchors given with --trust-anchors (validated with the settings)."""
    if not settings.trust_anchors:
        return None
    from mssante_conformance.trust import TrustAnchorError, TrustAnchors

    try:
        return TrustAnchors.load(settings.trust_anchors)
    except TrustAnchorError as exc:
        raise TargetError(f"--trust-anchors : {exc}") from exc


def _lps_anchors(ca_file, anchors, workdir: Path):
    """What the API LPS server certificates are verified against. --ca-file alone: that file
    only (as before --trust-anchors existed). --trust-anchors added: the two together, since
    an operator's LPS certificate may come from either. --trust-anchors alone: the anchors and
    the system store (an API LPS may well use a public CA). Neither: the system store."""
    if anchors is None:
        return ca_file
    import ssl

    from mssante_conformance.trust import combined_bundle

    system = None if ca_file else ssl.get_default_verify_paths().cafile
    return combined_bundle([ca_file, anchors.path, system], workdir / "lps-anchors.pem")


def _start_sink(settings, stack, workdir: Path, pki, host: str = "127.0.0.1", port: int = 0, *,
                anchors=None):
    """The harness's MX sink: receives what the operator's MTA sends to the harness domain."""
    from mssante_conformance.mail.sink import MxSink
    from mssante_conformance.pki import HARNESS_DOMAIN

    if settings.sink_listen:
        host, _, port_text = settings.sink_listen.rpartition(":")
        port = int(port_text)
    cert, key = ((settings.sink_cert, settings.sink_key) if settings.sink_cert
                 else (pki.harness_sink.cert, pki.harness_sink.key))
    sink = MxSink(host, port, domain=settings.sink_domain or HARNESS_DOMAIN,
                  cert_file=cert, key_file=key,
                  ca_file=anchors.path if anchors else pki.ca_file, maildir=workdir / "sink")
    try:
        sink.start()
    except OSError as exc:
        raise TargetError(f"le puits MX du harnais n'a pas pu écouter sur {host}:{port} : {exc.strerror or exc}") from exc
    stack.callback(sink.stop)
    return sink


def _embedded_reference(settings, secrets, stack, workdir) -> Target:
    from mssante_conformance.pki import HARNESS_DOMAIN, TestPKI
    from mssante_conformance.reference import ReferenceOperator

    from mssante_conformance.trust import TrustAnchors

    bouchon = _start_bouchon(settings, stack, workdir)
    pki = TestPKI.ensure(workdir / "pki")
    # The reference operator's certificates come from the harness's test PKI: its CAs are the
    # trust anchors of this run unless --trust-anchors says otherwise.
    anchors = _trust_anchors(settings) or TrustAnchors.load(
        pki.ca_file, source="IGC de test du harnais (opérateur de référence)")
    sink = _start_sink(settings, stack, workdir, pki, anchors=anchors)
    operator = ReferenceOperator(workdir / "operator", bouchon, profile=settings.reference_profile,
                                 sink=sink.address, pki=pki,
                                 harness_domain=settings.sink_domain or HARNESS_DOMAIN)
    try:
        operator.start()
    except Exception as exc:  # the reference reports its own clear cause
        raise TargetError(f"l'opérateur de référence n'a pas démarré : {exc}") from exc
    stack.callback(operator.stop)
    urls = [operator.endpoints[k] for k in ("imap", "imaps", "smtp", "smtps") if k in operator.endpoints]
    imap, smtp = _split_endpoints(urls)
    personal = [m for m in operator.mailboxes if m.kind == "PER" and m.holders]
    mailbox = personal[0]
    holder = sorted(mailbox.holders)[0]
    auth_cli = getattr(operator, "auth_cli", None)
    return Target.from_settings(
        settings,
        workdir=workdir,
        imap=imap,
        smtp=smtp,
        bal=settings.bal or mailbox.address,
        idnat=settings.idnat or holder,
        other_idnat=settings.other_idnat or _default_other_idnat(bouchon, set(mailbox.holders)),
        ca_file=settings.ca_file or operator.ca_file,
        client_cert=settings.client_cert or (auth_cli.cert if auth_cli else None),
        client_key=settings.client_key or (auth_cli.key if auth_cli else None),
        mx=_mx_endpoint(operator.endpoints.get("mx")),
        bouchon=bouchon,
        secrets=secrets,
        foreign_client=_pair(pki.foreign_client),
        expired_client=(_given_pair(settings.expired_client_cert, settings.expired_client_key)
                        or _pair(pki.expired_client)),
        reference=operator,
        sink=sink,
        sink_domain=sink.domain,
        harness_mta=_pair(pki.harness_mta),
        mta_ca_file=anchors.path,
        trusted_domains=tuple(operator.trust_whitelist),
        pki=pki,
        trust_anchors=anchors,
    )


def _pair(cert_key) -> tuple[str, str]:
    return (str(cert_key.cert), str(cert_key.key))


def _given_pair(cert, key) -> tuple[str, str] | None:
    return (str(cert), str(key)) if cert and key else None
