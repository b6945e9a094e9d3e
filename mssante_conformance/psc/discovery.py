"""OpenID provider metadata (PSC's Keycloak layout), as a pure function of the issuer."""

from __future__ import annotations

from mssante_conformance.psc.clients import AUTH_METHODS

OIDC = "/protocol/openid-connect"


def endpoints(issuer: str) -> dict[str, str]:
    return {
        "authorization_endpoint": f"{issuer}{OIDC}/auth",
        "token_endpoint": f"{issuer}{OIDC}/token",
        "userinfo_endpoint": f"{issuer}{OIDC}/userinfo",
        "introspection_endpoint": f"{issuer}{OIDC}/token/introspect",
        "jwks_uri": f"{issuer}{OIDC}/certs",
        "revocation_endpoint": f"{issuer}{OIDC}/revoke",
        "end_session_endpoint": f"{issuer}{OIDC}/logout",
    }


def provider_metadata(issuer: str) -> dict:
    return {
        "issuer": issuer,
        **endpoints(issuer),
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "scope_all"],
        "acr_values_supported": ["eidas1"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "claims_supported": ["sub", "iss", "SubjectNameID", "preferred_username", "given_name",
                             "family_name", "SubjectOrganization", "SubjectOrganizationID",
                             "SubjectRole", "Secteur_Activite", "SubjectRefPro", "otherIds"],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
    }


def foreign_metadata(foreign_issuer: str) -> dict:
    return {"issuer": foreign_issuer, "jwks_uri": f"{foreign_issuer}{OIDC}/certs",
            "id_token_signing_alg_values_supported": ["RS256"]}
