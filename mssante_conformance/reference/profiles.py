"""Profiles of the reference operator: the conformant one, the deliberately defective ones, and
a second family that validates tokens another way.

Each profile is exactly one deviation from its ``base`` (``conformant`` unless said): it
changes one knob of :class:`Knobs`, and names the catalog checks (CHECKS.md) that must fail
against it. This is how the harness proves that its checks can fail, and that they do not
assume one validation style (family ``local_jwt``: Dovecot validates the JWT itself). What
must fail may depend on the harness's ``--profile``: :meth:`Profile.expected_failures`. The
table is the single source: the config templates read the knobs, the docs and the CLI read the
descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Knobs:
    """Everything a profile may change. Defaults = the conformant operator."""

    lps_tls_legacy: bool = False  # Dovecot accepts TLS 1.0/1.1 (and weak suites for them)
    mx_tls_legacy: bool = False  # Postfix MX accepts TLS 1.0/1.1
    plaintext_auth: bool = False  # Dovecot allows authentication before TLS
    token_policy: str = "introspect"  # token adapter: introspect | any | no_holder | ignore_expiry
    mx_require_client_cert: bool = True
    mx_trust: str = "igc"  # igc: only the IGC Santé test CA; any: also other CAs
    relay: str = "trust_space"  # trust_space | open
    # introspect: the oauth2 passdb asks the token adapter, which introspects at the bouchon;
    # local_jwt: Dovecot's oauth2 passdb validates the JWT itself (no introspection at all).
    validation: str = "introspect"
    # local_jwt only: whose keys and issuer Dovecot trusts. bouchon: the bouchon's JWKS and
    # issuer; other: an issuer of the operator's own (local_keys.OtherIssuer), as a production
    # operator trusts the real PSC and not the harness's bouchon.
    trusted_issuer: str = "bouchon"


HARNESS_PROFILES = ("full", "monitoring")  # the harness's --profile values


@dataclass(frozen=True)
class Profile:
    name: str
    deviation: str  # one English sentence: what differs from ``base``
    must_fail: tuple[str, ...]  # catalog check ids that must fail (harness --profile full)
    knobs: Knobs = field(default_factory=Knobs)
    base: str = "conformant"  # the profile this one differs from, by one knob
    # Checks that must fail under --profile monitoring; None: the monitoring checks of must_fail.
    monitoring_must_fail: tuple[str, ...] | None = None

    @property
    def trusts_bouchon(self) -> bool:
        return self.knobs.trusted_issuer == "bouchon"

    def expected_failures(self, harness_profile: str) -> frozenset[str] | None:
        """The checks that must fail when the harness runs with ``--profile harness_profile``
        (every other check passes); None when the profile states no expectation for it: an
        operator that does not trust the bouchon cannot accept the full profile's tokens."""
        if harness_profile not in HARNESS_PROFILES:
            raise ValueError(f"unknown harness profile {harness_profile!r}")
        if harness_profile == "full":
            return frozenset(self.must_fail) if self.trusts_bouchon else None
        if self.monitoring_must_fail is not None:
            return frozenset(self.monitoring_must_fail)
        from mssante_conformance.catalog import load_catalog

        checks = load_catalog().checks
        return frozenset(c for c in self.must_fail if checks[c].monitoring)


_BASE = Knobs()
_LOCAL = replace(_BASE, validation="local_jwt")

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("conformant", "none: passes every automated check", ()),
        Profile(
            "tls_legacy",
            "TLS 1.0 and 1.1 accepted (with legacy suites) on IMAP, submission and the MX "
            "(on the MX, OpenSSL 3 then fails TLS 1.0 handshakes that request a client "
            "certificate: see docs/reference-operator.md)",
            ("LPS-TLS-02", "LPS-TLS-03"),
            replace(_BASE, lps_tls_legacy=True, mx_tls_legacy=True),
        ),
        Profile(
            "plaintext_auth",
            "authentication (XOAUTH2/OAUTHBEARER) allowed before STARTTLS on IMAP and submission",
            ("LPS-IMAP-02", "LPS-SMTP-02"),
            replace(_BASE, plaintext_auth=True),
        ),
        Profile(
            "accept_any_token",
            "the token is not validated at all: any bearer string opens any BAL of the directory",
            ("LPS-IMAP-06", "LPS-IMAP-07", "LPS-IMAP-08", "LPS-IMAP-09", "LPS-IMAP-10",
             "LPS-IMAP-11", "LPS-IMAP-12", "LPS-IMAP-13", "LPS-IMAP-14",
             "LPS-SMTP-05", "LPS-SMTP-06", "LPS-SMTP-07", "LPS-SMTP-08", "LPS-SMTP-09",
             "LPS-SMTP-10", "LPS-SMTP-11", "LPS-SMTP-12", "LPS-SMTP-15"),
            replace(_BASE, token_policy="any"),
        ),
        Profile(
            "no_holder_check",
            "any token the bouchon declares active opens any BAL (IDNAT not checked against the directory)",
            ("LPS-IMAP-13", "LPS-SMTP-12"),
            replace(_BASE, token_policy="no_holder"),
        ),
        Profile(
            "no_expiry_check",
            "an expired token is accepted: when introspection says inactive, the adapter validates "
            "the JWT locally (PSC JWKS signature, issuer) and ignores exp",
            ("LPS-IMAP-06", "LPS-SMTP-05"),
            replace(_BASE, token_policy="ignore_expiry"),
        ),
        Profile(
            "mx_no_client_cert",
            "the MX accepts MTAs that present no client certificate (Postfix then also lets an "
            "unverifiable certificate through, as if none had been sent)",
            ("OPI-IN-04", "OPI-IN-05"),
            replace(_BASE, mx_require_client_cert=False),
        ),
        Profile(
            "mx_any_ca",
            "the MX trusts client certificates of other CAs (system store and the foreign test CA) "
            "besides the IGC Santé test CA",
            ("OPI-IN-05",),
            replace(_BASE, mx_trust="any"),
        ),
        Profile(
            "open_relay",
            "Postfix relays to any destination: the MX relays for foreign domains and the outbound "
            "MTA sends outside the trust space",
            ("OPI-OUT-05",),
            replace(_BASE, relay="open"),
        ),
        # A second family, not a defect: another validation style behind the same Postfix.
        Profile(
            "local_jwt",
            "Dovecot's oauth2 passdb validates the JWT locally (introspection_mode = local, keys "
            "from the bouchon's JWKS, issuers = the bouchon) and never introspects: a revoked "
            "token is invisible to it (see docs/reference-operator.md)",
            ("LPS-IMAP-14", "LPS-SMTP-15"),
            _LOCAL,
        ),
        Profile(
            "trusts_other_issuer",
            "local validation that trusts another issuer than the bouchon (a key pair and issuer "
            "of the operator's own), as a production operator trusts the real PSC: every bouchon "
            "token is refused, so only the monitoring profile is meaningful against it",
            (),
            replace(_LOCAL, trusted_issuer="other"),
            base="local_jwt",
            monitoring_must_fail=(),
        ),
    )
}


class UnknownProfile(ValueError):
    pass


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfile(
            f"profil inconnu {name!r} (profils: {', '.join(PROFILES)})") from None
