"""Alembic migrations against the test database (SQLite, or PostgreSQL via TEST_DATABASE_URL), and the
guard that stops the CLI on a schema that is not this code's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from click.testing import CliRunner
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

import app.models  # noqa: F401  (registers every table)
import cli
from app import db

ROOT = Path(__file__).resolve().parent.parent


def schema_diff(url: str) -> list:
    with db.get_engine(url).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "compare_server_default": True})
        return compare_metadata(context, SQLModel.metadata)


def test_one_linear_history_ending_at_head():
    scripts = ScriptDirectory.from_config(db._alembic_config(db.database_url()))
    assert len(scripts.get_heads()) == 1
    revisions = list(scripts.walk_revisions())
    assert [r.revision for r in reversed(revisions)] == [f"{n:04d}" for n in range(1, 16)] + ["0017", "0018", "0019", "0023"]
    assert db.head_revision() == "0023" == db._head_of_scripts()  # the guard's quick reading agrees


def test_upgrade_from_empty_to_head_matches_the_models(empty_database_url):
    assert db.current_revision(empty_database_url) is None
    db.upgrade(empty_database_url)
    assert db.current_revision(empty_database_url) == db.head_revision()
    tables = set(inspect(db.get_engine(empty_database_url)).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert schema_diff(empty_database_url) == []


def test_the_per_test_database_is_at_head_and_matches_the_models(database_url):
    assert db.current_revision(database_url) == db.head_revision()
    assert schema_diff(database_url) == []


def test_upgrade_keeps_data_and_downgrade_returns_to_empty(empty_database_url):
    db.upgrade(empty_database_url, "0001")
    with db.get_engine(empty_database_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO alliance (slug, name, standards_set, at_risk_on_major_breach, suspension_after_cycles, "
                "max_buddy_mentees, created_at) VALUES ('noa', 'NOA', 'noa-orthopaedics', true, 2, 3, "
                "'2026-01-01 00:00:00+00:00')"
            )
        )
    db.upgrade(empty_database_url)
    with db.get_engine(empty_database_url).connect() as connection:
        assert connection.execute(text("SELECT slug FROM alliance")).scalars().all() == ["noa"]
        columns = {c["name"] for c in inspect(connection).get_columns("evidence")}
    assert "sha256" in columns
    db.downgrade(empty_database_url, "base")
    remaining = set(inspect(db.get_engine(empty_database_url)).get_table_names())
    assert remaining <= {"alembic_version"}
    db.upgrade(empty_database_url)
    assert schema_diff(empty_database_url) == []


def _results_at_0006(url: str, results: list[tuple[dict, bool]]) -> None:
    """An assessment with stored results (document, current or not), written as revision 0006 stored them."""
    when = "'2026-01-01 00:00:00+00:00'"
    statements = [
        "INSERT INTO organisation (id, name, ods_code, org_type, region, created_at) "
        f"VALUES (1, 'Trust', 'RXX', 'acute', 'London', {when})",
        "INSERT INTO alliance (id, slug, name, standards_set, at_risk_on_major_breach, suspension_after_cycles, "
        f"max_buddy_mentees, created_at) VALUES (1, 'noa', 'NOA', 'noa', true, 2, 3, {when})",
        "INSERT INTO membership (id, organisation_id, alliance_id, route, status, suspension_recommended, "
        f"created_at) VALUES (1, 1, 1, 'full', 'member', false, {when})",
        "INSERT INTO assessmentcycle (id, alliance_id, name, opens_on, closes_on) "
        "VALUES (1, 1, '2026/27', '2026-04-01', '2027-03-31')",
        "INSERT INTO standardsversion (id, set_id, version, title, content_hash, source_name, source_text, "
        f"effective_from, state, created_at) VALUES (1, 'noa', '1', 'NOA', 'h', 'noa.yaml', '', '2026-01-01', "
        f"'published', {when})",
        "INSERT INTO assessment (id, membership_id, cycle_id, standards_version_id, status, created_at) "
        f"VALUES (1, 1, 1, 1, 'decided', {when})",
    ]
    with db.get_engine(url).begin() as connection:
        for statement in statements:
            connection.execute(text(statement))
        for result, is_current in results:
            connection.execute(
                text(
                    "INSERT INTO assessmentresult (assessment_id, standards_version_id, standards_hash, result, overall, "
                    f"rating, outcome, is_current, computed_at) VALUES (1, 1, 'h', :result, 62.5, 'good', 'accredited', "
                    f":current, {when})"
                ),
                {"result": json.dumps(result), "current": is_current},
            )
        connection.execute(
            text(  # a breach refers to the first result: rebuilding the table must keep it valid
                "INSERT INTO breach (result_id, assessment_id, criterion_id, standard_id, value, target, direction, "
                "severity) SELECT MIN(id), 1, 'S2.1', 'S2', 70, 85, 'higher', 'major' FROM assessmentresult"
            )
        )


def test_upgrade_to_0007_gives_stored_results_their_headline(empty_database_url):
    result = {
        "overall": 62.5,
        "outcome": "accredited",
        "support_needs": ["S2"],
        "criteria": {"S1.1": {}},
        "standard_results": {"S1": {"score": 100.0, "status": "met"}, "S2": {"score": 40.0, "status": "not_met"}},
        "breaches": [
            {
                "criterion": "S2.1",
                "standard": "S2",
                "value": 70,
                "target": 85,
                "direction": "higher",
                "severity": "major",
            }
        ],
    }
    db.upgrade(empty_database_url, "0006")
    _results_at_0006(empty_database_url, [(result, True), (result, False)])  # the current one and an earlier one
    db.upgrade(empty_database_url)
    with db.get_engine(empty_database_url).connect() as connection:
        rows = connection.execute(
            text("SELECT is_current, overall, outcome, headline, result FROM assessmentresult ORDER BY id")
        ).all()
        columns = [c["name"] for c in inspect(connection).get_columns("assessmentresult")]
    assert [(bool(r[0]), r[1], r[2]) for r in rows] == [(True, 62.5, "accredited"), (False, 62.5, "accredited")]
    headline = rows[0][3] if isinstance(rows[0][3], dict) else json.loads(rows[0][3])
    assert headline == {
        "standard_results": result["standard_results"],
        "support_needs": ["S2"],
        "breaches": [{"criterion": "S2.1", "standard": "S2", "severity": "major"}],
    }
    assert (rows[0][4] if isinstance(rows[0][4], dict) else json.loads(rows[0][4])) == result
    if empty_database_url.startswith("sqlite"):  # SQLite reads columns in order: the document comes last
        assert columns[-2:] == ["headline", "result"]
    assert schema_diff(empty_database_url) == []


def test_0007_downgrades_with_its_data_and_upgrades_again(empty_database_url):
    result = {"standard_results": {"S1": {"score": 100.0, "status": "met"}}, "breaches": [], "support_needs": []}
    db.upgrade(empty_database_url, "0006")
    _results_at_0006(empty_database_url, [(result, True)])
    db.upgrade(empty_database_url)
    db.downgrade(empty_database_url, "0006")  # rebuilds the table that breaches and overrides refer to
    assert db.current_revision(empty_database_url) == "0006"
    with db.get_engine(empty_database_url).connect() as connection:
        stored = connection.execute(text("SELECT result FROM assessmentresult")).scalar()
        assert "headline" not in {c["name"] for c in inspect(connection).get_columns("assessmentresult")}
    assert (stored if isinstance(stored, dict) else json.loads(stored)) == result
    db.upgrade(empty_database_url)
    assert schema_diff(empty_database_url) == []


def test_one_current_result_per_assessment_is_enforced(empty_database_url):
    db.upgrade(empty_database_url, "0006")
    _results_at_0006(empty_database_url, [({"standard_results": {}, "breaches": []}, True)])
    db.upgrade(empty_database_url)
    second = text(
        "INSERT INTO assessmentresult (assessment_id, standards_version_id, standards_hash, result, "
        "headline, overall, rating, outcome, is_current, computed_at) VALUES (1, 1, 'h', '{}', '{}', 1, "
        "'good', 'accredited', :current, '2026-01-02 00:00:00+00:00')"
    )
    with db.get_engine(empty_database_url).begin() as connection:
        connection.execute(second, {"current": False})  # history is fine
    with pytest.raises(IntegrityError):
        with db.get_engine(empty_database_url).begin() as connection:
            connection.execute(second, {"current": True})


def test_a_breach_names_its_results_assessment_and_0008_downgrades_with_its_data(empty_database_url):
    db.upgrade(empty_database_url, "0006")
    _results_at_0006(empty_database_url, [({"standard_results": {}, "breaches": []}, True)])  # and one breach
    db.upgrade(empty_database_url, "0009")
    with db.get_engine(empty_database_url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO assessmentcycle (id, alliance_id, name, opens_on, closes_on) "
                "VALUES (2, 1, '2027/28', '2027-04-01', '2028-03-31')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assessment (id, membership_id, cycle_id, standards_version_id, status, "
                "created_at) VALUES (2, 1, 2, 1, 'draft', '2026-01-02 00:00:00+00:00')"
            )
        )
    breach = text(
        "INSERT INTO breach (result_id, assessment_id, criterion_id, standard_id, value, target, direction, "
        "severity) SELECT MIN(id), :assessment, 'S2.2', 'S2', 70, 85, 'higher', 'minor' FROM assessmentresult"
    )
    with pytest.raises(IntegrityError):  # the result is assessment 1's
        with db.get_engine(empty_database_url).begin() as connection:
            connection.execute(breach, {"assessment": 2})
    with db.get_engine(empty_database_url).begin() as connection:
        connection.execute(breach, {"assessment": 1})
    db.downgrade(empty_database_url, "0007")
    db.upgrade(empty_database_url)
    with db.get_engine(empty_database_url).connect() as connection:
        kept = connection.execute(text("SELECT criterion_id, assessment_id FROM breach ORDER BY id")).all()
    assert [tuple(row) for row in kept] == [("S2.1", 1), ("S2.2", 1)]
    assert schema_diff(empty_database_url) == []


def test_0010_drops_the_breach_key_keeping_breaches_and_downgrades_to_it(empty_database_url):
    def keys() -> list:
        with db.get_engine(empty_database_url).connect() as connection:
            return [(fk["name"], fk["constrained_columns"]) for fk in inspect(connection).get_foreign_keys("breach")]

    db.upgrade(empty_database_url, "0006")
    _results_at_0006(empty_database_url, [({"standard_results": {}, "breaches": []}, True)])  # and one breach
    db.upgrade(empty_database_url, "0009")
    assert keys() == [("fk_breach_result_assessment", ["result_id", "assessment_id"])]
    db.upgrade(empty_database_url, "0010")
    assert keys() == []
    with db.get_engine(empty_database_url).connect() as connection:
        assert [tuple(r) for r in connection.execute(text("SELECT criterion_id, assessment_id FROM breach"))] == [
            ("S2.1", 1)
        ]
    db.downgrade(empty_database_url, "0009")
    assert keys() == [("fk_breach_result_assessment", ["result_id", "assessment_id"])]
    with pytest.raises(IntegrityError):  # the key is back and checks again
        with db.get_engine(empty_database_url).begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO breach (result_id, assessment_id, criterion_id, standard_id, value, "
                    "target, direction, severity) VALUES (999, 1, 'S2.2', 'S2', 1, 2, 'higher', "
                    "'minor')"
                )
            )
    db.upgrade(empty_database_url)
    assert schema_diff(empty_database_url) == []


def test_0009_indexes_rescore_items_by_run_and_alliance_whose_copy_is_no_key_and_downgrades(empty_database_url):
    def indexes() -> set[str]:
        with db.get_engine(empty_database_url).connect() as connection:
            return {index["name"] for index in inspect(connection).get_indexes("rescoreitem")}

    def keyed() -> list[str]:
        with db.get_engine(empty_database_url).connect() as connection:
            return sorted(fk["referred_table"] for fk in inspect(connection).get_foreign_keys("rescoreitem"))

    db.upgrade(empty_database_url)
    assert {"ix_rescoreitem_run_state", "ix_rescoreitem_run_alliance"} <= indexes()
    assert keyed() == ["assessment", "rescorerun"]
    db.downgrade(empty_database_url, "0008")
    assert "ix_rescoreitem_run_alliance" not in indexes() and "ix_rescoreitem_run_state" in indexes()
    assert keyed() == ["alliance", "assessment", "rescorerun"]
    db.upgrade(empty_database_url)
    assert schema_diff(empty_database_url) == []


def test_0011_adds_sessions_and_keeps_users_at_generation_0_and_downgrades(empty_database_url):
    db.upgrade(empty_database_url, "0010")
    with db.get_engine(empty_database_url).begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user" (email, name, password_hash, role, active, created_at) VALUES '
                "('admin@nhs.test', 'Admin', 'scrypt:x', 'admin', true, '2026-01-01 00:00:00+00:00')"
            )
        )
    db.upgrade(empty_database_url)
    with db.get_engine(empty_database_url).connect() as connection:
        assert [tuple(r) for r in connection.execute(text('SELECT email, session_generation FROM "user"'))] == [
            ("admin@nhs.test", 0)
        ]
        assert "websession" in inspect(connection).get_table_names()
    db.downgrade(empty_database_url, "0010")
    with db.get_engine(empty_database_url).connect() as connection:
        assert "websession" not in inspect(connection).get_table_names()
        assert connection.execute(text('SELECT email FROM "user"')).scalars().all() == ["admin@nhs.test"]
    db.upgrade(empty_database_url)
    assert schema_diff(empty_database_url) == []


def _breach_keys(url: str) -> list:
    with db.get_engine(url).connect() as connection:
        return [
            (fk["name"], fk["constrained_columns"], fk["referred_table"], (fk.get("options") or {}).get("ondelete"))
            for fk in inspect(connection).get_foreign_keys("breach")
        ]


BREACH = (
    "INSERT INTO breach (result_id, assessment_id, criterion_id, standard_id, value, target, direction, "
    "severity) VALUES (:result, :assessment, :criterion, 'S2', 70, 85, 'higher', 'minor')"
)


def test_0012_gives_breaches_a_key_to_their_result_dropping_orphans_and_downgrades(empty_database_url):
    url = empty_database_url
    db.upgrade(url, "0006")
    _results_at_0006(url, [({"standard_results": {}, "breaches": []}, True)])  # and breach S2.1 of result 1
    db.upgrade(url, "0010")
    with db.get_engine(url).begin() as connection:  # without a key, a breach can name a result that is gone
        connection.execute(text(BREACH), {"result": 999, "assessment": 1, "criterion": "S9.9"})
    db.upgrade(url)
    assert _breach_keys(url) == [("fk_breach_result", ["result_id"], "assessmentresult", "CASCADE")]
    with db.get_engine(url).connect() as connection:  # the orphan is gone, the result's breach kept
        assert connection.execute(text("SELECT criterion_id FROM breach")).scalars().all() == ["S2.1"]
    with pytest.raises(IntegrityError):
        with db.get_engine(url).begin() as connection:
            connection.execute(text(BREACH), {"result": 999, "assessment": 1, "criterion": "S9.9"})
    with db.get_engine(url).begin() as connection:  # a deleted result takes its breaches with it
        connection.execute(text(BREACH), {"result": 1, "assessment": 1, "criterion": "S2.2"})
        connection.execute(text("DELETE FROM assessmentresult"))
        assert connection.execute(text("SELECT count(*) FROM breach")).scalar() == 0
    db.downgrade(url, "0010")
    assert _breach_keys(url) == []
    with db.get_engine(url).begin() as connection:
        connection.execute(text(BREACH), {"result": 999, "assessment": 1, "criterion": "S9.9"})
    db.upgrade(url)
    assert schema_diff(url) == []


def test_0013_names_who_registered_each_version_from_the_audit_log_and_downgrades(empty_database_url):
    url = empty_database_url
    db.upgrade(url, "0006")
    _results_at_0006(url, [({"standard_results": {}, "breaches": []}, True)])  # version 1, registered by the CLI
    db.upgrade(url, "0012")
    when = "'2026-01-01 00:00:00+00:00'"
    with db.get_engine(url).begin() as connection:
        connection.execute(
            text(
                'INSERT INTO "user" (id, email, name, password_hash, role, alliance_id, active, '
                f"created_at, session_generation) VALUES (5, 'lead@noa.test', 'Lead', 'x', 'lead', 1, "
                f"true, {when}, 0)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO standardsversion (id, set_id, version, title, content_hash, source_name, source_text, "
                f"effective_from, state, created_at) VALUES (2, 'noa', '2', 'NOA', 'h2', 'noa.yaml', '', '2026-01-01', "
                f"'draft', {when})"
            )
        )
        connection.execute(
            text(
                "INSERT INTO auditevent (occurred_at, actor_id, actor, action, entity_type, entity_id) VALUES "
                f"({when}, 5, 'lead@noa.test', 'standards.registered', 'standardsversion', 2), "
                f"({when}, NULL, 'cli', 'standards.registered', 'standardsversion', 1)"
            )
        )
    db.upgrade(url)
    with db.get_engine(url).connect() as connection:
        assert [
            tuple(r) for r in connection.execute(text("SELECT id, created_by FROM standardsversion ORDER BY id"))
        ] == [(1, None), (2, 5)]
    db.downgrade(url, "0012")
    with db.get_engine(url).connect() as connection:
        assert "created_by" not in {c["name"] for c in inspect(connection).get_columns("standardsversion")}
        assert connection.execute(text("SELECT count(*) FROM standardsversion")).scalar() == 2
    db.upgrade(url)
    assert schema_diff(url) == []


def test_db_status_reports_rows_whose_copied_keys_name_no_row_or_the_wrong_one(empty_database_url, monkeypatch):
    url = empty_database_url
    db.upgrade(url, "0006")
    _results_at_0006(url, [({"standard_results": {}, "breaches": []}, True)])
    db.upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    runner = CliRunner()
    clean = runner.invoke(cli.main, ["db", "status"])
    assert clean.exit_code == 0, clean.output
    assert "no orphaned rows in the tables whose keys are copies (breach, rescoreitem)" in clean.output
    with db.get_engine(url).begin() as connection:
        connection.execute(
            text(
                "INSERT INTO assessmentcycle (id, alliance_id, name, opens_on, closes_on) "
                "VALUES (2, 1, '2027/28', '2027-04-01', '2028-03-31')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assessment (id, membership_id, cycle_id, standards_version_id, status, "
                "created_at) VALUES (2, 1, 2, 1, 'draft', '2026-01-02 00:00:00+00:00')"
            )
        )
        connection.execute(text(BREACH), {"result": 1, "assessment": 2, "criterion": "S2.2"})  # not its result's
        connection.execute(
            text(
                "INSERT INTO rescorerun (id, set_id, to_version_id, status, total, started_by, "
                "created_at) VALUES (1, 'noa', 1, 'running', 2, 'cli', '2026-01-02 00:00:00+00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO rescoreitem (run_id, assessment_id, alliance_id, state) "
                "VALUES (1, 1, 77, 'pending'), (1, 2, 1, 'pending')"
            )
        )
    found = runner.invoke(cli.main, ["db", "status"])
    assert found.exit_code == 1
    assert "error: 1 breach row(s) whose assessment is not their result's (breach.assessment_id)" in found.output
    assert "error: 1 rescoreitem row(s) whose alliance does not exist (rescoreitem.alliance_id)" in found.output
    assert "error: 1 rescoreitem row(s) whose alliance is not their assessment's" in found.output
    assert "result does not exist" not in found.output


# --- the guard ---------------------------------------------------------------------------------------


def run_cli(*args: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, str(ROOT / "cli.py"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )


def test_cli_refuses_a_database_without_schema_and_names_the_command(empty_database_url):
    done = run_cli("demo", "load", url=empty_database_url)
    assert done.returncode == 1 and done.stdout == ""
    assert "has no schema yet: run `python cli.py db upgrade` first" in done.stderr
    assert "Traceback" not in done.stderr
    assert db.current_revision(empty_database_url) is None  # nothing was created behind the user's back


def test_cli_refuses_an_out_of_date_schema_until_upgraded(empty_database_url, monkeypatch):
    db.upgrade(empty_database_url, "0001")
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    runner = CliRunner()
    for command in (["demo", "load"], ["db", "status"]):
        refused = runner.invoke(cli.main, command)
        assert refused.exit_code == 1
        assert (
            f"out of date (at 0001, this code needs {db.head_revision()}): run `python cli.py db upgrade`"
            in refused.output
        )
    upgraded = runner.invoke(cli.main, ["db", "upgrade"])
    assert upgraded.exit_code == 0 and f"upgraded from 0001 to revision {db.head_revision()}" in upgraded.output
    status = runner.invoke(cli.main, ["db", "status"])
    assert status.exit_code == 0 and "up to date" in status.output


def test_db_upgrade_on_a_fresh_machine_creates_the_default_sqlite_file(tmp_path, monkeypatch):
    assert db.DEFAULT_URL == f"sqlite:///{ROOT / 'instance' / 'alliance.db'}"
    target = tmp_path / "checkout" / "instance" / "alliance.db"
    monkeypatch.setattr(db, "DEFAULT_URL", f"sqlite:///{target}")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    try:
        done = CliRunner().invoke(cli.main, ["db", "upgrade"])
        assert done.exit_code == 0, done.output
        assert target.is_file() and db.current_revision() == db.head_revision()
    finally:
        db.dispose_engine(f"sqlite:///{target}")


def test_unknown_revision_is_reported_as_newer_code(empty_database_url):
    db.upgrade(empty_database_url)
    with db.get_engine(empty_database_url).begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(db.SchemaOutOfDate, match="at schema revision 0099, which this code does not know"):
        db.check_schema(empty_database_url)
