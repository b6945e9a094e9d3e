"""Fixtures of the console tests: a bare Flask app with the console, served over real HTTP."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from flask import Flask
from werkzeug.serving import make_server

from mssante_conformance.console import init_console

PASSWORDS = {"alice": "alice-mot-de-passe", "bruno": "bruno-mot-de-passe",
             "audrey": "audrey-mot-de-passe"}


@dataclass
class ServedConsole:
    url: str
    console: object
    app: Flask


@pytest.fixture
def served_console(tmp_path):
    app = Flask("console-test")
    console = init_console(app, tmp_path / "console", pdf_timeout=90)
    console.store.create_user("alice", "operator", PASSWORDS["alice"])
    console.store.create_user("bruno", "operator", PASSWORDS["bruno"])
    console.store.create_user("audrey", "auditor", PASSWORDS["audrey"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield ServedConsole(f"http://127.0.0.1:{server.server_port}", console, app)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        console.shutdown()
