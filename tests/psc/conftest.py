"""Fixtures of the bouchon's tests: a bouchon on loopback, and a person logging in."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets

import pytest
import requests

from mssante_conformance.psc import Bouchon

TIMEOUT = 5
JEAN = "899700366240"
REDIRECT_URI = "http://127.0.0.1:9/callback"  # loopback, never fetched


@pytest.fixture(scope="module")
def bouchon(tmp_path_factory):
    with Bouchon.start(tmp_path_factory.mktemp("bouchon")) as running:
        yield running


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()


def login(http: requests.Session, authorize_url: str, idnat: str = JEAN, **extra) -> requests.Response:
    """Open the login page and pick an identity, as a person would; returns the redirect."""
    page = http.get(authorize_url, allow_redirects=False, timeout=TIMEOUT)
    if page.status_code != 200:
        return page
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text).group(1))
    base = authorize_url.split("/auth", 1)[0]
    return http.post(base + action, data={"idnat": idnat, "auth_mode": "CARD", **extra},
                     allow_redirects=False, timeout=TIMEOUT)
