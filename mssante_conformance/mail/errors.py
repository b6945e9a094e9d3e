"""The faults a probe can meet, each one exception type with a one-line French reason.

A check maps any :class:`ProbeError` to an ``error`` outcome (the probe could not be carried
out), except where a refusal *is* the evidence (e.g. :class:`StartTlsRefused` for a check
that wants TLS offered): such types are documented in docs/probes.md.

``str(exc)`` is the reason, one line, never a traceback; ``exc.step`` says which network
step failed (``connect``, ``greeting``, ``starttls``, ``tls``, ``command``…).
"""

from __future__ import annotations


class ProbeError(Exception):
    """Base of every fault raised by ``mssante_conformance.mail``."""

    def __init__(self, reason: str, *, step: str = "") -> None:
        super().__init__(reason)
        self.reason = " ".join(reason.split())  # always one line
        self.step = step

    def __str__(self) -> str:
        return self.reason


class EndpointError(ProbeError, ValueError):
    """The operator URL cannot be used (unknown scheme, no host, bad port, credentials in it)."""


class ConnectionFailed(ProbeError):
    """TCP connection impossible: refused, unreachable, unknown host name."""


class EndpointUnavailable(ConnectionFailed):
    """An earlier check of the run found this endpoint unreachable or mute (see
    :mod:`.breaker`): the check is not attempted; the reason names the first failure."""


class ProbeTimeout(ProbeError):
    """The server stayed silent longer than the step's timeout."""


class CheckDeadlineExceeded(ProbeTimeout):
    """The check's whole exchange outlasted its deadline (``--check-timeout``, see
    :mod:`.deadline`). Never turned into an authentication outcome: the check ends ``error``."""


class ConnectionLost(ProbeError):
    """The server closed the connection in the middle of an exchange."""


class TlsAlert(ConnectionLost):
    """The peer ended an established TLS session with an alert (e.g. a client certificate
    refused after a TLS 1.3 handshake). A :class:`ConnectionLost` for everyone but the
    harness MTA, which reports it as a TLS refusal."""


class ProtocolMismatch(ProbeError):
    """The peer does not speak the expected protocol (bad greeting, unparsable reply)."""


class TlsFailure(ProbeError):
    """The TLS handshake failed (no common version or suite, server dropped it…)."""


class CertificateNotTrusted(TlsFailure):
    """The certificate chain did not verify against the trust anchor, or not for the host name.

    Raised only when the caller did not allow going on unverified (``allow_unverified``).
    ``verify_error`` holds OpenSSL's reason.
    """

    def __init__(self, reason: str, *, step: str = "tls", verify_error: str = "") -> None:
        super().__init__(reason, step=step)
        self.verify_error = verify_error


class StartTlsRefused(ProbeError):
    """The server did not accept STARTTLS (not offered, or answered NO/BAD/4xx/5xx).

    ``answer`` holds the server's reply line. A check of "TLS offered" turns this into
    ``failed``; elsewhere it is an ``error``.
    """

    def __init__(self, reason: str, *, step: str = "starttls", answer: str = "") -> None:
        super().__init__(reason, step=step)
        self.answer = answer
