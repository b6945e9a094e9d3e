"""What the IMAP and SMTP probes share: a TLS session with the operator.

Both verify the server's certificate first; when it does not verify and the caller allowed it
(``allow_unverified``), they record why in the transcript and reconnect without verification,
so the checks can go on and the certificate check (LPS-*-01, LPS-TLS-06) judges the
certificate. Subclasses say how to open a session (``_open``: connect, greeting) and how to
switch to TLS (``_starttls``), and what to do after reconnecting before STARTTLS again.
"""

from __future__ import annotations

from .errors import CertificateNotTrusted
from .tls import TlsInfo, handshake


class TlsSessionProbe:
    endpoint: object
    transcript: object
    timeout: float
    ca_file: str | None
    client_cert: tuple[str, str] | None
    allow_unverified: bool
    tls_info: TlsInfo | None

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def where(self) -> str:
        return f"{self.endpoint.host}:{self.endpoint.port}"

    def connect(self):
        """TCP connect (and the TLS handshake on implicit-TLS endpoints), read the greeting."""
        try:
            return self._open(verify=True)
        except CertificateNotTrusted as exc:
            self._going_on_unverified(exc)
            return self._open(verify=False, verify_error=exc.verify_error)

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
