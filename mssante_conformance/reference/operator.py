"""The reference MSSanté operator: real Dovecot + Postfix on loopback, from the templates.

Architecture (see docs/reference-operator.md):

* Dovecot on 127.0.0.2: IMAP (STARTTLS, implicit TLS), LMTP on a unix socket, and the SASL
  authority. XOAUTH2/OAUTHBEARER go to the oauth2 passdb in password-grant mode, whose
  grant_url is the token adapter (a thread of this process): it introspects the token at the
  bouchon and checks the IDNAT against the directory. EXTERNAL (AUTH_CLI) is a passwd-file
  passdb of the BALs that allow certificates.
* Postfix: submission on 127.0.0.2 (STARTTLS, implicit TLS; SASL through Dovecot; a BAL sends
  as itself only; trust-space destinations only), the MX on 127.0.0.3 (mutual TLS with the
  test IGC Santé, sender domains from the trust-space whitelist, delivery over LMTP), and
  outbound delivery: the harness's domain routed to its sink with STARTTLS and the operator's
  certificate as client certificate.

Config lives in ``workdir/conf-N`` (written at each start); sockets, spool, mail and logs in
a fresh private runtime directory under /tmp (pytest's tmp dirs are mode 0700, which the
unprivileged Dovecot and Postfix processes could not traverse), removed at stop after the
logs are copied to ``workdir/logs``.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import shutil
import secrets
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined

from mssante_conformance.pki import HARNESS_DOMAIN, TestPKI
from mssante_conformance.reference import processes
from mssante_conformance.reference.directory import Directory, Mailbox, load_directory, load_whitelist
from mssante_conformance.reference.local_keys import KeyDictError, OtherIssuer, fetch_jwks, write_key_dict
from mssante_conformance.reference.processes import ReferenceOperatorError
from mssante_conformance.reference.profiles import get_profile
from mssante_conformance.reference.token_adapter import GrantAdapter

# Queue layout of postfix-files(5) ("name: owner, group or None, mode"). Creating it here and
# dropping a `quick-start` file lets `postfix start-fg` skip its integrity scan (~2 s).
POSTFIX_QUEUE = {
    "active": ("postfix", None, 0o700), "bounce": ("postfix", None, 0o700),
    "corrupt": ("postfix", None, 0o700), "defer": ("postfix", None, 0o700),
    "deferred": ("postfix", None, 0o700), "flush": ("postfix", None, 0o700),
    "hold": ("postfix", None, 0o700), "incoming": ("postfix", None, 0o700),
    "private": ("postfix", None, 0o700), "maildrop": ("postfix", "postdrop", 0o730),
    "public": ("postfix", "postdrop", 0o710), "pid": ("root", None, 0o755),
    "saved": ("postfix", None, 0o700), "trace": ("postfix", None, 0o700),
}

LPS_HOST = "127.0.0.2"
MX_HOST = "127.0.0.3"
MAIL_USER = "nobody"
PORT_NAMES = ("imap", "imaps", "smtp", "smtps", "mx")


class ReferenceOperator:
    """Start/stop the reference operator. See the module docstring and docs/interfaces.md."""

    def __init__(self, workdir, bouchon, profile: str = "conformant", sink=None, *,
                 harness_domain: str = HARNESS_DOMAIN, directory: Directory | None = None,
                 ports: dict[str, int] | None = None, pki: TestPKI | None = None,
                 postfix_overrides: dict[str, str] | None = None):
        self.workdir = Path(workdir).resolve()
        self.bouchon = bouchon
        self.profile = get_profile(profile)
        if sink is not None and (len(sink) != 2 or not str(sink[0]).startswith("127.")):
            raise ValueError("sink doit être (adresse de bouclage 127.x.y.z, port)")
        self.sink = (str(sink[0]), int(sink[1])) if sink is not None else None
        self.harness_domain = harness_domain.lower()
        self.directory = directory or load_directory()
        self.domain = self.directory.domain
        self._requested_ports = dict(ports or {})
        # Extra main.cf lines, appended last (experiments, fault injection in tests).
        self.postfix_overrides = dict(postfix_overrides or {})
        self.ports: dict[str, int] = {}
        self.pki: TestPKI | None = pki  # default: workdir/pki, created on first use
        self._run: Path | None = None
        self._conf: Path | None = None
        self._dovecot: subprocess.Popen | None = None
        self._postfix: subprocess.Popen | None = None
        self._postfix_master: int | None = None
        self._adapter: GrantAdapter | None = None
        self.other_issuer: OtherIssuer | None = None  # family local_jwt trusting another issuer
        self._known_pids: list[int] = []
        self._lifeline: processes.Lifeline | None = None  # kills the daemons if we die
        self._lock = threading.Lock()

    # -- public attributes ---------------------------------------------------------------------
    @property
    def endpoints(self) -> dict[str, str]:
        p = self.ports
        return {"imap": f"imap://{LPS_HOST}:{p['imap']}", "imaps": f"imaps://{LPS_HOST}:{p['imaps']}",
                "smtp": f"smtp://{LPS_HOST}:{p['smtp']}", "smtps": f"smtps://{LPS_HOST}:{p['smtps']}",
                "mx": f"smtp://{MX_HOST}:{p['mx']}"}

    @property
    def ca_file(self) -> Path:
        return self._ensure_pki().ca_file

    @property
    def mailboxes(self) -> list[Mailbox]:
        return list(self.directory.mailboxes)

    @property
    def trust_whitelist(self) -> list[str]:
        domains = [self.domain, *load_whitelist(), self.harness_domain]
        return list(dict.fromkeys(domains))

    @property
    def auth_cli(self):
        """CertKey of the ORG AUTH_CLI certificate, and the BAL it opens."""
        return self._ensure_pki().org_auth_cli

    @property
    def auth_cli_bal(self) -> str | None:
        return next((m.address for m in self.directory.mailboxes if m.auth_cli), None)

    @property
    def pids(self) -> list[int]:
        """Every process this instance started (masters, their children seen so far, script(1))."""
        self._known_pids = sorted(set(self._known_pids) | set(self._descendants()))
        return list(self._known_pids)

    @property
    def running(self) -> bool:
        return self._dovecot is not None

    def log_paths(self) -> dict[str, Path]:
        base = self._run / "logs" if self._run else self.workdir / "logs"
        return {"dovecot": base / "dovecot.log", "postfix": base / "postfix.log",
                "adapter": base / "token-adapter.log"}

    # -- lifecycle --------------------------------------------------------------------------------
    def __enter__(self) -> "ReferenceOperator":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> "ReferenceOperator":
        with self._lock:
            if self._dovecot is not None:
                raise ReferenceOperatorError("l'opérateur de référence est déjà démarré")
            if os.geteuid() != 0:
                raise ReferenceOperatorError("Dovecot et Postfix doivent être lancés en root (uid 0)")
            binaries = processes.require_binaries("dovecot", "postfix", "script")
            try:
                self._prepare()
                self._lifeline = processes.Lifeline(self._run)
                if self.profile.knobs.validation == "introspect":  # local_jwt: no adapter
                    self._adapter.start()
                self._start_dovecot(binaries["dovecot"])
                self._start_postfix(binaries["postfix"], binaries["script"])
            except BaseException:
                self._stop_locked()
                raise
            return self

    def stop(self) -> list[int]:
        """Stop everything; returns the pids still alive (empty when all went well)."""
        with self._lock:
            return self._stop_locked()

    # -- internals --------------------------------------------------------------------------------
    def _ensure_pki(self) -> TestPKI:
        if self.pki is None:
            self.pki = TestPKI.ensure(self.workdir / "pki", harness_domain=self.harness_domain,
                                      operator_domain=self.domain,
                                      org_auth_cli_cn=self.auth_cli_bal or f"org@{self.domain}")
        return self.pki

    def _pick_ports(self) -> None:
        self.ports = {}
        for name in PORT_NAMES:
            host = LPS_HOST if name in ("imap", "imaps", "smtp", "smtps") else MX_HOST
            if name in self._requested_ports:
                port = int(self._requested_ports[name])
                processes.check_port_free(host, port, name)
            else:
                port = processes.free_port(host)
                while port in self.ports.values():
                    port = processes.free_port(host)
            self.ports[name] = port

    def _prepare(self) -> None:
        pki = self._ensure_pki()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._pick_ports()
        self._run = Path(tempfile.mkdtemp(prefix="mssante-ref-", dir="/tmp"))
        os.chmod(self._run, 0o755)
        conf = self._run / "conf"  # config in the private runtime dir: Postfix reads it unprivileged
        self._conf = conf
        for sub in ("conf", "logs", "mail", "postfix-spool", "postfix-data"):
            (self._run / sub).mkdir(mode=0o755)
        # Dovecot's auth process (user dovecot) reads the passwd-files and the oauth2 client
        # secret; Postfix opens its files as root. Nobody else may read the directory.
        dovecot_gid = grp.getgrnam("dovecot").gr_gid
        os.chown(conf, 0, dovecot_gid)
        os.chmod(conf, 0o750)
        mail_user = pwd.getpwnam(MAIL_USER)
        os.chown(self._run / "mail", mail_user.pw_uid, mail_user.pw_gid)
        _prepare_postfix_spool(self._run / "postfix-spool", self._run / "postfix-data")
        self._write_files(pki, conf, mail_user.pw_uid, mail_user.pw_gid)

    def _write_files(self, pki: TestPKI, conf: Path, uid: int, gid: int) -> None:
        knobs = self.profile.knobs
        mx_ca = pki.ca_file
        if knobs.mx_trust == "any":  # DEVIATION mx_any_ca: IGC Santé + foreign CA + system store
            mx_ca = conf / "mx-any-ca.pem"
            system = Path("/etc/ssl/certs/ca-certificates.crt")
            mx_ca.write_bytes(pki.ca_file.read_bytes() + pki.foreign_ca.cert.read_bytes()
                              + (system.read_bytes() if system.exists() else b""))
        lmtp_socket = self._run / "lmtp.sock"
        dovecot_client = ("dovecot-" + self._run.name[-8:], secrets.token_urlsafe(24))
        self._adapter = GrantAdapter({
            "introspection_endpoint": self.bouchon.introspection_endpoint,
            "client_id": self.bouchon.operator_client.client_id,
            "client_secret": self.bouchon.operator_client.client_secret,
            "jwks_uri": self.bouchon.jwks_uri,
            "issuer": self.bouchon.issuer,
            "ca_file": getattr(self.bouchon, "ca_file", None),  # an https bouchon's anchor
            "policy": knobs.token_policy,
            "log_file": str(self.log_paths()["adapter"]),
        }, self.directory, dovecot_client)
        oauth2_tls = []
        if getattr(self.bouchon, "ca_file", None):  # an https bouchon: Dovecot verifies it too
            shutil.copyfile(self.bouchon.ca_file, conf / "bouchon-ca.pem")  # readable by Dovecot
            oauth2_tls = [f"tls_ca_cert_file = {conf / 'bouchon-ca.pem'}"]
        self._write_private(conf / "dovecot-oauth2.conf.ext", "\n".join([
            f"grant_url = {self._adapter.url}",
            "use_grant_password = yes",
            f"client_id = {dovecot_client[0]}",
            f"client_secret = {dovecot_client[1]}",
            "username_attribute = bal",
            "timeout_msecs = 10000",
            "max_parallel_connections = 4",
            *oauth2_tls,
            ""]))
        # Family local_jwt: Dovecot validates tokens itself; the adapter above is not started.
        holder_ranks = self._write_local_validation(conf) if knobs.validation == "local_jwt" else 0
        (conf / "directory.json").write_text(json.dumps(self.directory.to_json(), indent=1))
        boxes = self.directory.mailboxes
        (conf / "users.passwd").write_text("".join(f"{m.address}::{uid}:{gid}::\n" for m in boxes))
        (conf / "auth-cli.passwd").write_text(
            "".join(f"{m.address}:::::::nopassword\n" for m in boxes if m.auth_cli))
        (conf / "bals").write_text("".join(f"{m.address} OK\n" for m in boxes))
        (conf / "bals-self").write_text("".join(f"{m.address} {m.address}\n" for m in boxes))
        (conf / "trust-domains").write_text("".join(f"{d} OK\n" for d in self.trust_whitelist))
        sink = f"smtp:[{self.sink[0]}]:{self.sink[1]}" if self.sink else \
            "error:4.4.1 harness sink not configured (puits du harnais non configure)"
        (conf / "transport").write_text(f"{self.harness_domain} {sink}\n")
        env = Environment(loader=PackageLoader("mssante_conformance.reference", "templates"),
                          undefined=StrictUndefined, keep_trailing_newline=True)
        values = dict(
            profile=self.profile.name, knobs=knobs, instance=f"mssante-ref-{self._run.name[-8:]}",
            run=str(self._run), logs=str(self._run / "logs"), logs_prefix=str(self._run / "logs"),
            conf=str(conf), domain=self.domain, listen=LPS_HOST, mx_host=MX_HOST, ports=self.ports,
            mail_uid=uid, mail_gid=gid, server_cert=pki.operator_server.cert,
            server_key=pki.operator_server.key, ca_file=pki.ca_file, mx_ca_file=mx_ca,
            mta_cert=pki.operator_mta.cert, mta_key=pki.operator_mta.key, lps_host=LPS_HOST,
            lmtp_socket=lmtp_socket, auth_socket=self._run / "auth-postfix.sock",
            holder_ranks=holder_ranks,
        )
        for name, target in (("dovecot.conf.j2", "dovecot.conf"), ("main.cf.j2", "main.cf"),
                             ("master.cf.j2", "master.cf")):
            (conf / target).write_text(env.get_template(name).render(**values))
        with open(conf / "main.cf", "a") as main_cf:
            main_cf.writelines(f"{k} = {v}\n" for k, v in self.postfix_overrides.items())
        (self._run / "logs" / "token-adapter.log").touch()
        # Postfix re-reads main.cf every 300 ms until its mtime is over a second old (it guards
        # against half-written files): date the generated files back.
        past = time.time() - 10
        for path in conf.iterdir():
            os.utime(path, (past, past))

    def _write_local_validation(self, conf: Path) -> int:
        """Family local_jwt: the key dict, the oauth2 passdb config and one BAL -> holder
        passwd-file per holder rank (see dovecot.conf.j2). Returns the number of ranks."""
        if self.profile.knobs.trusted_issuer == "other":
            self.other_issuer = OtherIssuer.ensure(self.workdir / "other-issuer")
            issuer, jwks = self.other_issuer.issuer, self.other_issuer.jwks
        else:
            issuer = self.bouchon.issuer
            try:  # over HTTP(S), as a relying party would: works with a remote bouchon too
                jwks = fetch_jwks(self.bouchon.jwks_uri, getattr(self.bouchon, "ca_file", None))
            except KeyDictError as exc:
                raise ReferenceOperatorError(f"clés du bouchon indisponibles : {exc}") from None
        key_dict = conf / "jwt-keys"
        write_key_dict(key_dict, jwks, self.trusted_azps)
        env = Environment(loader=PackageLoader("mssante_conformance.reference", "templates"),
                          undefined=StrictUndefined, keep_trailing_newline=True)
        (conf / "dovecot-oauth2-local.conf.ext").write_text(
            env.get_template("dovecot-oauth2-local.conf.ext.j2").render(
                profile=self.profile.name, key_dict=key_dict, issuer=issuer))
        ranks = max(len(m.holders) for m in self.directory.mailboxes)
        for rank in range(ranks):
            (conf / f"bal-holders-{rank}.passwd").write_text("".join(
                f"{m.address}:::::::noauthenticate user={m.holders[rank]}\n"
                for m in self.directory.mailboxes if len(m.holders) > rank))
        return ranks

    @property
    def trusted_azps(self) -> list[str]:
        """Client ids (``azp``) of the LPS whose tokens the local_jwt family accepts: the
        bouchon's LPS test client (Dovecot keys its key dict by azp). A bouchon reached only by
        URL has it too: every bouchon's clients.json must hold LPS_CLIENT_ID."""
        from mssante_conformance.psc.clients import LPS_CLIENT_ID

        lps = getattr(self.bouchon, "lps_client", None)
        return [lps.client_id if lps is not None else LPS_CLIENT_ID]

    @staticmethod
    def _write_private(path: Path, text: str) -> None:
        """A secret readable by root and the dovecot group only."""
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chown(path, 0, grp.getgrnam("dovecot").gr_gid)

    def _start_dovecot(self, binary: str) -> None:
        out = open(self._run / "logs" / "dovecot.stderr", "wb")
        self._dovecot = subprocess.Popen(
            [binary, "-F", "-c", str(self._conf / "dovecot.conf")], stdin=subprocess.DEVNULL,
            stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self._known_pids.append(self._dovecot.pid)
        self._lifeline.hold(self._dovecot.pid)
        addresses = [(LPS_HOST, self.ports[n]) for n in ("imap", "imaps")]
        processes.wait_listening(self._dovecot, addresses, "Dovecot", lambda: self._log_tail("dovecot"))

    def _start_postfix(self, binary: str, script: str) -> None:
        # `postfix` prints its errors only when stderr is a terminal: run it under script(1).
        capture = self._run / "logs" / "postfix.stderr"
        command = f"{binary} -c {self._conf} start-fg"
        self._postfix = subprocess.Popen(
            [script, "-qfec", command, str(capture)], stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        self._known_pids.append(self._postfix.pid)
        self._lifeline.hold(self._postfix.pid)
        addresses = [(MX_HOST, self.ports["mx"]), (LPS_HOST, self.ports["smtp"]), (LPS_HOST, self.ports["smtps"])]
        processes.wait_listening(self._postfix, addresses, "Postfix", lambda: self._log_tail("postfix"))
        self._postfix_master = self._read_postfix_pid()
        if self._postfix_master:
            self._known_pids.append(self._postfix_master)
            self._lifeline.hold(self._postfix_master)

    def _read_postfix_pid(self) -> int | None:
        pid_file = self._run / "postfix-spool" / "pid" / "master.pid"
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                return int(pid_file.read_text().strip())
            except (OSError, ValueError):
                time.sleep(0.02)
        return None

    def _log_tail(self, which: str) -> str:
        logs = self._run / "logs"
        parts = [processes.tail(logs / f"{which}.stderr"), processes.tail(logs / f"{which}.log")]
        return "\n".join(p for p in parts if p not in ("(pas de journal)", "(journal vide)")) or "(aucun journal)"

    def _descendants(self) -> list[int]:
        roots = {p for p in self._known_pids if processes.pid_alive(p)}
        return sorted(processes.descendants(roots)) if roots else []

    def _stop_locked(self) -> list[int]:
        if self._run is None:
            return []
        pids = self.pids
        masters = [p for p in (self._postfix_master, self._dovecot.pid if self._dovecot else None) if p]
        children = [c for c in (self._dovecot, self._postfix) if c is not None]
        processes.terminate(masters, children=children)
        left = processes.terminate(pids, children=children)  # script(1), stragglers
        if self._adapter is not None:
            self._adapter.stop()
            self._adapter = None
        self._copy_logs()
        shutil.rmtree(self._run, ignore_errors=True)
        if self._lifeline is not None:  # stopped in order: the watchdog has nothing to do
            self._lifeline.release()
            self._lifeline = None
        self._run = None
        self._dovecot = self._postfix = None
        self._postfix_master = None
        return left

    def _copy_logs(self) -> None:
        target = self.workdir / "logs"
        target.mkdir(parents=True, exist_ok=True)
        for path in (self._run / "logs").glob("*"):
            try:
                shutil.copyfile(path, target / path.name)
            except OSError:
                pass


def _prepare_postfix_spool(queue: Path, data: Path) -> None:
    postfix = pwd.getpwnam("postfix")
    os.chown(data, postfix.pw_uid, postfix.pw_gid)
    os.chmod(data, 0o700)
    for name, (owner, group, mode) in POSTFIX_QUEUE.items():
        path = queue / name
        path.mkdir()
        uid = pwd.getpwnam(owner).pw_uid
        gid = grp.getgrnam(group).gr_gid if group else pwd.getpwnam(owner).pw_gid
        os.chown(path, uid, gid)
        os.chmod(path, mode)
    (queue / "quick-start").touch()
