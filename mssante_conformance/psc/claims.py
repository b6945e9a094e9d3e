"""Shapes of PSC tokens and userinfo, as pure functions of (identity, session, time).

Fidelity source: real sandbox tokens (shared/psc-token-examples.json) and DOMAIN.md.
Access tokens carry no ``aud``; ``SubjectNameID`` and ``preferred_username`` are the IDNAT.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from mssante_conformance.psc.identities import Identity

PSC_SCOPE = "openid scope_all"
PSC_ACR = "eidas1"
AUTH_MODES = ("CARD", "MOBILE")  # CPS card, e-CPS app (MOBILE: our inference)
PERSON_OID = "1.2.250.1.71.4.2.1"
# SubjectRole values are "<profession code>^<OID of the profession nomenclature>".
ROLE_NOMENCLATURE_OID = "1.2.250.1.213.1.1.5.5"


@dataclass(frozen=True)
class SessionFacts:
    """What an access token says about the SSO session it came from."""

    session_id: str
    auth_time: int
    nonce: str = ""
    auth_mode: str = "CARD"


def subject_uuid(idnat: str) -> str:
    """Stable ``sub`` of a professional (recent PSC tokens use a plain UUID)."""
    return str(uuid.uuid5(uuid.NAMESPACE_OID, f"{PERSON_OID}.{idnat}"))


def access_token_claims(*, issuer: str, identity: Identity, azp: str, session: SessionFacts,
                        iat: int, lifetime_s: int, jti: str | None = None,
                        scope: str = PSC_SCOPE) -> dict:
    return {
        "exp": iat + lifetime_s,
        "iat": iat,
        "auth_time": session.auth_time,
        "jti": jti or str(uuid.uuid4()),
        "iss": issuer,
        "sub": subject_uuid(identity.idnat),
        "typ": "Bearer",
        "azp": azp,
        "nonce": session.nonce,
        "session_state": session.session_id,
        "acr": PSC_ACR,
        "scope": scope,
        "sid": session.session_id,
        "SubjectNameID": identity.idnat,
        "PSISubjectNameID": "",
        "auth_level": "1",
        "authMode": session.auth_mode,
        "otherIds": [{"identifiant": identity.idnat, "origine": "RPPS", "qualite": 1}],
        "preferred_username": identity.idnat,
    }


def service_token_claims(*, issuer: str, client_id: str, iat: int, lifetime_s: int,
                         scope: str) -> dict:
    """client_credentials token of a test client: no professional behind it."""
    return {
        "exp": iat + lifetime_s,
        "iat": iat,
        "jti": str(uuid.uuid4()),
        "iss": issuer,
        "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{issuer}/clients/{client_id}")),
        "typ": "Bearer",
        "azp": client_id,
        "acr": "1",
        "scope": scope,
        "preferred_username": f"service-account-{client_id}",
    }


def id_token_claims(*, issuer: str, identity: Identity, client_id: str, session: SessionFacts,
                    iat: int, lifetime_s: int) -> dict:
    return {
        "exp": iat + lifetime_s,
        "iat": iat,
        "auth_time": session.auth_time,
        "jti": str(uuid.uuid4()),
        "iss": issuer,
        "aud": client_id,
        "sub": subject_uuid(identity.idnat),
        "typ": "ID",
        "azp": client_id,
        "nonce": session.nonce,
        "session_state": session.session_id,
        "sid": session.session_id,
        "acr": PSC_ACR,
        "idp": "PSC",
        "SubjectNameID": identity.idnat,
        "preferred_username": identity.idnat,
    }


def userinfo_claims(identity: Identity) -> dict:
    activity = {
        "codeModeExercice": identity.mode_exercice,
        "codeSecteurDActivite": identity.secteur_activite.split("^")[0],
        "numeroFinessSite": identity.structure_id[1:] if identity.structure_id.startswith("1") else "",
        "numeroSiretSite": identity.structure_id[1:] if identity.structure_id.startswith("3") else "",
        "raisonSocialeSite": identity.structure_name,
        "identifiantTechniqueDeLaStructure": identity.structure_id,
    }
    return {
        "sub": subject_uuid(identity.idnat),
        "SubjectNameID": identity.idnat,
        "preferred_username": identity.idnat,
        "given_name": identity.given_name,
        "family_name": identity.family_name,
        "SubjectOrganization": identity.structure_name,
        "SubjectOrganizationID": identity.structure_id,
        "SubjectRole": [f"{identity.profession_code}^{ROLE_NOMENCLATURE_OID}"],
        "Secteur_Activite": identity.secteur_activite,
        "SubjectRefPro": {
            "codeCivilite": "",
            "exercices": [{
                "codeProfession": identity.profession_code,
                "codeCategorieProfessionnelle": identity.category_code,
                "codeSavoirFaire": "",
                "nomDexercice": identity.family_name.upper(),
                "prenomDexercice": identity.given_name,
                "activities": [activity],
            }],
        },
        "otherIds": [{"identifiant": identity.idnat, "origine": "RPPS", "qualite": 1}],
    }
