"""Chain verification of client certificates (pure: certificates in, facts out)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from mssante_conformance.mail.sink_tls import chain_to_anchors, examine_client_certificate, load_ca_bundle


def _cert(subject, issuer, key, issuer_key, *, ca=False, days=30):
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def test_an_impostor_ca_with_the_igc_sante_name_does_not_chain(pki):
    anchors = load_ca_bundle(pki.ca_file)
    issuing = pki.issuing_ca.load_cert()
    impostor_key, leaf_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(x509.Name.from_rfc4514_string("CN=faux.mta.test"), issuing.subject, leaf_key, impostor_key)
    reason = chain_to_anchors(leaf, anchors)
    assert reason is not None and "signature invalide" in reason
    facts = examine_client_certificate(leaf.public_bytes(Encoding.DER), anchors)
    assert not facts.chains_to_ca and facts.valid_now and not facts.trusted


def test_the_harness_mta_certificate_chains_and_a_self_signed_one_does_not(pki):
    anchors = load_ca_bundle(pki.ca_file)
    assert chain_to_anchors(pki.harness_mta.load_cert(), anchors) is None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name.from_rfc4514_string("CN=autosigne.test")
    assert "émetteur inconnu" in chain_to_anchors(_cert(name, name, key, key), anchors)
    assert examine_client_certificate(b"pas un certificat", anchors).chain_error.startswith("certificat illisible")
