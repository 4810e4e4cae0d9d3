"""Single sign-on's accounts (app/services/sso.py) on a fresh database: which account an ID token's checked claims
sign in to, linking by verified email with an operator's leave, refusals, and every outcome in the audit log.
The protocol itself runs against a real provider in tests/web/test_sso.py."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.models import AuditEvent, ExternalIdentity, User
from app.services import NotFound
from app.services.sso import SsoRefused, allow_linking, revoke_linking, sign_in_with, unlink

ISSUER = "https://login.microsoftonline.com/tenant/v2.0"


def claims(sub: str, email: str, verified: bool = True, **more) -> dict:
    return {"iss": ISSUER, "sub": sub, "email": email, "email_verified": verified, **more}


def actions(session) -> list[tuple[str, dict]]:
    return [(e.action, e.after or e.before) for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]


def refusal(session, token: dict) -> str:
    with pytest.raises(SsoRefused) as refused:
        sign_in_with(session, token)
    return refused.value.reason


def test_linking_needs_a_verified_email_of_an_account_an_operator_allowed(session_factory, world):
    lead = world.lead.user_id
    with session_factory() as session:
        assert refusal(session, claims("oid-1", "LEAD@test.example")) == "not_allowed"
        assert refusal(session, claims("oid-1", "lead@test.example", verified=False)) == "no_verified_email"
        assert refusal(session, claims("oid-1", "lead@test.example", verified="true")) == "no_verified_email"
        assert refusal(session, claims("oid-2", "nobody@test.example")) == "no_account"
        allow_linking(session, world.admin, lead)
        first = sign_in_with(session, claims("oid-1", "LEAD@test.example", amr=["pwd", "mfa"]))
        assert first.user.id == lead and first.linked_now and first.mfa_asserted
    with session_factory() as session:
        # Linked: the identity signs in by (issuer, sub), whatever email it brings now, leave or none.
        revoke_linking(session, world.admin, lead)
        again = sign_in_with(session, claims("oid-1", "renamed@elsewhere.example", verified=False))
        assert again.user.id == lead and not again.linked_now and not again.mfa_asserted
        # Another identity with the lead's email is not linked without leave.
        assert refusal(session, claims("oid-3", "lead@test.example")) == "not_allowed"
        recorded = actions(session)
    assert [action for action, _ in recorded if action.startswith("sso.")] == [
        "sso.refused",
        "sso.refused",
        "sso.refused",
        "sso.refused",
        "sso.linking_allowed",
        "sso.linked",
        "sso.signed_in",
        "sso.linking_revoked",
        "sso.signed_in",
        "sso.refused",
    ]
    reasons = [after["reason"] for action, after in recorded if action == "sso.refused"]
    assert reasons == ["not_allowed", "no_verified_email", "no_verified_email", "no_account", "not_allowed"]
    linked = next(after for action, after in recorded if action == "sso.linked")
    assert linked == {
        "issuer": ISSUER,
        "subject": "oid-1",
        "email": "LEAD@test.example",
        "amr": ["pwd", "mfa"],
        "acr": None,
        "mfa_asserted": True,
    }


def test_an_inactive_account_is_refused_linked_or_not(session_factory, world):
    member = world.member.user_id
    with session_factory() as session:
        allow_linking(session, world.admin, member)
        sign_in_with(session, claims("oid-m", "member@test.example"))
        session.get(User, member).active = False
    with session_factory() as session:
        assert refusal(session, claims("oid-m", "member@test.example")) == "inactive"
        assert refusal(session, claims("oid-other", "member@test.example")) == "inactive"
        assert len(session.exec(select(ExternalIdentity)).all()) == 1


def test_an_operator_unlinks_an_identity(session_factory, world):
    with session_factory() as session:
        allow_linking(session, world.admin, world.lead.user_id)
        allow_linking(session, world.admin, world.lead.user_id)  # once is enough: one event
        identity_id = sign_in_with(session, claims("oid-1", "lead@test.example")).identity.id
        user, identity = unlink(session, world.admin, identity_id)
        assert user.id == world.lead.user_id and identity.subject == "oid-1"
        with pytest.raises(NotFound):
            unlink(session, world.admin, identity_id)
        assert session.exec(select(ExternalIdentity)).all() == []
        names = [action for action, _ in actions(session) if action.startswith("sso.")]
    assert names == ["sso.linking_allowed", "sso.linked", "sso.signed_in", "sso.unlinked"]
