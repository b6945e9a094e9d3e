"""`mssante-conformance bouchon`: serve the PSC bouchon under gunicorn (production WSGI server).

``--workers N`` (default one per core) gunicorn worker processes, each with threads: the keys
and clients are loaded before the fork, the state every worker must see (sessions, codes,
revocations, the relying-party call log) lives in SQLite in WAL mode (psc/store.py). The operator client's secret is never
printed: it is stored in <data-dir>/clients.json (mode 0600) and the command says so.

With ``--tls-cert``/``--tls-key`` gunicorn itself speaks TLS (its ``certfile``/``keyfile``) and
every printed URL is https: real relying parties (mod_auth_openidc…) refuse an http
introspection or JWKS URL, and the admin secret and test passwords must not travel in clear.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from mssante_conformance.cli import CommandFailed, UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
PUBLIC_URL_FILE = "public_url"
ADMIN_SECRET_ENV = "MSSANTE_BOUCHON_ADMIN_SECRET"


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "bouchon", help="lancer le bouchon Pro Santé Connect (serveur OpenID Connect de test)",
        description="Lance le bouchon Pro Santé Connect sous gunicorn et affiche ses points d'accès.")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"adresse d'écoute (défaut {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port d'écoute (défaut {DEFAULT_PORT})")
    parser.add_argument("--public-url", help="URL publique du bouchon (défaut http://HOST:PORT, "
                        "https://HOST:PORT avec --tls-cert)")
    parser.add_argument("--tls-cert", type=Path, metavar="FICHIER",
                        help="certificat serveur (PEM, chaîne) : le bouchon parle HTTPS lui-même")
    parser.add_argument("--tls-key", type=Path, metavar="FICHIER", help="clé privée de --tls-cert (PEM)")
    parser.add_argument("--tls-ca", type=Path, metavar="FICHIER",
                        help="AC (PEM) qui a émis --tls-cert, si elle n'est pas dans le magasin du "
                        "système : les contrôles lancés depuis la console vérifient le bouchon avec")
    parser.add_argument("--data-dir", type=Path, help="répertoire des clés, clients et de la base "
                        "(défaut $MSSANTE_CONFORMANCE_HOME/bouchon ou ./var/bouchon)")
    parser.add_argument("--token-lifetime", type=int, default=120, metavar="SECONDES",
                        help="durée de vie des jetons d'accès (défaut 120 s, comme PSC)")
    parser.add_argument("--admin-secret-file", type=Path,
                        help="fichier contenant le secret de l'API d'administration de test "
                        f"(ou variable {ADMIN_SECRET_ENV}); sans secret, l'API est absente")
    parser.add_argument("--workers", type=int, default=default_workers(),
                        help="processus de service (défaut : un par cœur, ici %(default)s)")
    parser.add_argument("--threads", type=int, default=8, help="fils d'exécution par processus (défaut 8)")
    parser.add_argument("--console-dir", type=Path, help="répertoire de la console web (comptes, "
                        "lancements ; défaut $MSSANTE_CONFORMANCE_HOME/console ou ./var/console, "
                        "celui de `mssante-conformance console`)")
    parser.add_argument("--exposed", action="store_true",
                        help="la console est joignable d'autres machines même si --host et "
                        "--public-url sont locaux (mandataire, redirection de port) : seules les "
                        "cibles autorisées peuvent être visées")
    parser.set_defaults(func=run)


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def read_admin_secret(path: Path | None) -> str | None:
    if path is None:
        return os.environ.get(ADMIN_SECRET_ENV) or None
    try:
        secret = path.read_text("utf-8").strip()
    except OSError as exc:
        raise UsageError(f"secret d'administration illisible: {path} ({exc.strerror})") from None
    if len(secret) < 16:
        raise UsageError(f"secret d'administration trop court dans {path} (16 caractères minimum)")
    return secret


def build_config(args):
    from mssante_conformance.psc.config import BouchonConfig, check_public_url, default_data_dir

    if not 0 < args.port < 65536:
        raise UsageError(f"port invalide: {args.port} (1 à 65535)")
    if not 0 < args.token_lifetime <= 86400:
        raise UsageError(f"durée de vie invalide: {args.token_lifetime} s (1 à 86400)")
    if not 0 < args.threads <= 64:
        raise UsageError(f"nombre de fils invalide: {args.threads} (1 à 64)")
    if not 0 < args.workers <= 64:
        raise UsageError(f"nombre de processus invalide: {args.workers} (1 à 64)")
    tls = check_tls(args.tls_cert, args.tls_key)
    host = f"[{args.host}]" if ":" in args.host else args.host
    scheme = "https" if tls else "http"
    try:
        public_url = check_public_url(args.public_url or f"{scheme}://{host}:{args.port}")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if tls and not public_url.startswith("https://"):
        raise UsageError(f"--public-url {public_url} en http alors que le bouchon parle HTTPS "
                         "(--tls-cert) : donner une URL https://")
    try:
        return BouchonConfig(data_dir=args.data_dir or default_data_dir(), public_url=public_url,
                             token_lifetime_s=args.token_lifetime,
                             admin_secret=read_admin_secret(args.admin_secret_file))
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def check_tls(cert: Path | None, key: Path | None) -> tuple[Path, Path] | None:
    """(cert, key) if both are given and load together; a one-line usage error otherwise."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise UsageError("--tls-cert et --tls-key vont ensemble")
    import ssl

    for path in (cert, key):
        if not path.is_file():
            raise UsageError(f"fichier TLS introuvable : {path}")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        # the reason names the failure (bad PEM, key not matching), never the key itself
        raise UsageError(f"certificat TLS inutilisable ({cert}, {key}) : "
                         f"{getattr(exc, 'reason', None) or type(exc).__name__}") from None
    return cert.resolve(), key.resolve()


def check_port_free(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CommandFailed(f"impossible d'écouter sur {host}:{port} ({exc.strerror})") from None


def describe(state, clients_file: Path, tls: tuple[Path, Path] | None = None) -> str:
    from mssante_conformance.psc.discovery import discovery_url, endpoints

    urls = endpoints(state.config.issuer)
    lines = [
        "Bouchon Pro Santé Connect (test — ce n'est pas PSC)",
        f"  émetteur (issuer)    : {state.config.issuer}",
        f"  découverte           : {discovery_url(state.config.issuer)}",
        f"  JWKS                 : {urls['jwks_uri']}",
        f"  introspection        : {urls['introspection_endpoint']}",
        f"  jeton                : {urls['token_endpoint']}",
        f"  client opérateur     : {state.operator_client.client_id}",
        f"  secret du client     : dans {clients_file} (mode 0600, jamais affiché)",
        f"  client LPS de test   : {state.lps_client.client_id}",
        "  API d'administration : " + ("active (/_admin)" if state.config.admin_secret else "absente"),
        "  TLS                  : " + (f"certificat {tls[0]}" if tls else "non (http en clair)"),
    ]
    return "\n".join(lines)


def run(args) -> int:
    config = build_config(args)
    check_port_free(args.host, args.port)
    from mssante_conformance.psc.app import create_app
    from mssante_conformance.psc.clients import CLIENTS_FILE, ClientsError
    from mssante_conformance.psc.identities import IdentitiesError
    from mssante_conformance.psc.state import BouchonState

    try:
        state = BouchonState(config)
    except (ClientsError, IdentitiesError) as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise CommandFailed(f"répertoire de données inutilisable: {config.data_dir} ({exc.strerror})") from None
    url_file = config.data_dir / PUBLIC_URL_FILE
    url_file.write_text(config.public_url + "\n", encoding="utf-8")
    tls = check_tls(args.tls_cert, args.tls_key)
    if args.tls_ca is not None and (tls is None or not args.tls_ca.is_file()):
        raise UsageError("--tls-ca : fichier introuvable" if tls else "--tls-ca va avec --tls-cert/--tls-key")
    print(describe(state, (config.data_dir / CLIENTS_FILE).resolve(), tls), flush=True)
    from mssante_conformance.console import default_data_dir, init_console
    from mssante_conformance.console.targets import console_exposed

    app = create_app(config, state)
    console_dir = args.console_dir or default_data_dir()
    exposed = console_exposed(args.host, config.public_url, explicit=args.exposed)
    if exposed and config.public_url.startswith("http://"):
        print("  ATTENTION            : exposé hors bouclage sans TLS : secret d'administration et "
              "mots de passe circulent en clair (--tls-cert/--tls-key, ou un mandataire TLS)",
              file=sys.stderr, flush=True)
    # Reachable from elsewhere, the console only aims at targets an admin allowed.
    init_console(app, console_dir, exposed=exposed,
                 public_url=config.public_url, bouchon=state, bouchon_url=config.public_url,
                 bouchon_ca_file=args.tls_ca.resolve() if args.tls_ca else None)
    print(f"  console web          : {config.public_url}/console (comptes : "
          f"mssante-conformance console --data-dir {console_dir} create-user NOM)", flush=True)
    serve(app, args.host, args.port, args.threads, tls, workers=args.workers)
    return 0


def serve(app, host: str, port: int, threads: int, tls: tuple[Path, Path] | None = None,
          workers: int = 1) -> None:
    from gunicorn.app.base import BaseApplication

    class BouchonServer(BaseApplication):
        def load_config(self):
            host_part = f"[{host}]" if ":" in host else host
            for key, value in {"bind": f"{host_part}:{port}", "workers": workers, "threads": threads,
                               "worker_class": "gthread", "accesslog": None, "errorlog": "-",
                               "loglevel": "warning", "timeout": 30, "graceful_timeout": 5,
                               "proc_name": "mssante-bouchon"}.items():
                self.cfg.set(key, value)
            if tls:
                self.cfg.set("certfile", str(tls[0]))
                self.cfg.set("keyfile", str(tls[1]))

        def load(self):
            return app

    sys.argv = sys.argv[:1]  # gunicorn must not reparse our flags
    BouchonServer().run()
