"""What the IMAP and SMTP probes share: a TLS session with the operator.

Both verify the server's certificate first; when it does not verify and the caller allowed it
(``allow_unverified``), they record why in the transcript and reconnect without verification,
so the checks can go on and the certificate check (LPS-*-01, LPS-TLS-06) judges the
certificate. Subclasses say how to open a session (``_open``: connect, greeting) and how to
switch to TLS (``_starttls``), and what to do after reconnecting before STARTTLS again.
"""

from __future__ import annotations

from . import breaker
from .endpoint import Endpoint, parse_operator_url
from .errors import (
    CertificateNotTrusted,
    CheckDeadlineExceeded,
    ConnectionFailed,
    EndpointUnavailable,
    ProbeTimeout,
    ProtocolMismatch,
)
from .tls import TlsInfo, handshake
from .transcript import Transcript

# protocol → how a wrong URL is named in the error
_SCHEMES = {"imap": "IMAP (imap:// ou imaps://)", "smtp": "SMTP (smtp:// ou smtps://)"}


class TlsSessionProbe:
    protocol: str  # "imap" or "smtp", set by the subclass

    def __init__(
        self,
        endpoint: Endpoint | str,
        transcript: Transcript | None = None,
        *,
        ca_file: str | None = None,
        timeout: float = 10.0,
        allow_unverified: bool = False,
        client_cert: tuple[str, str] | None = None,
    ) -> None:
        self.endpoint = parse_operator_url(endpoint) if isinstance(endpoint, str) else endpoint
        if self.endpoint.protocol != self.protocol:
            raise ConnectionFailed(f"{self.endpoint} n'est pas une adresse {_SCHEMES[self.protocol]}",
                                   step="connect")
        self.transcript = transcript if transcript is not None else Transcript(title=str(self.endpoint))
        self.ca_file = ca_file
        self.timeout = timeout
        self.allow_unverified = allow_unverified
        self.client_cert = client_cert
        self.tls_info: TlsInfo | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        return f"{self.endpoint.host}:{self.endpoint.port}"

    def connect(self):
        """TCP connect (and the TLS handshake on implicit-TLS endpoints), read the greeting.

        Raises :class:`EndpointUnavailable` at once if the run already gave up on this
        endpoint; gives it up (:mod:`.breaker`) if it cannot be reached or says nothing.
        """
        breaker.guard(self.endpoint.host, self.endpoint.port)
        try:
            try:
                return self._open(verify=True)
            except CertificateNotTrusted as exc:
                self._going_on_unverified(exc)
                return self._open(verify=False, verify_error=exc.verify_error)
        except (ConnectionFailed, ProbeTimeout) as exc:
            if _unreachable_or_mute(exc):
                breaker.trip(self.endpoint.host, self.endpoint.port, self.endpoint.url, str(exc))
            raise
        except ProtocolMismatch as exc:
            if exc.step == "greeting" and not self.endpoint.implicit_tls:
                breaker.note_foreign(self.endpoint.host, self.endpoint.port, self.endpoint.url, str(exc))
            raise

    def starttls(self) -> TlsInfo:
        """``STARTTLS`` then the handshake. Raises :class:`StartTlsRefused` if refused."""
        try:
            return self._starttls(verify=True)
        except CertificateNotTrusted as exc:
            self._going_on_unverified(exc)
            self._open(verify=True)
            self._after_reopen()
            return self._starttls(verify=False, verify_error=exc.verify_error)

    def _going_on_unverified(self, exc: CertificateNotTrusted) -> None:
        if not self.allow_unverified:
            raise exc
        self.transcript.note(f"certificat non vérifié ({exc.verify_error}) : reprise sans vérification")

    def _after_reopen(self) -> None:
        """Protocol steps between the greeting and STARTTLS (SMTP: EHLO)."""

    def _secure(self, sock, *, verify: bool, verify_error: str | None = None):
        tls_sock, info = handshake(
            sock, self.endpoint.host, timeout=self.timeout, verify=verify, ca_file=self.ca_file,
            client_cert=self.client_cert, verify_error=verify_error,
        )
        self.tls_info = info
        self.transcript.tls(info)
        return tls_sock

    # -- provided by the protocol
    def close(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _open(self, *, verify: bool, verify_error: str | None = None):  # pragma: no cover
        raise NotImplementedError

    def _starttls(self, *, verify: bool, verify_error: str | None = None) -> TlsInfo:  # pragma: no cover
        raise NotImplementedError


def _unreachable_or_mute(exc: Exception) -> bool:
    """The endpoint could not be reached, or said nothing in time (no greeting, no TLS
    handshake answer on an implicit-TLS port). A refusal or garbage is an answer: no."""
    if isinstance(exc, (EndpointUnavailable, CheckDeadlineExceeded)):
        return False  # already given up / the check's own budget ran out, not the server's fault alone
    if isinstance(exc, ProbeTimeout):
        return exc.step in ("connect", "greeting", "tls")
    return isinstance(exc, ConnectionFailed) and exc.step == "connect"
