"""Two-step verification in the service layer (app/services/mfa.py) on a fresh database: enrolment, codes
from a real pyotp authenticator, replay refused, recovery codes single use and hashed at rest, the secret
encrypted at rest, locking after wrong codes, and who may turn it off or reset it."""

from __future__ import annotations

import datetime as dt

import pyotp
import pytest
from sqlmodel import select

from app import db
from app.models import AuditEvent, MfaFactor, MfaRecoveryCode, User
from app.services import CLI, Actor, create_alliance, create_user, mfa, register_organisation
from tests.web.conftest import PASSWORD, password_hash

NOW = dt.datetime(2026, 12, 8, 9, 0, 0, tzinfo=dt.timezone.utc)
POLICY = mfa.Policy(box=mfa.SecretBox("test-key"), max_failures=3, lock=dt.timedelta(minutes=10))


@pytest.fixture
def people(database_url: str) -> dict[str, int]:
    with db.session_scope(database_url) as session:
        organisation = register_organisation(
            session, CLI, name="Mfa Test NHS Trust", ods_code="RMF", org_type="acute", region="London"
        )
        alliance = create_alliance(session, CLI, slug="mfa", name="Mfa Alliance", standards_set="test-set")
        made = {}
        for role, email, ties in (
            ("member", "member@mfa.test", {"organisation_id": organisation.id}),
            ("lead", "lead@mfa.test", {"alliance_id": alliance.id}),
            ("admin", "admin@mfa.test", {}),
            ("admin", "second.admin@mfa.test", {}),
        ):
            user = create_user(
                session,
                CLI,
                email=email,
                name=email.split("@")[0],
                password=PASSWORD,
                role=role,
                password_hash=password_hash(PASSWORD),
                **ties,
            )
            made[email.split("@")[0]] = user.id
        return made


def actor_of(session, user_id: int) -> Actor:
    return Actor(session.get(User, user_id).email, user_id)


def enrol(url: str, user_id: int, at: dt.datetime = NOW) -> tuple[str, list[str]]:
    """Set up two-step verification as a person would: read the secret, type the app's code."""
    with db.session_scope(url) as session:
        enrolment = mfa.enrolment(session, actor_of(session, user_id), user_id, POLICY)
    secret = enrolment.secret
    with db.session_scope(url) as session:
        codes = mfa.confirm_enrolment(
            session, actor_of(session, user_id), user_id, pyotp.TOTP(secret).at(at), POLICY, now=at
        )
    return secret, codes


def verify(url: str, user_id: int, code: str, at: dt.datetime) -> mfa.Check:
    with db.session_scope(url) as session:
        return mfa.verify(session, actor_of(session, user_id), user_id, code, POLICY, now=at)


def actions(url: str, user_id: int) -> list[str]:
    with db.session_scope(url) as session:
        return [
            e.action
            for e in session.exec(
                select(AuditEvent).where(AuditEvent.entity_type == "user", AuditEvent.entity_id == user_id)
            )
            if e.action.startswith("mfa.")
        ]


def test_enrolment_gives_a_provisioning_uri_a_qr_code_and_ten_recovery_codes(database_url, people):
    with db.session_scope(database_url) as session:
        enrolment = mfa.enrolment(session, CLI, people["member"], POLICY)
        again = mfa.enrolment(session, CLI, people["member"], POLICY)  # the page shown again: the same secret
        assert not mfa.is_enrolled(session, people["member"])
    assert again.secret == enrolment.secret
    assert enrolment.uri.startswith("otpauth://totp/NHS%20Alliance%20Accreditation:member%40mfa.test?")
    assert f"secret={enrolment.secret}" in enrolment.uri and "issuer=NHS%20Alliance%20Accreditation" in enrolment.uri
    assert enrolment.qr_svg.startswith("<svg ") and "<path" in enrolment.qr_svg and "<script" not in enrolment.qr_svg
    with pytest.raises(mfa.MfaError, match="code: Enter the 6-digit code"):
        with db.session_scope(database_url) as session:
            mfa.confirm_enrolment(session, CLI, people["member"], "000000", POLICY, now=NOW)
    _, codes = enrol(database_url, people["member"])
    assert len(codes) == 10 == len(set(codes))
    assert all(len(code) == 19 and code.count("-") == 3 for code in codes)
    with db.session_scope(database_url) as session:
        assert mfa.is_enrolled(session, people["member"])
        assert mfa.status(session, people["member"]).codes_left == 10
        with pytest.raises(mfa.MfaError, match="already set up"):
            mfa.enrolment(session, CLI, people["member"], POLICY)
    assert actions(database_url, people["member"]) == ["mfa.enrolment_started", "mfa.enrolled"]


def test_the_secret_is_encrypted_at_rest_and_needs_the_key(database_url, people):
    secret, _ = enrol(database_url, people["member"])
    with db.session_scope(database_url) as session:
        stored = session.get(MfaFactor, people["member"]).secret_encrypted
    assert secret not in stored and secret.lower() not in stored.lower()
    assert POLICY.box.open(stored) == secret
    with pytest.raises(mfa.MfaError, match="cannot be read"):
        mfa.SecretBox("another-key").open(stored)
    # Rotation: the new key first, the old one still reads what it sealed.
    assert mfa.SecretBox(["new-key", "test-key"]).open(stored) == secret


def test_a_code_is_accepted_once_within_a_step_either_side(database_url, people):
    secret, _ = enrol(database_url, people["member"])
    app = pyotp.TOTP(secret)
    later = NOW + dt.timedelta(minutes=5)
    assert verify(database_url, people["member"], app.at(later), later).ok
    reused = verify(database_url, people["member"], app.at(later), later + dt.timedelta(seconds=10))
    assert not reused.ok and "used already" in reused.problem
    # The next step's code, typed a little early (clock drift): accepted; then the one before it is refused.
    assert verify(database_url, people["member"], app.at(later + dt.timedelta(seconds=30)), later).ok
    assert not verify(database_url, people["member"], app.at(later), later).ok
    # Two steps away is too far.
    far = later + dt.timedelta(minutes=2)
    assert not verify(database_url, people["member"], app.at(far + dt.timedelta(seconds=61)), far).ok
    # Spaces, as some apps show the code, are fine.
    then = NOW + dt.timedelta(minutes=10)
    code = app.at(then)
    assert verify(database_url, people["member"], f"{code[:3]} {code[3:]}", then).ok


def test_recovery_codes_are_single_use_and_kept_only_hashed(database_url, people):
    _, codes = enrol(database_url, people["member"])
    with db.session_scope(database_url) as session:
        stored = [row.code_hash for row in session.exec(select(MfaRecoveryCode))]
    assert len(stored) == 10
    for code in codes:
        assert all(code not in value and code.replace("-", "") not in value for value in stored)
    first = verify(database_url, people["member"], codes[0].upper(), NOW)  # case and hyphens do not matter
    assert first.ok and first.method == "recovery" and first.codes_left == 9
    again = verify(database_url, people["member"], codes[0], NOW)
    assert not again.ok and "used already" in again.problem
    assert actions(database_url, people["member"]).count("mfa.recovery_code_used") == 1
    # Another person's code does not open this account.
    _, lead_codes = enrol(database_url, people["lead"])
    assert not verify(database_url, people["member"], lead_codes[0], NOW).ok


def test_new_recovery_codes_replace_the_old_ones(database_url, people):
    secret, old = enrol(database_url, people["member"])
    later = NOW + dt.timedelta(minutes=1)
    with db.session_scope(database_url) as session:
        with pytest.raises(mfa.MfaError, match="code: "):
            mfa.regenerate_codes(session, CLI, people["member"], "123", POLICY, now=later)
    with db.session_scope(database_url) as session:
        new = mfa.regenerate_codes(
            session, CLI, people["member"], pyotp.TOTP(secret).at(later), POLICY, now=later + dt.timedelta(seconds=1)
        )
    assert set(new).isdisjoint(old) and len(new) == 10
    assert not verify(database_url, people["member"], old[1], later).ok
    assert verify(database_url, people["member"], new[1], later).ok
    assert "mfa.recovery_codes_regenerated" in actions(database_url, people["member"])


def test_wrong_codes_lock_the_second_step_for_a_while(database_url, people):
    secret, _ = enrol(database_url, people["member"])
    for attempt in range(POLICY.max_failures):
        check = verify(database_url, people["member"], "000000", NOW + dt.timedelta(seconds=attempt))
        assert not check.ok
    assert check.locked_until == NOW + dt.timedelta(seconds=2) + POLICY.lock and "Too many wrong codes" in check.problem
    # Even the right code is not checked while locked.
    during = NOW + dt.timedelta(minutes=5)
    locked = verify(database_url, people["member"], pyotp.TOTP(secret).at(during), during)
    assert not locked.ok and locked.locked_until is not None
    after = NOW + dt.timedelta(minutes=11)
    assert verify(database_url, people["member"], pyotp.TOTP(secret).at(after), after).ok
    assert actions(database_url, people["member"]).count("mfa.locked") == 1


def test_members_may_turn_it_off_but_leads_and_admins_may_not(database_url, people):
    secret, _ = enrol(database_url, people["lead"])
    later = NOW + dt.timedelta(minutes=1)
    lax = mfa.Policy(box=POLICY.box, required_roles=frozenset())  # even where the settings require it of nobody
    with db.session_scope(database_url) as session:
        with pytest.raises(mfa.MfaError, match="required for your role"):
            mfa.disable(session, CLI, people["lead"], pyotp.TOTP(secret).at(later), lax, now=later)
        assert mfa.is_enrolled(session, people["lead"])
    member_secret, _ = enrol(database_url, people["member"])
    with db.session_scope(database_url) as session:
        with pytest.raises(mfa.MfaError, match="code: "):
            mfa.disable(session, CLI, people["member"], "999999", POLICY, now=later)
    with db.session_scope(database_url) as session:
        mfa.disable(session, CLI, people["member"], pyotp.TOTP(member_secret).at(later), POLICY, now=later)
        assert not mfa.is_enrolled(session, people["member"])
        assert mfa.codes_left(session, people["member"]) == 0
    with db.session_scope(database_url) as session:  # a members-too policy: members cannot either
        everyone = mfa.Policy(box=POLICY.box, required_roles=frozenset({"member", "lead", "admin"}))
        assert not mfa.may_disable(session.get(User, people["member"]), everyone)
    assert actions(database_url, people["member"])[-1] == "mfa.disabled"


def test_an_admin_resets_another_persons_two_step_verification(database_url, people):
    enrol(database_url, people["lead"])
    enrol(database_url, people["admin"])
    with db.session_scope(database_url) as session:
        lead_actor, admin_actor = actor_of(session, people["lead"]), actor_of(session, people["admin"])
        with pytest.raises(mfa.MfaError, match="Only an administrator"):
            mfa.reset(session, lead_actor, people["admin"])
        with pytest.raises(mfa.MfaError, match="another administrator"):
            mfa.reset(session, admin_actor, people["admin"])
    with db.session_scope(database_url) as session:
        generation = session.get(User, people["lead"]).session_generation
        mfa.reset(session, actor_of(session, people["second.admin"]), people["lead"])
    with db.session_scope(database_url) as session:
        assert not mfa.is_enrolled(session, people["lead"])
        assert session.exec(select(MfaRecoveryCode).where(MfaRecoveryCode.user_id == people["lead"])).all() == []
        assert session.get(User, people["lead"]).session_generation == generation + 1  # their sessions end
        with pytest.raises(mfa.MfaError, match="has not set up"):
            mfa.reset(session, CLI, people["lead"])
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.reset")).one()
        assert event.actor == "second.admin@mfa.test" and event.entity_id == people["lead"]


def test_the_command_line_resets_someones_two_step_verification(database_url, people):
    import os
    import subprocess
    import sys
    from pathlib import Path

    enrol(database_url, people["admin"])
    db.dispose_engine(database_url)

    def cli(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "cli.py", "users", "reset-mfa", *args],
            cwd=Path(__file__).resolve().parent.parent,
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=120,
        )

    done = cli("Admin@mfa.test")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "two-step verification of admin@mfa.test is reset; every session of theirs has ended"
    with db.session_scope(database_url) as session:
        assert not mfa.is_enrolled(session, people["admin"])
        assert session.exec(select(AuditEvent).where(AuditEvent.action == "mfa.reset")).one().actor == "cli"
    again = cli("admin@mfa.test")
    assert again.returncode != 0 and "has not set up two-step verification" in again.stderr
    assert "no account has the email nobody@mfa.test" in cli("nobody@mfa.test").stderr
