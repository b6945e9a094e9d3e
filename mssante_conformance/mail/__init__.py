"""Protocol probes of the harness: IMAP, SMTP submission, TLS, with redacted transcripts.

See docs/probes.md. Modules: ``endpoint`` (operator URLs), ``errors`` (fault types),
``sasl`` and ``classify`` (pure protocol knowledge), ``transcript`` (redaction),
``certificate``/``tls`` (handshakes, sslyze scans in ``tls_scan``), ``imap``/``smtp``
(thin drivers), ``connection`` (timed line I/O).
"""

from .classify import AuthAttempt, AuthOutcome, ImapResult, SmtpReply
from .endpoint import Endpoint, parse_operator_url
from .errors import (
    CertificateNotTrusted,
    ConnectionFailed,
    ConnectionLost,
    EndpointError,
    ProbeError,
    ProbeTimeout,
    ProtocolMismatch,
    StartTlsRefused,
    TlsFailure,
)
from .imap import ImapProbe
from .smtp import EhloResult, SmtpProbe
from .tls import TlsInfo
from .transcript import Transcript, redact

__all__ = [
    "AuthAttempt", "AuthOutcome", "CertificateNotTrusted", "ConnectionFailed", "ConnectionLost",
    "EhloResult", "Endpoint", "EndpointError", "ImapProbe", "ImapResult", "ProbeError", "ProbeTimeout",
    "ProtocolMismatch", "SmtpProbe", "SmtpReply", "StartTlsRefused", "TlsFailure", "TlsInfo",
    "Transcript", "parse_operator_url", "redact",
]
