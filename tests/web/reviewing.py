"""A world to review: submitted assessments in the web-test alliance (X), an earlier decided cycle, and a
second alliance (Y) with its own lead and a submitted member."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Optional

from app import db
from app.services import (
    CLI,
    add_evidence,
    apply_for_membership,
    create_alliance,
    create_user,
    open_assessment,
    open_cycle,
    record_decision,
    register_organisation,
    save_answers,
    submit,
)
from app.services.evidence import attach_file
from tests.builders import attested

from .conftest import COMPLETE_ANSWERS, PASSWORD, World, password_hash

PDF = b"%PDF-1.4\n%%EOF\n"
#: C2.1 is "higher is better" with target 85 and an amber band of 5: 70 is below 80, in the red band.
MAJOR_BREACH = {**COMPLETE_ANSWERS, "C2.1": 70}


@dataclass
class ReviewWorld:
    world: World
    previous_cycle_id: int
    other_alliance_id: int
    other_cycle_id: int
    assessments: dict[str, int] = field(default_factory=dict)
    memberships: dict[str, int] = field(default_factory=dict)
    organisations: dict[str, int] = field(default_factory=dict)
    evidence: dict[str, int] = field(default_factory=dict)
    override_id: Optional[int] = None


def _submitted(
    session,
    alliance_id: int,
    cycle_id: int,
    name: str,
    ods: str,
    answers: dict[str, Any],
    store=None,
    membership_id: Optional[int] = None,
) -> tuple[int, int, int, int]:
    """(organisation, membership, assessment, file evidence) of a member that answered and submitted."""
    if membership_id is None:
        organisation = register_organisation(session, CLI, name=name, ods_code=ods, org_type="acute", region="Test")
        membership = apply_for_membership(
            session, CLI, organisation_id=organisation.id, alliance_id=alliance_id, route="full"
        )
        organisation_id, membership_id = organisation.id, membership.id
    else:
        from app.models import Membership

        organisation_id = session.get(Membership, membership_id).organisation_id
    assessment = open_assessment(session, CLI, membership_id=membership_id, cycle_id=cycle_id)
    outcome = save_answers(session, CLI, assessment.id, answers)
    assert outcome.ok, outcome.errors
    add_evidence(session, CLI, assessment.id, "C1.1", kind="link", url=f"https://example.nhs.uk/{ods.lower()}-plan")
    document = attach_file(
        session,
        CLI,
        assessment.id,
        "C1.1",
        data=PDF,
        filename=f"{ods.lower()}-plan.pdf",
        content_type="application/pdf",
        store=store,
    )
    submit(session, CLI, assessment.id, attested())
    return organisation_id, membership_id, assessment.id, document.id


def four_eyes(url: str, alliance_id: int, on: bool) -> None:
    """Turn every kind of four-eyes approval on or off for an alliance (as one of its leads would)."""
    from app.services import approvals

    with db.session_scope(url) as session:
        approvals.save_setting(session, CLI, alliance_id, decisions=on, overrides=on, suspensions=on)


def build_review_world(world: World, store, four_eyes_on: bool = False) -> ReviewWorld:
    """In X: "clean" (no breach) and "breach" (a major breach, also in last year's decided cycle);
    in Y: "other", reviewed by lead_y. Both alliances' leads act at once (four eyes off) unless
    ``four_eyes_on`` (tests/web/test_approvals.py): the product's default is on."""
    review = _build_review_world(world, store)
    for alliance_id in (world.alliance_id, review.other_alliance_id):
        four_eyes(world.url, alliance_id, four_eyes_on)
    return review


def _build_review_world(world: World, store) -> ReviewWorld:
    with db.session_scope(world.url) as session:
        from app.models import AssessmentCycle

        current = session.get(AssessmentCycle, world.cycle_id)
        previous = open_cycle(
            session,
            CLI,
            alliance_id=world.alliance_id,
            name=f"{current.opens_on.year - 1}/{current.opens_on.year % 100:02d}",
            opens_on=current.opens_on.replace(year=current.opens_on.year - 1),
            closes_on=current.opens_on - dt.timedelta(days=1),
        )
        other = create_alliance(session, CLI, slug="other-alliance", name="Other Alliance", standards_set="web-test")
        other_cycle = open_cycle(
            session,
            CLI,
            alliance_id=other.id,
            name=current.name,
            opens_on=current.opens_on,
            closes_on=current.closes_on,
        )
        review = ReviewWorld(world, previous.id, other.id, other_cycle.id)
        org, membership, earlier, _ = _submitted(
            session, world.alliance_id, previous.id, "Breach Trust", "BRE1", MAJOR_BREACH, store
        )
        record_decision(session, CLI, earlier, "working_towards")
        review.assessments["breach_earlier"] = earlier
        _, _, now, doc = _submitted(
            session, world.alliance_id, world.cycle_id, "", "BRE1", MAJOR_BREACH, store, membership_id=membership
        )
        review.organisations["breach"], review.memberships["breach"], review.assessments["breach"] = (
            org,
            membership,
            now,
        )
        review.evidence["breach"] = doc
        org, membership, now, doc = _submitted(
            session, world.alliance_id, world.cycle_id, "Clean Trust", "CLN1", COMPLETE_ANSWERS, store
        )
        review.organisations["clean"], review.memberships["clean"], review.assessments["clean"] = org, membership, now
        review.evidence["clean"] = doc
        org, membership, now, doc = _submitted(
            session, other.id, other_cycle.id, "Other Trust", "OTH1", COMPLETE_ANSWERS, store
        )
        review.organisations["other"], review.memberships["other"], review.assessments["other"] = org, membership, now
        review.evidence["other"] = doc
        for key in ("breach", "clean", "other"):
            user = create_user(
                session,
                CLI,
                email=f"{key}@member.test",
                name=f"Member {key}",
                password=PASSWORD,
                role="member",
                organisation_id=review.organisations[key],
                password_hash=password_hash(PASSWORD),
            )
            world.emails[f"member_{key}"], world.user_ids[f"member_{key}"] = user.email, user.id
        lead_y = create_user(
            session,
            CLI,
            email="lead@other.test",
            name="Other Lead",
            password=PASSWORD,
            role="lead",
            alliance_id=other.id,
            password_hash=password_hash(PASSWORD),
        )
        world.emails["lead_y"], world.user_ids["lead_y"] = lead_y.email, lead_y.id
    return review


def export_file(person, cycle_id: int, kind: str, fmt: str):
    """A whole-cycle export as a lead asks for it on the exports page (the job runs within the request: the
    tests' queue is ``immediate``), then downloaded from the list's newest line."""
    import re

    asked = person.post("/review/exports", {"cycle_id": str(cycle_id), "kind": kind, "fmt": fmt})
    assert asked.status_code == 302, asked.get_data(as_text=True)[:500]
    page = person.get("/review/exports").get_data(as_text=True)
    newest = re.search(r'id="export-(\d+)"', page)
    assert newest, "no export listed"
    return person.get(f"/review/exports/{newest.group(1)}/download")
