"""Where everything of the bouchon lives: PSC's Keycloak layout, as pure functions of a URL.

The one place that knows the paths. The Flask views route on the relative paths below; every
absolute URL (issuer, discovery, endpoints) is derived here from the public URL or the issuer,
whether the bouchon is embedded, served by ``mssante-conformance bouchon`` or remote.
"""

from __future__ import annotations

from mssante_conformance.psc.clients import AUTH_METHODS

AUTH_PREFIX = "/auth"  # Keycloak's root: the realms, and the SSO cookie's path
REALM_PATH = f"{AUTH_PREFIX}/realms/esante-wallet"
FOREIGN_REALM_PATH = f"{AUTH_PREFIX}/realms/foreign-idp"
OIDC = "/protocol/openid-connect"
WALLET_DISCOVERY_PATH = "/.well-known/wallet-openid-configuration"  # PSC's own name
STANDARD_DISCOVERY_PATH = "/.well-known/openid-configuration"  # OpenID Connect Discovery 1.0
WALLET_AUTHORIZE_PATH = "/auth"  # PSC's wallet host serves the authorize step at its root too
ADMIN_PREFIX = "/_admin"  # the test-only admin API, under the public URL (not the realm)

# Endpoint metadata name -> path under the issuer (what the views route on).
ENDPOINT_PATHS = {
    "authorization_endpoint": f"{OIDC}/auth",
    "token_endpoint": f"{OIDC}/token",
    "userinfo_endpoint": f"{OIDC}/userinfo",
    "introspection_endpoint": f"{OIDC}/token/introspect",
    "jwks_uri": f"{OIDC}/certs",
    "revocation_endpoint": f"{OIDC}/revoke",
    "end_session_endpoint": f"{OIDC}/logout",
}


def issuer_of(public_url: str) -> str:
    """The PSC realm's issuer of a bouchon served at ``public_url``."""
    return public_url.rstrip("/") + REALM_PATH


def foreign_issuer_of(public_url: str) -> str:
    return public_url.rstrip("/") + FOREIGN_REALM_PATH


def public_url_of(url: str) -> str:
    """The bouchon's public URL, given either it or its issuer (a user may paste either)."""
    url = url.rstrip("/")
    return url[: -len(REALM_PATH)] if url.endswith(REALM_PATH) else url


def discovery_url(issuer: str) -> str:
    return issuer + WALLET_DISCOVERY_PATH


def standard_discovery_url(issuer: str) -> str:
    return issuer + STANDARD_DISCOVERY_PATH


def admin_url(public_url: str, path: str = "") -> str:
    return public_url.rstrip("/") + ADMIN_PREFIX + path


def endpoints(issuer: str) -> dict[str, str]:
    return {name: issuer + path for name, path in ENDPOINT_PATHS.items()}


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
    return {"issuer": foreign_issuer, "jwks_uri": foreign_issuer + ENDPOINT_PATHS["jwks_uri"],
            "id_token_signing_alg_values_supported": ["RS256"]}
