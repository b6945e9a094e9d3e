"""The test platform's web console: Jobs, parameters, live progress, results, reports.

::

    from mssante_conformance.console import init_console
    console = init_console(app, data_dir, exposed=False, public_url=None, bouchon=None)
    # → blueprint mounted at /console on any Flask app (the bouchon's in production)
    console.store.create_user("alice", "operator", "un mot de passe long")
    console.shutdown()        # stop the worker (kills running runs)

``exposed``: True when other machines can reach the app (bind address or public URL not on
loopback, or ``--exposed``: see ``targets.console_exposed``); then every target must be on
the administrator's allowlist (see targets.py). ``bouchon``: the bouchon the operators must
trust (an object with ``issuer``/``operator_client`` — psc's ``Bouchon`` or its state); when
absent it is looked up in ``app.extensions``, else placeholders are derived from the public URL.
``bouchon_url``: given to runs aimed at a named operator (``--bouchon-url``), so they mint tokens
from the bouchon the operator trusts (the admin secret comes from the environment).
See docs/console.md.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from mssante_conformance.console.store import ConsoleStore
from mssante_conformance.console.throttle import LoginThrottle
from mssante_conformance.console.worker import RunWorker

EXTENSION = "mssante_console"
SECRET_KEY_FILE = "session.key"


def default_data_dir() -> Path:
    """``$MSSANTE_CONFORMANCE_HOME/console`` if set, else ``./var/console``."""
    home = os.environ.get("MSSANTE_CONFORMANCE_HOME")
    return Path(home) / "console" if home else Path("var") / "console"


@dataclass
class Console:
    data_dir: Path
    store: ConsoleStore
    worker: RunWorker
    exposed: bool
    public_url: str | None
    bouchon: object | None
    bouchon_url: str | None
    pdf_timeout: float = 120.0
    bouchon_ca_file: Path | None = None  # CA of the bouchon's own https certificate, for runs
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    resolver: object | None = None  # target names → addresses (None: the system's; tests inject)

    @property
    def runs_dir(self) -> Path:
        return self.data_dir / "runs"

    def shutdown(self) -> None:
        self.worker.shutdown(kill=True)


def _session_key(data_dir: Path) -> bytes:
    """A per-installation key for the session cookie, kept in the data dir (mode 0600)."""
    path = data_dir / SECRET_KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    except FileExistsError:
        pass
    return path.read_bytes()


def _run_env(app, bouchon) -> dict | None:
    """The runs' environment: the bouchon's admin secret for ``--bouchon-url`` (never a flag)."""
    from mssante_conformance.console.operator_setup import find_bouchon
    from mssante_conformance.settings import ADMIN_SECRET_ENV

    bouchon = bouchon if bouchon is not None else find_bouchon(app)
    secret = getattr(getattr(bouchon, "config", None), "admin_secret", None)
    if not secret or os.environ.get(ADMIN_SECRET_ENV):
        return None
    return {**os.environ, ADMIN_SECRET_ENV: secret}


def init_console(app, data_dir: str | os.PathLike | None = None, *, exposed: bool = False,
                 public_url: str | None = None, bouchon=None, bouchon_url: str | None = None,
                 url_prefix: str = "/console", max_workers: int = 4,
                 pdf_timeout: float = 120.0, bouchon_ca_file: Path | None = None) -> Console:
    """Mount the console blueprint on ``app`` and start its worker; returns the Console."""
    from mssante_conformance.console.views import blueprint

    data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
    store = ConsoleStore(data_dir)
    (data_dir / "runs").mkdir(exist_ok=True, mode=0o700)
    worker = RunWorker(store, max_workers=max_workers, env=_run_env(app, bouchon))
    console = Console(data_dir, store, worker, exposed, public_url.rstrip("/") if public_url else None,
                      bouchon, bouchon_url, pdf_timeout, bouchon_ca_file)
    if not app.secret_key:
        app.secret_key = _session_key(data_dir)
    # Flask defines these keys (None/False), so setdefault would leave them unset.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if console.public_url and console.public_url.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    app.extensions[EXTENSION] = console
    app.register_blueprint(blueprint, url_prefix=url_prefix)
    worker.recover()
    return console


register_console = init_console

__all__ = ["Console", "default_data_dir", "init_console", "register_console"]
