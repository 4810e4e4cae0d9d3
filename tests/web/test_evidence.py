"""Evidence: a file upload (type and size limits) or a link, with a note; listing, download and removal."""

from __future__ import annotations

import html
import io
import logging
import re
from pathlib import Path

import pytest

from app import db
from app.services import evidence_of
from tests.builders import attested

from .conftest import signed_in, text
from .test_auth import error_list

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.fixture
def member(app, world):
    return signed_in(app, world, "member_a")


def evidence_url(world, criterion="C1.1", key="a"):
    return f"/member/assessments/{world.assessments[key]}/criteria/{criterion}/evidence"


def attached(world, criterion="C1.1", key="a"):
    with db.session_scope(world.url) as session:
        return evidence_of(session, world.assessments[key], criterion)


def upload(member, world, data: bytes, filename: str, content_type: str = "application/pdf", note: str = ""):
    return member.post(
        evidence_url(world),
        {"kind": "file", "upload": (io.BytesIO(data), filename, content_type), "note": note},
        content_type="multipart/form-data",
    )


def test_evidence_page(member, world):
    body = text(member.get(evidence_url(world)))
    assert "Evidence for C1.1" in body and "Is there a named clinical lead for the service?" in body
    assert "Evidence is required before you can submit." in body and "No evidence attached yet." in body
    assert 'enctype="multipart/form-data"' in body and 'name="upload"' in body and 'name="url"' in body
    assert "Allowed: .csv, .doc, .docx" in body and "At most 64 KB." in body


def test_add_a_link_with_a_note(member, world):
    response = member.post(
        evidence_url(world), {"kind": "link", "url": " https://example.nhs.uk/job-plan.pdf ", "note": "Page 3"}
    )
    assert response.status_code == 302 and response.headers["Location"] == evidence_url(world)
    [item] = attached(world)
    assert (item.kind, item.url, item.note) == ("link", "https://example.nhs.uk/job-plan.pdf", "Page 3")
    body = text(member.get(evidence_url(world)))
    assert "Evidence added to C1.1." in body
    assert '<a href="https://example.nhs.uk/job-plan.pdf" rel="noopener noreferrer">' in body and "Page 3" in body
    assert "1 item attached" in text(member.get(f"/member/assessments/{world.assessments['a']}/domains/care"))


def test_upload_download_and_remove_a_file(app, member, world):
    response = upload(member, world, PDF, "Job plan.pdf", note="Signed copy")
    assert response.status_code == 302
    [item] = attached(world)
    assert (item.kind, item.filename, item.content_type, item.size, item.note) == (
        "file",
        "Job plan.pdf",
        "application/pdf",
        len(PDF),
        "Signed copy",
    )
    stored_file = Path(app.config["UPLOAD_DIR"]) / item.storage_key[:2] / item.storage_key
    assert stored_file.read_bytes() == PDF
    body = text(member.get(evidence_url(world)))
    download_url = f"/member/assessments/{world.assessments['a']}/evidence/{item.id}"
    assert f'href="{download_url}"' in body and "Job plan.pdf" in body
    download = member.get(download_url)
    assert download.status_code == 200 and download.data == PDF
    assert download.mimetype == "application/pdf"
    assert "attachment" in download.headers["Content-Disposition"]
    removed = member.post(f"{download_url}/remove")
    assert removed.status_code == 302
    assert attached(world) == []
    assert not stored_file.exists()
    assert "Evidence removed from C1.1." in text(member.get(evidence_url(world)))


def test_the_note_starts_empty_so_evidence_added_as_the_page_is_stores_no_note(member, world):
    body = text(member.get(evidence_url(world)))
    shown = re.search(r'<textarea[^>]*id="note"[^>]*>(.*?)</textarea>', body, re.S)
    assert shown and shown.group(1).strip() == ""  # not the word "None"
    member.post(
        evidence_url(world),
        {"kind": "link", "url": "https://example.nhs.uk/plan.pdf", "note": html.unescape(shown.group(1))},
    )
    [item] = attached(world)
    assert item.note == ""
    assert "None" not in text(member.get(evidence_url(world)))


def test_removing_evidence_asks_first_and_sizes_read_as_people_write_them(member, world):
    upload(member, world, PDF, "Job plan.pdf")
    [item] = attached(world)
    body = text(member.get(evidence_url(world)))
    remove_url = f"/member/assessments/{world.assessments['a']}/evidence/{item.id}/remove"
    assert f'<form method="post" action="{remove_url}"' not in body  # no button that removes at once
    assert f'href="{remove_url}"' in body
    assert re.search(rf"Job plan\.pdf</a>\s*\({len(PDF)} bytes\)", body) and "KB)" not in body
    confirm = member.get(remove_url)
    page = text(confirm)
    assert confirm.status_code == 200 and "Remove this evidence from C1.1?" in page
    assert f"The file Job plan.pdf ({len(PDF)} bytes)" in page and "Yes, remove it" in page
    assert len(attached(world)) == 1  # asking removes nothing
    assert member.post(remove_url, csrf=False).status_code == 400
    assert len(attached(world)) == 1
    assert member.post(remove_url).status_code == 302
    assert attached(world) == []


@pytest.mark.parametrize(
    "data, anchor, message",
    [
        ({}, "#kind", "Choose whether to upload a file or give a link"),
        ({"kind": "fax"}, "#kind", "Choose whether to upload a file or give a link"),
        ({"kind": "file"}, "#upload", "Choose a file to upload"),
        ({"kind": "link"}, "#url", "Enter the link to the evidence"),
        (
            {"kind": "link", "url": "ftp://example.nhs.uk/plan"},
            "#url",
            "Enter a full link starting with https://, like https://example.nhs.uk/policy.pdf",
        ),
        (
            {"kind": "link", "url": "https://example.nhs.uk/a plan"},
            "#url",
            "Enter a full link starting with https://, like https://example.nhs.uk/policy.pdf",
        ),
        (
            {"kind": "link", "url": "https://example.nhs.uk/", "note": "n" * 2001},
            "#note",
            "Use 2000 characters or fewer",
        ),
    ],
)
def test_evidence_form_errors(member, world, data, anchor, message):
    response = member.post(evidence_url(world), data, content_type="multipart/form-data")
    assert response.status_code == 200
    assert (anchor, message) in error_list(response)
    assert attached(world) == []


@pytest.mark.parametrize(
    "data, filename, content_type, message",
    [
        (
            b"MZ\x90\x00",
            "tool.exe",
            "application/octet-stream",
            "tool.exe: files of this type cannot be uploaded (allowed: .csv, .doc, .docx, .jpeg, .jpg, .ods, .odt, .pdf, "
            ".png, .pptx, .txt, .xls, .xlsx)",
        ),
        (b"just some text", "report.pdf", "application/pdf", "report.pdf: the content is not a PDF"),
        (PDF, "report.pdf", "image/png", "report.pdf: the file says it is image/png, which does not match a .pdf file"),
        (b"", "empty.txt", "text/plain", "empty.txt: the file is empty"),
        (b"%PDF-" + b"x" * (64 * 1024), "big.pdf", "application/pdf", "big.pdf: larger than the 64 KB limit"),
    ],
)
def test_uploads_outside_the_type_and_size_limits_are_refused(
    app, member, world, data, filename, content_type, message
):
    response = upload(member, world, data, filename, content_type)
    assert response.status_code == 200
    assert ("#upload", message) in error_list(response)
    assert attached(world) == []
    uploads = Path(app.config["UPLOAD_DIR"])
    assert not uploads.exists() or not [p for p in uploads.rglob("*") if p.is_file()]


def test_evidence_only_for_criteria_that_apply(member, world):
    assert member.get(evidence_url(world, "C3.1")).status_code == 404  # specialty standard, full member
    assert member.get(evidence_url(world, "Z9.9")).status_code == 404
    response = member.post(evidence_url(world, "C3.1"), {"kind": "link", "url": "https://example.nhs.uk/"})
    assert response.status_code == 404


def test_a_link_cannot_be_downloaded(member, world):
    member.post(evidence_url(world), {"kind": "link", "url": "https://example.nhs.uk/plan"})
    [item] = attached(world)
    assert member.get(f"/member/assessments/{world.assessments['a']}/evidence/{item.id}").status_code == 404


def test_a_file_gone_from_the_upload_store_is_not_found_and_logged(app, member, world, caplog):
    upload(member, world, PDF, "Job plan.pdf")
    [item] = attached(world)
    (Path(app.config["UPLOAD_DIR"]) / item.storage_key[:2] / item.storage_key).unlink()
    caplog.set_level(logging.ERROR, logger="app")
    assert member.get(f"/member/assessments/{world.assessments['a']}/evidence/{item.id}").status_code == 404
    assert [r.getMessage() for r in caplog.records if "upload store" in r.getMessage()] == [
        f"evidence {item.id}: its file {item.storage_key} is missing from the upload store"
    ]


def test_evidence_of_a_submitted_assessment_is_read_only(app, member, world):
    from app.services import CLI, add_evidence, save_answers, submit

    from .conftest import COMPLETE_ANSWERS

    with db.session_scope(world.url) as session:
        save_answers(session, CLI, world.assessments["a"], COMPLETE_ANSWERS)
        link = add_evidence(session, CLI, world.assessments["a"], "C1.1", kind="link", url="https://example.nhs.uk/p")
        submit(session, CLI, world.assessments["a"], attested())
    body = text(member.get(evidence_url(world)))
    assert "https://example.nhs.uk/p" in body and "Add evidence" not in body and "Remove" not in body
    added = member.post(evidence_url(world), {"kind": "link", "url": "https://example.nhs.uk/late"})
    assert added.status_code == 409 and "evidence can be added to a draft only" in text(added)
    removed = member.post(f"/member/assessments/{world.assessments['a']}/evidence/{link.id}/remove")
    assert removed.status_code == 409 and "only a draft can be changed" in text(removed)
    assert [e.url for e in attached(world)] == ["https://example.nhs.uk/p"]
