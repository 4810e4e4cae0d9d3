"""Single sign-on with OpenID Connect, through Authlib's Flask client: the protocol's side in the web layer.

``init_app`` registers the provider when ``OIDC_ISSUER`` is set (``app.config._oidc``): its metadata is read from
``<issuer>/.well-known/openid-configuration`` on first use, and must name the same issuer. A sign-in is the
authorization code flow with PKCE (S256), a ``state`` bound to this browser's session and a ``nonce`` bound to
the ID token; Authlib checks the ID token's signature against the provider's JWKS, its issuer, audience (our
client id), expiry and nonce. Every way that can fail becomes an ``SsoFailure`` with a reason and words for the
person (the views show them on a page and audit them), never a stack trace.

Which account the checked claims sign in to is ``app/services/sso.py``'s business.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app, request
from joserfc.errors import BadSignatureError, ClaimError, ExpiredTokenError, JoseError

#: Words for the person, by reason; the reason and the details go to the audit log.
FAILURES = {
    "provider_error": "Your sign-in service did not sign you in ({detail}). Try again, or sign in with your "
    "email address and password.",
    "bad_state": "This sign-in did not start here, or it was already used or has expired. Start again from the "
    "sign-in page.",
    "wrong_issuer": "The sign-in service's answer did not come from the service this site trusts. Start again "
    "from the sign-in page.",
    "wrong_audience": "The sign-in service's answer was meant for another service, not this one. Start again "
    "from the sign-in page, and tell your administrator if it happens again.",
    "expired_token": "The sign-in service's answer had expired. Start again from the sign-in page; if it "
    "happens again, tell your administrator (the sign-in service's clock may be wrong).",
    "bad_nonce": "The sign-in service's answer was not for this sign-in. Start again from the sign-in page.",
    "bad_signature": "The sign-in service's answer was not signed by the service this site trusts. Start again "
    "from the sign-in page.",
    "invalid_token": "The sign-in service's answer could not be checked ({detail}). Start again from the sign-in page.",
    "token_refused": "The sign-in service refused to complete the sign-in ({detail}). Start again from the "
    "sign-in page.",
    "provider_unreachable": "The sign-in service cannot be reached just now. Try again later, or sign in with "
    "your email address and password.",
    "not_configured": "Single sign-on is not set up on this service. Sign in with your email address and password.",
}
EXTENSION = "sso_client"
#: An OAuth error code as RFC 6749 spells them (access_denied, invalid_grant): the only part of it shown.
ERROR_CODE = re.compile(r"[a-z_]{1,64}")


class SsoFailure(Exception):
    """The protocol failed: ``reason`` (a key of FAILURES) and ``detail`` (for the audit log)."""

    def __init__(self, reason: str, detail: str = "", shown: str = ""):
        self.reason = reason
        self.detail = detail[:500]
        self.shown = shown  # the part of the detail the person is shown (never text the provider's answer chose)
        super().__init__(f"{reason}: {detail}")

    @property
    def message(self) -> str:
        return FAILURES[self.reason].format(detail=self.shown or "no reason given")


def init_app(app: Flask) -> None:
    """Register the provider with Authlib (one registry per application: tests make many)."""
    if not app.config.get("OIDC_ENABLED"):
        return
    oauth = OAuth(app)
    app.extensions[EXTENSION] = oauth.register(
        "sso",
        client_id=app.config["OIDC_CLIENT_ID"],
        client_secret=app.config["OIDC_CLIENT_SECRET"],
        server_metadata_url=f"{app.config['OIDC_ISSUER'].rstrip('/')}/.well-known/openid-configuration",
        client_kwargs={"scope": app.config["OIDC_SCOPES"], "code_challenge_method": "S256", "default_timeout": 10},
    )


def enabled() -> bool:
    return EXTENSION in current_app.extensions


def _client() -> Any:
    if not enabled():
        raise SsoFailure("not_configured")
    client = current_app.extensions[EXTENSION]
    try:
        metadata = client.load_server_metadata()
    except (requests.RequestException, ValueError) as exc:
        raise SsoFailure("provider_unreachable", f"discovery: {type(exc).__name__}: {exc}") from None
    if metadata.get("issuer") != current_app.config["OIDC_ISSUER"]:
        client.server_metadata.clear()  # read it again next time
        raise SsoFailure(
            "wrong_issuer",
            f"discovery names issuer {metadata.get('issuer')!r}, expected {current_app.config['OIDC_ISSUER']!r}",
        )
    return client


def start(redirect_uri: str):
    """The redirect to the provider's authorization endpoint (state, nonce and PKCE verifier kept in the session)."""
    client = _client()
    return client.authorize_redirect(redirect_uri)


def finish() -> dict[str, Any]:
    """The ID token's checked claims for the provider's answer on this request (the callback)."""
    client = _client()
    issuer = current_app.config["OIDC_ISSUER"]
    if "iss" in request.args and request.args["iss"] != issuer:  # RFC 9207: an answer from another provider
        raise SsoFailure("wrong_issuer", f"the authorization response names issuer {request.args['iss']!r}")
    try:
        # Authlib checks ``aud`` only against an ``azp`` unless told: the client id must be an audience (OIDC Core
        # 3.1.3.7), and the issuer the one configured (the discovery document named it too).
        token = client.authorize_access_token(
            claims_options={
                "iss": {"essential": True, "value": issuer},
                "aud": {"essential": True, "value": current_app.config["OIDC_CLIENT_ID"]},
            }
        )
    except MismatchingStateError:
        raise SsoFailure("bad_state", "the state is not one this browser's session holds") from None
    except OAuthError as exc:
        reason = "provider_error" if request.args.get("error") else "token_refused"
        code = getattr(exc, "error", None) or ""
        raise SsoFailure(reason, _oauth_detail(exc), code if ERROR_CODE.fullmatch(code) else "") from None
    except ExpiredTokenError as exc:
        raise SsoFailure("expired_token", str(exc)) from None
    except ClaimError as exc:
        known = {"aud": "wrong_audience", "iss": "wrong_issuer", "nonce": "bad_nonce"}
        raise SsoFailure(known.get(exc.claim, "invalid_token"), str(exc)) from None
    except BadSignatureError as exc:
        raise SsoFailure("bad_signature", str(exc)) from None
    except (JoseError, AuthlibBaseError) as exc:
        raise SsoFailure("invalid_token", f"{type(exc).__name__}: {exc}", type(exc).__name__) from None
    except requests.RequestException as exc:
        raise SsoFailure("provider_unreachable", f"{type(exc).__name__}: {exc}") from None
    except ValueError as exc:  # a token response that is not JSON, or a token that is not a JWT
        raise SsoFailure("invalid_token", f"{type(exc).__name__}: {exc}", type(exc).__name__) from None
    claims = token.get("userinfo")
    if not claims or not claims.get("sub"):
        raise SsoFailure("invalid_token", "the token response held no ID token")
    return dict(claims)


def _oauth_detail(exc: OAuthError) -> str:
    error: Optional[str] = getattr(exc, "error", None)
    description: Optional[str] = getattr(exc, "description", None)
    return ": ".join(part for part in (error, description) if part) or type(exc).__name__
