"""A lead imports a framework library published elsewhere (CISO Assistant's format) as a draft version of the
alliance's set, sees what the version holds and where it came from, and its impact; and the impact preview of a
schema 2 version names the options, conditions and mappings that change, and the answers that do not carry over.
"""

from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func
from sqlmodel import select

from app import db
from app.jobs import rescore
from app.models import AuditEvent, StandardsVersion
from app.services import CLI, register_version, save_answers
from app.services import impact as preview

from .conftest import STANDARDS, signed_in, text

ROOT = Path(__file__).resolve().parents[2]
HAND_WRITTEN = ROOT / "tests" / "data" / "ciso-assistant-alliance-baseline.yaml"


def import_library(
    person,
    content: str | bytes,
    set_id: str = "web-test",
    version: str = "2026.2",
    name: str = "baseline.yaml",
    csrf: bool = True,
):
    data = content.encode() if isinstance(content, str) else content
    form = {"library_file": (io.BytesIO(data), name), "set_id": set_id, "version": version}
    return person.post("/review/standards/library", form, csrf=csrf, content_type="multipart/form-data")


def versions(url: str) -> int:
    with db.session_scope(url) as session:
        return session.exec(select(func.count()).select_from(StandardsVersion)).one()


def cell_after(page: str, label: str) -> str:
    found = re.search(re.escape(label) + r"\s*</dt>\s*<dd[^>]*>\s*(.*?)\s*</dd>", page, re.S)
    assert found, label
    return found.group(1)


def problems_of(page: str, list_id: str) -> list[tuple[str, str]]:
    """(field anchor, message) of each problem in an error summary list."""
    block = page[page.index(f'id="{list_id}"') :]
    block = block[: block.index("</ul>")]
    return [(anchor, html.unescape(message)) for anchor, message in re.findall(r'<a href="#([^"]+)">(.*?)</a>', block)]


def test_a_lead_imports_a_library_as_a_draft_and_sees_its_outline_source_and_impact(app, world):
    lead = signed_in(app, world, "lead")
    form_page = text(lead.get("/review/standards"))
    assert "Import a framework library" in form_page and 'value="web-test"' in form_page  # the set id, filled in
    response = import_library(lead, HAND_WRITTEN.read_bytes())
    assert response.status_code == 302, text(response)[:2000]
    page = text(lead.get(response.headers["Location"]))
    with db.session_scope(world.url) as session:
        version = session.exec(select(StandardsVersion).where(StandardsVersion.version == "2026.2")).one()
        assert (version.set_id, version.state, version.source_name) == ("web-test", "draft", "web-test-2026.2.yaml")
        assert version.title == "Alliance data security baseline 2026"
        stored = yaml.safe_load(version.source_text)
        assert stored["alliance"] == "Web Test Alliance" and stored["schema"] == 2
        assert (
            session.exec(
                select(AuditEvent).where(
                    AuditEvent.action == "standards.registered", AuditEvent.entity_id == version.id
                )
            )
            .one()
            .actor
            == world.emails["lead"]
        )
    assert "Impact of web-test 2026.2" in page and "This is a dry run" in page
    assert "What version 2026.2 holds" in page
    assert (cell_after(page, "Domains"), cell_after(page, "Standards"), cell_after(page, "Questions")) == (
        "4",
        "6",
        "9",
    )
    assert cell_after(page, "Answered with") == "9 yes, partly or no"
    assert cell_after(page, "URN") == "urn:example:risk:library:alliance-data-baseline"
    assert cell_after(page, "Provider") == "Example Health Alliance"
    assert cell_after(page, "Library version") == "3"
    assert cell_after(page, "Copyright") == "Written for the alliance accreditation test suite.<br>Free to reuse."
    # The diff from the published version: every old question goes, the library's come in.
    counts = page[page.index('id="change-counts"') : page.index("</table>", page.index('id="change-counts"'))]
    questions = re.search(r"Questions</th>\s*" + r"\s*".join([r"<td[^>]*>(\d+)</td>"] * 3), counts)
    assert questions and questions.groups() == ("9", "10", "0")
    assert "+ criterion GOV-01 added" in page and "- criterion C1.1 removed" in page


def test_an_import_that_cannot_be_used_names_the_problem_at_its_field_and_stores_nothing(app, world):
    lead = signed_in(app, world, "lead")
    before = versions(world.url)
    cases = [
        (
            dict(set_id="another-set"),
            "set_id",
            "Web Test Alliance accredits against standards set 'web-test', not 'another-set'",
        ),
        (dict(version="next"), "version", "version 'next' does not sort as a version: write it like 2026.2"),
        (
            dict(version="2026.1"),
            "version",
            "web-test 2026.1 is already registered with different content (published, ",
        ),
        (dict(version=""), "version", "Enter the version of the draft, for example 2026.2"),
        (
            dict(content=STANDARDS.read_bytes(), name="web-test.yaml"),
            "library_file",
            "web-test.yaml:3: not a CISO Assistant framework library: missing 'objects'",
        ),
        (
            dict(content=b"\xff\xfe\x00bad", name="binary.yaml"),
            "library_file",
            "binary.yaml:1: the file is not UTF-8 text",
        ),
        (dict(content=b"objects: [unclosed\n", name="broken.yaml"), "library_file", "broken.yaml:2: not valid YAML"),
    ]
    for change, field, message in cases:
        args = {"content": HAND_WRITTEN.read_bytes(), **change}
        refused = import_library(lead, args.pop("content"), **args)
        page = text(refused)
        assert refused.status_code == 400, change
        assert "Error: Standards versions" in page and "The framework library cannot be imported" in page
        found = problems_of(page, "library-problems")
        assert found and found[0][0] == field and found[0][1].startswith(message), (change, found)
        assert f'id="{field}-error"' in page, change  # the message sits at the field too
    missing = lead.post(
        "/review/standards/library", {"set_id": "web-test", "version": "2026.2"}, content_type="multipart/form-data"
    )
    assert missing.status_code == 400
    assert problems_of(text(missing), "library-problems") == [("library_file", "Choose a framework library to upload")]
    assert import_library(lead, HAND_WRITTEN.read_bytes(), csrf=False).status_code == 400
    assert versions(world.url) == before


def test_the_library_upload_is_bounded_and_only_for_leads(app, world):
    with pytest.raises(preview.DraftRefused) as refused, db.session_scope(world.url) as session:
        preview.import_draft(
            session, CLI, world.alliance_id, b"#" * (preview.MAX_LIBRARY_BYTES + 1), "huge.yaml", "web-test", "2026.2"
        )
    assert refused.value.problems == [
        "huge.yaml:1: the library is larger than 4 MB; import it with "
        "`python cli.py standards import` and upload the standards file"
    ]
    member = signed_in(app, world, "member_a")
    assert import_library(member, HAND_WRITTEN.read_bytes()).status_code in (403, 404)
    assert versions(world.url) == 1


def schema_2_version(version: str, follow_up: list[dict], cqc_refs: list[str], clinic_max: int = 100) -> str:
    """The web-test standards as schema 2: a follow-up choice with a conditional metric, and C1 mapped to CQC."""
    doc = yaml.safe_load(STANDARDS.read_text(encoding="utf-8"))
    doc.update(schema=2, version=version, frameworks={"cqc": {"title": "CQC quality statements"}})
    care = doc["domains"][0]["standards"]
    care[0]["maps_to"] = [{"framework": "cqc", "ref": ref} for ref in cqc_refs]
    care.append(
        {
            "id": "C5",
            "title": "Follow-up",
            "criteria": [
                {
                    "id": "C5.1",
                    "text": "How are patients reviewed after discharge?",
                    "type": "choice",
                    "options": follow_up,
                },
                {
                    "id": "C5.2",
                    "text": "Share reviewed in clinic",
                    "type": "metric",
                    "unit": "%",
                    "max": clinic_max,
                    "benchmark": {"target": 80 if clinic_max >= 80 else clinic_max, "direction": "higher", "amber": 10},
                    "when": {"criterion": "C5.1", "in": ["clinic"]},
                },
            ],
        }
    )
    return yaml.safe_dump(doc, sort_keys=False)


FOLLOW_UP = [
    {"id": "none", "text": "Not reviewed", "score": 0},
    {"id": "phone", "text": "Telephone", "score": 0.5},
    {"id": "clinic", "text": "Clinic review", "score": 1},
]


def test_the_preview_of_a_schema_2_version_names_option_condition_and_mapping_changes_and_answers_left_behind(
    app, world, tmp_path
):
    # The alliance moves to a schema 2 version, and its two members answer the new questions.
    current = tmp_path / "web-test-2026.2.yaml"
    current.write_text(schema_2_version("2026.2", FOLLOW_UP, ["Safe: safe systems", "Well-led"]), encoding="utf-8")
    with db.session_scope(world.url) as session:
        register_version(session, current, CLI, state="published")
    rescore.apply(rescore.Request(set_id="web-test", version="2026.2", url=world.url))
    with db.session_scope(world.url) as session:
        for key, answers in (("a", {"C5.1": "phone"}), ("b", {"C5.1": "clinic", "C5.2": 90})):
            assert save_answers(session, world.actor(f"member_{key}"), world.assessments[key], answers).ok
    # The next version drops the telephone option, adds a video one, narrows the clinic range, and remaps C1.
    follow_up = [FOLLOW_UP[0], {"id": "video", "text": "Video call", "score": 0.7}, {**FOLLOW_UP[2], "score": 0.9}]
    draft = schema_2_version("2026.3", follow_up, ["Safe: safe systems", "Effective"], clinic_max=85)
    draft = draft.replace("in:\n        - clinic\n", "in:\n        - clinic\n        - video\n")
    lead = signed_in(app, world, "lead")
    response = lead.post(
        "/review/standards",
        {"standards_file": (io.BytesIO(draft.encode()), "web-test-2026.3.yaml")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, text(response)[:3000]
    page = html.unescape(text(lead.get(response.headers["Location"])))
    assert "Impact of web-test 2026.3" in page
    assert cell_after(page, "Answered with") == (
        "3 yes or no; 1 yes, partly or no; 1 a level; "
        "4 a measure against a target; 2 free text (not scored); "
        "1 one of several options"
    )
    assert cell_after(page, "Asked only after a given answer") == "1 question(s)"
    assert cell_after(page, "Mapped to") == "CQC quality statements (cqc): 2 ref(s)"
    for expected in (
        'options.phone: removed "Telephone" (score 0.5)',
        'options.video: added "Video call" (score 0.7)',
        "options.clinic.score: 1 -> 0.9",
        "max: 100 -> 85",
        "when: asked when C5.1 is clinic -> asked when C5.1 is one of clinic, video",
        'maps_to.cqc: added "Effective"',
        'maps_to.cqc: removed "Well-led"',
    ):
        assert expected in page, expected
    not_carried = page[page.index('id="not-carried-answers"') :]
    not_carried = not_carried[: not_carried.index("</table>")]
    assert 'C5.1: option "phone" removed (the options now are "none", "video", "clinic")' in not_carried
    assert "C5.2: 90 is outside the new range: a number of at most 85 (%)" in not_carried
    assert cell_after(page, "Answers that do not carry over") == "2"


def test_imported_drafts_count_towards_the_alliances_drafts_and_importing_again_finds_the_draft(app, world):
    from .test_impact_preview import draft_text, upload

    lead = signed_in(app, world, "lead")
    for n in range(preview.MAX_DRAFTS - 1):
        assert upload(lead, draft_text(version=f"2027.{n}")).status_code == 302
    imported = import_library(lead, HAND_WRITTEN.read_bytes(), version="2028.1")
    assert imported.status_code == 302
    again = import_library(lead, HAND_WRITTEN.read_bytes(), version="2028.1")
    assert again.headers["Location"] == imported.headers["Location"]  # the same library, the same day: its draft
    refused = import_library(lead, HAND_WRITTEN.read_bytes(), version="2028.2")
    assert refused.status_code == 400
    assert problems_of(text(refused), "library-problems") == [
        (
            "library_file",
            f"Web Test Alliance already has {preview.MAX_DRAFTS} draft versions, the most it can hold: "
            "delete a draft you no longer need, then import the library again",
        )
    ]
    assert versions(world.url) == 1 + preview.MAX_DRAFTS
