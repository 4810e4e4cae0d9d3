"""Single sign-on with OpenID Connect, end to end against a real provider (node running oidc-provider with
tests/oidc_provider.mjs, on 127.0.0.1): the application's own redirects through Flask's test client, the
provider's through ``requests``, its sign-in form filled in as a person would, the code exchanged and the ID token
checked for real.

Linking: a linked identity signs in; an allowed account is linked on its first sign-in; an account nobody
allowed, an unverified email and an unknown email are refused. Failures: a state that is not this browser's,
an ID token for another audience, an expired one (a provider whose clock is half an hour behind), the person
cancelling at the provider. Every outcome is an audit event."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlmodel import select

from app import create_app, db
from app.config import ConfigError, load
from app.models import AuditEvent, ExternalIdentity, SsoLinkPermit
from app.services import CLI
from app.services.sso import allow_linking, mfa_asserted

from .conftest import Visitor, signed_in, text
from .oidc import CALLBACK, MFA_ACR, MISREGISTERED_CLIENT_ID, ONE_TIME_CODE, ProviderBrowser, location, path_of

BASE = "http://127.0.0.1"  # the provider knows the callback on 127.0.0.1 (any port), not on "localhost"


def sso_app(database_url: str, tmp_path: Path, settings: dict):
    return create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": database_url,
            "SECRET_KEY": "test-secret",
            "UPLOAD_DIR": str(tmp_path / "uploads"),
            **settings,
        }
    )


@pytest.fixture
def sso(database_url, world, tmp_path, oidc_provider):
    return sso_app(database_url, tmp_path, oidc_provider.settings())


class Person:
    """One person's browser: the application through the test client, the provider through requests."""

    def __init__(self, app, provider):
        self.client = app.test_client()
        self.provider = ProviderBrowser(provider)

    def get(self, path: str):
        return self.client.get(path, base_url=BASE)

    def begin(self) -> str:
        """Press "Sign in with ...": the address of the provider's authorization endpoint."""
        response = self.get("/login/sso")
        assert response.status_code == 302, text(response)[:1000]
        return location(response)

    def sign_in(self, email: str, code: str = "", action: str = "login"):
        """The whole journey; the application's answer to the provider's redirect back."""
        back = self.provider.sign_in(self.begin(), email, code=code, action=action)
        assert back.startswith(CALLBACK + "?"), back
        return self.get(path_of(back))


def events(url: str, action: str) -> list[AuditEvent]:
    with db.session_scope(url) as session:
        return list(session.exec(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def identities(url: str) -> list[tuple[str, int, str]]:
    with db.session_scope(url) as session:
        return [(i.subject, i.user_id, i.email) for i in session.exec(select(ExternalIdentity))]


def allow(world, who: str) -> None:
    with db.session_scope(world.url) as session:
        allow_linking(session, CLI, world.user_ids[who])


def test_the_sign_in_button_shows_only_when_single_sign_on_is_configured(app, sso):
    assert "Sign in with NHSmail" not in text(app.test_client().get("/login"))
    page = text(sso.test_client().get("/login"))
    assert "Sign in with NHSmail" in page and 'href="/login/sso"' in page


def test_the_request_to_the_provider_carries_pkce_state_and_nonce(sso, oidc_provider):
    address = Person(sso, oidc_provider).begin()
    assert address.startswith(oidc_provider.issuer + "/auth?")
    query = parse_qs(urlsplit(address).query)
    assert query["response_type"] == ["code"] and query["client_id"] == ["accreditation"]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) >= 43
    assert len(query["state"][0]) >= 20 and len(query["nonce"][0]) >= 20
    assert set(query["scope"][0].split()) == {"openid", "email", "profile"}


def test_an_allowed_account_is_linked_at_its_first_sign_in_then_signs_in_by_its_identity(sso, world, oidc_provider):
    allow(world, "lead")
    person = Person(sso, oidc_provider)
    response = person.sign_in("lead@alliance.test")
    assert response.status_code == 302 and location(response) == "/review/", text(response)[:1000]
    assert person.get("/").headers["Location"] == "/review/"  # signed in
    assert identities(world.url) == [("entra-oid-lead", world.user_ids["lead"], "lead@alliance.test")]
    (linked,) = events(world.url, "sso.linked")
    assert linked.actor_id == world.user_ids["lead"] and linked.after["subject"] == "entra-oid-lead"
    assert linked.after["issuer"] == oidc_provider.issuer

    # The leave to link withdrawn: the identity linked already still signs its account in, from a new browser.
    with db.session_scope(world.url) as session:
        session.delete(session.get(SsoLinkPermit, world.user_ids["lead"]))
    again = Person(sso, oidc_provider)
    response = again.sign_in("lead@alliance.test")
    assert response.status_code == 302 and location(response) == "/review/"
    assert len(identities(world.url)) == 1
    signed = events(world.url, "sso.signed_in")
    assert [event.entity_id for event in signed] == [world.user_ids["lead"]] * 2
    assert signed[-1].after["mfa_asserted"] is False and signed[-1].after["amr"] == ["pwd"]


def test_an_account_nobody_allowed_is_refused_and_not_linked(sso, world, oidc_provider):
    person = Person(sso, oidc_provider)
    response = person.sign_in("lead.rn7@nhs.test")
    assert response.status_code == 403
    assert "has not been set up for single sign-on" in text(response)
    assert person.get("/").status_code == 200  # the start page: nobody is signed in
    assert identities(world.url) == []
    (refused,) = events(world.url, "sso.refused")
    assert refused.after["reason"] == "not_allowed" and refused.entity_id == world.user_ids["member_a"]


def test_an_unverified_or_unknown_email_is_refused(sso, world, oidc_provider):
    allow(world, "member_b")  # the provider says member B's email is not verified: allowing is not enough
    unverified = Person(sso, oidc_provider).sign_in("lead.rjz@nhs.test")
    assert unverified.status_code == 403 and "did not confirm your email address" in text(unverified)
    stranger = Person(sso, oidc_provider).sign_in("stranger@nhs.test")
    assert stranger.status_code == 403 and "There is no account here" in text(stranger)
    assert [event.after["reason"] for event in events(world.url, "sso.refused")] == ["no_verified_email", "no_account"]
    assert identities(world.url) == []


def test_a_state_that_is_not_this_browsers_is_refused(sso, world, oidc_provider):
    allow(world, "lead")
    person = Person(sso, oidc_provider)
    back = person.provider.sign_in(person.begin(), "lead@alliance.test")
    query = parse_qs(urlsplit(back).query)
    forged = f"/login/sso/callback?code={query['code'][0]}&state=not-the-state&iss={query['iss'][0]}"
    response = person.get(forged)
    assert response.status_code == 400
    assert "did not start here" in text(response) and "Traceback" not in text(response)
    # Another browser bringing this browser's answer (login CSRF) is refused the same way.
    other = Person(sso, oidc_provider)
    assert other.get(path_of(back)).status_code == 400
    assert other.get("/").status_code == 200 and person.get("/").status_code == 200  # nobody signed in
    # An answer naming another issuer (RFC 9207: a mix-up of providers) is refused before anything is sent.
    assert person.get("/login/sso/callback?code=x&state=y&iss=https%3A%2F%2Fevil.example").status_code == 400
    assert events(world.url, "sso.failed")[-1].after["reason"] == "wrong_issuer"
    # And the callback opened with nothing at all.
    assert Person(sso, oidc_provider).get("/login/sso/callback").status_code == 400
    reasons = [event.after["reason"] for event in events(world.url, "sso.failed")]
    assert reasons == ["bad_state", "bad_state", "wrong_issuer", "bad_state"]
    assert identities(world.url) == []


def test_an_id_token_for_another_audience_is_refused(database_url, world, tmp_path, oidc_provider):
    allow(world, "lead")
    app = sso_app(database_url, tmp_path, oidc_provider.settings(client_id=MISREGISTERED_CLIENT_ID))
    response = Person(app, oidc_provider).sign_in("lead@alliance.test")
    assert response.status_code == 400
    assert "meant for another service" in text(response)
    (failed,) = events(world.url, "sso.failed")
    assert failed.after["reason"] == "wrong_audience" and "aud" in failed.after["detail"]
    assert identities(world.url) == [] and events(world.url, "sso.signed_in") == []


def test_an_expired_id_token_is_refused(database_url, world, tmp_path, late_oidc_provider):
    allow(world, "lead")
    app = sso_app(database_url, tmp_path, late_oidc_provider.settings())
    response = Person(app, late_oidc_provider).sign_in("lead@alliance.test")
    assert response.status_code == 400
    assert "had expired" in text(response)
    (failed,) = events(world.url, "sso.failed")
    assert failed.after["reason"] == "expired_token"
    assert identities(world.url) == [] and events(world.url, "sso.signed_in") == []


def test_cancelling_at_the_provider_comes_back_as_its_error(sso, world, oidc_provider):
    response = Person(sso, oidc_provider).sign_in("lead@alliance.test", action="abort")
    assert response.status_code == 400
    assert "did not sign you in (access_denied)" in text(response)
    (failed,) = events(world.url, "sso.failed")
    assert failed.after["reason"] == "provider_error" and "aborted" in failed.after["detail"]


def test_a_provider_that_asserts_mfa_skips_ours(sso, world, oidc_provider):
    allow(world, "lead")
    response = Person(sso, oidc_provider).sign_in("lead@alliance.test", code=ONE_TIME_CODE)
    assert response.status_code == 302
    (signed,) = events(world.url, "sso.signed_in")
    assert signed.after["mfa_asserted"] is True
    assert set(signed.after["amr"]) == {"pwd", "otp", "mfa"} and signed.after["acr"] == MFA_ACR


def test_what_counts_as_the_provider_asserting_mfa():
    assert mfa_asserted({"amr": ["pwd", "mfa"]})
    assert mfa_asserted({"amr": ["fido"]}) and mfa_asserted({"amr": ["hwk"]}) and mfa_asserted({"amr": "otp"})
    assert not mfa_asserted({"amr": ["pwd"]}) and not mfa_asserted({})
    assert mfa_asserted({"amr": ["pwd"], "acr": "urn:test:acr:mfa"}, ["urn:test:acr:mfa"])
    assert not mfa_asserted({"amr": ["pwd"], "acr": "urn:test:acr:mfa"}, [])  # acr counts only when configured
    assert not mfa_asserted({"acr": "1"}, ["2"])


def test_the_provider_unreachable_is_a_clear_page(database_url, world, tmp_path):
    settings = {"OIDC_ISSUER": "http://127.0.0.1:9", "OIDC_CLIENT_ID": "x", "OIDC_CLIENT_SECRET": "y"}
    response = sso_app(database_url, tmp_path, settings).test_client().get("/login/sso")
    assert response.status_code == 503 and "cannot be reached" in text(response)
    assert [event.after["reason"] for event in events(world.url, "sso.failed")] == ["provider_unreachable"]


def test_the_settings_are_checked_with_messages_that_name_them():
    def problem(**environ) -> str:
        with pytest.raises(ConfigError) as raised:
            load({"APP_ENV": "testing"}, environ=environ)
        return str(raised.value)

    assert "OIDC_CLIENT_ID is not set" in problem(OIDC_ISSUER="https://login.example.org/tenant/v2.0")
    assert "OIDC_CLIENT_SECRET is not set" in problem(
        OIDC_ISSUER="https://login.example.org/tenant/v2.0", OIDC_CLIENT_ID="id"
    )
    assert "must use https" in problem(
        OIDC_ISSUER="http://login.example.org", OIDC_CLIENT_ID="a", OIDC_CLIENT_SECRET="b"
    )
    assert "OIDC_ISSUER: expected" in problem(
        OIDC_ISSUER="login.example.org", OIDC_CLIENT_ID="a", OIDC_CLIENT_SECRET="b"
    )
    assert "must include openid" in problem(
        OIDC_ISSUER="https://x.example.org", OIDC_CLIENT_ID="a", OIDC_CLIENT_SECRET="b", OIDC_SCOPES="email"
    )
    assert "OIDC_ISSUER is not" in problem(OIDC_CLIENT_ID="a")
    config = load(
        {"APP_ENV": "testing"},
        environ={
            "OIDC_ISSUER": "https://login.microsoftonline.com/tenant/v2.0/",
            "OIDC_CLIENT_ID": "a",
            "OIDC_CLIENT_SECRET": "b",
            "OIDC_MFA_ACR": "urn:a, urn:b",
        },
    )
    assert config["OIDC_ENABLED"] and config["OIDC_ISSUER"] == "https://login.microsoftonline.com/tenant/v2.0/"
    assert config["OIDC_LABEL"] == "Sign in with NHSmail" and config["OIDC_MFA_ACR"] == ("urn:a", "urn:b")
    assert load({"APP_ENV": "testing"}, environ={})["OIDC_ENABLED"] is False


def test_an_admin_allows_revokes_and_unlinks_and_each_is_audited(sso, world, oidc_provider):
    admin = signed_in(sso, world, "admin")
    lead = world.user_ids["lead"]
    page = text(admin.get("/admin/sso"))
    assert "lead@alliance.test" in page and oidc_provider.issuer in page
    assert admin.post(f"/admin/sso/users/{lead}/allow").status_code == 302
    assert "Revoke linking for lead@alliance.test" in text(admin.get("/admin/sso"))
    assert Person(sso, oidc_provider).sign_in("lead@alliance.test").status_code == 302  # linked now
    assert admin.post(f"/admin/sso/users/{lead}/revoke").status_code == 302
    with db.session_scope(world.url) as session:
        (identity_id,) = session.exec(select(ExternalIdentity.id)).all()
    assert "entra-oid-lead" in text(admin.get("/admin/sso"))
    assert admin.post(f"/admin/sso/identities/{identity_id}/unlink").status_code == 302
    assert identities(world.url) == []
    # Unlinked and no longer allowed: the same identity is refused.
    assert Person(sso, oidc_provider).sign_in("lead@alliance.test").status_code == 403
    for action in ("sso.linking_allowed", "sso.linking_revoked", "sso.unlinked"):
        (event,) = events(world.url, action)
        assert event.actor_id == world.user_ids["admin"], action
    # Forms need their CSRF token; other people get 403 (tests/web/test_authorisation.py has the whole matrix).
    assert admin.post(f"/admin/sso/users/{lead}/allow", csrf=False).status_code == 400
    assert signed_in(sso, world, "lead").post(f"/admin/sso/users/{lead}/allow").status_code == 403
    assert Visitor(sso).get("/admin/sso").status_code == 302
