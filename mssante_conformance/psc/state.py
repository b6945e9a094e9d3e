"""Everything one bouchon instance holds: config, keys, clients, identities, store, clock."""

from __future__ import annotations

import os
from dataclasses import dataclass

from mssante_conformance.psc.claims import SessionFacts
from mssante_conformance.psc.clients import Client, load_clients, OPERATOR_CLIENT_ID, LPS_CLIENT_ID
from mssante_conformance.psc.config import BouchonConfig
from mssante_conformance.psc.identities import Identity, load_identities
from mssante_conformance.psc.keys import KeyRing
from mssante_conformance.psc.sessions import SessionPolicy
from mssante_conformance.psc.store import Store, SsoSession
from mssante_conformance.psc.validation import Verdict, check_claims, verify_signature


@dataclass(frozen=True)
class GrantedUser:
    """The professional behind an authorization, with the SSO session it belongs to."""

    identity: Identity
    session: SessionFacts


class BouchonState:
    def __init__(self, config: BouchonConfig):
        self.config = config
        config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(config.data_dir, 0o700)
        self.keys = KeyRing.load(config.data_dir)
        self.clients, self.clients_created = load_clients(config.data_dir)
        self.identities = load_identities(config.data_dir)
        self._by_idnat = {i.idnat: i for i in self.identities}
        self.store = Store(config.data_dir)
        self.policy = SessionPolicy(config.session_idle_s, config.session_max_s)

    @property
    def operator_client(self) -> Client:
        return self.clients[OPERATOR_CLIENT_ID]

    @property
    def lps_client(self) -> Client:
        return self.clients[LPS_CLIENT_ID]

    def now(self) -> float:
        return float(self.config.clock())

    def identity(self, idnat: str) -> Identity | None:
        return self._by_idnat.get(idnat)

    def live_session(self, session_id: str | None) -> SsoSession | None:
        if not session_id:
            return None
        session = self.store.get_session(session_id)
        return session if self.policy.is_alive(session, self.now()) else None

    def granted_user(self, session_id: str, nonce: str = "") -> GrantedUser | None:
        session = self.live_session(session_id)
        identity = self.identity(session.idnat) if session else None
        if identity is None:
            return None
        return GrantedUser(identity, SessionFacts(session.session_id, int(session.created_at),
                                                  nonce or "", session.auth_mode))

    def judge_access_token(self, token: str, check_time: bool = True) -> Verdict:
        """Is ``token`` an active access token of this bouchon (see validation.py)?"""
        verdict = verify_signature(token, self.keys.psc)
        if not verdict.active:
            return verdict
        verdict = check_claims(verdict.claims, issuer=self.config.issuer, now=self.now(),
                               check_time=check_time)
        if not verdict.active or not check_time:
            return verdict
        claims = verdict.claims
        if isinstance(claims.get("jti"), str) and self.store.is_jti_revoked(claims["jti"]):
            return Verdict(False, "revoked", claims)
        sid = claims.get("sid")
        session = self.store.get_session(sid) if isinstance(sid, str) and sid else None
        if session is not None and not self.policy.is_alive(session, self.now()):
            return Verdict(False, "session_ended", claims)
        return verdict

    def close(self) -> None:
        self.store.close()
