"""Every service that takes what a person typed refuses text that is not text, naming the field: a lone
surrogate, NUL or a control character anywhere; a line break or tab in a single-line field (a name, a region).
The command line prints names with what a terminal would act on escaped, and every CSV the product writes
makes a cell that starts as a formula text.

Issue 17 items 1 (surrogates at every way in), 4 (formula injection in ``cli.py rescore --report x.csv``) and 8
(control characters in names reached operators' terminals through ``cli.py buddy match``).
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable

import pytest
from sqlalchemy import update
from sqlmodel import select

from app import db
from app.csvfiles import safe_cell, write_csv
from app.models import AssessmentCycle, AuditEvent, BuddyAssignment, Organisation
from app.services import CLI, ServiceError, api_tokens, create_alliance, create_user, register_organisation, review
from app.services import plans as plan_service
from app.services.assessments import context
from app.services.buddying import pairs as buddying
from app.services.membership import change_membership_status
from app.services.scoring import current_result
from app.services.standards import register_text
from app.uploads import UploadStore
from tests.test_buddy_lifecycle import build_buddy_world
from tests.test_rescore import version_two
from tests.web.conftest import STANDARDS, build_world
from tests.web.reviewing import build_review_world

ROOT = Path(__file__).resolve().parent.parent
BAD = {
    "escape": ("a\x1b[2Jb", "the control character \\x1b"),
    "bell": ("ding\x07", "the control character \\x07"),
    "surrogate": ("lone \ud800", "\\ud800 (a lone surrogate"),
    "nul": ("a\x00b", "NUL characters"),
}


@pytest.fixture
def rw(database_url, tmp_path):
    return build_review_world(build_world(database_url), UploadStore(tmp_path / "uploads"))


def refused(url: str, call: Callable, field: str, words: str) -> None:
    """The call is refused naming the field, and stores nothing (not even an audit event)."""
    with db.session_scope(url) as session:
        events = len(session.exec(select(AuditEvent)).all())
    with pytest.raises(ServiceError) as caught, db.session_scope(url) as session:
        call(session)
    assert str(caught.value).startswith(f"{field}: ") and words in str(caught.value), str(caught.value)
    with db.session_scope(url) as session:
        assert len(session.exec(select(AuditEvent)).all()) == events


def lead_ways_in(rw) -> dict[str, tuple[str, Callable[[object, str], object]]]:
    """(field, call with the text) for each thing a lead writes about an assessment."""
    world, a = rw.world, rw.assessments["breach"]
    lead = world.actor("lead")

    def plan(session, value):
        ctx = context(session, a)
        gap = plan_service.gaps_of(ctx, current_result(session, a).result)[0].key
        fields = {
            "actions": "Audit monthly",
            "owner": "Ward manager",
            "progress": "in_progress",
            "due_on": dt.date.today() + dt.timedelta(days=90),
            "evidence": "",
        }
        return lambda field: plan_service.save_plan(session, lead, ctx, gap, {**fields, field: value})

    return {
        "comment": ("comment", lambda s, v: review.add_comment(s, lead, world.alliance_id, a, v, "C2.1")),
        "override reason": (
            "reason",
            lambda s, v: review.override(s, lead, world.alliance_id, a, "criterion", "C2.1", "1", v),
        ),
        "decision conditions": (
            "conditions",
            lambda s, v: review.decide(
                s,
                lead,
                world.alliance_id,
                a,
                "accredit_with_conditions",
                conditions=v,
                due_on=dt.date.today() + dt.timedelta(days=30),
            ),
        ),
        "decision notes": (
            "notes",
            lambda s, v: review.decide(s, lead, world.alliance_id, a, "working_towards", notes=v),
        ),
        "return note": ("note", lambda s, v: review.return_to_member(s, lead, world.alliance_id, a, v)),
        "plan actions": ("actions", lambda s, v: plan(s, v)("actions")),
        "plan evidence": ("evidence", lambda s, v: plan(s, v)("evidence")),
        "membership status reason": (
            "reason",
            lambda s, v: change_membership_status(s, CLI, rw.memberships["clean"], "withdrawn", v),
        ),
    }


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize(
    "way",
    [
        "comment",
        "override reason",
        "decision conditions",
        "decision notes",
        "return note",
        "plan actions",
        "plan evidence",
        "membership status reason",
    ],
)
def test_what_a_lead_writes_must_be_text(rw, way, bad):
    field, call = lead_ways_in(rw)[way]
    value, words = BAD[bad]
    refused(rw.world.url, lambda session: call(session, f"Please {value} review"), field, words)


def test_several_lines_are_still_text_where_text_may_take_them(rw):
    field, call = lead_ways_in(rw)["comment"]
    with db.session_scope(rw.world.url) as session:
        comment = call(session, "First, this.\r\nThen\tthat.")
    assert comment.body == "First, this.\r\nThen\tthat."


SINGLE_LINE = {
    "organisation name": (
        "name",
        lambda s, v: register_organisation(s, CLI, name=v, ods_code="RX1", org_type="acute", region="London"),
    ),
    "region": (
        "region",
        lambda s, v: register_organisation(s, CLI, name="A Trust", ods_code="RX1", org_type="acute", region=v),
    ),
    "user name": (
        "name",
        lambda s, v: create_user(s, CLI, email="new@nhs.test", name=v, role="admin", password="a long enough password"),
    ),
    "email": (
        "email",
        lambda s, v: create_user(
            s, CLI, email=f"new{v}@nhs.test", name="New", role="admin", password="a long enough password"
        ),
    ),
    "alliance name": ("name", lambda s, v: create_alliance(s, CLI, slug="new", name=v, standards_set="web-test")),
    "api token name": ("name", lambda s, v: api_tokens.create_token(s, CLI, name=v, organisation_id=1)),
    "standards file name": (
        "file name",
        lambda s, v: register_text(s, STANDARDS.read_text(encoding="utf-8"), f"{v}.yaml", CLI),
    ),
}


@pytest.mark.parametrize("bad", sorted(BAD) + ["line break", "tab"])
@pytest.mark.parametrize("way", sorted(SINGLE_LINE))
def test_a_single_line_field_takes_no_control_character(database_url, way, bad):
    world = build_world(database_url)
    value, words = {**BAD, "line break": ("one\ntwo", "must be on one line"), "tab": ("a\tb", "a tab")}[bad]
    field, call = SINGLE_LINE[way]
    refused(world.url, lambda session: call(session, f"North{value}East"), field, words)


@pytest.mark.parametrize("bad", sorted(BAD))
def test_a_buddying_reason_must_be_text(database_url, bad):
    bw = build_buddy_world(build_world(database_url))
    with db.session_scope(bw.world.url) as session:
        pair = session.exec(select(BuddyAssignment)).first()
    value, words = BAD[bad]
    refused(
        bw.world.url,
        lambda session: buddying.withdraw(
            session, bw.world.actor("lead"), pair.id, f"no {value}", alliance_id=bw.world.alliance_id
        ),
        "reason",
        words,
    )


# -- the command line prints names safely ----------------------------------------------------------------------


def test_buddy_match_prints_names_with_control_characters_escaped(database_url):
    bw = build_buddy_world(build_world(database_url))
    with db.session_scope(bw.world.url) as session:  # stored before names were checked, or by another program
        session.exec(
            update(Organisation)
            .where(Organisation.id == bw.organisations["m"])
            .values(name="Evil\x1b[2J\x1b]0;pwned\x07 Trust")
        )
        session.exec(
            update(Organisation).where(Organisation.id == bw.organisations["x"]).values(name="Bidi \u202eexe.fdp Trust")
        )
        for pair in session.exec(select(BuddyAssignment)).all():
            session.delete(pair)  # proposed again by the match below, names and all
        cycle = session.get(AssessmentCycle, bw.world.cycle_id).name
    done = subprocess.run(
        [sys.executable, "cli.py", "buddy", "match", "--alliance", "web-test", "--cycle", cycle],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": bw.world.url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "\x1b" not in done.stdout and "\x07" not in done.stdout and "\u202e" not in done.stdout
    assert "Evil\\x1b[2J\\x1b]0;pwned\\x07 Trust" in done.stdout and "Bidi \\u202eexe.fdp Trust" in done.stdout


# -- CSV files -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, cell",
    [
        ('=HYPERLINK("https://evil.test","Open")', '\'=HYPERLINK("https://evil.test","Open")'),
        ("+1+cmd|' /C calc'!A0", "'+1+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Dartford and Gravesham", "Dartford and Gravesham"),
        (-5, -5),
        (0.5, 0.5),
        (None, ""),
    ],
)
def test_a_cell_that_starts_as_a_formula_is_written_as_text(value, cell):
    assert safe_cell(value) == cell


def test_the_rescore_report_writes_formulas_in_names_as_text(database_url, tmp_path):
    world = build_world(database_url)
    version_two(tmp_path / "web-test-2026.2.yaml", url=world.url)
    with db.session_scope(world.url) as session:
        session.exec(
            update(Organisation)
            .where(Organisation.id == world.organisations["a"])
            .values(name='=HYPERLINK("https://evil.test","Open")')
        )
        session.exec(
            update(Organisation)
            .where(Organisation.id == world.organisations["b"])
            .values(name="@SUM(1+1)*cmd|' /C calc'!A0")
        )
    report = tmp_path / "report.csv"
    done = subprocess.run(
        [
            sys.executable,
            "cli.py",
            "rescore",
            "--set",
            "web-test",
            "--to-version",
            "2026.2",
            "--quiet",
            "--report",
            str(report),
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": world.url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    with report.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    names = {row["organisation"] for row in rows}
    assert names == {'\'=HYPERLINK("https://evil.test","Open")', "'@SUM(1+1)*cmd|' /C calc'!A0"}
    assert not any(cell.startswith(("=", "+", "@")) for row in rows for cell in row.values())


def test_write_csv_makes_every_cell_safe(tmp_path):
    path = tmp_path / "out.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        write_csv(handle, ["name", "score"], [["=1+1", -1], ["plain", 2]])
    assert path.read_bytes() == b"name,score\r\n'=1+1,-1\r\nplain,2\r\n"
