"""The test IGC Santé PKI: certificates shaped like IGC Santé TEST, for loopback runs only.

API::

    from mssante_conformance.pki import TestPKI
    pki = TestPKI.ensure("var/pki")          # creates what is missing, keeps what exists
    pki.ca_file                               # issuing CA + root (PEM bundle): the trust anchor
    pki.root_ca, pki.issuing_ca               # CertKey(cert, key) of the two IGC Santé test CAs
    pki.operator_server                       # IMAP/submission server (SAN 127.0.0.2, 127.0.0.3, imap./smtp./mx. names)
    pki.operator_mta                          # operator MTA (serverAuth + clientAuth): MX and outbound client
    pki.org_auth_cli                          # ORG AUTH_CLI client certificate (OU = structure id)
    pki.harness_mta                           # the harness acting as a trust-space MTA (client of the MX)
    pki.harness_sink                          # the harness's MX sink (server, SAN 127.0.0.1)
    pki.foreign_ca, pki.foreign_client, pki.foreign_server   # another CA and certs under it
    pki.expired_client, pki.expired_server    # IGC Santé test certs whose validity ended
    pki.fingerprint_sha256(pki.harness_mta)   # "AB:CD:…" (Postfix-style) of the leaf certificate

Every ``CertKey.cert`` file holds the leaf followed by its issuing CA (a full chain, what
``ssl.SSLContext.load_cert_chain``, Dovecot and Postfix all accept); ``CertKey.key`` is an
unencrypted PKCS#8 key written with mode 0600. Re-running :meth:`TestPKI.ensure` keeps every
existing file, so clients configured with these certificates keep working.

Names follow DOMAIN.md: the CA subjects are those of IGC Santé TEST; organisation certificates
carry the test policy OID ``1.2.250.1.213.1.7.2.1.1.1.1`` and their structure id in ``OU``. The
AUTH_CLI policy OID is not public: it defaults to the same test OID and is configurable.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

TEST_ORG_POLICY_OID = "1.2.250.1.213.1.7.2.1.1.1.1"
IGC_SUFFIX = [
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE TEST"),
    (NameOID.ORGANIZATIONAL_UNIT_NAME, "0002 187512751"),
    (NameOID.ORGANIZATION_NAME, "ASIP-SANTE"),
    (NameOID.COUNTRY_NAME, "FR"),
]
ROOT_CN = "TEST AC RACINE IGC-SANTE ELEMENTAIRE"
ISSUING_CN = "TEST AC IGC-SANTE ELEMENTAIRE ORGANISATIONS"
FOREIGN_CN = "AC ETRANGERE HORS IGC-SANTE (TEST)"

OPERATOR_DOMAIN = "operateur-reference.test"
HARNESS_DOMAIN = "harnais.mssante.test"
OPERATOR_STRUCTURE_ID = "312345678900012"  # 3 + SIRET-shaped test value
HARNESS_STRUCTURE_ID = "398765432100018"
ORG_STRUCTURE_ID = "1690000001"  # 1 + FINESS-shaped: the structure holding the ORG BAL

SERVER_IPS = ("127.0.0.2", "127.0.0.3")
SINK_IPS = ("127.0.0.1",)
RSA_BITS = 2048
VALID_DAYS = 825


@dataclass(frozen=True)
class CertKey:
    """Paths of a certificate (leaf + issuing CA, PEM) and of its private key (PEM, 0600)."""

    cert: Path
    key: Path

    def load_cert(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert.read_bytes())


@dataclass(frozen=True)
class _Profile:
    """What one certificate file should contain."""

    name: str
    issuer: str  # name of the issuing CertKey, or "" for self-signed
    subject: list
    ca: bool = False
    server: bool = False
    client: bool = False
    dns: tuple[str, ...] = ()
    ips: tuple[str, ...] = ()
    policy: str | None = None
    expired: bool = False


class TestPKI:
    """The files of one test PKI under ``directory``. Build with :meth:`ensure`."""

    __test__ = False  # not a pytest test class despite the name

    def __init__(
        self,
        directory: str | os.PathLike,
        *,
        operator_domain: str = OPERATOR_DOMAIN,
        harness_domain: str = HARNESS_DOMAIN,
        org_structure_id: str = ORG_STRUCTURE_ID,
        org_auth_cli_cn: str = "secretariat.urgences@" + OPERATOR_DOMAIN,
        policy_oid: str = TEST_ORG_POLICY_OID,
        auth_cli_policy_oid: str = TEST_ORG_POLICY_OID,
    ):
        self.directory = Path(directory)
        self.operator_domain = operator_domain
        self.harness_domain = harness_domain
        self.org_structure_id = org_structure_id
        self.org_auth_cli_cn = org_auth_cli_cn
        self.policy_oid = policy_oid
        self.auth_cli_policy_oid = auth_cli_policy_oid

    # -- the files -------------------------------------------------------------------------
    def _pair(self, name: str) -> CertKey:
        return CertKey(self.directory / f"{name}.crt", self.directory / f"{name}.key")

    @property
    def ca_file(self) -> Path:
        """Issuing CA and root of the test IGC Santé (PEM bundle): the trust anchor."""
        return self.directory / "igc-sante-test-ca.pem"

    @property
    def foreign_ca_file(self) -> Path:
        return self.foreign_ca.cert

    root_ca = property(lambda self: self._pair("root-ca"))
    issuing_ca = property(lambda self: self._pair("issuing-ca"))
    operator_server = property(lambda self: self._pair("operator-server"))
    operator_mta = property(lambda self: self._pair("operator-mta"))
    org_auth_cli = property(lambda self: self._pair("org-auth-cli"))
    harness_mta = property(lambda self: self._pair("harness-mta"))
    harness_sink = property(lambda self: self._pair("harness-sink"))
    foreign_ca = property(lambda self: self._pair("foreign-ca"))
    foreign_client = property(lambda self: self._pair("foreign-client"))
    foreign_server = property(lambda self: self._pair("foreign-server"))
    expired_client = property(lambda self: self._pair("expired-client"))
    expired_server = property(lambda self: self._pair("expired-server"))

    @staticmethod
    def fingerprint_sha256(pair: CertKey) -> str:
        """SHA-256 of the leaf certificate, ``AB:CD:…`` (the form Postfix's access maps use)."""
        digest = pair.load_cert().fingerprint(hashes.SHA256())
        return ":".join(f"{b:02X}" for b in digest)

    # -- creation ----------------------------------------------------------------------------
    @classmethod
    def ensure(cls, directory: str | os.PathLike, **options) -> "TestPKI":
        """Create the directory and every missing certificate; keep the existing ones."""
        pki = cls(directory, **options)
        pki.directory.mkdir(parents=True, exist_ok=True)
        for profile in pki._profiles():
            pair = pki._pair(profile.name)
            if not (pair.cert.exists() and pair.key.exists()):
                pki._issue(profile, pair)
        if not pki.ca_file.exists():
            bundle = pki.issuing_ca.cert.read_bytes() + pki.root_ca.cert.read_bytes()
            pki.ca_file.write_bytes(bundle)
        return pki

    def _org(self, org: str, structure_id: str, cn: str) -> list:
        return [
            (NameOID.COUNTRY_NAME, "FR"),
            (NameOID.ORGANIZATION_NAME, org),
            (NameOID.ORGANIZATIONAL_UNIT_NAME, structure_id),
            (NameOID.COMMON_NAME, cn),
        ]

    def _profiles(self) -> list[_Profile]:
        op, hn = self.operator_domain, self.harness_domain
        op_names = (f"imap.{op}", f"smtp.{op}", f"mx.{op}", "localhost")
        operator = lambda cn: self._org("OPERATEUR REFERENCE MSSANTE", OPERATOR_STRUCTURE_ID, cn)
        harness = lambda cn: self._org("HARNAIS CONFORMITE MSSANTE", HARNESS_STRUCTURE_ID, cn)
        auth_cli = self._org("CENTRE HOSPITALIER DE TEST", self.org_structure_id, self.org_auth_cli_cn)
        return [
            _Profile("root-ca", "", [(NameOID.COMMON_NAME, ROOT_CN)] + IGC_SUFFIX, ca=True),
            _Profile("issuing-ca", "root-ca", [(NameOID.COMMON_NAME, ISSUING_CN)] + IGC_SUFFIX, ca=True),
            _Profile("operator-server", "issuing-ca", operator(f"imap.{op}"), server=True, client=True,
                     dns=op_names, ips=SERVER_IPS, policy=self.policy_oid),
            _Profile("operator-mta", "issuing-ca", operator(f"mx.{op}"), server=True, client=True,
                     dns=op_names, ips=SERVER_IPS, policy=self.policy_oid),
            _Profile("org-auth-cli", "issuing-ca", auth_cli, client=True, policy=self.auth_cli_policy_oid),
            _Profile("harness-mta", "issuing-ca", harness(f"mta.{hn}"), server=True, client=True,
                     dns=(f"mta.{hn}",), ips=SINK_IPS, policy=self.policy_oid),
            _Profile("harness-sink", "issuing-ca", harness(f"mx.{hn}"), server=True, client=True,
                     dns=(f"mx.{hn}", "localhost"), ips=SINK_IPS, policy=self.policy_oid),
            _Profile("foreign-ca", "", [(NameOID.COMMON_NAME, FOREIGN_CN),
                                        (NameOID.ORGANIZATION_NAME, "AUTORITE ETRANGERE"),
                                        (NameOID.COUNTRY_NAME, "FR")], ca=True),
            _Profile("foreign-client", "foreign-ca", harness(f"mta.{hn}"), server=True, client=True,
                     dns=(f"mta.{hn}",), ips=SINK_IPS),
            _Profile("foreign-server", "foreign-ca", operator(f"imap.{op}"), server=True,
                     dns=op_names, ips=SERVER_IPS + SINK_IPS),
            _Profile("expired-client", "issuing-ca", auth_cli, client=True, server=True,
                     policy=self.auth_cli_policy_oid, expired=True),
            _Profile("expired-server", "issuing-ca", operator(f"imap.{op}"), server=True, client=True,
                     dns=op_names, ips=SERVER_IPS + SINK_IPS, policy=self.policy_oid, expired=True),
        ]

    def _issue(self, profile: _Profile, pair: CertKey) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
        subject = x509.Name([x509.NameAttribute(oid, value) for oid, value in profile.subject])
        if profile.issuer:
            issuer_pair = self._pair(profile.issuer)
            issuer_cert = issuer_pair.load_cert()
            issuer_key = serialization.load_pem_private_key(issuer_pair.key.read_bytes(), None)
            issuer_name, chain_pem = issuer_cert.subject, issuer_pair.cert.read_bytes()
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key())
        else:
            issuer_key, issuer_name, chain_pem = key, subject, b""
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key())
        now = dt.datetime.now(dt.timezone.utc)
        if profile.expired:
            not_before, not_after = now - dt.timedelta(days=400), now - dt.timedelta(days=30)
        else:
            not_before = now - dt.timedelta(days=1)
            not_after = now + dt.timedelta(days=3650 if profile.ca else VALID_DAYS)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=profile.ca, path_length=None), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(aki, critical=False)
        )
        if profile.ca:
            usage = dict(key_cert_sign=True, crl_sign=True, digital_signature=False, key_encipherment=False)
        else:
            usage = dict(key_cert_sign=False, crl_sign=False, digital_signature=True,
                         key_encipherment=True)
        builder = builder.add_extension(
            x509.KeyUsage(content_commitment=False, data_encipherment=False, key_agreement=False,
                          encipher_only=False, decipher_only=False, **usage),
            critical=True,
        )
        ekus = ([ExtendedKeyUsageOID.SERVER_AUTH] if profile.server else []) + (
            [ExtendedKeyUsageOID.CLIENT_AUTH] if profile.client else [])
        if ekus:
            builder = builder.add_extension(x509.ExtendedKeyUsage(ekus), critical=False)
        names = [x509.DNSName(d) for d in profile.dns] + [
            x509.IPAddress(ipaddress.ip_address(ip)) for ip in profile.ips]
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        if profile.policy:
            builder = builder.add_extension(x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(profile.policy), None)]), critical=False)
        cert = builder.sign(issuer_key, hashes.SHA256())
        _write_private(pair.key, key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        # Leaf + issuing CA (never the root: peers must hold it as their anchor).
        chain = chain_pem if profile.issuer and not profile.ca else b""
        pair.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM) + _first_pem(chain))


def _first_pem(data: bytes) -> bytes:
    marker = b"-----END CERTIFICATE-----\n"
    end = data.find(marker)
    return data[: end + len(marker)] if end >= 0 else b""


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
