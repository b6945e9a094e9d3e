"""Sessions, roles and CSRF protection of the console.

* The session (Flask's signed cookie, HttpOnly, SameSite=Lax, Secure behind https) holds the
  account name, the account's session version and a random CSRF token; it is cleared and
  renewed at login (no session fixation).
* The cookie lives on the client, so logging out cannot delete a copy of it: the store keeps a
  session version per account, bumped on logout, password change and deletion, and a cookie
  whose version differs is refused on every request.
* Every POST must carry the session's CSRF token in the ``csrf_token`` form field; the
  comparison is constant-time (:func:`csrf_valid`, pure).
* A user sees only their own runs; ``auditor`` and ``admin`` see every run; auditors never launch.
"""

from __future__ import annotations

import hmac
import secrets
from functools import wraps

from flask import abort, current_app, g, redirect, request, session, url_for

SESSION_USER = "console_user"
SESSION_CSRF = "console_csrf"
SESSION_VERSION = "console_version"


def csrf_valid(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison; an absent token on either side is never valid."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))


def csrf_token() -> str:
    token = session.get(SESSION_CSRF)
    if not token:
        token = session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse (400) a state-changing request without the session's token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if not csrf_valid(session.get(SESSION_CSRF), request.form.get("csrf_token")):
        abort(400, description="Jeton anti-CSRF absent ou invalide : rechargez la page et recommencez.")


def log_in(user) -> None:
    session.clear()
    session[SESSION_USER] = user.name
    session[SESSION_VERSION] = user.session_version
    session[SESSION_CSRF] = secrets.token_urlsafe(32)


def log_out() -> None:
    name = session.get(SESSION_USER)
    if name:  # every copy of this account's cookies dies, not only this browser's
        current_app.extensions["mssante_console"].store.end_sessions(name)
    session.clear()


def load_user():
    name = session.get(SESSION_USER)
    user = current_app.extensions["mssante_console"].store.user(name) if name else None
    if user is not None and session.get(SESSION_VERSION) != user.session_version:
        session.clear()  # logged out elsewhere, password changed, or account deleted and re-made
        user = None
    g.user = user
    return g.user


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if g.get("user") is None:
            return redirect(url_for("console.login", next=request.path))
        return view(*args, **kwargs)
    return wrapped


def may_see(user, run) -> bool:
    return user is not None and (user.sees_all_runs or run.owner == user.name)
