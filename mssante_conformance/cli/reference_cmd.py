"""`mssante-conformance reference up|down`: the reference operator (Dovecot + Postfix).

``up`` starts it (and an embedded bouchon unless ``--bouchon-url`` is given), prints every
endpoint and the test BALs, then stays in the foreground until Ctrl-C or SIGTERM;
``--detach`` starts the same thing in the background and returns once it is ready.
``down`` stops the instance of a work directory (state file ``reference.json``).

A bouchon started separately (``mssante-conformance bouchon --admin-secret-file F``, possibly
``--tls-cert``) is named by ``--bouchon-url`` (and ``--bouchon-ca-file`` for its https
certificate), as a real operator would be pointed at it. With the admin secret in
``MSSANTE_BOUCHON_ADMIN_SECRET`` the operator client comes from the bouchon's admin API
(:class:`~mssante_conformance.psc.RemoteBouchon`); without it, from
``MSSANTE_REFERENCE_CLIENT_ID`` and ``MSSANTE_REFERENCE_CLIENT_SECRET``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mssante_conformance.cli import CommandFailed, UsageError

STATE_FILE = "reference.json"
ENV_CLIENT_ID = "MSSANTE_REFERENCE_CLIENT_ID"
ENV_CLIENT_SECRET = "MSSANTE_REFERENCE_CLIENT_SECRET"
ADMIN_SECRET_ENV = "MSSANTE_BOUCHON_ADMIN_SECRET"
DETACH_TIMEOUT_S = 60.0


def register(subparsers) -> None:
    from mssante_conformance.reference.profiles import PROFILES

    parser = subparsers.add_parser("reference", help="opérateur de référence (Dovecot + Postfix)")
    sub = parser.add_subparsers(dest="reference_command", metavar="ACTION", required=True)
    up = sub.add_parser("up", help="démarre l'opérateur de référence (premier plan, Ctrl-C pour arrêter)")
    up.add_argument("--profile", default="conformant", choices=list(PROFILES),
                    help="profil (conformant ou un profil défectueux)")
    up.add_argument("--bouchon-url", default=None,
                    help=f"bouchon lancé à part (sinon un bouchon intégré); secret d'administration "
                         f"dans {ADMIN_SECRET_ENV}, ou client opérateur dans "
                         f"{ENV_CLIENT_ID} / {ENV_CLIENT_SECRET}")
    up.add_argument("--bouchon-ca-file", type=Path, default=None, metavar="FICHIER",
                    help="ancre de confiance (PEM) du certificat HTTPS du bouchon (défaut : magasin du système)")
    up.add_argument("--workdir", type=Path, default=Path("var/reference"))
    up.add_argument("--sink", default=None, metavar="HÔTE:PORT",
                    help="puits MX du harnais (adresse de bouclage) où router le domaine du harnais")
    up.add_argument("--detach", action="store_true", help="lance en arrière-plan et rend la main")
    up.set_defaults(func=_up)
    down = sub.add_parser("down", help="arrête l'opérateur de référence d'un répertoire de travail")
    down.add_argument("--workdir", type=Path, default=Path("var/reference"))
    down.set_defaults(func=_down)


@dataclass
class _Client:
    client_id: str
    client_secret: str = field(repr=False)


class RemoteBouchonLink:
    """A bouchon known only by its URL and the operator client (no admin secret): what the
    reference operator needs of it, every URL from ``psc.discovery``."""

    def __init__(self, url: str, ca_file: Path | None = None):
        from mssante_conformance.psc.discovery import endpoints, issuer_of, public_url_of

        client_id, secret = os.environ.get(ENV_CLIENT_ID), os.environ.get(ENV_CLIENT_SECRET)
        if not client_id or not secret:
            raise UsageError(f"bouchon distant : définir {ADMIN_SECRET_ENV}, ou {ENV_CLIENT_ID} "
                             f"et {ENV_CLIENT_SECRET}")
        self.url = public_url_of(url)
        self.issuer = issuer_of(self.url)
        self.introspection_endpoint = endpoints(self.issuer)["introspection_endpoint"]
        self.jwks_uri = endpoints(self.issuer)["jwks_uri"]
        self.ca_file = ca_file
        self.operator_client = _Client(client_id, secret)


def remote_bouchon(url: str, ca_file: Path | None):
    """The bouchon at ``url``: through its admin API when the admin secret is set (it then
    gives the operator client), else a :class:`RemoteBouchonLink`. Reached now, so that a
    wrong URL, secret or certificate is one clear line before Dovecot starts."""
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--bouchon-url invalide : {url!r} (attendu http(s)://hôte:port)")
    if ca_file is not None and not ca_file.is_file():
        raise UsageError(f"--bouchon-ca-file : fichier introuvable : {ca_file}")
    secret = os.environ.get(ADMIN_SECRET_ENV)
    if not secret:
        return RemoteBouchonLink(url, ca_file)
    from mssante_conformance.psc import RemoteBouchon, RemoteBouchonError

    try:
        remote = RemoteBouchon(url, secret, ca_file=ca_file)
        remote.info()
        remote.operator_client  # noqa: B018 (read now: the reference needs it)
    except RemoteBouchonError as exc:
        raise CommandFailed(f"bouchon distant inutilisable : {exc}") from None
    return remote


def _parse_sink(text: str | None):
    if not text:
        return None
    host, _, port = text.rpartition(":")
    if not host.startswith("127.") or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(f"--sink attend HÔTE:PORT en adresse de bouclage 127.x.y.z, reçu {text!r}")
    return (host, int(port))


def _print_ready(op, bouchon_desc: str) -> None:
    print(f"Opérateur de référence démarré (profil {op.profile.name}: {op.profile.deviation})")
    print(f"  bouchon PSC: {bouchon_desc}")
    for name, url in op.endpoints.items():
        print(f"  {name:6} {url}")
    print(f"  ancre de confiance (IGC Santé de test): {op.ca_file}")
    print(f"  domaine: {op.domain}   liste blanche: {', '.join(op.trust_whitelist)}")
    print("  BAL de test (type, IDNAT titulaires):")
    for box in op.mailboxes:
        extra = " + certificat AUTH_CLI" if box.auth_cli else ""
        print(f"    {box.address:46} {box.kind} {', '.join(box.holders)}{extra}")
    print(f"  certificat ORG AUTH_CLI: {op.auth_cli.cert} (clé {op.auth_cli.key})")
    print(f"  certificat AUTH_CLI expiré (LPS-CERT-03): {op.pki.expired_client.cert} "
          f"(clé {op.pki.expired_client.key})")
    print(f"  journaux: {op.workdir / 'logs'} (à l'arrêt)")
    sys.stdout.flush()


def _reap_stale() -> None:
    """Stop the daemons of instances whose owner was killed (see reference.processes)."""
    from mssante_conformance.reference.processes import reap_stale

    for run_dir in reap_stale():
        print(f"opérateur de référence orphelin arrêté ({run_dir})", file=sys.stderr)


def _up(args) -> int:
    _reap_stale()
    sink = _parse_sink(args.sink)
    if args.bouchon_ca_file and not args.bouchon_url:
        raise UsageError("--bouchon-ca-file sans --bouchon-url : le bouchon intégré parle http")
    workdir = args.workdir.resolve()
    if args.detach:
        return _detach(args, workdir)
    from mssante_conformance.reference import ReferenceOperatorError, ReferenceOperator

    state = workdir / STATE_FILE
    _refuse_if_running(state)
    stop_requested = []

    def on_term(signum, frame):
        stop_requested.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        with _bouchon(args, workdir) as (bouchon, desc):
            op = ReferenceOperator(workdir, bouchon, profile=args.profile, sink=sink)
            try:
                op.start()
                _write_state(state, op)
                _print_ready(op, desc)
                print("Ctrl-C pour arrêter.", flush=True)
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                print("arrêt de l'opérateur de référence…", file=sys.stderr, flush=True)
            except ReferenceOperatorError as exc:
                raise CommandFailed(str(exc)) from None
            finally:
                left = op.stop()
                state.unlink(missing_ok=True)
                if left:
                    print(f"processus encore vivants: {left}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
    return 0


class _bouchon:
    """Context manager yielding (bouchon, description): remote link or embedded bouchon."""

    def __init__(self, args, workdir: Path):
        self.args, self.workdir, self._embedded = args, workdir, None

    def __enter__(self):
        if self.args.bouchon_url:
            link = remote_bouchon(self.args.bouchon_url, _absolute(self.args.bouchon_ca_file))
            return link, f"{link.issuer} (distant)"
        try:
            from mssante_conformance.psc import Bouchon
        except ImportError as exc:
            raise CommandFailed(f"bouchon intégré indisponible ({exc}); utiliser --bouchon-url") from None
        self._embedded = Bouchon.start(self.workdir / "bouchon", host="127.0.0.1", port=0)
        bouchon = self._embedded.__enter__()
        return bouchon, f"{bouchon.issuer} (intégré)"

    def __exit__(self, *exc):
        if self._embedded is not None:
            self._embedded.__exit__(*exc)
        return False


def _absolute(path: Path | None) -> Path | None:
    return path.resolve() if path is not None else None


def _write_state(state: Path, op) -> None:
    state.parent.mkdir(parents=True, exist_ok=True)
    # What a script needs to aim a run at this instance (paths and URLs; no secret).
    state.write_text(json.dumps({"up_pid": os.getpid(), "pids": op.pids, "profile": op.profile.name,
                                 "endpoints": op.endpoints, "bouchon_issuer": op.bouchon.issuer,
                                 "ca_file": str(op.ca_file),
                                 "auth_cli": {"cert": str(op.auth_cli.cert), "key": str(op.auth_cli.key),
                                              "bal": op.auth_cli_bal},
                                 "expired_client": {"cert": str(op.pki.expired_client.cert),
                                                    "key": str(op.pki.expired_client.key)}}, indent=1))


def _refuse_if_running(state: Path) -> None:
    try:
        data = json.loads(state.read_text())
    except (OSError, ValueError):
        return
    pid = data.get("up_pid")
    if isinstance(pid, int) and _alive(pid):
        raise UsageError(f"un opérateur de référence tourne déjà pour {state.parent} (pid {pid}); "
                         "'reference down' d'abord")


def _alive(pid: int) -> bool:
    from mssante_conformance.reference.processes import pid_alive

    return pid_alive(pid)


def _detach(args, workdir: Path) -> int:
    state = workdir / STATE_FILE
    _refuse_if_running(state)
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, "-m", "mssante_conformance.cli", "reference", "up",
            "--profile", args.profile, "--workdir", str(workdir)]
    if args.bouchon_url:
        argv += ["--bouchon-url", args.bouchon_url]
    if args.bouchon_ca_file:
        argv += ["--bouchon-ca-file", str(_absolute(args.bouchon_ca_file))]
    if args.sink:
        argv += ["--sink", args.sink]
    log = open(workdir / "reference-up.log", "wb")
    child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    log.close()
    deadline = time.monotonic() + DETACH_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise CommandFailed(f"le démarrage a échoué:\n{(workdir / 'reference-up.log').read_text()[-2000:]}")
        if state.exists() and "Ctrl-C" in (workdir / "reference-up.log").read_text("utf-8", "replace"):
            print((workdir / "reference-up.log").read_text("utf-8").replace("Ctrl-C pour arrêter.", "").rstrip())
            print(f"En arrière-plan (pid {child.pid}); arrêt: mssante-conformance reference down --workdir {workdir}")
            return 0
        time.sleep(0.1)
    os.kill(child.pid, signal.SIGTERM)
    raise CommandFailed(f"pas prêt après {DETACH_TIMEOUT_S:.0f} s (voir {workdir / 'reference-up.log'})")


def _down(args) -> int:
    from mssante_conformance.reference.processes import terminate

    _reap_stale()
    state = args.workdir.resolve() / STATE_FILE
    try:
        data = json.loads(state.read_text())
    except OSError:
        print(f"aucun opérateur de référence en cours pour {args.workdir}")
        return 0
    except ValueError:
        raise CommandFailed(f"fichier d'état illisible: {state}") from None
    up_pid = data.get("up_pid")
    if isinstance(up_pid, int) and _alive(up_pid) and up_pid != os.getpid():
        os.kill(up_pid, signal.SIGTERM)  # the `up` process stops its servers and removes the state
        deadline = time.monotonic() + 30
        while _alive(up_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
    # Whatever is left (the `up` process was killed hard): our servers, by their recorded pids.
    ours = [p for p in data.get("pids", []) if isinstance(p, int) and _ours(p)]
    left = terminate(ours) if ours else []
    state.unlink(missing_ok=True)
    if left:
        raise CommandFailed(f"processus encore vivants après arrêt: {left}")
    print("opérateur de référence arrêté")
    return 0


def _ours(pid: int) -> bool:
    """Only signal a recorded pid if it is still a Dovecot/Postfix process (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
    except OSError:
        return False
    return any(word in cmdline for word in (b"dovecot", b"postfix", b"master", b"smtpd", b"script"))
