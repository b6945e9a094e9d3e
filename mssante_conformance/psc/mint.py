"""Minting tokens of any variant, for checks (embedded, admin API, ``token`` command)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from mssante_conformance.fingerprint import fingerprint
from mssante_conformance.psc.claims import SessionFacts, access_token_claims
from mssante_conformance.psc.state import BouchonState
from mssante_conformance.psc.variants import TokenVariant, shape_claims, sign_variant


class MintError(ValueError):
    """Bad mint request (unknown variant, IDNAT or client)."""


@dataclass(frozen=True)
class MintedToken:
    token: str = field(repr=False)
    variant: TokenVariant
    fingerprint: str
    jti: str | None
    claims: dict

    def as_dict(self) -> dict:
        return {"token": self.token, "variant": str(self.variant), "fingerprint": self.fingerprint,
                "jti": self.jti, "claims": self.claims}


def parse_variant(value) -> TokenVariant:
    try:
        return TokenVariant(value)
    except ValueError:
        known = ", ".join(v.value for v in TokenVariant)
        raise MintError(f"variante inconnue {value!r} (connues: {known})") from None


def mint(state: BouchonState, variant, idnat: str, client_id: str | None = None) -> MintedToken:
    variant = parse_variant(variant)
    asked = state.identity(idnat) if isinstance(idnat, str) else None
    if asked is None:
        raise MintError(f"IDNAT inconnu du bouchon: {idnat!r}")
    azp = client_id or state.lps_client.client_id
    if not isinstance(azp, str) or azp not in state.clients:
        raise MintError(f"client inconnu du bouchon: {client_id!r}")
    subject = asked
    if variant in (TokenVariant.OTHER_PROFESSIONAL, TokenVariant.TAMPERED_PAYLOAD):
        others = [i for i in state.identities if i.idnat != asked.idnat]
        if not others:
            raise MintError("il faut au moins deux identités de test pour cette variante")
        subject = others[0]
    now = int(state.now())
    session_id = str(uuid.uuid4())
    # A real SSO session backs every minted token, as it would at PSC.
    state.store.create_session(session_id, subject.idnat, "CARD", now)
    claims = access_token_claims(
        issuer=state.config.issuer, identity=subject, azp=azp,
        session=SessionFacts(session_id, now), iat=now, lifetime_s=state.config.token_lifetime_s)
    claims = shape_claims(variant, claims, foreign_issuer=state.config.foreign_issuer,
                          lifetime_s=state.config.token_lifetime_s, now=now)
    token, shown = sign_variant(variant, claims, state.keys, tampered_idnat=asked.idnat)
    if variant is TokenVariant.REVOKED:
        state.store.revoke_jti(claims["jti"], now)
    return MintedToken(token=token, variant=variant, fingerprint=fingerprint(token),
                       jti=shown.get("jti"), claims=shown)
