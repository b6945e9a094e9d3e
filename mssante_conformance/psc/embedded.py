"""The bouchon embedded in a test run: real HTTP on loopback, served from a background thread."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from werkzeug.serving import WSGIRequestHandler, make_server

from mssante_conformance.psc.app import create_app
from mssante_conformance.psc.clients import Client
from mssante_conformance.psc.clock import Clock, system_clock
from mssante_conformance.psc.config import DEFAULT_TOKEN_LIFETIME_S, BouchonConfig
from mssante_conformance.psc.port import IssuerUrls
from mssante_conformance.psc.identities import Identity
from mssante_conformance.psc.mint import MintedToken, mint
from mssante_conformance.psc.state import BouchonState
from mssante_conformance.psc.store import RelyingPartyCall
from mssante_conformance.psc.variants import TokenVariant


class _QuietHandler(WSGIRequestHandler):
    """No access log: request lines may carry parameters we never want in a log."""

    def log_request(self, *args, **kwargs):
        pass


class Bouchon(IssuerUrls):
    """A running bouchon (a :class:`~mssante_conformance.psc.port.BouchonPort`). Build it with
    :meth:`start`; use it as a context manager."""

    def __init__(self, state: BouchonState, server, thread: threading.Thread):
        self._state = state
        self._server = server
        self._thread = thread

    @classmethod
    def start(cls, data_dir: str | Path, host: str = "127.0.0.1", port: int = 0,
              token_lifetime_s: int = DEFAULT_TOKEN_LIFETIME_S, admin_secret: str | None = None,
              clock: Clock | None = None) -> "Bouchon":
        config = BouchonConfig(data_dir=Path(data_dir), token_lifetime_s=token_lifetime_s,
                               admin_secret=admin_secret, clock=clock or system_clock)
        state = BouchonState(config)
        app = create_app(config, state, public_url_pending=True)  # the port is known once bound
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        server = make_server(host, port, app, threaded=True, request_handler=_QuietHandler)
        server.daemon_threads = True
        url_host = f"[{host}]" if ":" in host else host
        config.set_public_url(f"http://{url_host}:{server.server_port}")
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1},
                                  name="bouchon-psc", daemon=True)
        thread.start()
        return cls(state, server, thread)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._state.close()

    def __enter__(self) -> "Bouchon":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def state(self) -> BouchonState:
        return self._state

    @property
    def url(self) -> str:
        return self._state.config.public_url

    @property
    def ca_file(self) -> Path | None:
        return None  # served over plain http on loopback

    @property
    def issuer(self) -> str:
        return self._state.config.issuer

    @property
    def foreign_issuer(self) -> str:
        return self._state.config.foreign_issuer

    @property
    def operator_client(self) -> Client:
        return self._state.operator_client

    @property
    def lps_client(self) -> Client:
        return self._state.lps_client

    @property
    def identities(self) -> list[Identity]:
        return list(self._state.identities)

    def mint(self, variant: TokenVariant | str, idnat: str, client_id: str | None = None) -> MintedToken:
        return mint(self._state, variant, idnat, client_id)

    def calls(self, since: float | None = None, endpoint: str | None = None) -> list[RelyingPartyCall]:
        return self._state.store.calls(since, endpoint)
