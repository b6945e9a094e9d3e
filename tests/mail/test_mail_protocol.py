"""Pure protocol knowledge: SASL strings, challenge decoding, classification, endpoints."""

import base64
import json

import pytest

from mssante_conformance.mail.classify import (
    AuthOutcome,
    ExchangeEnd,
    SmtpReply,
    capabilities_from,
    classify_imap_auth,
    classify_smtp_auth,
    parse_imap_line,
    weak_suite_reasons,
)
from mssante_conformance.mail.endpoint import Endpoint, parse_operator_url
from mssante_conformance.mail.errors import EndpointError
from mssante_conformance.mail.sasl import (
    decode_error_challenge,
    oauthbearer_initial_response,
    parse_xoauth2,
    xoauth2_initial_response,
)

CHALLENGE = base64.b64encode(b'{"status":"401","schemes":"bearer","scope":"mail"}').decode()


def test_xoauth2_initial_response_is_the_seed_format():
    b64 = xoauth2_initial_response("jean.dupont@op.test", "tok.en")
    assert base64.b64decode(b64) == b"user=jean.dupont@op.test\x01auth=Bearer tok.en\x01\x01"
    creds = parse_xoauth2(b64)
    assert (creds.user, creds.token) == ("jean.dupont@op.test", "tok.en")


def test_oauthbearer_initial_response_follows_rfc7628():
    raw = base64.b64decode(oauthbearer_initial_response("a,b=c@op.test", "T", "imap.op.test", 993))
    assert raw == b"n,a=a=2Cb=3Dc@op.test,\x01host=imap.op.test\x01port=993\x01auth=Bearer T\x01\x01"


@pytest.mark.parametrize("payload", ["", "!!!", base64.b64encode(b"user=x\x01\x01").decode(), base64.b64encode(b"user=\x01auth=Bearer t\x01\x01").decode()])
def test_parse_xoauth2_refuses_malformed_messages(payload):
    assert parse_xoauth2(payload) is None


def test_error_challenge_decoded():
    challenge = decode_error_challenge(CHALLENGE)
    assert (challenge.json_valid, challenge.status, challenge.schemes, challenge.scope) == (True, "401", "bearer", "mail")
    assert decode_error_challenge("not base64 !").json_valid is False
    assert decode_error_challenge(base64.b64encode(b"[1]").decode()).json_valid is False


def test_imap_line_parsing():
    line = parse_imap_line("A001 NO [AUTHENTICATIONFAILED] Authentication failed.")
    assert (line.kind, line.tag, line.status, line.code, line.text) == ("tagged", "A001", "NO", "AUTHENTICATIONFAILED", "Authentication failed.")
    assert parse_imap_line("+ abc").kind == "continuation"
    assert parse_imap_line("HTTP/1.1 400 Bad Request").kind == "garbage"
    caps = capabilities_from(["* OK [CAPABILITY IMAP4rev1 SASL-IR STARTTLS] ready", "* CAPABILITY AUTH=XOAUTH2"])
    assert {"SASL-IR", "STARTTLS", "AUTH=XOAUTH2"} <= caps


@pytest.mark.parametrize(
    "lines, end, outcome, status, code",
    [
        (["A1 OK [CAPABILITY IMAP4rev1] Logged in"], ExchangeEnd.REPLY, AuthOutcome.ACCEPTED, "OK", None),
        ([f"+ {CHALLENGE}", "A1 NO [AUTHENTICATIONFAILED] Authentication failed."], ExchangeEnd.REPLY, AuthOutcome.REJECTED, "NO", "AUTHENTICATIONFAILED"),
        (["A1 NO [PRIVACYREQUIRED] Plaintext authentication disallowed"], ExchangeEnd.REPLY, AuthOutcome.REJECTED, "NO", "PRIVACYREQUIRED"),
        (["A1 NO [UNAVAILABLE] Temporary failure"], ExchangeEnd.REPLY, AuthOutcome.REJECTED, "NO", "UNAVAILABLE"),
        (["A1 BAD Invalid base64 data in initial response"], ExchangeEnd.REPLY, AuthOutcome.REJECTED, "BAD", "MALFORMED"),
        (["* BYE Too many invalid commands"], ExchangeEnd.CLOSED, AuthOutcome.REJECTED, "BYE", None),
        (["A2 OK wrong tag"], ExchangeEnd.REPLY, AuthOutcome.PROTOCOL_VIOLATION, "", None),
        (["250 ok"], ExchangeEnd.REPLY, AuthOutcome.PROTOCOL_VIOLATION, "", None),
        ([], ExchangeEnd.TIMEOUT, AuthOutcome.NO_RESPONSE, "", None),
        ([f"+ {CHALLENGE}"], ExchangeEnd.CLOSED, AuthOutcome.CONNECTION_CLOSED, "", None),
    ],
)
def test_imap_auth_classification(lines, end, outcome, status, code):
    attempt = classify_imap_auth("XOAUTH2", "A1", lines, end)
    assert (attempt.outcome, attempt.status, attempt.code) == (outcome, status, code)


def test_failure_convention_needs_challenge_empty_answer_and_no():
    challenge = decode_error_challenge(CHALLENGE)
    lines = [f"+ {CHALLENGE}", "A1 NO [AUTHENTICATIONFAILED] Authentication failed."]
    good = classify_imap_auth("XOAUTH2", "A1", lines, ExchangeEnd.REPLY, challenge=challenge, answered_challenge=True)
    assert good.followed_failure_convention
    no_challenge = classify_imap_auth("XOAUTH2", "A1", lines[1:], ExchangeEnd.REPLY)
    assert not no_challenge.followed_failure_convention
    assert good.to_dict()["challenge"]["status"] == "401"


@pytest.mark.parametrize(
    "code, outcome, normalized",
    [
        (235, AuthOutcome.ACCEPTED, None),
        (535, AuthOutcome.REJECTED, "AUTHENTICATIONFAILED"),
        (523, AuthOutcome.REJECTED, "PRIVACYREQUIRED"),
        (530, AuthOutcome.REJECTED, "PRIVACYREQUIRED"),
        (538, AuthOutcome.REJECTED, "PRIVACYREQUIRED"),
        (454, AuthOutcome.REJECTED, "UNAVAILABLE"),
        (421, AuthOutcome.REJECTED, "UNAVAILABLE"),
        (501, AuthOutcome.REJECTED, "MALFORMED"),
        (504, AuthOutcome.REJECTED, "MECHANISM_UNSUPPORTED"),
        (554, AuthOutcome.REJECTED, None),
        (334, AuthOutcome.PROTOCOL_VIOLATION, None),
        (-1, AuthOutcome.PROTOCOL_VIOLATION, None),
    ],
)
def test_smtp_auth_classification(code, outcome, normalized):
    attempt = classify_smtp_auth("XOAUTH2", SmtpReply(code, ("5.7.8 text",)), ExchangeEnd.REPLY)
    assert (attempt.outcome, attempt.code, attempt.status) == (outcome, normalized, str(code))


def test_smtp_silence_and_hangup():
    assert classify_smtp_auth("XOAUTH2", None, ExchangeEnd.TIMEOUT).outcome is AuthOutcome.NO_RESPONSE
    assert classify_smtp_auth("XOAUTH2", None, ExchangeEnd.CLOSED).outcome is AuthOutcome.CONNECTION_CLOSED
    assert SmtpReply(523, ("5.7.10 Plaintext authentication disabled",)).enhanced_status == "5.7.10"


@pytest.mark.parametrize(
    "suite, weak",
    [
        ("TLS_RSA_WITH_RC4_128_SHA", True),
        ("TLS_RSA_WITH_NULL_SHA256", True),
        ("TLS_RSA_EXPORT_WITH_DES40_CBC_SHA", True),
        ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", True),
        ("TLS_DH_anon_WITH_AES_128_CBC_SHA", True),
        ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", False),
        ("TLS_AES_256_GCM_SHA384", False),
        ("TLS_CHACHA20_POLY1305_SHA256", False),
    ],
)
def test_weak_suites(suite, weak):
    assert bool(weak_suite_reasons(suite)) is weak


@pytest.mark.parametrize(
    "url, expected",
    [
        ("imap://imap.op.test", Endpoint("imap", "imap.op.test", 143)),
        ("imaps://imap.op.test", Endpoint("imaps", "imap.op.test", 993)),
        ("smtp://smtp.op.test", Endpoint("smtp", "smtp.op.test", 587)),
        ("SMTPS://127.0.0.2:1465/", Endpoint("smtps", "127.0.0.2", 1465)),
        ("imaps://[::1]:993", Endpoint("imaps", "::1", 993)),
    ],
)
def test_operator_urls(url, expected):
    endpoint = parse_operator_url(url)
    assert endpoint == expected
    assert endpoint.implicit_tls is expected.scheme.endswith("s")


@pytest.mark.parametrize(
    "url, words",
    [
        ("http://imap.op.test", "schéma « http » inconnu"),
        ("imap.op.test:993", "sans schéma"),
        ("imaps://:993", "sans nom d'hôte"),
        ("imaps://host:99999", "port"),
        ("imaps://user:secret@host", "identifiants"),
        ("imap://host/INBOX", "chemin"),
        ("", "vide"),
    ],
)
def test_bad_operator_urls_get_one_clear_line(url, words):
    with pytest.raises(EndpointError) as info:
        parse_operator_url(url)
    assert words in str(info.value)
    assert "\n" not in str(info.value)
    assert "secret" not in str(info.value)
