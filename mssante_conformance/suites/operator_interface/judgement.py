"""What the interface opérateurs checks conclude from what they saw — pure, no network.

Theory of operation: the exchanges (``exchanges.py``) hand over values — an
:class:`~mssante_conformance.mail.mta.MtaDelivery` for inbound sessions, a sink
:class:`~mssante_conformance.mail.sink_store.DeliveredMessage` for outbound ones — and the
functions here say, in French, what they show. A function returns ``None`` when the value is
conformant, else the one-line reason the report prints; the tests assert on that.
"""

from __future__ import annotations

import email
import email.policy
from email.utils import parseaddr, parsedate_to_datetime

from mssante_conformance.mail.mta import MtaDelivery, MtaOutcome, MtaStep

# The OID arc of IGC Santé certificate policies (ASIP Santé / ANS, 1.2.250.1.213). The test
# organisation policy 1.2.250.1.213.1.7.2.1.1.1.1 and the production server policy
# 1.2.250.1.213.1.7.1.1.2.5.1 (DOMAIN.md) both sit under it.
IGC_SANTE_POLICY_ARC = "1.2.250.1.213."

# TLS versions as Python/OpenSSL name them, in order.
TLS_ORDER = {"SSLv3": 0, "TLSv1": 1, "TLSv1.1": 2, "TLSv1.2": 3, "TLSv1.3": 4}

# Where a refusal happened, for the report.
STEP_LABELS = {
    MtaStep.CONNECT: "à la connexion",
    MtaStep.GREETING: "à l'accueil",
    MtaStep.EHLO: "à EHLO",
    MtaStep.STARTTLS: "à STARTTLS",
    MtaStep.TLS_HANDSHAKE: "pendant la négociation TLS",
    MtaStep.EHLO_AFTER_TLS: "après la négociation TLS",
    MtaStep.MAIL: "à MAIL FROM",
    MtaStep.RCPT: "à RCPT TO",
    MtaStep.DATA: "à DATA",
    MtaStep.MESSAGE: "après le message",
}

# Outcomes that mean the MX could not be judged (nothing to do with its policy).
NOT_REACHED = (MtaOutcome.CONNECT_FAILED, MtaOutcome.TIMEOUT)


def tls_at_least_1_2(version: str | None) -> bool:
    return TLS_ORDER.get(version or "", -1) >= TLS_ORDER["TLSv1.2"]


def igc_sante_policies(oids) -> list[str]:
    """The IGC Santé certificate policies among ``oids``."""
    return [o for o in oids if o.startswith(IGC_SANTE_POLICY_ARC)]


def how_it_ended(d: MtaDelivery) -> str:
    """One French phrase: how the MX ended an inbound session, and where."""
    where = STEP_LABELS.get(d.step, d.step.value)
    if d.outcome is MtaOutcome.DELIVERED:
        return f"message accepté ({d.reply})" if d.reply else "message accepté"
    if d.outcome is MtaOutcome.REFUSED:
        return f"refusé {where} ({d.reply})" if d.reply else f"refusé {where}"
    if d.outcome is MtaOutcome.DROPPED:
        return f"connexion coupée par le MX {where}"
    if d.outcome is MtaOutcome.TLS_FAILED:
        return f"session TLS interrompue {where}"
    return d.detail


# ------------------------------------------------------------------------------ inbound
def legacy_tls_verdict(version: str, d: MtaDelivery) -> str | None:
    """OPI-IN-07, one legacy version forced by the harness: it must not be negotiated."""
    if d.tls is not None:
        return f"le MX accepte {version} (session négociée en {d.tls.version or version}, {d.tls.cipher})"
    return None


def modern_tls_verdict(d: MtaDelivery) -> str | None:
    """OPI-IN-01, the harness's default offer (TLS 1.2 and 1.3): STARTTLS, then TLS ≥ 1.2."""
    if d.starttls_offered is False:
        return "le MX n'annonce pas STARTTLS dans sa réponse à EHLO"
    if d.tls is None:
        return f"aucune session TLS ≥ 1.2 n'a pu être établie ({how_it_ended(d)} : {d.detail})"
    if not tls_at_least_1_2(d.tls.version):
        return f"session TLS négociée en {d.tls.version}, inférieure à TLS 1.2"
    return None


def server_certificate_verdict(d: MtaDelivery, host: str) -> str | None:
    """OPI-IN-08, a session verified against the trust anchors: the MX's certificate chains to
    them (OpenSSL also checks its dates) and is valid for ``host``. Call only when TLS was
    negotiated or the harness's verification failed (:func:`certificate_unverified`)."""
    if d.tls is None:
        return f"le certificat serveur du MX ne chaîne pas vers les ancres de confiance ({d.detail})"
    if not d.tls.verified:
        return f"le certificat serveur du MX n'a pas été vérifié ({d.tls.verify_error})"
    if not d.tls.hostname_matched:
        subject = d.tls.certificate.subject if d.tls.certificate else "?"
        return f"le certificat serveur du MX ({subject}) n'est pas valide pour l'hôte {host}"
    return None


def certificate_unverified(d: MtaDelivery) -> bool:
    """The session ended because the harness could not verify the MX's certificate (mta.py's
    wording of ``ssl.SSLCertVerificationError``)."""
    return d.outcome is MtaOutcome.TLS_FAILED and d.tls is None and d.detail.startswith("certificat du MX non vérifié")


# ------------------------------------------------------------------------------ outbound
def client_certificate_verdict(tls) -> str | None:
    """OPI-OUT-03 on the sink's TLS facts of the delivering connection."""
    if tls is None:
        return "la remise s'est faite sans TLS : aucun certificat client"
    cert = tls.client_certificate
    if cert is None:
        return "le MTA de l'opérateur n'a présenté aucun certificat client TLS"
    if not cert.chains_to_ca:
        return (f"le certificat client du MTA ne remonte pas à l'IGC Santé (ancres de confiance du contrôle) : "
                f"{cert.chain_error or 'chaîne non vérifiée'} — {cert.subject}, émis par {cert.issuer}")
    if not cert.valid_now:
        return f"le certificat client du MTA ({cert.subject}) est hors de sa période de validité ({cert.not_after})"
    if not igc_sante_policies(cert.policy_oids):
        return (f"le certificat client du MTA ({cert.subject}) ne porte aucune politique de certification "
                f"IGC Santé (OID {', '.join(cert.policy_oids) or 'absents'})")
    return None


def _body(message) -> bytes:
    payload = message.get_payload(decode=True)
    if payload is None:  # multipart: compare the whole body as text
        payload = message.as_bytes().partition(b"\n\n")[2]
    return payload.replace(b"\r\n", b"\n").rstrip(b"\n")


def message_verdict(received: bytes, *, bal: str | None, sent: bytes | None, marker: str) -> str | None:
    """OPI-OUT-04: Message-ID, Date and From = the BAL present; what was sent arrives unchanged
    (each header the harness wrote, same value; the same body). ``sent`` is ``None`` in manual
    mode (the operator composed the message): then only the headers and the marker count."""
    got = email.message_from_bytes(received, policy=email.policy.compat32)
    if not got.get("Message-ID", "").strip():
        return "le message reçu n'a pas de Message-ID"
    date = got.get("Date", "").strip()
    if not date:
        return "le message reçu n'a pas d'en-tête Date"
    try:
        parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return f"l'en-tête Date du message reçu n'est pas une date RFC 5322 ({date!r})"
    sender = parseaddr(got.get("From", ""))[1]
    if bal and sender.lower() != bal.lower():
        return f"l'expéditeur (From) du message reçu est {sender or 'absent'}, pas la BAL {bal}"
    if marker not in str(got.get("Subject", "")):
        return f"le marqueur {marker} n'est plus dans l'objet du message reçu"
    if sent is None:
        return None
    original = email.message_from_bytes(sent, policy=email.policy.compat32)
    for name, value in original.items():
        if name.lower() in ("bcc",):
            continue
        values = [" ".join(v.split()) for v in got.get_all(name, [])]
        if " ".join(value.split()) not in values:
            return f"l'en-tête {name} a été modifié en route ({value!r} envoyé, {got.get(name)!r} reçu)"
    if _body(got) != _body(original):
        return "le corps du message reçu diffère du message soumis"
    return None


def bal_message_verdict(received: bytes | None, sent: bytes) -> str | None:
    """OPI-IN-02: the message read back from the BAL over IMAP equals what the harness sent
    (its headers, same values, and its body); headers added on the way are allowed."""
    if received is None:
        return "le message n'a pas pu être relu dans la BAL"
    return message_verdict(received, bal=None, sent=sent, marker=_subject_marker(sent))


def _subject_marker(sent: bytes) -> str:
    return str(email.message_from_bytes(sent, policy=email.policy.compat32).get("Subject", ""))
