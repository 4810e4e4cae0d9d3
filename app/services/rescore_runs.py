"""Rescore runs: moving a standards set's assessments to another of its versions.

A dry run reads and scores, and changes nothing (the lead's preview in
``app.services.impact`` is one, limited to an alliance). An applied run is a
``RescoreRun`` with one ``RescoreItem`` per assessment, split when the run is
listed into numbered batches (``RescoreBatch``), alliance by alliance. A
batch is the unit of work: it is scored outside any transaction, then written
in one (``apply_batch``) that marks the batch done first, then stores every
assessment's new result, audit event and done item. A batch already done
changes nothing, so a batch run twice (a task delivered twice, a task run
again after its worker died) is harmless and no assessment is rescored twice.
Once an alliance's self-assessments are all moved, its buddying needs are
refreshed, once per run (``refresh_alliances``). So a run can be killed at
any point and started again (its batches not done are run again). Answers
carry over by criterion id (``rules.answers.carry_over``); what a move
changes is worked out by ``rules.changes``. The queue's tasks and the local
processes that run the batches are in ``app.jobs.rescore``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Optional

from sqlalchemy import JSON, Text, cast, func, insert, literal, text, type_coerce, update
from sqlmodel import Session, col, select

import rules
from rules import changes
from rules.answers import carry_over
from rules.model import StandardsSet

from ..db import json_value
from ..models import (
    Alliance,
    Answer,
    Assessment,
    AssessmentCycle,
    AssessmentResult,
    BuddyAssignment,
    Membership,
    Organisation,
    RescoreBatch,
    RescoreItem,
    RescoreRefresh,
    RescoreRun,
    ResultOverride,
    StandardsVersion,
    utcnow,
)
from .buddying.pairs import refresh_many, settle_many
from .buddying.planning import OPEN_PAIRS, NeedsRefresh, plan_refreshes
from .common import Actor, NotFound, ServiceError, among, audit, audit_many, update_rows
from .scoring import StoredForm, kept, stored_form, write_results
from .standards import parsed

PUBLISH_HINT = "python cli.py standards publish PATH"
FINISHED = ("done", "failed")  # item states that count as handled
UNFINISHED = ("pending",)
BATCH_SIZE = 250  # assessments in a batch unless the run is opened with another size


@dataclass(frozen=True)
class Target:
    """The version a run moves assessments to, and which assessments it covers."""

    version: StandardsVersion
    standards: StandardsSet
    cycle_name: Optional[str] = None
    alliance_id: Optional[int] = None  # a lead's preview covers their own alliance only

    @property
    def set_id(self) -> str:
        return self.version.set_id


def find_target(
    session: Session, set_id: str, version: str, cycle_name: Optional[str] = None, alliance_id: Optional[int] = None
) -> Target:
    """The registered version ``version`` of ``set_id``; names the versions there are when it is not one."""
    found = session.exec(
        select(StandardsVersion).where(StandardsVersion.set_id == set_id, StandardsVersion.version == version)
    ).first()
    if found is None:
        known = session.exec(select(StandardsVersion.version).where(StandardsVersion.set_id == set_id)).all()
        if not known:
            raise NotFound(f"no standards set {set_id!r} is registered (see `python cli.py standards list`)")
        raise NotFound(
            f"{set_id} has no version {version!r} (it has {', '.join(sorted(known))}); "
            f"register a new version with `{PUBLISH_HINT}`"
        )
    if cycle_name is not None:
        cycles = (
            select(AssessmentCycle.id)
            .join(Alliance, Alliance.id == AssessmentCycle.alliance_id)
            .where(Alliance.standards_set == set_id, AssessmentCycle.name == cycle_name)
        )
        if session.exec(cycles).first() is None:
            raise NotFound(f"no alliance accrediting against {set_id} has a cycle {cycle_name!r}")
    return Target(found, parsed(found), cycle_name, alliance_id)


def _affected(target: Target, *columns):  # noqa: ANN002, ANN202
    """The query for the assessments of the set (and cycle) that are not on the target version yet."""
    query = (
        select(*columns)
        .join(StandardsVersion, StandardsVersion.id == Assessment.standards_version_id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .where(StandardsVersion.set_id == target.set_id, Assessment.standards_version_id != target.version.id)
    )
    if target.cycle_name is not None:
        query = query.where(AssessmentCycle.name == target.cycle_name)
    if target.alliance_id is not None:
        query = query.where(AssessmentCycle.alliance_id == target.alliance_id)
    return query


def count_affected(session: Session, target: Target) -> int:
    return session.exec(_affected(target, func.count(col(Assessment.id)))).one()


def affected(session: Session, target: Target) -> list[int]:
    """The ids of the assessments of the set (and cycle) that are not on the target version yet."""
    return list(session.exec(_affected(target, Assessment.id).order_by(col(Assessment.id))).all())


@dataclass
class Loaded:
    """One assessment with all that rescoring reads (plain values: it travels between processes)."""

    id: int
    status: str
    route: str
    specialty: Optional[str]
    organisation: str
    ods_code: str
    org_type: str
    alliance: str
    cycle: str
    version: StandardsVersion
    answers: dict[str, Any]
    overrides: list[ResultOverride]
    current_id: Optional[int]
    current: Optional[dict]  # the stored result's headline, breaches and support needs

    @property
    def member(self) -> rules.Member:
        return rules.Member(route=self.route, specialty=self.specialty, org_type=self.org_type)


def _answers_by_assessment(session: Session, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each assessment's answers, each built by the database as one JSON object (one decode, not one per
    answer)."""
    if session.get_bind().dialect.name == "postgresql":
        built = func.json_object_agg(Answer.criterion_id, Answer.value)
    else:
        built = func.json_group_object(Answer.criterion_id, func.json(Answer.value))
    answers: dict[int, dict[str, Any]] = {i: {} for i in ids}
    if ids:
        answers.update(
            session.execute(
                select(Answer.assessment_id, type_coerce(built, JSON))
                .where(among(session, col(Answer.assessment_id), ids))
                .group_by(Answer.assessment_id)
            ).all()
        )
    return answers


def load(session: Session, ids: list[int]) -> list[Loaded]:
    """Everything rescoring needs of these assessments, in a handful of queries. Of a stored result only
    what the report compares is read, not the whole result."""
    if not ids:
        return []
    rows = session.exec(
        select(
            Assessment.id,
            Assessment.status,
            Assessment.standards_version_id,
            Membership.route,
            Membership.specialty,
            Organisation.name,
            Organisation.ods_code,
            Organisation.org_type,
            AssessmentCycle.name,
            Alliance.name,
        )
        .join(Membership, Membership.id == Assessment.membership_id)
        .join(Organisation, Organisation.id == Membership.organisation_id)
        .join(AssessmentCycle, AssessmentCycle.id == Assessment.cycle_id)
        .join(Alliance, Alliance.id == AssessmentCycle.alliance_id)
        .where(among(session, col(Assessment.id), ids))
        .order_by(col(Assessment.id))
    ).all()
    answers = _answers_by_assessment(session, ids)
    overrides: dict[int, list[ResultOverride]] = {i: [] for i in ids}
    for row in session.exec(select(ResultOverride).where(among(session, col(ResultOverride.assessment_id), ids))):
        overrides[row.assessment_id].append(row)
    stored = AssessmentResult.__table__.c
    current = {
        row[0]: (row[1], {"overall": row[2], "rating": row[3], "outcome": row[4], **row[5]})
        for row in session.execute(
            select(
                stored.assessment_id, stored.id, stored.overall, stored.rating, stored.outcome, stored.headline
            ).where(among(session, stored.assessment_id, ids), stored.is_current.is_(True))
        ).all()
    }
    versions = {
        v.id: v
        for v in session.exec(select(StandardsVersion).where(col(StandardsVersion.id).in_({row[2] for row in rows})))
    }
    return [
        Loaded(
            a_id,
            status,
            route,
            specialty,
            org,
            ods,
            org_type,
            alliance,
            cycle,
            versions[version_id],
            answers[a_id],
            overrides[a_id],
            *current.get(a_id, (None, None)),
        )
        for a_id, status, version_id, route, specialty, org, ods, org_type, cycle, alliance in rows
    ]


def _score(standards: StandardsSet, loaded: Loaded, answers: dict[str, Any]) -> dict:
    member = loaded.member
    return rules.score_submission(
        standards, rules.Submission(member=member, answers=answers), kept(standards, loaded.overrides, member)
    )


def rescore_one(loaded: Loaded, target: Target) -> tuple[dict, dict]:
    """The assessment's new result on the target version, and its report line (old -> new)."""
    old_standards = parsed(loaded.version)
    if loaded.current is not None and loaded.status != "draft":
        old = loaded.current
    else:  # a draft's result is provisional: score it as it stands on its own version
        old = _score(old_standards, loaded, carry_over(old_standards, loaded.answers)[0])
    kept, dropped = carry_over(target.standards, loaded.answers, previous=old_standards)
    new = _score(target.standards, loaded, kept)
    line = {
        "assessment": loaded.id,
        "organisation": loaded.organisation,
        "ods_code": loaded.ods_code,
        "alliance": loaded.alliance,
        "membership": loaded.route + (f" ({loaded.specialty})" if loaded.specialty else ""),
        "cycle": loaded.cycle,
        "status": loaded.status,
        "from_version": loaded.version.version,
        "to_version": target.version.version,
        **changes.compare(old, new).to_dict(),
        "answers_not_carried": [f"{cid}: {why}" for cid, why in dropped.items()],
    }
    return new, line


def report_of(loaded: list[Loaded], target: Target) -> tuple[list[dict], list[dict]]:
    """Report lines for these loaded assessments, and those that could not be scored; stores nothing."""
    prepared, failures = prepare(loaded, target, to_store=False)
    return (
        [prepared[one.id].line for one in loaded if one.id in prepared],
        [{"assessment": i, "error": error} for i, error in failures.items()],
    )


def dry_run(session: Session, target: Target, ids: list[int]) -> tuple[list[dict], list[dict]]:
    """Report lines for these assessments, and those that could not be scored; stores nothing."""
    return report_of(load(session, ids), target)


# -- applied runs ------------------------------------------------------------------------------------


def open_run(session: Session, actor: Actor, target: Target, batch_size: int = BATCH_SIZE) -> Optional[RescoreRun]:
    """The unfinished run for this target (a run started again resumes it, in the batches it was split into),
    or a new one listing every assessment still to move in batches of ``batch_size`` (None when there is
    none). Concurrent starts take turns on the version row, so they share one run."""
    if target.version.state != "published":
        raise ServiceError(
            f"{target.set_id} {target.version.version} is {target.version.state}: publish it "
            f"before applying a rescore (a dry run works on a draft)"
        )
    session.exec(select(StandardsVersion).where(StandardsVersion.id == target.version.id).with_for_update()).first()
    query = select(RescoreRun).where(
        RescoreRun.set_id == target.set_id,
        RescoreRun.status == "running",
        RescoreRun.to_version_id == target.version.id,
    )
    query = query.where(
        col(RescoreRun.cycle_name).is_(None)
        if target.cycle_name is None
        else RescoreRun.cycle_name == target.cycle_name
    )
    existing = session.exec(query.order_by(col(RescoreRun.id))).first()
    if existing is not None:
        return existing
    total = count_affected(session, target)
    if not total:
        return None  # nothing to move: a run started again after it finished changes nothing
    run = RescoreRun(
        set_id=target.set_id,
        to_version_id=target.version.id,
        cycle_name=target.cycle_name,
        total=total,
        started_by=actor.label,
    )
    session.add(run)
    session.flush()
    # Items are numbered, and so batched, alliance by alliance: alliances finish one after another.
    order = (col(AssessmentCycle.alliance_id), col(Assessment.id))
    batch = (func.row_number().over(order_by=order) - 1) // batch_size
    listed = _affected(target, literal(run.id), Assessment.id, AssessmentCycle.alliance_id, batch, literal("pending"))
    session.execute(
        insert(RescoreItem).from_select(
            ["run_id", "assessment_id", "alliance_id", "batch", "state"], listed.order_by(*order)
        )
    )
    session.execute(
        insert(RescoreBatch).from_select(
            ["run_id", "number", "size", "state", "attempts"],
            select(RescoreItem.run_id, RescoreItem.batch, func.count(), literal("pending"), literal(0))
            .where(RescoreItem.run_id == run.id)
            .group_by(RescoreItem.run_id, RescoreItem.batch),
        )
    )
    audit(
        session,
        actor,
        "rescore.started",
        run,
        after={
            "set_id": run.set_id,
            "to_version": target.version.version,
            "cycle": run.cycle_name,
            "assessments": run.total,
        },
    )
    return run


def _commit_without_waiting(session: Session) -> None:
    """On PostgreSQL, let this transaction's commit return before its WAL reaches the disk. Safe for a run's
    batches and refreshes: one lost in a crash of the server leaves its batch (or its refresh) to do, and the
    resumed run does it; it never half-writes anything."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL synchronous_commit TO OFF"))


def run_target(session: Session, run_id: int) -> Target:
    """The target a run moves its assessments to, read from the run (a task knows only the run's id)."""
    run = session.get(RescoreRun, run_id)
    if run is None:
        raise NotFound(f"rescore run {run_id} does not exist")
    version = session.get(StandardsVersion, run.to_version_id)
    return Target(version, parsed(version), run.cycle_name)


def run_status(session: Session, run_id: int, target: Target) -> Optional[str]:
    """``running`` or ``finished``: the state of run ``run_id`` if it moves to ``target`` (None otherwise)."""
    run = session.get(RescoreRun, run_id)
    if (
        run is None
        or run.set_id != target.set_id
        or run.to_version_id != target.version.id
        or run.cycle_name != target.cycle_name
    ):
        return None
    return run.status


def started_by(session: Session, run_id: int) -> Actor:
    """Who a run's batches act for: whoever started the run."""
    label = session.exec(select(RescoreRun.started_by).where(RescoreRun.id == run_id)).first()
    if label is None:
        raise NotFound(f"rescore run {run_id} does not exist")
    return Actor(label)


def start_batch(session: Session, run_id: int, number: int) -> list[tuple[int, int, int]]:
    """Note that a task has started on a batch (when, and one more attempt: the runner enqueues a batch
    again when it has been started too long ago without being done) and return its items still to do:
    (item id, assessment id, alliance id) each; none when the batch is done."""
    _commit_without_waiting(session)
    started = session.execute(
        update(RescoreBatch)
        .where(RescoreBatch.run_id == run_id, RescoreBatch.number == number, RescoreBatch.state == "pending")
        .values(started_at=utcnow(), attempts=RescoreBatch.attempts + 1)
    )
    if started.rowcount != 1:
        return []
    rows = session.exec(
        select(RescoreItem.id, RescoreItem.assessment_id, RescoreItem.alliance_id)
        .where(RescoreItem.run_id == run_id, RescoreItem.batch == number, RescoreItem.state == "pending")
        .order_by(col(RescoreItem.id))
    ).all()
    return [tuple(row) for row in rows]


def batches_left(session: Session, run_id: int) -> list[RescoreBatch]:
    """The run's batches not done yet, in order."""
    return list(
        session.exec(
            select(RescoreBatch)
            .where(RescoreBatch.run_id == run_id, RescoreBatch.state == "pending")
            .order_by(col(RescoreBatch.number))
        ).all()
    )


def mark_enqueued(session: Session, run_id: int, numbers: list[int]) -> None:
    """Note when these batches were (last) put on the queue."""
    if numbers:
        session.execute(
            update(RescoreBatch)
            .where(RescoreBatch.run_id == run_id, among(session, col(RescoreBatch.number), numbers))
            .values(enqueued_at=utcnow())
        )


def all_batches_done(session: Session, run_id: int) -> bool:
    return (
        session.exec(
            select(RescoreBatch.id).where(RescoreBatch.run_id == run_id, RescoreBatch.state == "pending").limit(1)
        ).first()
        is None
    )


@dataclass(frozen=True)
class Prepared:
    """An assessment scored on the target version ahead of its write transaction."""

    loaded: Loaded
    result: dict
    line: dict
    stored: Optional[StoredForm]  # as it will be stored (when it is to be)


def prepare(loaded: list[Loaded], target: Target, to_store: bool = True) -> tuple[dict[int, Prepared], dict[int, str]]:
    """Score a batch outside any transaction (and, ``to_store``, make the JSON it will be stored as);
    returns what scored, and why each other one could not."""
    prepared: dict[int, Prepared] = {}
    failures: dict[int, str] = {}
    for one in loaded:
        try:
            result, line = rescore_one(one, target)
            prepared[one.id] = Prepared(one, result, line, stored_form(result) if to_store else None)
        except Exception as exc:  # noqa: BLE001  (one assessment's failure is recorded, the others go on)
            failures[one.id] = f"{exc.__class__.__name__}: {exc}"
    return prepared, failures


def apply_batch(
    session: Session,
    actor: Actor,
    target: Target,
    run_id: int,
    number: int,
    prepared: dict[int, Prepared],
    failures: dict[int, str],
) -> Optional[list[dict]]:
    """Store the new results of a batch in the caller's one transaction: the batch marked done first (so a
    second task on the same batch waits for this one, then finds it done), then per assessment its new
    result and breaches, its move to the target version, an audit event and its item marked done, so an
    assessment is never half-written and a killed run redoes exactly the batches that did not commit.

    What was scored ahead (``prepared``) is used only while nothing it was scored from has changed
    (status, version, current result, a draft's answers); anything else is read and scored again here.
    Returns the report lines written, or None when the batch was done already (and nothing is written)."""
    _commit_without_waiting(session)
    marked = session.execute(
        update(RescoreBatch)
        .where(RescoreBatch.run_id == run_id, RescoreBatch.number == number, RescoreBatch.state == "pending")
        .values(state="done", done_at=utcnow())
    )
    if marked.rowcount != 1:
        return None
    rows = session.execute(
        select(
            RescoreItem.id.label("item"),
            RescoreItem.state,
            RescoreItem.run_id,
            Assessment.id.label("assessment"),
            Assessment.status,
            Assessment.standards_version_id.label("version"),
            Assessment.membership_id.label("membership"),
            Assessment.cycle_id.label("cycle"),
        )
        .join(Assessment, Assessment.id == RescoreItem.assessment_id)
        .where(RescoreItem.run_id == run_id, RescoreItem.batch == number, RescoreItem.state == "pending")
        .order_by(col(RescoreItem.id))
        .with_for_update()
    ).all()
    ours = list(rows)
    moving = [row for row in ours if row.version != target.version.id and row.assessment not in failures]
    ids = [row.assessment for row in moving]
    current = dict(
        session.execute(
            select(AssessmentResult.assessment_id, AssessmentResult.id).where(
                among(session, col(AssessmentResult.assessment_id), ids), col(AssessmentResult.is_current).is_(True)
            )
        ).all()
    )
    answers = _answers_by_assessment(session, [row.assessment for row in moving if row.status == "draft"])
    stale = []
    for row in moving:
        ahead = prepared.get(row.assessment)
        if (
            ahead is None
            or ahead.loaded.status != row.status
            or ahead.loaded.version.id != row.version
            or current.get(row.assessment) != ahead.loaded.current_id
            or (row.status == "draft" and answers[row.assessment] != ahead.loaded.answers)
        ):
            stale.append(row.assessment)
    if stale:
        again, failed = prepare(load(session, stale), target)
        prepared = {**prepared, **again}
        failures = {**failures, **failed}
        moving = [row for row in moving if row.assessment not in failed]
        ids = [row.assessment for row in moving]
    now = utcnow()
    lines = [prepared[i].line for i in ids]
    if ids:
        session.execute(
            update(Assessment)
            .where(among(session, col(Assessment.id), ids))
            .values(standards_version_id=target.version.id)
        )
    scored = [prepared[row.assessment] for row in moving if row.status != "draft"]
    if scored:
        write_results(
            session,
            target.version,
            [(ahead.loaded.id, ahead.result) for ahead in scored],
            now,
            [ahead.stored for ahead in scored],
        )
    audit_many(
        session,
        actor,
        "assessment.rescored",
        "assessment",
        [
            (
                row.assessment,
                {
                    "standards_version": line["from_version"],
                    "overall": line["old_overall"],
                    "rating": line["old_rating"],
                    "outcome": line["old_outcome"],
                },
                {
                    "standards_version": target.version.version,
                    "overall": line["new_overall"],
                    "rating": line["new_rating"],
                    "outcome": line["new_outcome"],
                    "run": row.run_id,
                    "breaches_added": line["breaches_added"],
                    "breaches_resolved": line["breaches_resolved"],
                },
            )
            for row, line in zip(moving, lines)
        ],
    )
    decided = [
        (row.assessment, row.membership, row.cycle, prepared[row.assessment].result)
        for row in moving
        if row.status == "decided"
    ]
    if decided:
        settle_many(session, actor, decided)  # needs now met end their buddy pairs
    changes_of = dict(zip(ids, lines))
    update_rows(
        session,
        RescoreItem.__table__,
        "id",
        [
            {
                "id": row.item,
                "done_at": now,
                "state": "failed" if row.assessment in failures else "done",
                "change": (
                    {"assessment": row.assessment, "error": failures[row.assessment]}
                    if row.assessment in failures
                    else changes_of.get(row.assessment)
                ),
            }
            for row in ours
        ],
    )
    return lines


def progress(session: Session, run_id: int) -> tuple[int, int]:
    """(done, total) of a run."""
    run = session.get(RescoreRun, run_id)
    if run is None:
        raise NotFound(f"rescore run {run_id} does not exist")
    done = session.exec(
        select(func.count())
        .select_from(RescoreItem)
        .where(RescoreItem.run_id == run_id, col(RescoreItem.state).in_(FINISHED))
    ).one()
    return done, run.total


def _cycles_to_refresh(session: Session, alliance_ids: list[int]) -> dict[int, list[int]]:
    """Each alliance's cycles whose needs a rescore changes: those with open pairs, and the latest."""
    if not alliance_ids:
        return {}
    cycles: dict[int, list[int]] = {alliance_id: [] for alliance_id in alliance_ids}
    for alliance_id, cycle_id in session.execute(
        select(AssessmentCycle.alliance_id, AssessmentCycle.id)
        .where(col(AssessmentCycle.alliance_id).in_(alliance_ids))
        .order_by(col(AssessmentCycle.alliance_id), col(AssessmentCycle.opens_on))
    ).all():
        cycles[alliance_id].append(cycle_id)
    with_pairs = set(
        session.execute(
            select(BuddyAssignment.alliance_id, BuddyAssignment.cycle_id)
            .distinct()
            .where(col(BuddyAssignment.alliance_id).in_(alliance_ids), col(BuddyAssignment.status).in_(OPEN_PAIRS))
        ).all()
    )
    return {
        alliance_id: [cycle_id for cycle_id in ids if (alliance_id, cycle_id) in with_pairs or cycle_id == ids[-1]]
        for alliance_id, ids in cycles.items()
    }


def refreshes_due(session: Session, run_id: int, alliance_ids: Optional[Iterable[int]] = None) -> list[tuple[int, int]]:
    """The (alliance, cycle) pairs whose buddying needs the run must refresh now: of the alliances whose
    decided results it changed (or of ``alliance_ids`` only), those with every self-assessment rescored,
    not yet refreshed."""
    decided = (
        select(RescoreItem.alliance_id)
        .distinct()
        .join(Assessment, Assessment.id == RescoreItem.assessment_id)
        .where(RescoreItem.run_id == run_id, Assessment.status == "decided")
    )
    unfinished = (
        select(RescoreItem.alliance_id)
        .distinct()
        .where(RescoreItem.run_id == run_id, col(RescoreItem.state).in_(UNFINISHED))
    )
    if alliance_ids is not None:
        decided = decided.where(col(RescoreItem.alliance_id).in_(list(alliance_ids)))
        unfinished = unfinished.where(col(RescoreItem.alliance_id).in_(list(alliance_ids)))
    finished = sorted(set(session.exec(decided).all()) - set(session.exec(unfinished).all()))
    if not finished:
        return []
    done = set(
        session.exec(
            select(RescoreRefresh.alliance_id, RescoreRefresh.cycle_id).where(RescoreRefresh.run_id == run_id)
        ).all()
    )
    cycles = _cycles_to_refresh(session, finished)
    return [
        (alliance_id, cycle_id)
        for alliance_id in finished
        for cycle_id in cycles[alliance_id]
        if (alliance_id, cycle_id) not in done
    ]


def refresh_alliances(
    session: Session, actor: Actor, run_id: int, due: list[tuple[int, int]], aheads: Optional[list[NeedsRefresh]] = None
) -> tuple[int, int]:
    """Refresh these (alliance, cycle) pairs' buddying needs for a run, each once, in one transaction (each
    alliance's refreshes take turns on its row, so two workers finishing it at once refresh it once): from
    refreshes worked out ahead (``aheads``, checked against the pairs as they are now), or worked out here.
    Returns (withdrawn, stored) in all."""
    if not due:
        return 0, 0
    _commit_without_waiting(session)
    alliance_ids = sorted({alliance_id for alliance_id, _ in due})
    session.exec(
        select(Alliance.id).where(col(Alliance.id).in_(alliance_ids)).order_by(col(Alliance.id)).with_for_update()
    ).all()
    done = set(
        session.exec(
            select(RescoreRefresh.alliance_id, RescoreRefresh.cycle_id).where(
                RescoreRefresh.run_id == run_id, col(RescoreRefresh.alliance_id).in_(alliance_ids)
            )
        ).all()
    )
    worked_out_here = aheads is None
    aheads = (
        plan_refreshes(session, [pair for pair in due if pair not in done])
        if worked_out_here
        else [ahead for ahead in aheads if (ahead.alliance_id, ahead.cycle_id) not in done]
    )
    if not aheads:
        return 0, 0
    set_id, version = session.exec(
        select(StandardsVersion.set_id, StandardsVersion.version)
        .join(RescoreRun, RescoreRun.to_version_id == StandardsVersion.id)
        .where(RescoreRun.id == run_id)
    ).one()
    counts = refresh_many(session, actor, aheads, f"rescored against {set_id} {version}", worked_out_here)
    session.add_all(
        [
            RescoreRefresh(
                run_id=run_id,
                alliance_id=ahead.alliance_id,
                cycle_id=ahead.cycle_id,
                withdrawn=withdrawn,
                stored=stored,
            )
            for ahead, (withdrawn, stored) in zip(aheads, counts)
        ]
    )
    return sum(withdrawn for withdrawn, _ in counts), sum(stored for _, stored in counts)


def close(session: Session, actor: Actor, run_id: int) -> bool:
    """Mark a run whose items are all done finished, once, with its audit event. False if it was already."""
    closed = session.execute(
        update(RescoreRun)
        .where(col(RescoreRun.id) == run_id, col(RescoreRun.status) == "running")
        .values(status="finished", finished_at=utcnow())
    )
    if closed.rowcount != 1:
        return False
    run = session.get(RescoreRun, run_id)
    withdrawn, stored = session.exec(
        select(
            func.coalesce(func.sum(RescoreRefresh.withdrawn), 0), func.coalesce(func.sum(RescoreRefresh.stored), 0)
        ).where(RescoreRefresh.run_id == run_id)
    ).one()
    audit(
        session,
        actor,
        "rescore.finished",
        run,
        after={"assessments": run.total, "buddy_proposals_withdrawn": withdrawn, "buddy_pairs_stored": stored},
    )
    return True


def report_lines(session: Session, run_id: int) -> tuple[list[dict], list[dict]]:
    """The report of a run: a line per assessment it moved, and the failures, in assessment order. The lines
    are read as text and parsed as one JSON array (one parse for ten thousand lines, not one each), and put
    in order here (the database sorted their megabytes on disk)."""
    rows = sorted(
        session.execute(
            select(RescoreItem.assessment_id, RescoreItem.state, cast(RescoreItem.change, Text)).where(
                RescoreItem.run_id == run_id, col(RescoreItem.state).in_(FINISHED)
            )
        ).all(),
        key=lambda row: row[0],
    )
    changes = json_value("[" + ",".join(change or "null" for _, _, change in rows) + "]")
    return (
        [change for (_, state, _), change in zip(rows, changes) if state == "done" and change],
        [change for (_, state, _), change in zip(rows, changes) if state == "failed" and change],
    )
