"""OpenAPI fragment: ``POST /token`` (seed 002) and the OAuth 2.0 authorization server
(``/oauth2/token``, ``/oauth2/revoke``, ``/oauth2/introspect``, RFC 8414 metadata, JWKS)."""

from __future__ import annotations

from typing import Any

from gateway.openapi.common import RATE_HEADERS, RETRY_AFTER

_JSON = "application/json"
_FORM = "application/x-www-form-urlencoded"
_NO_STORE = {"Cache-Control": {"description": "always `no-store`", "schema": {"type": "string", "const": "no-store"}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, codes: list[str], challenge: bool = False) -> dict[str, Any]:
    headers: dict[str, Any] = dict(_NO_STORE)
    if "temporarily_unavailable" in codes:
        headers.update(RETRY_AFTER)
        headers.update(RATE_HEADERS)
    if challenge:
        headers["WWW-Authenticate"] = {
            "description": "`Basic realm=...` when the client authenticated with the Authorization header",
            "schema": {"type": "string"},
        }
    schema = {"allOf": [_ref("OAuthError"), {"properties": {"error": {"enum": codes}}}]}
    return {"description": description, "headers": headers, "content": {_JSON: {"schema": schema}}}


_CLIENT_AUTH_FIELDS: dict[str, Any] = {
    "client_id": {"type": "string", "description": "client_secret_post (or with a client assertion)"},
    "client_secret": {"type": "string", "description": "client_secret_post"},
    "client_assertion_type": {"type": "string", "const": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
    "client_assertion": {"type": "string", "description": "private_key_jwt: a JWT signed by a registered key"},
}


def _client_body(fields: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema = {"type": "object", "properties": {**fields, **_CLIENT_AUTH_FIELDS}, "required": required}
    return {"required": True, "content": {_FORM: {"schema": schema}, _JSON: {"schema": schema}}}


_CLIENT_ERRORS = {
    "400": _error("bad request", ["invalid_request"]),
    "401": _error("client authentication failed", ["invalid_client"], challenge=True),
    "410": _error("the agreement of the client's principal has ended", ["invalid_grant"]),
    "429": _error("too many failed attempts from this address or for this client", ["temporarily_unavailable"]),
}
_CLIENT_SECURITY: list[dict[str, list[str]]] = [{"oauth2ClientBasic": []}, {}]

PATHS: dict[str, Any] = {
    "/token": {
        "post": {
            "tags": ["tokens"],
            "summary": "Exchange an API key for a bearer token (seed 002)",
            "operationId": "tokenFromApiKey",
            "security": [],
            "requestBody": {
                "required": True,
                "content": {
                    _FORM: {
                        "schema": {
                            "type": "object",
                            "required": ["grant_type", "key"],
                            "properties": {
                                "grant_type": {"type": "string", "enum": ["apikey", "apiKey"]},
                                "key": {"type": "string", "description": "mft_ak_<id>_<secret>"},
                                "duration": {"type": "integer", "minimum": 1, "description": "minutes (capped)"},
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "a token",
                    "headers": _NO_STORE,
                    "content": {_JSON: {"schema": _ref("ApiKeyToken")}},
                },
                "400": _error("bad request", ["invalid_request", "unsupported_grant_type"]),
                "401": _error("invalid, expired or revoked key", ["invalid_client"]),
                "410": _error("the agreement of the key's owner has ended", ["invalid_grant"]),
                "429": _error("too many failed attempts", ["temporarily_unavailable"]),
            },
        }
    },
    "/oauth2/token": {
        "post": {
            "tags": ["oauth2"],
            "summary": "Client credentials grant (RFC 6749 4.4)",
            "operationId": "oauth2Token",
            "security": _CLIENT_SECURITY,
            "requestBody": _client_body(
                {
                    "grant_type": {"type": "string", "const": "client_credentials"},
                    "scope": {"type": "string", "description": "space-separated; default: all of the client's"},
                },
                ["grant_type"],
            ),
            "responses": {
                "200": {
                    "description": "a token",
                    "headers": _NO_STORE,
                    "content": {_JSON: {"schema": _ref("OAuthToken")}},
                },
                "400": _error(
                    "bad request",
                    ["invalid_request", "unsupported_grant_type", "invalid_scope", "invalid_grant"],
                ),
                "401": _CLIENT_ERRORS["401"],
                "410": _CLIENT_ERRORS["410"],
                "429": _CLIENT_ERRORS["429"],
            },
        }
    },
    "/oauth2/revoke": {
        "post": {
            "tags": ["oauth2"],
            "summary": "Revoke one of the client's tokens (RFC 7009)",
            "operationId": "oauth2Revoke",
            "security": _CLIENT_SECURITY,
            "requestBody": _client_body(
                {"token": {"type": "string"}, "token_type_hint": {"type": "string"}}, ["token"]
            ),
            "responses": {
                "200": {
                    "description": "revoked, or not a live token of this client (same answer)",
                    "headers": _NO_STORE,
                },
                **_CLIENT_ERRORS,
            },
        }
    },
    "/oauth2/introspect": {
        "post": {
            "tags": ["oauth2"],
            "summary": "Introspect one of the client's tokens (RFC 7662)",
            "operationId": "oauth2Introspect",
            "security": _CLIENT_SECURITY,
            "requestBody": _client_body(
                {"token": {"type": "string"}, "token_type_hint": {"type": "string"}}, ["token"]
            ),
            "responses": {
                "200": {
                    "description": "the token's state",
                    "headers": _NO_STORE,
                    "content": {_JSON: {"schema": _ref("TokenIntrospection")}},
                },
                **_CLIENT_ERRORS,
            },
        }
    },
    "/.well-known/oauth-authorization-server": {
        "get": {
            "tags": ["oauth2"],
            "summary": "Authorization server metadata (RFC 8414)",
            "operationId": "oauth2Metadata",
            "security": [],
            "responses": {
                "200": {"description": "metadata", "content": {_JSON: {"schema": _ref("AuthorizationServerMetadata")}}}
            },
        }
    },
    "/.well-known/jwks.json": {
        "get": {
            "tags": ["oauth2"],
            "summary": "The public keys that verify access tokens (RFC 7517)",
            "operationId": "oauth2Jwks",
            "security": [],
            "responses": {"200": {"description": "JWK Set", "content": {_JSON: {"schema": _ref("JwkSet")}}}},
        }
    },
}

_URL = {"type": "string", "format": "uri"}
_STRINGS = {"type": "array", "items": {"type": "string"}}

SCHEMAS: dict[str, Any] = {
    "ApiKeyToken": {
        "type": "object",
        "required": ["statusCode", "access_token", "token_type", "expires_in", ".issued", ".expires", "userName"],
        "properties": {
            "statusCode": {"type": "integer", "const": 200},
            "access_token": {"type": "string", "description": "an RFC 9068 JWT (typ at+jwt)"},
            "token_type": {"type": "string", "const": "bearer"},
            "expires_in": {"type": "integer", "description": "minutes"},
            ".issued": {"type": "string", "description": "HTTP date (RFC 9110)"},
            ".expires": {"type": "string", "description": "HTTP date (RFC 9110)"},
            "userName": {"type": "string", "description": "the key's owner"},
        },
    },
    "OAuthToken": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in", "scope"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string", "const": "Bearer"},
            "expires_in": {"type": "integer", "description": "seconds"},
            "scope": {"type": "string"},
        },
    },
    "OAuthError": {
        "type": "object",
        "required": ["error", "error_description"],
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    },
    "TokenIntrospection": {
        "type": "object",
        "required": ["active"],
        "properties": {
            "active": {"type": "boolean"},
            "token_type": {"type": "string"},
            "scope": {"type": "string"},
            "client_id": {"type": "string"},
            "sub": {"type": "string"},
            "exp": {"type": "integer"},
            "iat": {"type": "integer"},
            "iss": {"type": "string"},
            "aud": {"type": "string"},
            "jti": {"type": "string"},
        },
    },
    "AuthorizationServerMetadata": {
        "type": "object",
        "required": ["issuer", "token_endpoint", "jwks_uri", "response_types_supported", "grant_types_supported"],
        "properties": {
            "issuer": _URL,
            "token_endpoint": _URL,
            "jwks_uri": _URL,
            "revocation_endpoint": _URL,
            "introspection_endpoint": _URL,
            "scopes_supported": _STRINGS,
            "response_types_supported": _STRINGS,
            "grant_types_supported": _STRINGS,
            "token_endpoint_auth_methods_supported": _STRINGS,
            "token_endpoint_auth_signing_alg_values_supported": _STRINGS,
            "revocation_endpoint_auth_methods_supported": _STRINGS,
            "introspection_endpoint_auth_methods_supported": _STRINGS,
        },
    },
    "JwkSet": {
        "type": "object",
        "required": ["keys"],
        "properties": {"keys": {"type": "array", "items": {"type": "object", "required": ["kty", "kid"]}}},
    },
}
