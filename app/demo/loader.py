"""The demo story: the world of ``world.yaml`` loaded event by event through the services.

Each member has self-assessments for two cycles: the first all decided, the second a mix of decided, under
review, submitted and draft (answers drawn by ``answers.py``). The lead's review work is there too: comments
to members (one on a question), overrides with reasons on assessments under review, a notification for every
decision and comment, members' improvement plans for the gaps of their first-cycle results (overdue, in
progress, and closed by a second-cycle result), and buddying proposals where the world asks for them.

Everything goes through the service layer, at the time it happens in the story (``clock_at``), so audit log,
status histories and dates read like a real history. Loading twice adds nothing.
"""

from __future__ import annotations

import datetime as dt
import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from sqlmodel import Session, select

import rules
from rules.model import StandardsSet

from .. import services
from ..db import ROOT
from ..models import Alliance, AssessmentResult, Membership, Organisation, User, clock_at
from ..services import Actor
from ..services import plans as plan_service
from ..services import review as review_service
from ..services.accounts import hash_password
from ..services.buddying import planning as buddy_service
from ..services.evidence import attach_file
from ..services.teams import Attestation
from ..uploads import UploadStore, default_store
from .answers import generate_answers, headline_metric
from .report import DemoReport, demo_users, world_counts, world_notes
from .world import DECIDED, DRAFT, SUBMITTED, UNDER_REVIEW, AllianceDemo, DemoError, MembershipStory, World, read_world

STANDARDS_DIR = ROOT / "standards"


def _moment(day: dt.date, hour: int = 10, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone.utc)


# ---------------------------------------------------------------------------------------------
# The story, event by event


@dataclass
class _Member:
    alliance: AllianceDemo
    story: MembershipStory
    index: int
    membership_id: Optional[int] = None
    assessments: dict[int, int] = field(default_factory=dict)
    expected: dict[int, dict] = field(default_factory=dict)  # cycle number -> the engine's result for its answers


class _Loader:
    def __init__(self, session: Session, world: World, standards_dir: Path, store: UploadStore, buddies: bool = True):
        self.session = session
        self.world = world
        self.buddies = buddies
        self.standards_dir = standards_dir
        self.store = store
        self.events: list[tuple[dt.datetime, int, Callable[[], None]]] = []
        self.actors: dict[str, Actor] = {}
        self.password_hashes: dict[str, str] = {}
        self.alliance_ids: dict[str, int] = {}
        self.version_ids: dict[tuple[str, int], int] = {}  # (alliance, cycle number) -> its version
        self.cycle_ids: dict[tuple[str, int], int] = {}
        self.organisation_ids: dict[str, int] = {}
        self.standards: dict[str, StandardsSet] = {}

    def at(self, moment: dt.datetime, action: Callable[[], None]) -> None:
        self.events.append((moment, len(self.events), action))

    def run(self) -> None:
        for moment, _, action in sorted(self.events, key=lambda e: (e[0], e[1])):
            with clock_at(moment):
                action()

    # -- people and organisations

    def hash_passwords(self, users: list[tuple[str, str, str, str]]) -> None:
        """scrypt is deliberately slow: hash the demo passwords side by side."""
        with ThreadPoolExecutor(max_workers=4) as pool:
            hashes = list(pool.map(lambda user: hash_password(user[2]), users))
        self.password_hashes = {email: h for (_, email, _, _), h in zip(users, hashes)}

    def user(self, role: str, email: str, name: str, password: str, **where: int) -> Actor:
        existing = self.session.exec(select(User).where(User.email == email)).first()
        if existing is None:
            existing = services.create_user(
                self.session,
                self.actors.get("admin", services.CLI),
                email=email,
                name=name,
                password=password,
                role=role,
                password_hash=self.password_hashes.get(email),
                **where,
            )
        actor = Actor(existing.email, existing.id)
        self.actors[email] = actor
        return actor

    def organisation(self, ods: str) -> int:
        if ods not in self.organisation_ids:
            found = self.session.exec(select(Organisation).where(Organisation.ods_code == ods)).first()
            if found is None:
                org = self.world.organisations[ods]
                found = services.register_organisation(
                    self.session,
                    self.actors["admin"],
                    name=org.name,
                    ods_code=org.ods,
                    org_type=org.org_type,
                    region=org.region,
                    latitude=org.latitude,
                    longitude=org.longitude,
                )
            self.organisation_ids[ods] = found.id
        return self.organisation_ids[ods]

    def member_actor(self, ods: str) -> Actor:
        account = self.world.member_account(ods)
        if account.email not in self.actors:
            self.user("member", account.email, account.name, account.password, organisation_id=self.organisation(ods))
        return self.actors[account.email]

    # -- alliances

    def plan_alliance(self, alliance: AllianceDemo) -> None:
        editions: list[tuple[Path, StandardsSet]] = []
        for file_name in alliance.standards_files:
            path = self.standards_dir / file_name
            if not path.is_file():
                raise DemoError(f"{path}: missing; the demo needs the bundled standards packs in {self.standards_dir}")
            editions.append((path, rules.load_standards(path)))
        if len({loaded.id for _, loaded in editions}) != 1:
            raise DemoError(f"alliance {alliance.slug}: each cycle's standards must be a version of one standards set")
        self.standards[alliance.slug] = editions[-1][1]
        lead = lambda: self.actors[alliance.lead.email]  # noqa: E731  (the account exists once the story reaches it)

        def create() -> None:
            version = services.register_version(self.session, editions[0][0], self.actors["admin"])
            self.version_ids[(alliance.slug, 0)] = version.id
            created = services.create_alliance(
                self.session,
                self.actors["admin"],
                slug=alliance.slug,
                name=alliance.name,
                standards_set=editions[0][1].id,
            )
            self.alliance_ids[alliance.slug] = created.id

        self.at(_moment(alliance.created, 9), create)

        def create_lead() -> None:
            self.user(
                "lead",
                alliance.lead.email,
                alliance.lead.name,
                alliance.lead.password,
                alliance_id=self.alliance_ids[alliance.slug],
            )

        self.at(_moment(alliance.created, 9, 30), create_lead)

        for number, cycle in enumerate(self.world.cycles):

            def open_cycle(
                number: int = number,
                name: str = cycle.name,
                opens: dt.date = cycle.opens,
                closes: dt.date = cycle.closes,
            ) -> None:
                # A cycle's own edition is published as the cycle is set up; the earlier one stays registered.
                version = services.register_version(self.session, editions[number][0], self.actors["admin"])
                self.version_ids[(alliance.slug, number)] = version.id
                opened = services.open_cycle(
                    self.session,
                    self.actors[alliance.lead.email],
                    alliance_id=self.alliance_ids[alliance.slug],
                    name=name,
                    opens_on=opens,
                    closes_on=closes,
                )
                self.cycle_ids[(alliance.slug, number)] = opened.id

            self.at(_moment(cycle.opens - dt.timedelta(days=30), 9), open_cycle)

        for index, story in enumerate(alliance.stories):
            self.plan_member(_Member(alliance, story, index), tuple(loaded for _, loaded in editions), lead)

        if alliance.buddies_proposed is not None and self.buddies:

            def propose_buddies() -> None:
                found = buddy_service.plan_buddying(
                    self.session, self.alliance_ids[alliance.slug], self.cycle_ids[(alliance.slug, 1)]
                )
                buddy_service.apply_plan(self.session, lead(), found)

            self.at(_moment(alliance.buddies_proposed, 10), propose_buddies)

    def plan_member(self, m: _Member, standards: tuple[StandardsSet, ...], lead: Callable[[], Actor]) -> None:
        """A membership's story; ``standards``: the edition each cycle's self-assessment is on."""
        story, slug = m.story, m.alliance.slug
        org = self.world.organisations[story.ods]
        member = rules.Member(route=story.route, specialty=story.specialty, org_type=org.org_type)

        def apply() -> None:
            self.organisation(story.ods)
            membership = services.apply_for_membership(
                self.session,
                self.actors["admin"],
                organisation_id=self.organisation(story.ods),
                alliance_id=self.alliance_ids[slug],
                route=story.route,
                specialty=story.specialty,
            )
            m.membership_id = membership.id

        self.at(_moment(story.applied, 11), apply)

        if story.cycle1 is not None:
            admitted = story.applied + dt.timedelta(days=81)
            reason = (
                "founding partner: memorandum of understanding signed"
                if story.founding
                else "admitted: memorandum of understanding signed"
            )
            self.at(
                _moment(admitted, 15),
                lambda: services.change_membership_status(
                    self.session, lead(), m.membership_id, "working_towards", reason
                ),
            )

        def member_user() -> None:
            self.member_actor(story.ods)

        self.at(_moment(max(self.world.portal_opened, story.applied), 12), member_user)

        if story.cycle1 is not None:
            self.plan_assessment(m, 0, story.cycle1, DECIDED, standards[0], member, lead)
        if story.withdraws:
            self.at(
                _moment(self.world.withdrawals, 16),
                lambda: services.change_membership_status(
                    self.session, self.member_actor(story.ods), m.membership_id, "withdrawn", story.withdraws
                ),
            )
        if story.cycle2 is not None:
            profile, state = story.cycle2
            self.plan_assessment(m, 1, profile, state, standards[1], member, lead)
        if story.improvement_plans:
            self.plan_improvement(m)

    def plan_improvement(self, m: _Member) -> None:
        """The member plans for its first-cycle gaps (a breach first, then standards not met), and marks a plan
        completed once a later result shows the gap closed."""
        member_actor = lambda: self.member_actor(m.story.ods)  # noqa: E731
        later = m.expected.get(1) if m.story.cycle2 and m.story.cycle2[1] != DRAFT else None

        def record() -> None:
            assessment_id = m.assessments[0]
            ctx = services.assessments.context(self.session, assessment_id)
            gaps = plan_service.gaps_of(ctx, services.current_result(self.session, assessment_id).result)
            gaps = [g for g in gaps if g.kind == "breach"][:1] + [g for g in gaps if g.kind == "not_met"]
            for gap, shape in zip(gaps, self.world.plan_shapes):
                if gap.kind == "breach":
                    actions = (
                        f"Weekly review of {gap.criterion_id} at the divisional performance meeting; "
                        "recovery trajectory agreed with the alliance clinical practice group."
                    )
                else:
                    actions = (
                        f"Gap analysis against {gap.standard_id} with the clinical lead; missing policies "
                        "drafted and taken to the quality committee for approval."
                    )
                plan_service.save_plan(
                    self.session,
                    member_actor(),
                    ctx,
                    gap.key,
                    {
                        "actions": actions,
                        "owner": shape.owner,
                        "due_on": shape.due,
                        "progress": shape.progress,
                        "evidence": "Monthly report to the trust board" if shape.progress == "in_progress" else "",
                    },
                )

        self.at(_moment(self.world.plans_recorded + dt.timedelta(days=m.index % 10), 11), record)

        def close() -> None:
            ctx = services.assessments.context(self.session, m.assessments[0])
            for line in plan_service.plan_lines(self.session, ctx):
                if line.plan is not None and line.closed_by is not None and line.plan.progress != "completed":
                    plan = line.plan
                    plan_service.save_plan(
                        self.session,
                        member_actor(),
                        ctx,
                        line.gap.key,
                        {
                            "actions": plan.actions,
                            "owner": plan.owner,
                            "due_on": plan.due_on,
                            "progress": "completed",
                            "evidence": f"Closed: the {line.closed_by.name} self-assessment no longer shows the gap",
                        },
                    )

        if later is not None:
            self.at(_moment(self.world.plans_closed, 11), close)

    def plan_review_work(
        self,
        m: _Member,
        number: int,
        submitted: dt.date,
        reviewed: dt.date,
        standards: StandardsSet,
        member: rules.Member,
        lead: Callable[[], Actor],
    ) -> None:
        """The lead's comments and overrides on a second-cycle self-assessment awaiting a decision."""
        if number != 1:
            return
        for note in m.story.comments:
            criterion_id = headline_metric(standards, member).id if note.on_headline else None

            def comment(text: str = note.text, criterion_id: Optional[str] = criterion_id) -> None:
                review_service.add_comment(
                    self.session, lead(), self.alliance_ids[m.alliance.slug], m.assessments[number], text, criterion_id
                )

            self.at(_moment(submitted + dt.timedelta(days=note.days), 15), comment)
        if m.story.override is not None:
            kind, reason = m.story.override.kind, m.story.override.reason
            visit = reviewed + dt.timedelta(days=1)

            def override() -> None:
                assessment_id = m.assessments[number]
                target, value = _override_target(self.session, assessment_id, kind)
                review_service.override(
                    self.session,
                    lead(),
                    self.alliance_ids[m.alliance.slug],
                    assessment_id,
                    kind,
                    target,
                    value,
                    reason.format(day=f"{visit.day} {visit:%B %Y}"),
                )

            self.at(_moment(visit + dt.timedelta(days=1), 10), override)

    def plan_assessment(
        self,
        m: _Member,
        number: int,
        profile: str,
        state: str,
        standards: StandardsSet,
        member: rules.Member,
        lead: Callable[[], Actor],
    ) -> None:
        story, slug, i, cycle = m.story, m.alliance.slug, m.index, self.world.cycles[number]
        seed = f"{slug}/{story.ods}/{cycle.name}"
        answers, m.expected[number] = generate_answers(standards, member, profile, seed)
        rng = random.Random(seed + "/progress")
        start = cycle.opens
        late_joiner = story.applied > start
        opened = (story.applied + dt.timedelta(days=14)) if late_joiner else start + dt.timedelta(days=35 + i)
        first_save = start + dt.timedelta(days=120 + 2 * i) if not late_joiner else opened + dt.timedelta(days=30)
        submitted = start + dt.timedelta(days=(285 if number == 0 else 183) + i % 20)
        reviewed = submitted + dt.timedelta(days=10)
        decided = reviewed + dt.timedelta(days=3 + i % 5) if number == 1 else start + dt.timedelta(days=335 + i % 20)
        member_actor = lambda: self.member_actor(story.ods)  # noqa: E731

        def open_it() -> None:
            assessment = services.open_assessment(
                self.session,
                member_actor(),
                membership_id=m.membership_id,
                cycle_id=self.cycle_ids[(slug, number)],
                standards_version_id=self.version_ids[(slug, number)],
            )
            m.assessments[number] = assessment.id

        self.at(_moment(opened, 10), open_it)

        order = [c.id for c in standards.criteria if c.id in answers]
        if state == DRAFT:
            order = order[: int(len(order) * rng.uniform(0.55, 0.8))]
        half = len(order) // 2
        evidence_needed = [
            c for c in standards.criteria if c.id in order and c.evidence == "required" and answers[c.id] != "na"
        ]
        if state == DRAFT and evidence_needed:
            evidence_needed = evidence_needed[:-1]  # one piece still to find: submission shows it missing

        def save(ids: list[str]) -> Callable[[], None]:
            def run() -> None:
                outcome = services.save_answers(
                    self.session, member_actor(), m.assessments[number], {cid: answers[cid] for cid in ids}
                )
                if not outcome.ok:
                    raise DemoError(f"{story.ods} {cycle.name}: generated answers refused: {outcome.errors}")

            return run

        self.at(_moment(first_save, 14), save(order[:half]))
        self.at(_moment(first_save + dt.timedelta(days=9), 14), save(order[half:]))

        def add_evidence() -> None:
            for position, c in enumerate(evidence_needed):
                if story.founding and position == 0:
                    title = f"{story.ods} {cycle.name} {c.id} evidence"
                    attach_file(
                        self.session,
                        member_actor(),
                        m.assessments[number],
                        c.id,
                        data=_pdf(title),
                        filename=f"{c.id} {c.text[:60].rstrip(' ?')}.pdf",
                        content_type="application/pdf",
                        note="Board-approved document",
                        store=self.store,
                    )
                else:
                    services.add_evidence(
                        self.session,
                        member_actor(),
                        m.assessments[number],
                        c.id,
                        kind="link",
                        url=f"{self.world.document_library}/{story.ods.lower()}/{cycle.name.replace('/', '-')}"
                        f"/{c.id.lower()}",
                        note="Trust document library",
                    )

        self.at(_moment(first_save + dt.timedelta(days=12), 11), add_evidence)

        if state == DRAFT:
            return
        attestation = Attestation(True, self.world.member_account(story.ods).name, "Director of Quality")
        self.at(
            _moment(submitted, 16),
            lambda: services.submit(self.session, member_actor(), m.assessments[number], attestation),
        )
        if state in (SUBMITTED, UNDER_REVIEW):
            self.plan_review_work(m, number, submitted, reviewed, standards, member, lead)
        if state == SUBMITTED:
            return
        self.at(_moment(reviewed, 9), lambda: services.start_review(self.session, lead(), m.assessments[number]))
        if state == UNDER_REVIEW:
            return

        def decide() -> None:
            assessment_id = m.assessments[number]
            result = services.current_result(self.session, assessment_id)
            kind, conditions, due = _decision_for(self.session, result, m.membership_id, cycle.closes)
            review_service.decide(
                self.session,
                lead(),
                self.alliance_ids[slug],
                assessment_id,
                kind,
                conditions=conditions,
                due_on=due,
                notes=f"{cycle.name} accreditation panel",
            )

        self.at(_moment(decided, 14), decide)
        if story.suspend and number == 1:
            self.at(
                _moment(decided + dt.timedelta(days=7), 10),
                lambda: review_service.decide(
                    self.session,
                    lead(),
                    self.alliance_ids[slug],
                    m.assessments[number],
                    "suspend",
                    notes="major breach of the same benchmark in consecutive cycles; improvement plan requested",
                ),
            )


def _override_target(session: Session, assessment_id: int, kind: str) -> tuple[str, Any]:
    """What the lead overrides: the first question answered in part (to full credit), or the first standard
    not met (to met)."""
    ctx = services.assessments.context(session, assessment_id)
    result = services.current_result(session, assessment_id).result
    if kind == "criterion":
        for _, criterion in ctx.applicable_criteria():
            score = (result["criteria"].get(criterion.id) or {}).get("score")
            if criterion.type != "metric" and isinstance(score, (int, float)) and 0 < score < 100:
                return criterion.id, 1
    else:
        for standard in ctx.standards.standards:
            if (result["standard_results"].get(standard.id) or {}).get("status") == "not_met":
                return standard.id, "met"
    raise DemoError(f"assessment {assessment_id}: nothing for a {kind} override to change")


def _decision_for(
    session: Session, result: AssessmentResult, membership_id: int, cycle_closes: dt.date
) -> tuple[str, str, Optional[dt.date]]:
    """What the lead decides for an outcome (in the demo the panel follows the engine)."""
    outcome = result.outcome
    if outcome == "accredited":
        return "accredit", "", None
    if outcome == "accredited_with_conditions":
        breaches = result.result["breaches"]
        conditions = "; ".join(
            f"bring {b['criterion']} back to target ({b['value']} against {b['target']}, {b['direction']} is better)"
            for b in breaches[:4]
        )
        return "accredit_with_conditions", conditions[:1].upper() + conditions[1:] + ".", cycle_closes
    if outcome == "not_accredited" and session.get(Membership, membership_id).status == "applicant":
        return "decline", "", None
    return "working_towards", "", None


def _pdf(title: str) -> bytes:
    """A one-page PDF naming the document (enough for the evidence screens to show a real file)."""
    safe = title.replace("\\", "").replace("(", "").replace(")", "")
    stream = f"BT /F1 14 Tf 72 760 Td ({safe}) Tj 0 -20 Td (Demonstration document) Tj ET".encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


# ---------------------------------------------------------------------------------------------


def load_demo(
    session: Session, *, standards_dir: Optional[Path] = None, store: Optional[UploadStore] = None, buddies: bool = True
) -> DemoReport:
    """Load the demonstration world into the session's database; an alliance already there is left
    as it is, so loading twice adds nothing. ``buddies=False`` leaves the buddy match for a later run."""
    world = read_world()
    loader = _Loader(session, world, Path(standards_dir or STANDARDS_DIR), store or default_store(), buddies)
    existing = set(session.exec(select(Alliance.slug)).all())
    todo = [a for a in world.alliances if a.slug not in existing]
    users = demo_users(world)
    if not todo:
        return DemoReport(added=False, users=users)

    def admin() -> None:
        loader.user("admin", world.admin.email, world.admin.name, world.admin.password)
        loader.actors["admin"] = loader.actors[world.admin.email]

    loader.at(_moment(min(a.created for a in todo), 8), admin)
    for alliance in todo:
        loader.plan_alliance(alliance)
    loader.hash_passwords([u for u in users if not session.exec(select(User.id).where(User.email == u[1])).first()])
    loader.run()
    report = DemoReport(added=True, users=users)
    report.counts = world_counts(session)
    report.notes = world_notes(session)
    services.audit(
        session,
        services.CLI,
        "demo.loaded",
        entity_type="demo",
        after={"alliances": [a.slug for a in todo], **report.counts},
    )
    return report
