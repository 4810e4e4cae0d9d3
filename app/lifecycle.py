"""The membership lifecycle: every allowed status change, in one place.

applicant -> working_towards -> accredited / accredited_with_conditions ->
at_risk -> suspended -> lapsed / withdrawn; a declined application ends in
``declined``. A lead may reinstate a suspended member (to an accredited or
working-towards status, or to at_risk while its breaches stand). Members who
have left may apply again.
"""

from __future__ import annotations

STATUSES = (
    "applicant",
    "working_towards",
    "accredited",
    "accredited_with_conditions",
    "at_risk",
    "suspended",
    "lapsed",
    "withdrawn",
    "declined",
)

_ACTIVE = {"working_towards", "accredited", "accredited_with_conditions"}
_LEAVING = {"lapsed", "withdrawn"}

TRANSITIONS: dict[str, frozenset[str]] = {
    "applicant": frozenset(_ACTIVE | {"declined", "withdrawn"}),
    "working_towards": frozenset((_ACTIVE - {"working_towards"}) | {"at_risk", "suspended"} | _LEAVING),
    "accredited": frozenset((_ACTIVE - {"accredited"}) | {"at_risk", "suspended"} | _LEAVING),
    "accredited_with_conditions": frozenset(
        (_ACTIVE - {"accredited_with_conditions"}) | {"at_risk", "suspended"} | _LEAVING
    ),
    "at_risk": frozenset(_ACTIVE | {"suspended"} | _LEAVING),
    "suspended": frozenset(_ACTIVE | {"at_risk"} | _LEAVING),
    "lapsed": frozenset({"applicant"}),
    "withdrawn": frozenset({"applicant"}),
    "declined": frozenset({"applicant"}),
}

#: Statuses in which a membership counts as a member of the alliance.
MEMBER_STATUSES = frozenset(_ACTIVE | {"at_risk", "suspended"})


class LifecycleError(ValueError):
    """A status change the lifecycle does not allow."""


def allowed(from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, frozenset())


def check_transition(from_status: str, to_status: str) -> None:
    if to_status not in STATUSES:
        raise LifecycleError(f"'{to_status}' is not a membership status")
    if not allowed(from_status, to_status):
        options = ", ".join(sorted(TRANSITIONS.get(from_status, ()))) or "none"
        raise LifecycleError(f"a membership cannot go from {from_status} to {to_status} (allowed: {options})")
