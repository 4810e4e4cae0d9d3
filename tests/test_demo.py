"""The demonstration world, loaded into a fresh database through the real services and engine."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from pathlib import Path

import pytest
from sqlmodel import SQLModel, func, select

import rules
from app import services
from app.demo import DemoError, load_demo, read_world
from app.demo.world import WORLD_FILE
from app.models import (
    Alliance,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    AuditEvent,
    Breach,
    BuddyAssignment,
    Decision,
    Evidence,
    ImprovementPlan,
    Membership,
    Notification,
    Organisation,
    ResultOverride,
    ReviewComment,
    StandardsVersion,
    User,
)
from app.services import plans
from app.services.accounts import password_problem
from app.services.buddying import planning
from app.uploads import UploadStore

FOUNDING_NOA = (
    "Robert Jones and Agnes Hunt Orthopaedic Hospital",
    "Royal National Orthopaedic Hospital",
    "Royal Orthopaedic Hospital",
    "Oxford University Hospitals",
    "Wrightington, Wigan and Leigh",
)
OUTCOMES = {"accredited", "accredited_with_conditions", "working_towards", "not_accredited"}


def table_counts(session) -> dict[str, int]:
    return {
        table.name: session.exec(select(func.count()).select_from(table)).one()
        for table in SQLModel.metadata.sorted_tables
    }


def memberships_of(session, slug: str) -> list[tuple[Membership, Organisation]]:
    return list(
        session.exec(
            select(Membership, Organisation)
            .join(Organisation, Organisation.id == Membership.organisation_id)
            .join(Alliance, Alliance.id == Membership.alliance_id)
            .where(Alliance.slug == slug)
        ).all()
    )


@pytest.fixture
def demo(demo_worlds, database_url):
    """The demo world in this test's database: the load's report and how long it took (tests/conftest.py)."""
    return demo_worlds.into(database_url)


def test_the_demo_world(demo, session_factory):
    report, _seconds = demo
    assert report.added
    with session_factory() as session:
        # The alliances, their founding members and 20+ other members across regions.
        assert sorted(session.exec(select(Alliance.slug)).all()) == ["healthcare-alliance", "noa"]
        noa = memberships_of(session, "noa")
        assert len(noa) >= 26
        founders = [o.name for m, o in noa if m.route == "full"]
        for name in FOUNDING_NOA:
            assert any(name in founder for founder in founders), name
        assert len({o.region for _, o in noa}) >= 12
        healthcare = memberships_of(session, "healthcare-alliance")
        dartford = [m for m, o in healthcare if o.name == "Dartford and Gravesham NHS Trust"]
        assert len(dartford) == 1 and dartford[0].route == "full"
        assert sum(1 for m, _ in healthcare if m.route == "specialty") >= 3
        for org in session.exec(select(Organisation)).all():
            assert re.fullmatch(r"[A-Z0-9]{3,5}", org.ods_code) and org.latitude and org.longitude
            assert 49.5 < org.latitude < 56 and -6 < org.longitude < 2

        # Two cycles: 2025/26 all decided; 2026/27 in every state.
        states: dict[str, Counter] = {}
        for cycle, assessment in session.exec(
            select(AssessmentCycle, Assessment).join(Assessment, Assessment.cycle_id == AssessmentCycle.id)
        ).all():
            states.setdefault(cycle.name, Counter())[assessment.status] += 1
        assert set(states) == {"2025/26", "2026/27"}
        assert set(states["2025/26"]) == {"decided"} and states["2025/26"]["decided"] >= 25
        assert set(states["2026/27"]) == {"decided", "under_review", "submitted", "draft"}

        # Every outcome, both breach severities, stored results that the engine reproduces.
        results = session.exec(select(AssessmentResult).where(AssessmentResult.is_current == True)).all()  # noqa: E712
        assert {r.outcome for r in results} == OUTCOMES
        decided = session.exec(
            select(AssessmentResult)
            .join(Assessment, Assessment.id == AssessmentResult.assessment_id)
            .where(Assessment.status == "decided")
        ).all()
        assert {r.outcome for r in decided} == OUTCOMES
        for stored in results:
            again = services.score(session, stored.assessment_id)
            assert again == stored.result
            assert [
                (b.criterion_id, b.severity)
                for b in session.exec(select(Breach).where(Breach.result_id == stored.id).order_by(Breach.id)).all()
            ] == [(b["criterion"], b["severity"]) for b in stored.result["breaches"]]
        assert set(session.exec(select(Breach.severity)).all()) == {"minor", "major"}

        # Whatever was submitted was complete; drafts still have something missing.
        for assessment in session.exec(select(Assessment)).all():
            ctx = services.assessments.context(session, assessment.id)
            missing = services.missing_for_submission(session, ctx)
            assert (missing == []) == (assessment.status != "draft"), assessment.id

        # Retention: members at risk, one suspension recommendation awaiting the lead, and suspension
        # only ever by the lead's decision.
        statuses = Counter(m.status for m, _ in noa + healthcare)
        assert statuses["at_risk"] >= 3 and statuses["applicant"] >= 1
        recommended = session.exec(select(Membership).where(Membership.suspension_recommended == True)).all()  # noqa: E712
        assert len(recommended) == 1
        assert max(services.consecutive_major_breaches(session, recommended[0].id).values()) >= 2
        for membership in session.exec(select(Membership).where(Membership.status == "suspended")).all():
            kinds = session.exec(
                select(Decision.kind)
                .join(Assessment, Assessment.id == Decision.assessment_id)
                .where(Assessment.membership_id == membership.id)
            ).all()
            assert "suspend" in kinds

        # Evidence: links, and files in the upload store with their checksums.
        files = session.exec(select(Evidence).where(Evidence.kind == "file")).all()
        assert files and session.exec(select(func.count()).select_from(Evidence).where(Evidence.kind == "link")).one()
        store = UploadStore()
        for evidence in files:
            data = store.path(evidence.storage_key).read_bytes()
            assert data.startswith(b"%PDF-") and hashlib.sha256(data).hexdigest() == evidence.sha256

        # Users for every role, printed last as a table: one row each with role, email and password.
        roles = Counter(session.exec(select(User.role)).all())
        assert roles["admin"] == 1 and roles["lead"] == len(read_world().alliances) and roles["member"] >= 10
        table = report.lines()[-len(report.users) - 1 :]
        assert table[0].split() == ["role", "email", "password", "for"]
        assert [row.split()[:3] for row in table[1:]] == [
            [role, email, password] for role, email, password, _ in report.users
        ]
        assert sum(roles.values()) == len(report.users)
        assert all(password_problem(password, email=email) is None for _, email, password, _ in report.users)
        for role, email, password, _ in [u for u in report.users if u[0] != "member"] + report.users[-2:]:
            assert services.authenticate(session, email, password).role == role
        lead = session.exec(select(User).where(User.role == "lead", User.email.like("%noa%"))).one()
        assert lead.alliance_id == session.exec(select(Alliance.id).where(Alliance.slug == "noa")).one()

        # The history reads like one: decisions are the leads', and 2025/26 came before 2026/27.
        deciders = set(session.exec(select(User.role).join(Decision, Decision.decided_by == User.id)).all())
        assert deciders == {"lead"}
        first = session.exec(
            select(func.max(Assessment.decided_at)).join(AssessmentCycle).where(AssessmentCycle.name == "2025/26")
        ).one()
        second = session.exec(
            select(func.min(Assessment.submitted_at)).join(AssessmentCycle).where(AssessmentCycle.name == "2026/27")
        ).one()
        assert first < second


def test_the_current_cycle_is_on_the_schema_2_editions(demo, session_factory):
    """2025/26 was assessed against the 2026.1 packs, 2026/27 against the 2026.2 ones (both stay registered):
    the current cycle's answers use choice and multiple-choice questions, questions asked only after a given
    answer (asked of some members, not of others), and its results say how each member stands against the CQC
    quality statements and the other frameworks."""
    with session_factory() as session:
        versions = session.exec(select(StandardsVersion)).all()
        assert sorted((v.set_id, v.version, v.state) for v in versions) == [
            (set_id, version, "published")
            for set_id in ("healthcare-alliance", "noa-orthopaedics")
            for version in ("2026.1", "2026.2")
        ]
        schema = {v.id: services.parsed(v).schema_version for v in versions}
        edition = {v.id: v.version for v in versions}
        rows = session.exec(
            select(AssessmentCycle.name, Assessment, StandardsVersion.set_id)
            .join(Assessment, Assessment.cycle_id == AssessmentCycle.id)
            .join(StandardsVersion, StandardsVersion.id == Assessment.standards_version_id)
        ).all()
        assert {(cycle, edition[a.standards_version_id], schema[a.standards_version_id]) for cycle, a, _ in rows} == {
            ("2025/26", "2026.1", 1),
            ("2026/27", "2026.2", 2),
        }

        answers: dict[tuple[str, str], list] = {}  # (set, criterion) -> every answer given in 2026/27
        statuses: dict[tuple[str, str], Counter] = {}  # (set, conditional criterion) -> its statuses in results
        mapped: dict[str, Counter] = {}  # set -> ref statuses over every 2026/27 result
        flags: set[str] = set()
        for cycle, assessment, set_id in rows:
            if cycle != "2026/27":
                continue
            ctx = services.assessments.context(session, assessment.id)
            given = services.answers_of(session, assessment.id)
            result = services.score(session, assessment.id)
            for criterion in ctx.standards.criteria:
                if criterion.type in ("choice", "multi_choice") and criterion.id in given:
                    answers.setdefault((set_id, criterion.id), []).append(given[criterion.id])
                if criterion.when is not None:
                    status = result["criteria"][criterion.id]["status"]
                    statuses.setdefault((set_id, criterion.id), Counter())[status] += 1
                    # A question the member was not asked was left unanswered, as the form leaves it out.
                    assert status != "inactive" or criterion.id not in given, (assessment.id, criterion.id)
            assert list(result["mapped"]) == [f.id for f in ctx.standards.frameworks]
            for refs in result["mapped"].values():
                mapped.setdefault(set_id, Counter()).update(refs.values())
            if assessment.status != "draft":
                flags.update(flag["id"] for flag in result["flags"])

        # Every choice and multiple-choice question is answered, differently by different members.
        assert sorted(answers) == [
            ("healthcare-alliance", "I3.1"),
            ("healthcare-alliance", "Q3.5"),
            ("healthcare-alliance", "Q5.5"),
            ("noa-orthopaedics", "E2.4"),
            ("noa-orthopaedics", "G3.6"),
            ("noa-orthopaedics", "Q1.6"),
        ]
        for key, given in answers.items():
            if len(given) >= 3:
                assert len({repr(a) for a in given}) >= 2, (key, given)
        ticked = [tuple(a) for a in answers[("noa-orthopaedics", "G3.6")]]
        assert len(set(ticked)) >= 6 and any(len(a) <= 1 for a in ticked) and any(len(a) >= 4 for a in ticked)
        assert {a for a in answers[("noa-orthopaedics", "Q1.6")]} == {"none", "phone", "clinic"}

        # Each of the NOA's conditional questions is asked of some members and not of others; the Healthcare
        # Alliance asks the DSPT improvement plan only of the member below Standards Met.
        for criterion_id in ("Q1.7", "Q2.7", "Q3.5", "E2.4"):
            seen = statuses[("noa-orthopaedics", criterion_id)]
            assert seen["scored"] >= 3 and seen["inactive"] >= 1, (criterion_id, seen)
        assert statuses[("healthcare-alliance", "I3.2")]["scored"] >= 1
        assert statuses[("healthcare-alliance", "I3.2")]["inactive"] >= 1

        # Framework mappings: met, not met and not assessed statements in both alliances; the schema 2 flag on
        # hip fracture follow-up is raised for the members that answered "Not followed up".
        for set_id in ("noa-orthopaedics", "healthcare-alliance"):
            assert set(mapped[set_id]) == {"met", "not_met", "not_assessed"}, set_id
        assert "hip-fracture-not-followed-up" in flags


def test_the_lead_review_work(demo, session_factory):
    report, _ = demo
    # The moment the demo story reaches (its last event is the buddy match in mid-November 2026).
    story_now = dt.date(2026, 11, 25)
    with session_factory() as session:

        def organisation_of(assessment_id: int) -> int:
            return session.get(Membership, session.get(Assessment, assessment_id).membership_id).organisation_id

        def lead_of(assessment_id: int) -> int:
            return session.get(Membership, session.get(Assessment, assessment_id).membership_id).alliance_id

        # Comments from the member's own alliance lead on assessments awaiting a decision, one on a question;
        # the member is told of each.
        comments = session.exec(select(ReviewComment)).all()
        assert len(comments) >= 4
        on_question = [c for c in comments if c.criterion_id]
        assert len(on_question) >= 1
        for comment in comments:
            assert session.get(Assessment, comment.assessment_id).status in ("submitted", "under_review")
            author = session.get(User, comment.author_id)
            assert author.role == "lead" and author.alliance_id == lead_of(comment.assessment_id)
            notices = session.exec(
                select(Notification).where(
                    Notification.kind == "comment",
                    Notification.assessment_id == comment.assessment_id,
                    Notification.organisation_id == organisation_of(comment.assessment_id),
                )
            ).all()
            assert comment.body in [n.body for n in notices]
        for comment in on_question:
            ctx = services.assessments.context(session, comment.assessment_id)
            assert comment.criterion_id in ctx.standards.criterion_lookup

        # Overrides of a criterion score and a standard status, with reasons, that the stored result shows
        # and that change what the engine gives without them.
        overrides = session.exec(select(ResultOverride)).all()
        assert {o.kind for o in overrides} == {"criterion", "standard"}
        for row in overrides:
            assert session.get(Assessment, row.assessment_id).status == "under_review" and len(row.reason) > 20
            ctx = services.assessments.context(session, row.assessment_id)
            stored = services.current_result(session, row.assessment_id).result
            answers = {k: v for k, v in services.answers_of(session, row.assessment_id).items() if v is not None}
            plain = rules.score_submission(ctx.standards, rules.Submission(member=ctx.member, answers=answers))
            if row.kind == "criterion":
                assert stored["criteria"][row.target_id]["status"] == "overridden"
                assert stored["criteria"][row.target_id]["score"] == row.value * 100
                assert plain["criteria"][row.target_id]["score"] != row.value * 100
            else:
                assert stored["standard_results"][row.target_id]["status"] == row.value
                assert plain["standard_results"][row.target_id]["status"] != row.value

        # Every decision reached the member as a notification.
        decisions = session.exec(select(Decision)).all()
        decision_notices = session.exec(select(Notification).where(Notification.kind == "decision")).all()
        assert len(decision_notices) == len(decisions)
        assert sorted((d.assessment_id, organisation_of(d.assessment_id)) for d in decisions) == sorted(
            (n.assessment_id, n.organisation_id) for n in decision_notices
        )

        # Improvement plans for gaps of 2025/26 results: breaches and standards not met, some overdue, some in
        # progress, at least one closed by a 2026/27 result.
        rows = session.exec(select(ImprovementPlan)).all()
        assert len(rows) >= 10
        assert {p.gap.split(":")[0] for p in rows} == {"standard", "breach"}
        for plan in rows:
            cycle = session.get(AssessmentCycle, session.get(Assessment, plan.assessment_id).cycle_id)
            assert cycle.name == "2025/26" and plan.actions and plan.owner
            plans.find_gap(session, services.assessments.context(session, plan.assessment_id), plan.gap)
        tracked = [
            t
            for alliance_id in session.exec(select(Alliance.id)).all()
            for t in plans.alliance_plans(session, alliance_id)
        ]
        assert any(
            t.closed_by is None and t.plan.progress != "completed" and t.plan.due_on < story_now for t in tracked
        )
        assert any(
            t.closed_by is None and t.plan.progress == "in_progress" and t.plan.due_on > story_now for t in tracked
        )
        closed = [t for t in tracked if t.closed_by is not None]
        assert closed and all(t.closed_by.name == "2026/27" and t.plan.progress == "completed" for t in closed)

        # Buddying proposals for the NOA's 2026/27 cycle; matching again proposes nothing new.
        noa = planning.find_alliance(session, "noa")
        cycle = planning.find_cycle(session, noa, "2026/27")
        pairs = session.exec(select(BuddyAssignment)).all()
        assert pairs and all((p.alliance_id, p.cycle_id, p.status) == (noa.id, cycle.id, "proposed") for p in pairs)
        assert any(p.buddy_membership_id for p in pairs)
        assert all(p.buddy_membership_id != p.mentee_membership_id for p in pairs)
        assert planning.plan_buddying(session, noa.id, cycle.id).matching.proposals == ()

    printed = "\n".join(report.lines())
    for kind in (
        "lead comments:",
        "lead overrides:",
        "notifications to members:",
        "improvement plans:",
        "buddying proposals:",
    ):
        assert kind in printed


def test_loading_twice_adds_nothing(demo, session_factory):
    with session_factory() as session:
        before = table_counts(session)
    assert all(
        before[table] > 0
        for table in ("reviewcomment", "resultoverride", "notification", "improvementplan", "buddyassignment")
    )
    with session_factory() as session:
        again = load_demo(session)
    assert not again.added and again.lines()[0] == "demo data already loaded: nothing added"
    with session_factory() as session:
        assert table_counts(session) == before
        assert (
            session.exec(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "demo.loaded")).one()
            == 1
        )


def test_missing_standards_are_reported_and_nothing_is_written(session_factory, tmp_path):
    with pytest.raises(DemoError, match="noa-orthopaedics-2026.1.yaml: missing"):
        with session_factory() as session:
            load_demo(session, standards_dir=tmp_path)
    with session_factory() as session:
        assert all(n == 0 for name, n in table_counts(session).items() if name != "alembic_version")


def broken_world(tmp_path, old: str, new: str) -> tuple[str, int]:
    """The bundled world file with one change, written to a file of its own; the file's name and the changed line."""
    text = WORLD_FILE.read_text()
    assert text.count(old) == 1, old
    path = tmp_path / "world.yaml"
    path.write_text(text.replace(old, new))
    return str(path), text[: text.index(old)].count("\n") + 1


@pytest.mark.parametrize(
    "old, new, message",
    [
        (
            "- {ods: RAP, applied: 2018-01-08, 2025/26: major, 2026/27: [weak, draft]}",
            "- {ods: RAP, applied: 2018-01-08, 2025/26: major, 2026/27: [weak, draft}",
            "YAML syntax error",
        ),
        (
            "- {ods: RAP, applied: 2018-01-08, 2025/26: major, 2026/27: [weak, draft]}",
            "- {ods: RAP, applied: 2018-01-08, 2025/26: major, 2026/27: [weak, drafted]}",
            "membership RAP of alliance noa: '2026/27' must be [profile, state]",
        ),
        (
            "- {ods: RAP, applied: 2018-01-08, 2025/26: major,",
            "- {ods: RAP, applied: 2018-01-08, 2025/26: mayor,",
            "membership RAP of alliance noa: '2025/26' must be one of strong | typical | major | weak | failing, got 'mayor'",
        ),
        (
            "- {ods: RAP, applied: 2018-01-08,",
            "- {ods: RAPP, applied: 2018-01-08,",
            "a membership of alliance noa: 'ods' must be the ODS code of one of the organisations, got 'RAPP'",
        ),
        (
            "- {ods: RAP, applied: 2018-01-08,",
            "- {ods: RAP, aplied: 2018-01-08,",
            "membership of alliance noa: unknown key 'aplied' (did you mean 'applied'?)",
        ),
        (
            "- {ods: RAP, applied: 2018-01-08,",
            "- {ods: RAP, applied: 2018-01-32,",
            "membership RAP of alliance noa: 'applied' must be a date (YYYY-MM-DD), got '2018-01-32'",
        ),
        (
            "    standards: {2025/26: noa-orthopaedics-2026.1.yaml, 2026/27: noa-orthopaedics-2026.2.yaml}",
            "    standards: {2025/26: noa-orthopaedics-2026.1.yaml, 2026/28: noa-orthopaedics-2026.2.yaml}",
            "alliance noa: standards: unknown key '2026/28' (did you mean '2026/27'?)",
        ),
        (
            '  password: "demo-member-{ods}"',
            '  password: "demo-member-{code}"',
            "member_account: 'password' may use {ods} and {organisation} only",
        ),
    ],
)
def test_a_broken_world_file_is_refused_naming_its_file_and_line(tmp_path, old, new, message):
    path, line = broken_world(tmp_path, old, new)
    with pytest.raises(DemoError) as refused:
        read_world(Path(path))
    assert str(refused.value).startswith(f"{path}:{line}: ")
    assert message in str(refused.value)


def test_a_missing_key_names_the_mapping_that_lacks_it(tmp_path):
    path, line = broken_world(
        tmp_path,
        "    lead: {email: lead.noa@demo.example, name: NOA alliance lead, password: demo-lead-noa-pass}\n",
        "",
    )
    with pytest.raises(DemoError, match="alliance: missing key 'lead'") as refused:
        read_world(Path(path))
    slug_line = WORLD_FILE.read_text().splitlines().index("  - slug: noa") + 1
    assert str(refused.value).startswith(f"{path}:{slug_line}: ")
