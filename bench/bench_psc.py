"""Benchmark of the PSC bouchon: token mint rate and introspection latency, side by side with
baselines (a bare RS256 sign of the same claims, as variants.sign_rs256 makes it; an HTTP round trip to a trivial Flask
route on the same kind of server). Run: .venv/bin/python bench/bench_psc.py [N]"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time

import requests
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from mssante_conformance.psc import Bouchon, TokenVariant
from mssante_conformance.psc.variants import sign_rs256

IDNAT = "899700366240"


class Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


def rate(fn, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def latencies(fn, n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1]


def trivial_server():
    app = Flask("trivial")

    @app.post("/ok")
    def ok():
        return {"active": False}

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main(n: int = 500) -> None:
    with tempfile.TemporaryDirectory() as data_dir, Bouchon.start(data_dir) as bouchon:
        claims = bouchon.mint(TokenVariant.VALID, idnat=IDNAT).claims
        key = bouchon.state.keys.psc
        mint_rate = rate(lambda: bouchon.mint(TokenVariant.VALID, idnat=IDNAT), n)
        sign_rate = rate(lambda: sign_rs256(claims, key), n)
        print(f"{'token mint (tokens/s, in-process)':44} bouchon {mint_rate:8.0f}   "
              f"baseline bare RS256 sign {sign_rate:8.0f}   ratio {sign_rate / mint_rate:4.2f}x")

        op = bouchon.operator_client
        token = bouchon.mint(TokenVariant.VALID, idnat=IDNAT).token
        http = requests.Session()
        introspect = lambda: http.post(bouchon.introspection_endpoint, data={"token": token},
                                       auth=(op.client_id, op.client_secret), timeout=5)
        assert introspect().json()["active"] is True
        trivial = trivial_server()
        base = requests.Session()
        url = f"http://127.0.0.1:{trivial.server_port}/ok"
        bare = lambda: base.post(url, data={"token": token}, auth=(op.client_id, op.client_secret), timeout=5)
        latencies(introspect, 20), latencies(bare, 20)  # warm-up
        p50, p95 = latencies(introspect, n)
        b50, b95 = latencies(bare, n)
        print(f"{'introspection over HTTP (ms, ' + str(n) + ' calls)':44} bouchon p50 {p50:5.2f} p95 {p95:5.2f}   "
              f"baseline Flask p50 {b50:5.2f} p95 {b95:5.2f}   ratio p50 {p50 / b50:4.2f}x")
        trivial.shutdown()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
