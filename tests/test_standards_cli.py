"""Publishing, listing and comparing standards versions from the command line, in a fresh process.

Publishing goes to the test database (SQLite, or PostgreSQL via
TEST_DATABASE_URL); ``diff`` reads only the two files.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from sqlmodel import select

import rules
from app.models import StandardsVersion
from rules.diff import KINDS
from tests.builders import criterion, document, domain, standard

ROOT = Path(__file__).resolve().parent.parent
PROBLEM = re.compile(r"^(?P<file>.+?):(?P<line>\d+): (?P<message>.+)$")
NOA = ROOT / "standards" / "noa-orthopaedics-2026.1.yaml"


def cli(*args: str | Path, url: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    if url is not None:
        env["DATABASE_URL"] = url
    done = subprocess.run(
        [sys.executable, "cli.py", *map(str, args)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert "Traceback" not in done.stderr, done.stderr
    if done.returncode != 0:
        assert done.stdout == "", done.stdout
    return done


def small(version: str = "2026.1", target: int = 85, **top) -> dict:
    return document(
        [
            domain(
                "quality",
                [
                    standard(
                        "Q1",
                        [
                            criterion("Q1.1"),
                            criterion(
                                "Q1.2",
                                "metric",
                                unit="%",
                                benchmark={"target": target, "direction": "higher", "amber": 5},
                            ),
                        ],
                        must_meet=True,
                    ),
                    standard("Q2", [criterion("Q2.1", "yes_partial_no")]),
                ],
            ),
        ],
        version=version,
        **top,
    )


def write(path: Path, doc: dict | str) -> Path:
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


def stored(session_factory) -> list[tuple[str, str, str, str]]:
    with session_factory() as session:
        rows = session.exec(select(StandardsVersion).order_by(StandardsVersion.id)).all()
        return [(r.set_id, r.version, r.state, r.content_hash) for r in rows]


# -- publish ----------------------------------------------------------------------------------------------------


def test_publish_registers_a_published_version_and_prints_it(database_url, session_factory):
    loaded = rules.load_standards(NOA)
    done = cli("standards", "publish", NOA, url=database_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("published noa-orthopaedics 2026.1 ")
    assert loaded.content_hash[:12] in done.stdout and "2026-04-01" in done.stdout
    assert stored(session_factory) == [("noa-orthopaedics", "2026.1", "published", loaded.content_hash)]


def test_publishing_the_same_file_again_changes_nothing(database_url, session_factory):
    assert cli("standards", "publish", NOA, url=database_url).returncode == 0
    again = cli("standards", "publish", NOA, url=database_url)
    assert again.returncode == 0, again.stderr
    assert "already published" in again.stdout and "nothing changed" in again.stdout
    assert len(stored(session_factory)) == 1


def test_the_same_content_laid_out_differently_is_the_same_version(tmp_path, database_url, session_factory):
    first = write(tmp_path / "a.yaml", small())
    second = write(tmp_path / "b.yaml", "# reformatted\n" + yaml.safe_dump(small(), sort_keys=True))
    assert cli("standards", "publish", first, url=database_url).returncode == 0
    again = cli("standards", "publish", second, url=database_url)
    assert again.returncode == 0 and "already published" in again.stdout
    assert len(stored(session_factory)) == 1


def test_different_content_under_a_published_id_and_version_is_refused(tmp_path, database_url, session_factory):
    original = write(tmp_path / "v1.yaml", small())
    changed = write(tmp_path / "v1-edited.yaml", small(target=90))
    assert cli("standards", "publish", original, url=database_url).returncode == 0
    before = stored(session_factory)
    done = cli("standards", "publish", changed, url=database_url)
    assert done.returncode == 1
    assert str(changed) in done.stderr and "test-set 2026.1" in done.stderr
    assert "different content" in done.stderr and "new version" in done.stderr
    assert stored(session_factory) == before


def test_a_new_version_of_the_set_is_published_alongside(tmp_path, database_url, session_factory):
    assert cli("standards", "publish", write(tmp_path / "v1.yaml", small()), url=database_url).returncode == 0
    done = cli("standards", "publish", write(tmp_path / "v2.yaml", small("2026.2", target=90)), url=database_url)
    assert done.returncode == 0 and done.stdout.startswith("published test-set 2026.2 ")
    assert [(s, v, state) for s, v, state, _ in stored(session_factory)] == [
        ("test-set", "2026.1", "published"),
        ("test-set", "2026.2", "published"),
    ]


def test_a_bad_file_is_refused_with_its_lines_and_nothing_is_stored(tmp_path, database_url, session_factory):
    text = yaml.safe_dump(small(), sort_keys=False).replace("type: yes_partial_no", "type: maybe")
    path = write(tmp_path / "bad.yaml", text)
    done = cli("standards", "publish", path, url=database_url)
    assert done.returncode == 1
    problems = done.stderr.splitlines()
    assert problems and all(PROBLEM.match(line) and line.startswith(f"{path}:") for line in problems)
    bad_line = next(n for n, line in enumerate(text.splitlines(), 1) if "type: maybe" in line)
    assert int(PROBLEM.match(problems[0]).group("line")) == bad_line
    missing = cli("standards", "publish", tmp_path / "missing.yaml", url=database_url)
    assert missing.returncode == 1 and missing.stderr.startswith(f"{tmp_path / 'missing.yaml'}:1: ")
    assert stored(session_factory) == []


def test_publish_promotes_a_draft_of_the_same_content(tmp_path, database_url, session_factory):
    from app import services

    path = write(tmp_path / "v1.yaml", small())
    with session_factory() as session:
        services.register_version(session, path, services.CLI, state="draft")
    done = cli("standards", "publish", path, url=database_url)
    assert done.returncode == 0 and done.stdout.startswith("published test-set 2026.1 ")
    assert [state for _, _, state, _ in stored(session_factory)] == ["published"]


def test_a_retired_version_cannot_be_published_again(tmp_path, database_url, session_factory):
    from app import services

    path = write(tmp_path / "v1.yaml", small())
    with session_factory() as session:
        version = services.register_version(session, path, services.CLI)
        services.set_version_state(session, services.CLI, version.id, "retired")
    done = cli("standards", "publish", path, url=database_url)
    assert done.returncode == 1 and "retired" in done.stderr
    assert [state for _, _, state, _ in stored(session_factory)] == ["retired"]


def test_publish_needs_a_database_with_the_schema(empty_database_url):
    done = cli("standards", "publish", NOA, url=empty_database_url)
    assert done.returncode == 1 and "db upgrade" in done.stderr


# -- list ---------------------------------------------------------------------------------------------------------


def test_list_with_nothing_registered(database_url):
    done = cli("standards", "list", url=database_url)
    assert done.returncode == 0 and "no standards versions registered" in done.stdout


def test_list_shows_set_version_state_effective_date_and_hash(tmp_path, database_url, session_factory):
    from app import services

    old = write(tmp_path / "v1.yaml", small())
    new = write(tmp_path / "v2.yaml", small("2026.10", target=90, effective_from="2027-04-01"))
    draft = write(tmp_path / "v3.yaml", small("2026.11", target=95))
    for path in (old, new, NOA):
        assert cli("standards", "publish", path, url=database_url).returncode == 0
    with session_factory() as session:
        services.register_version(session, draft, services.CLI, state="draft")
        first = session.exec(
            select(StandardsVersion).where(StandardsVersion.version == "2026.1", StandardsVersion.set_id == "test-set")
        ).one()
        services.set_version_state(session, services.CLI, first.id, "retired")
    done = cli("standards", "list", url=database_url)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split()[:6] == ["set", "version", "state", "effective", "from", "hash"]
    cells = [row.split()[:5] for row in rows]
    hashes = {p: rules.load_standards(p).content_hash[:12] for p in (old, new, draft, NOA)}
    # sets alphabetically; inside a set the highest version first (2026.11 > 2026.10 > 2026.1)
    assert cells == [
        ["noa-orthopaedics", "2026.1", "published", "2026-04-01", hashes[NOA]],
        ["test-set", "2026.11", "draft", "2026-04-01", hashes[draft]],
        ["test-set", "2026.10", "published", "2027-04-01", hashes[new]],
        ["test-set", "2026.1", "retired", "2026-04-01", hashes[old]],
    ]


def test_list_needs_a_database_with_the_schema(empty_database_url):
    done = cli("standards", "list", url=empty_database_url)
    assert done.returncode == 1 and "db upgrade" in done.stderr


# -- diff ---------------------------------------------------------------------------------------------------------

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nothing"  # diff must not need a database


def changed_pair(tmp_path: Path) -> tuple[Path, Path]:
    old = write(tmp_path / "v1.yaml", small())
    doc = small("2026.2", target=90, pass_mark=80)
    doc["domains"][0]["standards"].pop(1)
    doc["domains"].append(domain("people", [standard("P1", [criterion("P1.1")])]))
    return old, write(tmp_path / "v2.yaml", doc)


def test_diff_prints_readable_text(tmp_path):
    old, new = changed_pair(tmp_path)
    done = cli("standards", "diff", old, new, url=UNREACHABLE)
    assert done.returncode == 0 and done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == "test-set 2026.1 -> test-set 2026.2"
    text = done.stdout
    for expected in (
        "pass_mark: 75 -> 80",
        "~ criterion Q1.2 changed (in standard Q1)",
        "benchmark.target: 85 -> 90",
        "- standard Q2 removed (in domain quality)",
        "- criterion Q2.1 removed (in standard Q2)",
        "+ domain people added: Domain people",
        "+ standard P1 added (in domain people)",
        "+ criterion P1.1 added (in standard P1)",
    ):
        assert expected in text, expected


def test_diff_json_parses_with_the_documented_keys(tmp_path):
    old, new = changed_pair(tmp_path)
    done = cli("standards", "diff", old, new, "--format", "json", url=UNREACHABLE)
    assert done.returncode == 0 and done.stderr == ""
    body = json.loads(done.stdout)
    assert set(body) == {"old", "new", "identical", "set", *KINDS}
    assert body["old"] == {
        "id": "test-set",
        "version": "2026.1",
        "content_hash": rules.load_standards(old).content_hash,
    }
    assert body["new"]["version"] == "2026.2" and body["identical"] is False
    assert body["set"] == [{"field": "pass_mark", "old": 75, "new": 80}]
    assert body["criteria"][0] == {
        "id": "Q1.2",
        "change": "changed",
        "standard": "Q1",
        "moved": False,
        "title": "Criterion Q1.2",
        "fields": [{"field": "benchmark.target", "old": 85, "new": 90}],
    }
    assert {(i["id"], i["change"]) for i in body["standards"]} == {("Q2", "removed"), ("P1", "added")}
    assert [(i["id"], i["change"]) for i in body["domains"]] == [("people", "added")]


def test_diff_of_the_same_standards(tmp_path):
    path = write(tmp_path / "v1.yaml", small())
    done = cli("standards", "diff", path, path, url=UNREACHABLE)
    assert done.returncode == 0 and "no changes" in done.stdout
    as_json = json.loads(cli("standards", "diff", path, path, "--format", "json", url=UNREACHABLE).stdout)
    assert as_json["identical"] is True and all(as_json[kind] == [] for kind in KINDS)


def test_diff_reports_problems_in_both_files(tmp_path):
    bad = write(tmp_path / "bad.yaml", "schema: [1\n")
    missing = tmp_path / "missing.yaml"
    done = cli("standards", "diff", bad, missing, url=UNREACHABLE)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith(f"{bad}:") and lines[1].startswith(f"{missing}:1: ")
    assert all(PROBLEM.match(line) for line in lines)


def test_diff_refuses_an_unknown_format(tmp_path):
    path = write(tmp_path / "v1.yaml", small())
    done = cli("standards", "diff", path, path, "--format", "xml", url=UNREACHABLE)
    assert done.returncode != 0 and "xml" in done.stderr


def test_diff_of_schema_2_versions_names_options_conditions_ranges_and_mappings(tmp_path):
    from tests.test_diff import base_2, node, option

    old_doc = base_2()
    new_doc = base_2()
    new_doc["version"] = "2026.2"
    node(new_doc, "Q4.1")["options"].pop(1)  # phone removed
    option(new_doc, "Q4.1", "clinic")["score"] = 0.9
    node(new_doc, "Q4.3")["when"]["in"] = ["none", "clinic"]
    node(new_doc, "Q4.4")["max"] = 90
    node(new_doc, "Q4")["maps_to"].pop()  # Well-led no longer mapped
    new_doc["frameworks"]["dspt"] = {"title": "DSPT"}
    old, new = write(tmp_path / "v1.yaml", old_doc), write(tmp_path / "v2.yaml", new_doc)
    done = cli("standards", "diff", old, new, url=UNREACHABLE)
    assert done.returncode == 0 and done.stderr == ""
    for expected in (
        'options.phone: removed "Telephone follow-up" (score 0.5)',
        "options.clinic.score: 1 -> 0.9",
        "when: asked when Q4.1 is clinic -> asked when Q4.1 is one of clinic, none",
        "max: 365 -> 90",
        'maps_to.cqc: removed "Well-led"',
        "+ framework dspt added: DSPT",
    ):
        assert expected in done.stdout, expected
    body = json.loads(cli("standards", "diff", old, new, "--format", "json", url=UNREACHABLE).stdout)
    assert body["frameworks"] == [{"id": "dspt", "change": "added", "title": "DSPT", "fields": []}]
    assert body["standards"][0]["fields"] == [{"field": "maps_to.cqc", "old": "Well-led", "new": None}]
    q41 = next(item for item in body["criteria"] if item["id"] == "Q4.1")
    assert q41["fields"] == [
        {"field": "options.clinic.score", "old": 1, "new": 0.9},
        {"field": "options.phone", "old": {"text": "Telephone follow-up", "score": 0.5}, "new": None},
    ]
