"""Single sign-on: which account a person the OpenID Connect provider vouches for signs in to, linking an
identity to an account, an operator's leave to link, and what the provider says about a second factor.

The web layer (``app/web/sso.py``) runs the protocol and hands over the ID token's claims, already checked
(signature, issuer, audience, expiry, nonce). Here:

- an identity (issuer, ``sub``) already linked signs its account in;
- else, the first time, the identity is linked to the account with the same email only when the provider says
  the email is verified (``email_verified``) *and* an operator has allowed that account to be linked
  (``SsoLinkPermit``); the leave is per account, so an operator decides person by person whose sign-in may move
  to the provider (not every account whose email happens to sit in the provider's directory, and never an
  account nobody has looked at); single sign-on creates no account;
- anything else is refused, with words for the person and an audit event for operators.

Every outcome, and every failure of the protocol the web layer meets, is an audit event in the caller's
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Optional

from sqlmodel import Session, select

from ..models import ExternalIdentity, SsoLinkPermit, User, utcnow
from .common import Actor, NotFound, ServiceError, audit, get_or_404

#: ``amr`` values (RFC 8176) that mean more than one factor was checked: "mfa" itself, or a factor that is
#: never a password (a one-time code, a hardware, software or FIDO key, a smart card, biometrics).
MFA_AMR = frozenset({"mfa", "otp", "hwk", "swk", "fido", "sc", "face", "fpt", "iris", "retina", "vbm"})
#: What a refused person is told, by reason; operators read the reason in the audit log.
REFUSALS = {
    "no_verified_email": "Your sign-in service did not confirm your email address, so we cannot find your account. "
    "Sign in with your email address and password.",
    "no_account": "There is no account here for the email address your sign-in service gave us. "
    "Ask your alliance's administrator for an account.",
    "not_allowed": "Your account has not been set up for single sign-on yet. Sign in with your email address and "
    "password, and ask an administrator to allow single sign-on for your account.",
    "inactive": "Your account is not active. Ask an administrator.",
}


class SsoRefused(ServiceError):
    """The provider vouched for someone who may not sign in here; ``reason`` is a key of ``REFUSALS``."""

    def __init__(self, reason: str):
        super().__init__(REFUSALS[reason])
        self.reason = reason


@dataclass(frozen=True)
class SsoSignIn:
    user: User
    identity: ExternalIdentity
    linked_now: bool
    mfa_asserted: bool


def mfa_asserted(claims: Mapping[str, Any], mfa_acr: Iterable[str] = ()) -> bool:
    """Whether the provider says it checked a second factor: an ``amr`` value of ``MFA_AMR``, or an ``acr``
    among the configured ``mfa_acr`` values."""
    amr = claims.get("amr")
    methods = {amr} if isinstance(amr, str) else set(amr) if isinstance(amr, (list, tuple)) else set()
    if {str(method).lower() for method in methods} & MFA_AMR:
        return True
    acr = claims.get("acr")
    return isinstance(acr, str) and acr in set(mfa_acr)


def _seen(claims: Mapping[str, Any], mfa: bool) -> dict[str, Any]:
    """What the audit log keeps of a sign-in through the provider."""
    amr = claims.get("amr")
    return {
        "issuer": claims.get("iss"),
        "subject": claims.get("sub"),
        "email": claims.get("email"),
        "amr": list(amr) if isinstance(amr, (list, tuple)) else amr,
        "acr": claims.get("acr"),
        "mfa_asserted": mfa,
    }


def sign_in_with(session: Session, claims: Mapping[str, Any], mfa_acr: Iterable[str] = ()) -> SsoSignIn:
    """The account the provider's checked ID token ``claims`` sign in to, linking the identity on a first sign-in
    where that is allowed. Raises SsoRefused after writing its audit event and changing nothing else: the
    caller catches it inside its unit of work, so the event is committed."""
    issuer, subject = str(claims["iss"]), str(claims["sub"])
    mfa = mfa_asserted(claims, mfa_acr)
    seen = _seen(claims, mfa)
    identity = session.exec(
        select(ExternalIdentity).where(ExternalIdentity.issuer == issuer, ExternalIdentity.subject == subject)
    ).first()
    linked_now = False
    if identity is not None:
        user = session.get(User, identity.user_id)
    else:
        email = claims.get("email")
        email = email.strip().lower() if isinstance(email, str) else ""
        if not email or claims.get("email_verified") is not True:
            _refuse(session, "no_verified_email", seen)
        user = session.exec(select(User).where(User.email == email)).first()
        if user is None:
            _refuse(session, "no_account", seen)
        if not user.active:
            _refuse(session, "inactive", seen, user)
        if session.get(SsoLinkPermit, user.id) is None:
            _refuse(session, "not_allowed", seen, user)
        identity = ExternalIdentity(issuer=issuer, subject=subject, user_id=user.id, email=email)
        session.add(identity)
        session.flush()
        linked_now = True
        audit(session, Actor(user.email, user.id), "sso.linked", identity, after=seen)
    if user is None or not user.active:
        _refuse(session, "inactive", seen, user)
    identity.last_signed_in_at = utcnow()
    audit(session, Actor(user.email, user.id), "sso.signed_in", user, after=seen)
    return SsoSignIn(user, identity, linked_now, mfa)


def _refuse(session: Session, reason: str, seen: dict[str, Any], user: Optional[User] = None) -> None:
    actor = Actor(user.email, user.id) if user is not None else Actor(f"sso:{seen.get('email') or seen['subject']}")
    audit(
        session,
        Actor(actor.label[:254], actor.user_id),
        "sso.refused",
        user,
        entity_type="user",
        after={**seen, "reason": reason},
    )
    raise SsoRefused(reason)


def record_failure(session: Session, reason: str, detail: str) -> None:
    """A sign-in through the provider that failed before anyone was vouched for: the provider's error, a state
    that is not this browser's, an ID token refused (audience, expiry, signature, nonce), the provider unreachable."""
    audit(session, Actor("sso"), "sso.failed", None, entity_type="none", after={"reason": reason, "detail": detail})


# Operators: leave to link, identities, unlinking.


@dataclass(frozen=True)
class SsoAccountLine:
    user: User
    allowed: bool
    identities: list[ExternalIdentity]


def account_lines(session: Session) -> list[SsoAccountLine]:
    """Every account with its leave to link and its linked identities: by role, then email."""
    people = list(session.exec(select(User).order_by(User.role, User.email)))
    allowed = set(session.exec(select(SsoLinkPermit.user_id)))
    identities: dict[int, list[ExternalIdentity]] = {}
    for identity in session.exec(select(ExternalIdentity).order_by(ExternalIdentity.linked_at)):
        identities.setdefault(identity.user_id, []).append(identity)
    return [SsoAccountLine(user, user.id in allowed, identities.get(user.id, [])) for user in people]


def allow_linking(session: Session, actor: Actor, user_id: int) -> User:
    """Allow the account to be linked by verified email at its next sign-in through the provider."""
    user = get_or_404(session, User, user_id, "user")
    if session.get(SsoLinkPermit, user.id) is None:
        session.add(SsoLinkPermit(user_id=user.id, allowed_by=actor.user_id))
        session.flush()
        audit(session, actor, "sso.linking_allowed", user, after={"email": user.email})
    return user


def revoke_linking(session: Session, actor: Actor, user_id: int) -> User:
    """No new link for the account by email (identities linked already stay until unlinked)."""
    user = get_or_404(session, User, user_id, "user")
    permit = session.get(SsoLinkPermit, user.id)
    if permit is not None:
        session.delete(permit)
        session.flush()
        audit(session, actor, "sso.linking_revoked", user, before={"email": user.email})
    return user


def unlink(session: Session, actor: Actor, identity_id: int) -> tuple[User, ExternalIdentity]:
    """Remove a linked identity: it signs nobody in any more (a later sign-in links again only with leave)."""
    identity = session.get(ExternalIdentity, identity_id)
    if identity is None:
        raise NotFound(f"linked identity {identity_id} does not exist")
    user = get_or_404(session, User, identity.user_id, "user")
    before = {"issuer": identity.issuer, "subject": identity.subject, "email": identity.email, "user_id": user.id}
    session.delete(identity)
    session.flush()
    audit(session, actor, "sso.unlinked", entity_type="externalidentity", entity_id=identity_id, before=before)
    return user, identity
