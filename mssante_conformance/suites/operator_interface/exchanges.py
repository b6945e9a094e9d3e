"""The exchanges of the interface opérateurs checks: the harness as a trust-space MTA towards
the operator's MX (inbound), and a message submitted through the API LPS that the operator's
MTA must bring to the harness's MX sink (outbound).

Both sides are shared by several checks, so they are session objects that act lazily, on the
first check that asks: the trust-space delivery (OPI-IN-02, and the control of OPI-IN-03…06)
and the outbound delivery (OPI-OUT-01…04) each happen once per run. Laziness also keeps a
check whose needs are missing (``not_applicable``) from touching the operator.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Callable

from mssante_conformance.conformance import CheckNotCarriedOut, NotApplicable
from mssante_conformance.evidence import Evidence
from mssante_conformance.mail.errors import ProbeError
from mssante_conformance.mail.mta import MtaDelivery, MtaStep, send_as_mta
from mssante_conformance.mail.smtp import SmtpProbe
from mssante_conformance.mail.transcript import Transcript
from mssante_conformance.pki import HARNESS_DOMAIN
from mssante_conformance.suites.support import imap_session, said, smtp_session
from mssante_conformance.suites.operator_interface.judgement import NOT_REACHED, how_it_ended

POLL_INTERVAL_S = 0.25
BODY = ("Message de test du harnais de conformité MSSanté (Ref#1 v1.5), interface opérateurs.\n"
        "Ligne commençant par un point :\n.point\nFin.\n")


def new_marker() -> str:
    return "OPI-" + uuid.uuid4().hex[:16]


def compose(sender: str, recipient: str, check: str, marker: str) -> bytes:
    """A uniquely marked test message (Subject carries the marker; a line starts with a dot,
    so dot-stuffing on the way is exercised too)."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = recipient
    msg["Subject"] = f"[conformite {check}] {marker}"
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=marker, domain=sender.rpartition("@")[2] or None)
    msg["X-Conformite-Marqueur"] = marker
    msg.set_content(BODY)
    return bytes(msg)


def trust_space_domain(target) -> str:
    """The harness's domain in the test trust space: the sender domain of its MTA."""
    return target.sink_domain or HARNESS_DOMAIN


def _mx(target):
    if target.mx is None:
        raise NotApplicable(["mx"])
    return target.mx


# ------------------------------------------------------------------------------ inbound
@dataclass(frozen=True)
class TrustSpaceDelivery:
    """The trust-space delivery: the MX's answer, the message sent, its marker, and when the
    session ended (monotonic; the MX had answered the final dot by then)."""

    delivery: MtaDelivery
    message: bytes
    marker: str
    ended_at: float


class Inbound:
    """The harness as an MTA of the trust space, delivering to ``target.mx``."""

    def __init__(self, target) -> None:
        self.target = target
        self.domain = trust_space_domain(target)
        self.sender = f"conformite.opi@{self.domain}"
        self.helo = f"mta.{self.domain}"
        self._trust_space: TrustSpaceDelivery | None = None

    @property
    def recipient(self) -> str:
        """The BAL, or the MX host's postmaster when no BAL was given (refusal checks only)."""
        return self.target.bal or f"postmaster@{_mx(self.target).host}"

    def send(self, evidence, label: str, *, mail_from: str | None = None, rcpt_to=None,
             message: bytes | None = None, starttls: bool = True, client: str | None = "harness",
             tls_version=None, ca_file=None) -> MtaDelivery:
        """One MTA session with the MX; recorded in ``evidence`` under ``label``. ``client``:
        ``"harness"`` (IGC Santé test certificate), ``"foreign"`` (another CA) or ``None``.
        ``ca_file``: what the MX's certificate must chain to (default: ``target.mta_ca_file``)."""
        mx = _mx(self.target)
        cert_key = {"harness": self.target.harness_mta, "foreign": self.target.foreign_client,
                    None: None}[client]
        if client and not cert_key:
            raise CheckNotCarriedOut(f"certificat client « {client} » du harnais indisponible")
        sender = mail_from or self.sender
        recipients = self.recipient if rcpt_to is None else rcpt_to
        d = send_as_mta(
            mx.host, mx.port, helo=self.helo, mail_from=sender, rcpt_to=recipients,
            message=message if message is not None else compose(sender, self.recipient, "OPI-IN", new_marker()),
            starttls=starttls, client_cert=cert_key[0] if cert_key else None,
            client_key=cert_key[1] if cert_key else None,
            ca_file=str(ca_file or self.target.mta_ca_file) if (ca_file or self.target.mta_ca_file) else None,
            tls_version=tls_version, timeout=self.target.network_timeout,
        )
        ended = how_it_ended(d)
        if recipients == () and d.tls is not None and d.step is MtaStep.MAIL:
            ended = "sonde TLS seule : aucun destinataire, session arrêtée après MAIL FROM (rien n'est remis)"
        evidence.fact(label, {"mx": mx.url, "mail_from": sender, "client_cert": client,
                              "résultat": ended, **d.to_dict()})
        if d.outcome in NOT_REACHED:
            raise CheckNotCarriedOut(f"{mx.url} : {d.detail}")
        return d

    def trust_space_delivery(self, evidence) -> "TrustSpaceDelivery":
        """The delivery every inbound check leans on (once per run): IGC Santé certificate,
        whitelisted sender domain, the BAL as recipient."""
        if self._trust_space is None:
            if not self.target.bal:
                raise NotApplicable(["bal"])
            marker = new_marker()
            message = compose(self.sender, self.target.bal, "OPI-IN-02", marker)
            d = self.send(evidence, "remise par un MTA de l'espace de confiance", message=message)
            self._trust_space = TrustSpaceDelivery(d, message, marker, time.monotonic())
        else:
            d = self._trust_space.delivery
            evidence.fact("remise par un MTA de l'espace de confiance (déjà faite)",
                          {"résultat": how_it_ended(d), **d.to_dict()})
        return self._trust_space

    def require_control(self, evidence) -> None:
        """Before a refusal check: a refusal proves something only if the MX accepts the same
        delivery from a trust-space MTA. Skipped (and said) in the monitoring profile, where
        nothing is delivered to the operator's BALs, or without a BAL."""
        if self.target.profile == "monitoring" or not self.target.bal:
            evidence.fact("témoin", "sans témoin (profil monitoring ou BAL non fournie) : le refus "
                                    "n'est pas comparé à l'acceptation d'un MTA de l'espace de confiance")
            return
        d = self.trust_space_delivery(evidence).delivery
        if not d.delivered:
            raise CheckNotCarriedOut(
                f"témoin en échec : le MX refuse aussi un MTA de l'espace de confiance "
                f"({how_it_ended(d)}) — un refus ne prouverait rien")


    def sender_control(self, evidence) -> None:
        """OPI-IN-06's positive control, in every profile: the harness's trust-space certificate
        with a *whitelisted* sender domain is accepted at MAIL FROM and RCPT TO on the same MX
        (then RSET and QUIT: nothing is delivered). Else the refusal of a foreign domain could
        be a refusal of the harness itself (its certificate not trusted by a production MX)."""
        mx = _mx(self.target)
        if not self.target.harness_mta:
            raise CheckNotCarriedOut("certificat de MTA de l'espace de confiance du harnais indisponible")
        transcript = evidence.transcript(f"SMTP {mx.url} — témoin : expéditeur de la liste blanche")
        probe = SmtpProbe(mx, transcript, ehlo_name=self.helo, timeout=self.target.network_timeout,
                          ca_file=str(self.target.mta_ca_file) if self.target.mta_ca_file else None,
                          allow_unverified=True, client_cert=self.target.harness_mta)
        try:
            with probe:
                probe.connect()
                probe.ehlo()
                probe.starttls()
                probe.ehlo()
                mail = probe.mail_from(self.sender)
                rcpt = probe.rcpt_to(self.recipient) if mail.positive else None
                with contextlib.suppress(ProbeError):
                    probe.rset()
                    probe.quit()
        except ProbeError as exc:
            evidence.fact("témoin : expéditeur de la liste blanche", {"erreur": str(exc)})
            raise CheckNotCarriedOut(f"témoin en échec : la session d'un MTA de l'espace de confiance avec "
                                     f"un expéditeur de la liste blanche ({self.sender}) n'aboutit pas ({exc}) "
                                     "— un refus ne prouverait rien") from exc
        evidence.fact("témoin : expéditeur de la liste blanche", {
            "mail_from": self.sender, "rcpt_to": self.recipient,
            "MAIL FROM": mail.to_dict(), "RCPT TO": rcpt.to_dict() if rcpt else None})
        refused = mail if not mail.positive else rcpt if not rcpt.positive else None
        if refused is not None:
            raise CheckNotCarriedOut(
                f"témoin en échec : le MX refuse aussi l'expéditeur {self.sender} de la liste blanche "
                f"({refused.code} {refused.text}) — un refus du domaine hors liste ne prouverait rien")


def read_back(target, evidence, marker: str, deadline: float) -> tuple[bytes | None, float | None]:
    """Find the message whose Subject carries ``marker`` in the BAL over IMAP (valid token of
    the holder), polling until ``deadline`` (monotonic); returns (message, monotonic time
    found) or (None, None)."""
    if not target.imap:
        raise NotApplicable(["imap"])
    endpoint = target.imap[0]
    token = target.mint("valid")
    with imap_session(target, evidence, endpoint, label="relecture de la BAL") as p:
        attempt = p.authenticate_xoauth2(target.bal, token.token)
        if not attempt.accepted:
            raise CheckNotCarriedOut(f"{endpoint.url} : le jeton valide du titulaire est refusé "
                                     f"({said(attempt)}), la BAL ne peut pas être relue")
        selected = p.select("INBOX")
        if not selected.ok:
            raise CheckNotCarriedOut(f"{endpoint.url} : SELECT INBOX refusé ({selected.status} {selected.text})")
        while True:
            uids = p.search_header("Subject", marker)
            if uids:
                found_at = time.monotonic()
                return p.fetch_message(uids[-1]), found_at
            if time.monotonic() >= deadline:
                return None, None
            time.sleep(POLL_INTERVAL_S)
            p.noop()


# ------------------------------------------------------------------------------ outbound
@dataclass
class OutboundDelivery:
    """The outbound delivery shared by OPI-OUT-01…04.

    ``sent``: the submitted message (``None`` in manual mode); ``refused``: why the operator
    did not take the message for a harness BAL (a non-conformity of OPI-OUT-01);
    ``message``: what reached the sink (``None`` if nothing did); ``elapsed_s``: submission
    (or announcement) → arrival at the sink; ``attempts``: sink sessions opened since.
    """

    mode: str
    marker: str
    recipient: str
    sent: bytes | None
    refused: str | None
    message: object | None
    elapsed_s: float | None
    waited_s: float
    attempts: list = field(default_factory=list)
    submission: dict = field(default_factory=dict)

    def to_evidence(self) -> dict:
        return {
            "mode": self.mode,
            "marqueur": self.marker,
            "destinataire": self.recipient,
            "soumission": self.submission,
            "refus": self.refused,
            "message_reçu": self.message.to_dict() if self.message is not None else None,
            "délai_soumission_puits_s": None if self.elapsed_s is None else round(self.elapsed_s, 3),
            "attente_s": round(self.waited_s, 3),
            "sessions_du_puits": [c.to_dict() for c in self.attempts],
        }


class Outbound:
    """Submits once (or, in manual mode, asks the operator to send once) and waits at the sink."""

    def __init__(self, target, announce: Callable[[list[str]], None]) -> None:
        self.target = target
        self.announce = announce
        self._result: OutboundDelivery | None = None
        self._failure: BaseException | None = None

    def delivery(self) -> OutboundDelivery:
        if self._failure is not None:
            raise self._failure
        if self._result is None:
            try:
                self._result = self._deliver()
            except CheckNotCarriedOut as exc:
                self._failure = exc
                raise
        return self._result

    def _deliver(self) -> OutboundDelivery:
        sink = self.target.sink
        if sink is None:
            raise NotApplicable(["sink"])
        marker = new_marker()
        recipient = f"conformite.{marker[4:12]}@{sink.domain}"
        manual = self.target.outbound_mode == "manual"
        since = time.time()
        if manual:
            sent, refused, submission = None, None, self._announce(marker, recipient)
        else:
            sent = compose(self.target.bal, recipient, "OPI-OUT-01", marker)
            refused, submission = self._submit(sent, recipient)
        start = time.monotonic()
        message = None
        if refused is None:
            message = sink.wait_for(lambda m: marker in m.subject, timeout=self.target.delivery_timeout)
        waited = time.monotonic() - start
        elapsed = (message.received_at.timestamp() - since) if message is not None else None
        attempts = [c for c in sink.connections() if c.opened_at.timestamp() >= since - 1]
        return OutboundDelivery("manuel" if manual else "automatique", marker, recipient, sent,
                                refused, message, elapsed, waited, attempts, submission)

    def _announce(self, marker: str, recipient: str) -> dict:
        host, port = self.target.sink.address
        lines = [
            "Interface opérateurs, contrôles sortants (mode manuel) :",
            f"  envoyez depuis la BAL {self.target.bal or '(la BAL testée)'} un message à {recipient}",
            f"  avec dans l'objet le marqueur : {marker}",
            f"  (MX du harnais pour le domaine {self.target.sink.domain} : {host}:{port} ; "
            f"attente maximale {self.target.delivery_timeout:g} s)",
        ]
        self.announce(lines)
        return {"consigne": lines}

    def _submit(self, message: bytes, recipient: str) -> tuple[str | None, dict]:
        """Submit through the API LPS with a valid token; returns (refusal, evidence)."""
        if not self.target.smtp:
            raise NotApplicable(["smtp"])
        endpoint = self.target.smtp[0]
        token = self.target.mint("valid")
        # the delivery is shared by the outbound checks: its transcript is kept apart, in each one's facts
        submission = Evidence(self.target.secrets, Transcript)
        refused = None
        with smtp_session(self.target, submission, endpoint, label="soumission") as p:
            attempt = p.authenticate_xoauth2(self.target.bal, token.token)
            if not attempt.accepted:
                raise CheckNotCarriedOut(f"{endpoint.url} : le jeton valide du titulaire est refusé "
                                         f"({said(attempt)}) ; rien n'a pu être soumis (voir LPS-SMTP-04)")
            mail = p.mail_from(self.target.bal)
            if not mail.positive:
                raise CheckNotCarriedOut(f"{endpoint.url} : MAIL FROM de la BAL refusé ({mail.code} {mail.text}) "
                                         "; rien n'a pu être soumis (voir LPS-SMTP-04)")
            rcpt = p.rcpt_to(recipient)
            if not rcpt.positive:
                refused = f"RCPT TO:<{recipient}> refusé ({rcpt.code} {rcpt.text})"
            else:
                data = p.data(message)
                if data.code != 250:
                    refused = f"message refusé après DATA ({data.code} {data.text})"
        [transcript] = submission.to_dict()["transcripts"]
        return refused, {"point_d_accès": endpoint.url, "transcription": transcript}
