"""The database failing in the middle of a request: the member gets the NHS.UK "service unavailable" page
(JSON on /api/) with status 503 and no stack trace, the failure is logged, and what was saved before stays
saved; nothing half-written is kept.

The failures are the database driver's own errors: raised where the driver would raise them (a statement,
the commit), or real ones from a database server that does not answer.
"""

from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import Engine

from app import db
from app.models import AssessmentResult, AuditEvent
from app.services import CLI, add_evidence, answers_of, save_answers

from .conftest import COMPLETE_ANSWERS, attestation, signed_in, text

FIRST = {"c-C1-1": "yes", "c-C1-3": "2", "c-C2-1": "82.5", "action": "save"}
FIRST_STORED = {"C1.1": "yes", "C1.3": 2, "C2.1": 82.5}
SECOND = {"c-C1-1": "no", "c-C1-3": "3", "c-C2-1": "91", "c-C4-1": "yes", "action": "save"}
LEAKS = (
    "Traceback",
    "OperationalError",
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "INSERT INTO",
    "SELECT ",
    "server closed",
    'File "',
)


class Outage:
    """Makes the driver of one engine fail, as a database that has gone away does, while switched on."""

    def __init__(self, engine: Engine, monkeypatch: pytest.MonkeyPatch):
        self.engine = engine
        self.monkeypatch = monkeypatch
        self.failures = 0

    def error(self) -> Exception:
        dbapi = self.engine.dialect.loaded_dbapi
        return dbapi.OperationalError("server closed the connection unexpectedly")

    @contextmanager
    def statements(self, matching: str = "") -> Iterator[Outage]:
        """Every statement whose SQL contains ``matching`` (every statement when empty) fails."""
        pattern = re.compile(matching, re.IGNORECASE)

        def fail(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
            if pattern.search(statement):
                self.failures += 1
                raise self.error()

        event.listen(self.engine, "before_cursor_execute", fail)
        try:
            yield self
        finally:
            event.remove(self.engine, "before_cursor_execute", fail)

    @contextmanager
    def commits_after(self, matching: str) -> Iterator[Outage]:
        """The commit of a transaction that ran a statement containing ``matching`` fails."""
        pattern = re.compile(matching, re.IGNORECASE)
        dialect = self.engine.dialect
        real_commit = dialect.do_commit

        def mark(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
            if pattern.search(statement):
                conn.info["doomed"] = True

        def commit(dbapi_connection) -> None:  # noqa: ANN001
            if dbapi_connection.info.pop("doomed", False):
                self.failures += 1
                raise self.error()
            real_commit(dbapi_connection)

        def forget(conn) -> None:  # noqa: ANN001
            conn.info.pop("doomed", None)

        event.listen(self.engine, "before_cursor_execute", mark)
        event.listen(self.engine, "rollback", forget)
        self.monkeypatch.setattr(dialect, "do_commit", commit)
        try:
            yield self
        finally:
            self.monkeypatch.setattr(dialect, "do_commit", real_commit)
            event.remove(self.engine, "before_cursor_execute", mark)
            event.remove(self.engine, "rollback", forget)


@pytest.fixture
def outage(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Outage:
    return Outage(db.get_engine(database_url), monkeypatch)


@pytest.fixture
def member(app, world):
    return signed_in(app, world, "member_a")


def domain_url(world, domain="care"):
    return f"/member/assessments/{world.assessments['a']}/domains/{domain}"


def stored(world) -> dict:
    with db.session_scope(world.url) as session:
        return answers_of(session, world.assessments["a"])


def audited(world, action: str) -> int:
    with db.session_scope(world.url) as session:
        return session.execute(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        ).scalar_one()


def assert_unavailable_page(response, posted: bool) -> str:
    assert response.status_code == 503
    assert response.mimetype == "text/html"
    assert response.headers["Retry-After"].isdigit()
    body = " ".join(text(response).split())
    assert "<title>Sorry, the service is unavailable" in body
    assert "nhsuk-header" in body and "nhsuk-footer" in body and "Error code 503." in body
    assert "The service is temporarily unavailable. Your earlier saved answers are safe. Try again" in body
    assert ("What you sent from this page has not been saved" in body) is posted
    for leak in LEAKS:
        assert leak not in body, leak
    return body


def test_a_save_failing_on_its_statement_gets_the_unavailable_page_and_keeps_the_earlier_answers(
    member, world, outage, caplog
):
    assert member.post(domain_url(world), FIRST).status_code == 302
    assert stored(world) == FIRST_STORED
    caplog.set_level(logging.ERROR, logger="app")
    with outage.statements(r"^\s*INSERT INTO answer\b"):
        response = member.post(domain_url(world), SECOND)
    assert outage.failures == 1
    assert_unavailable_page(response, posted=True)
    assert stored(world) == FIRST_STORED
    assert audited(world, "answers.saved") == 1
    # Logged for the operators, with the driver's error and where it happened.
    logged = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(logged) == 1
    assert f"POST {domain_url(world)}" in logged[0].getMessage()
    assert logged[0].exc_info and "server closed the connection" in str(logged[0].exc_info[1])
    # The database is back: the same save goes through.
    assert member.post(domain_url(world), SECOND).status_code == 302
    assert stored(world) == {"C1.1": "no", "C1.3": 3, "C2.1": 91, "C4.1": "yes"}


def test_a_save_whose_commit_fails_keeps_nothing_of_it_and_everything_from_before(member, world, outage):
    assert member.post(domain_url(world), FIRST).status_code == 302
    with outage.commits_after(r"^\s*INSERT INTO answer\b"):
        response = member.post(domain_url(world), SECOND)
    assert outage.failures == 1
    assert_unavailable_page(response, posted=True)
    assert stored(world) == FIRST_STORED
    assert audited(world, "answers.saved") == 1
    assert member.get(domain_url(world)).status_code == 200


def test_a_submission_whose_commit_fails_is_not_half_made_and_can_be_made_again(member, world, outage):
    assessment_id = world.assessments["a"]
    with db.session_scope(world.url) as session:
        assert save_answers(session, CLI, assessment_id, COMPLETE_ANSWERS).ok
        add_evidence(session, CLI, assessment_id, "C1.1", kind="link", url="https://example.nhs.uk/plan")
    # The transaction that stores the result (its new rows go by COPY on PostgreSQL, out of the engine's sight).
    with outage.commits_after(r"^\s*UPDATE assessmentresult\b"):
        response = member.post(f"/member/assessments/{assessment_id}/submit", attestation())
    assert outage.failures == 1
    assert_unavailable_page(response, posted=True)
    with db.session_scope(world.url) as session:
        assert session.execute(select(func.count()).select_from(AssessmentResult)).scalar_one() == 0
        assert answers_of(session, assessment_id) == COMPLETE_ANSWERS
    assert audited(world, "assessment.submitted") == 0
    again = member.post(f"/member/assessments/{assessment_id}/submit", attestation())
    assert again.status_code == 302 and again.headers["Location"].endswith("/result")
    assert audited(world, "assessment.submitted") == 1 and audited(world, "result.stored") == 1


@pytest.mark.parametrize(
    "path",
    ["/member/", "/member/assessments/{a}", "/member/assessments/{a}/domains/care", "/member/assessments/{a}/result"],
)
def test_member_pages_while_the_database_is_down(member, world, outage, path):
    with outage.statements():
        response = member.get(path.format(a=world.assessments["a"]))
    assert outage.failures >= 1
    assert_unavailable_page(response, posted=False)


def test_signing_in_while_the_database_is_down(app, world, outage):
    person = signed_in(app, world, "lead")
    person.logout()
    token = person.token()
    with outage.statements():
        response = person.post(
            "/login", {"email": world.emails["lead"], "password": "whatever it is", "csrf_token": token}
        )
    assert_unavailable_page(response, posted=True)


def test_the_api_answers_json_503_while_the_database_is_down(member, world, outage):
    with outage.statements():
        for path in (f"/api/assessments/{world.assessments['a']}/result", "/api/"):
            response = member.get(path)
            assert response.status_code == 503, path
            assert response.get_json() == {"error": "service temporarily unavailable", "status": 503}
            assert response.headers["Retry-After"].isdigit()
    assert member.get("/api/").status_code == 200


def _gone_url(backend: str, tmp_path: Path) -> str:
    if backend == "postgresql":
        return "postgresql://postgres@127.0.0.1:1/gone"  # nothing listens on port 1: connection refused
    gone = tmp_path / "not-a-database"
    gone.mkdir()
    return f"sqlite:///{gone}"  # a directory: the driver cannot open it


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_database_server_that_has_gone_away(app, member, world, tmp_path, backend, caplog):
    """Not a simulated error: the driver really cannot reach the database the application points at."""
    assert member.post(domain_url(world), FIRST).status_code == 302
    live = app.config["DATABASE_URL"]
    gone = _gone_url(backend, tmp_path)
    app.config["DATABASE_URL"] = gone
    caplog.set_level(logging.ERROR, logger="app")
    try:
        saved = member.post(domain_url(world), SECOND)
        page = member.get(domain_url(world))
        api = member.get(f"/api/assessments/{world.assessments['a']}/result")
    finally:
        app.config["DATABASE_URL"] = live
        db.dispose_engine(gone)
    assert_unavailable_page(saved, posted=True)
    assert_unavailable_page(page, posted=False)
    assert api.status_code == 503 and api.get_json()["status"] == 503
    assert any(r.exc_info and "OperationalError" in type(r.exc_info[1]).__name__ for r in caplog.records)
    assert stored(world) == FIRST_STORED
    assert member.get(domain_url(world)).status_code == 200


def test_a_connection_killed_by_the_server_mid_request(member, world, database_url):
    """PostgreSQL only: the server ends this request's own connection between two of its statements."""
    if not database_url.startswith("postgresql"):
        pytest.skip("needs a database server that can end a client's connection")
    engine = db.get_engine(database_url)
    killed: list[Optional[int]] = []

    def kill_own_backend(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if not killed and re.match(r"\s*INSERT INTO answer\b", statement, re.IGNORECASE):
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
            with db.get_engine(database_url).connect() as other:
                other.exec_driver_sql(f"SELECT pg_terminate_backend({int(pid)})")
            killed.append(pid)

    assert member.post(domain_url(world), FIRST).status_code == 302
    event.listen(engine, "before_cursor_execute", kill_own_backend)
    try:
        response = member.post(domain_url(world), SECOND)
    finally:
        event.remove(engine, "before_cursor_execute", kill_own_backend)
    assert killed
    assert_unavailable_page(response, posted=True)
    assert stored(world) == FIRST_STORED
    assert member.post(domain_url(world), SECOND).status_code == 302
    assert stored(world)["C4.1"] == "yes"


# --- several browsers at once ---------------------------------------------------------------------


def _at_once(calls):
    """Run the calls in threads released together; each returns a response."""
    barrier = threading.Barrier(len(calls))
    responses: list = [None] * len(calls)
    errors: list[BaseException] = []

    def run(index, call):
        try:
            barrier.wait(timeout=30)
            responses[index] = call()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors and all(r is not None for r in responses), errors
    return responses


def test_the_same_assessment_submitted_from_several_browsers_at_once_is_scored_once(app, world):
    assessment_id = world.assessments["a"]
    with db.session_scope(world.url) as session:
        assert save_answers(session, CLI, assessment_id, COMPLETE_ANSWERS).ok
        add_evidence(session, CLI, assessment_id, "C1.1", kind="link", url="https://example.nhs.uk/plan")
    browsers = [signed_in(app, world, "member_a") for _ in range(5)]
    for browser in browsers:
        browser.token()
    url = f"/member/assessments/{assessment_id}/submit"
    responses = _at_once([lambda b=b: b.post(url, attestation()) for b in browsers])
    accepted = [r for r in responses if r.status_code == 302]
    refused = [r for r in responses if r.status_code == 409]
    assert len(accepted) == 1 and len(refused) == 4, [r.status_code for r in responses]
    assert accepted[0].headers["Location"].endswith(f"/member/assessments/{assessment_id}/result")
    for response in refused:
        body = " ".join(text(response).split())
        assert "Sorry, that cannot be done" in body and "nhsuk-header" in body
        assert re.search(r"only a draft can be changed|has just been submitted by someone else", body), body
        assert "Traceback" not in body
    with db.session_scope(world.url) as session:
        results = (
            session.execute(select(AssessmentResult).where(AssessmentResult.assessment_id == assessment_id))
            .scalars()
            .all()
        )
        assert [r.is_current for r in results] == [True]
    assert audited(world, "result.stored") == 1 and audited(world, "assessment.submitted") == 1
    assert browsers[0].get(f"/member/assessments/{assessment_id}/result").status_code == 200


def test_saves_from_several_browsers_to_different_pages_at_once_all_persist(app, world):
    browsers = [signed_in(app, world, "member_a") for _ in range(4)]
    for browser in browsers:
        browser.token()
    posts = [
        (domain_url(world, "care"), {"c-C1-1": "yes", "c-C1-3": "2", "action": "save"}),
        (domain_url(world, "people"), {"c-P1-1": "9", "c-P1-2": "A shared talent pool.", "action": "save"}),
        (domain_url(world, "care"), {"c-C1-1": "yes", "c-C1-3": "2", "action": "save"}),
        (domain_url(world, "people"), {"c-P1-1": "9", "c-P1-2": "A shared talent pool.", "action": "save"}),
    ]
    responses = _at_once([lambda b=b, p=p: b.post(*p) for b, p in zip(browsers, posts)])
    assert [r.status_code for r in responses] == [302] * 4
    assert stored(world) == {"C1.1": "yes", "C1.3": 2, "P1.1": 9, "P1.2": "A shared talent pool."}
