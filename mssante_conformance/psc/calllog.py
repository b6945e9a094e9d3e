"""Recording what relying parties ask the bouchon (discovery, JWKS, userinfo, introspection…).

A view names the call with :func:`note_call`; an after-request hook records it with a summary
of the answer. Tokens appear only as fingerprints.
"""

from __future__ import annotations

import base64
import binascii

from flask import g, request

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.psc.store import RelyingPartyCall

ANSWER_FIELDS = ("active", "error", "SubjectNameID", "azp", "client_id")


def attempted_client_id() -> str | None:
    """The client id a request claims (HTTP Basic or form), authenticated or not."""
    auth = request.headers.get("Authorization", "")
    if auth[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
            return decoded.split(":", 1)[0] or None
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
    value = request.form.get("client_id")
    return value[:200] if value else None


def note_call(endpoint: str, *, client_id: str | None = None, token: str | None = None) -> None:
    g.rp_call = (endpoint, client_id, fingerprint(token) if token else None)


def record_noted_call(store, now: float, response) -> None:
    noted = getattr(g, "rp_call", None)
    if not noted:
        return
    endpoint, client_id, token_fp = noted
    answer: dict = {"status": response.status_code}
    body = response.get_json(silent=True) if response.is_json else None
    if isinstance(body, dict):
        answer.update({k: body[k] for k in ANSWER_FIELDS if k in body and k != "client_id"})
    if getattr(g, "token_verdict", None):
        answer["why"] = g.token_verdict
    store.record_call(RelyingPartyCall(now, endpoint, client_id, token_fp, answer))
