"""Two-step verification with an authenticator app (TOTP, RFC 6238) and one-time recovery codes.

A person enrols by scanning a QR code (or typing the secret) into an authenticator app, then confirms with
the app's first code; they get ``RECOVERY_CODES`` recovery codes, shown once. Signing in then takes a code
from the app or an unused recovery code (``verify``).

What is kept, and how:

- **The TOTP secret** only encrypted (``SecretBox``: Fernet, AES-128-CBC with HMAC-SHA256, from
  ``cryptography``) with a key derived by HKDF-SHA256 from ``MFA_KEY``, or from ``SECRET_KEY`` without it. A
  copy of the database alone does not give anyone the secrets. ``MFA_KEY`` may list several keys, newest
  first, comma separated: secrets are read with any of them and written with the first (rotation).
- **Recovery codes** only as SHA-256 of the user's id and the code. Passwords need a slow hash (scrypt)
  because people choose guessable ones; these codes are 80 random bits each (16 characters of a 32-letter
  alphabet), so even a fast hash leaves 2^80 guesses per code, beyond any attacker, while checking a code
  is one indexed look-up rather than ten scrypt runs of a quarter of a second. The user id in the hash keeps
  one person's hashes from being tried against another's.
- **The last time step accepted**: a code (of that step or an older one) is never accepted twice, so a code
  seen over someone's shoulder cannot be replayed within its 30 seconds.
- **Failures in a row**: after ``Policy.max_failures`` wrong codes no code is checked until
  ``Policy.lock`` has passed (audited as ``mfa.locked``), on top of the web layer's rate limits.

Leads and admins cannot turn two-step verification off (``disable`` is for members); an admin can reset
another person's (``reset``), who then enrols again at their next sign-in. Every change is audited.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Iterable, Optional

import pyotp
from sqlalchemy import delete
from sqlmodel import Session, select

from ..models import MfaFactor, MfaRecoveryCode, User, utcnow
from .common import Actor, ServiceError, audit, get_or_404

DEFAULT_ISSUER = "NHS Alliance Accreditation"
#: Roles that must use two-step verification, and can never turn it off themselves.
STAFF_ROLES = ("lead", "admin")
RECOVERY_CODES = 10
#: Crockford's base 32 (no i, l, o or u): 5 bits a character, easy to read back and type; an o typed is read
#: as 0, an i or l as 1.
CODE_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
MISREAD = str.maketrans("oil", "011")
CODE_LENGTH = 16  # 80 bits
INTERVAL = 30  # seconds per TOTP time step
DIGITS = 6
VALID_WINDOW = 1  # the step before and after now are accepted too (clocks drift, people type slowly)


class MfaError(ServiceError):
    """A two-step verification request refused, with a message for the person."""


class SecretBox:
    """Encrypts TOTP secrets at rest: Fernet with keys derived from the key material given (newest first)."""

    def __init__(self, key_material: str | Iterable[str]):
        from cryptography.fernet import Fernet, MultiFernet

        materials = [key_material] if isinstance(key_material, str) else list(key_material)
        materials = [material.strip() for material in materials if material and material.strip()]
        if not materials:
            raise ValueError("SecretBox needs a key (MFA_KEY or SECRET_KEY)")
        self._fernet = MultiFernet([Fernet(self.derive(material)) for material in materials])

    @staticmethod
    def derive(material: str) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"alliance mfa totp secret").derive(
            material.encode()
        )
        return base64.urlsafe_b64encode(key)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise MfaError(
                "The authenticator app's secret cannot be read with the service's key: ask an administrator to "
                "reset your two-step verification"
            ) from None


@dataclass(frozen=True)
class Policy:
    """How two-step verification is run here (from the settings: ``app/web/two_step.py``)."""

    box: SecretBox
    issuer: str = DEFAULT_ISSUER
    max_failures: int = 5
    lock: dt.timedelta = dt.timedelta(minutes=15)
    required_roles: frozenset[str] = field(default_factory=lambda: frozenset(STAFF_ROLES))

    def required_for(self, role: str) -> bool:
        return role in self.required_roles


@dataclass(frozen=True)
class Enrolment:
    """What a person needs to add the account to an authenticator app."""

    secret: str
    uri: str
    qr_svg: str

    @property
    def secret_groups(self) -> str:
        """The secret in groups of four, easier to type."""
        return " ".join(self.secret[i : i + 4] for i in range(0, len(self.secret), 4))


@dataclass(frozen=True)
class Status:
    enrolled: bool
    pending: bool
    codes_left: int
    confirmed_at: Optional[dt.datetime] = None
    locked_until: Optional[dt.datetime] = None


@dataclass(frozen=True)
class Check:
    """The outcome of ``verify``: ``ok`` with how (``totp`` or ``recovery``), or why not."""

    ok: bool
    method: Optional[str] = None
    problem: Optional[str] = None
    locked_until: Optional[dt.datetime] = None
    codes_left: Optional[int] = None


def _factor(session: Session, user_id: int) -> Optional[MfaFactor]:
    return session.get(MfaFactor, user_id)


def _aware(moment: Optional[dt.datetime]) -> Optional[dt.datetime]:
    """Datetimes read back from SQLite may come without their zone; they were stored in UTC."""
    if moment is not None and moment.utcoffset() is None:
        return moment.replace(tzinfo=dt.timezone.utc)
    return moment


def is_enrolled(session: Session, user_id: int) -> bool:
    factor = _factor(session, user_id)
    return factor is not None and factor.confirmed_at is not None


def enrolled_user_ids(session: Session) -> set[int]:
    return set(session.exec(select(MfaFactor.user_id).where(MfaFactor.confirmed_at != None)))


def codes_left(session: Session, user_id: int) -> int:
    return len(
        session.exec(
            select(MfaRecoveryCode.id).where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at == None)
        ).all()
    )


def status(session: Session, user_id: int) -> Status:
    factor = _factor(session, user_id)
    if factor is None:
        return Status(enrolled=False, pending=False, codes_left=0)
    return Status(
        enrolled=factor.confirmed_at is not None,
        pending=factor.confirmed_at is None,
        codes_left=codes_left(session, user_id),
        confirmed_at=_aware(factor.confirmed_at),
        locked_until=_aware(factor.locked_until),
    )


def _qr_svg(uri: str) -> str:
    """The provisioning URI as a QR code, an inline SVG of one path (no styles, no scripts: the page's CSP)."""
    import qrcode
    import qrcode.image.svg

    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=4)
    svg = image.to_string(encoding="unicode")
    return svg.replace(
        "<svg ", '<svg class="app-qr-code" role="img" aria-label="QR code for your authenticator app" ', 1
    )


def _enrolment(user: User, secret: str, issuer: str) -> Enrolment:
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL).provisioning_uri(name=user.email, issuer_name=issuer)
    return Enrolment(secret=secret, uri=uri, qr_svg=_qr_svg(uri))


def enrolment(session: Session, actor: Actor, user_id: int, policy: Policy) -> Enrolment:
    """The person's enrolment under way, or a new one (a new secret, kept encrypted, not yet in use)."""
    user = get_or_404(session, User, user_id, "user")
    factor = _factor(session, user_id)
    if factor is not None and factor.confirmed_at is not None:
        raise MfaError("Two-step verification is already set up for this account")
    if factor is None:
        secret = pyotp.random_base32()  # 32 base32 characters: 160 bits, as RFC 4226 recommends
        session.add(MfaFactor(user_id=user_id, secret_encrypted=policy.box.seal(secret)))
        session.flush()
        audit(session, actor, "mfa.enrolment_started", user)
    else:
        secret = policy.box.open(factor.secret_encrypted)
    return _enrolment(user, secret, policy.issuer)


def _normalised(code: str) -> str:
    return "".join(ch for ch in (code or "").lower() if ch.isascii() and ch.isalnum())


def _recovery_form(code: str) -> str:
    return _normalised(code).translate(MISREAD)


def _step(now: dt.datetime) -> int:
    return int(now.timestamp()) // INTERVAL


def _matching_step(secret: str, code: str, now: dt.datetime) -> Optional[int]:
    """The time step (now, or one either side) whose code this is, or None."""
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=INTERVAL)
    found = None
    for step in range(_step(now) - VALID_WINDOW, _step(now) + VALID_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step  # every step is checked, so the time taken does not tell which matched
    return found


def _code_hash(user_id: int, code: str) -> str:
    return hashlib.sha256(f"{user_id}:{_recovery_form(code)}".encode()).hexdigest()


def _new_codes(session: Session, user_id: int) -> list[str]:
    """Fresh recovery codes in place of any before; returned as the person will see them (once)."""
    session.exec(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        codes.append("-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4)))
        session.add(MfaRecoveryCode(user_id=user_id, code_hash=_code_hash(user_id, raw)))
    session.flush()
    return codes


def confirm_enrolment(
    session: Session, actor: Actor, user_id: int, code: str, policy: Policy, now: Optional[dt.datetime] = None
) -> list[str]:
    """Finish enrolment with the app's first code: two-step verification is on from now, and the recovery
    codes are returned to be shown once."""
    now = now or utcnow()
    user = get_or_404(session, User, user_id, "user")
    factor = _factor(session, user_id)
    if factor is None:
        raise MfaError("Start setting up two-step verification first")
    if factor.confirmed_at is not None:
        raise MfaError("Two-step verification is already set up for this account")
    step = _matching_step(policy.box.open(factor.secret_encrypted), _normalised(code), now)
    if step is None:
        raise MfaError("code: Enter the 6-digit code your authenticator app shows now")
    factor.confirmed_at = now
    factor.last_step = step
    factor.failures = 0
    factor.locked_until = None
    codes = _new_codes(session, user_id)
    audit(session, actor, "mfa.enrolled", user, after={"recovery_codes": len(codes)})
    return codes


def verify(
    session: Session, actor: Actor, user_id: int, code: str, policy: Policy, now: Optional[dt.datetime] = None
) -> Check:
    """Check a code from the app (6 digits) or a recovery code. Failures are counted (the caller commits them:
    a refusal is a result, not an exception) and lock the account's second step after ``max_failures``."""
    now = now or utcnow()
    user = get_or_404(session, User, user_id, "user")
    factor = _factor(session, user_id)
    if factor is None or factor.confirmed_at is None:
        return Check(False, problem="Two-step verification is not set up for this account")
    locked_until = _aware(factor.locked_until)
    if locked_until is not None and now < locked_until:
        return Check(False, problem=_locked_words(locked_until, now), locked_until=locked_until)
    typed = _normalised(code)
    if len(typed) == DIGITS and typed.isdigit():
        step = _matching_step(policy.box.open(factor.secret_encrypted), typed, now)
        if step is not None and (factor.last_step is None or step > factor.last_step):
            factor.last_step = step
            factor.failures = 0
            factor.locked_until = None
            return Check(True, method="totp")
        problem = (
            "That code has been used already: wait for your app to show a new one"
            if step is not None
            else "The code is not correct: enter the 6-digit code your authenticator app shows now"
        )
    else:
        row = session.exec(
            select(MfaRecoveryCode).where(
                MfaRecoveryCode.user_id == user_id,
                MfaRecoveryCode.code_hash == _code_hash(user_id, typed),
                MfaRecoveryCode.used_at == None,
            )
        ).first()
        if row is not None:
            row.used_at = now
            factor.failures = 0
            factor.locked_until = None
            session.flush()
            left = codes_left(session, user_id)
            audit(session, actor, "mfa.recovery_code_used", user, after={"codes_left": left})
            return Check(True, method="recovery", codes_left=left)
        problem = "The recovery code is not correct or has been used already"
    return _failed(session, actor, user, factor, problem, policy, now)


def _failed(
    session: Session, actor: Actor, user: User, factor: MfaFactor, problem: str, policy: Policy, now: dt.datetime
) -> Check:
    factor.failures += 1
    if factor.failures < policy.max_failures:
        session.flush()
        return Check(False, problem=problem)
    until = now + policy.lock
    audit(session, actor, "mfa.locked", user, after={"failures": factor.failures, "until": until.isoformat()})
    factor.failures = 0
    factor.locked_until = until
    session.flush()
    return Check(False, problem=_locked_words(until, now), locked_until=until)


def _locked_words(until: dt.datetime, now: dt.datetime) -> str:
    minutes = max(1, -(-int((until - now).total_seconds()) // 60))
    return (
        f"Too many wrong codes. Try again in {minutes} minute{'s' if minutes != 1 else ''}, "
        "or ask an administrator to reset your two-step verification"
    )


def _verified(session: Session, actor: Actor, user_id: int, code: str, policy: Policy, now: Optional[dt.datetime]):
    check = verify(session, actor, user_id, code, policy, now)
    if not check.ok:
        raise MfaError(f"code: {check.problem}")
    return check


def regenerate_codes(
    session: Session, actor: Actor, user_id: int, code: str, policy: Policy, now: Optional[dt.datetime] = None
) -> list[str]:
    """New recovery codes in place of the old ones (all of which stop working), given a current code.
    A refused code is a ``MfaError``: the caller's transaction (with the failure count) is rolled back, and
    its rate limit counts the attempt instead."""
    user = get_or_404(session, User, user_id, "user")
    _verified(session, actor, user_id, code, policy, now)
    codes = _new_codes(session, user_id)
    audit(session, actor, "mfa.recovery_codes_regenerated", user, after={"recovery_codes": len(codes)})
    return codes


def may_disable(user: User, policy: Policy) -> bool:
    return user.role not in STAFF_ROLES and not policy.required_for(user.role)


def disable(
    session: Session, actor: Actor, user_id: int, code: str, policy: Policy, now: Optional[dt.datetime] = None
) -> User:
    """A member turns two-step verification off, given a current code. Leads and admins cannot."""
    user = get_or_404(session, User, user_id, "user")
    if not may_disable(user, policy):
        raise MfaError("Two-step verification is required for your role: it cannot be turned off")
    _verified(session, actor, user_id, code, policy, now)
    _remove(session, user_id)
    audit(session, actor, "mfa.disabled", user)
    return user


def reset(session: Session, actor: Actor, user_id: int) -> User:
    """An administrator (or the command line) removes another person's two-step verification, say after a
    lost phone: every session of theirs ends, and they set it up again at their next sign-in (if their role
    requires it)."""
    user = get_or_404(session, User, user_id, "user")
    if actor.user_id is not None:
        acting = get_or_404(session, User, actor.user_id, "user")
        if acting.role != "admin":
            raise MfaError("Only an administrator can reset someone's two-step verification")
        if acting.id == user_id:
            raise MfaError("Ask another administrator to reset your own two-step verification")
    if _factor(session, user_id) is None:
        raise MfaError(f"{user.email} has not set up two-step verification")
    _remove(session, user_id)
    user.session_generation += 1
    audit(session, actor, "mfa.reset", user)
    return user


def _remove(session: Session, user_id: int) -> None:
    session.exec(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    session.exec(delete(MfaFactor).where(MfaFactor.user_id == user_id))
    session.flush()
