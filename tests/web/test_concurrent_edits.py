"""Two people of one organisation on the same self-assessment page: a save changes only what its page
changed, so a page opened before a colleague saved never clears the colleague's answers."""

from __future__ import annotations

import html

from app import db
from app.services import CLI, answers_of, create_user

from .conftest import PASSWORD, password_hash, signed_in

#: What a browser sends for the care page's inputs left empty.
BLANK = {"c-C2-1": "", "c-C2-2": "", "c-C2-3": "", "action": "save"}


def second_user(world) -> None:
    with db.session_scope(world.url) as session:
        create_user(
            session,
            CLI,
            email="second@nhs.test",
            name="Second",
            password=PASSWORD,
            role="member",
            organisation_id=world.organisations["a"],
            password_hash=password_hash(PASSWORD),
        )
    world.emails["second"] = "second@nhs.test"


def shown_field(page: str) -> str:
    """The hidden field as a browser sends it back."""
    start = page.index('name="shown" value="') + len('name="shown" value="')
    return html.unescape(page[start : page.index('"', start)])


def test_a_stale_page_does_not_clear_an_answer_saved_meanwhile(app, world):
    second_user(world)
    one, two = signed_in(app, world, "member_a"), signed_in(app, world, "second")
    url = f"/member/assessments/{world.assessments['a']}/domains/care"
    first_page, second_page = one.get(url).get_data(as_text=True), two.get(url).get_data(as_text=True)
    assert two.post(url, {**BLANK, "c-C2-1": "88", "shown": shown_field(second_page)}).status_code == 302
    assert one.post(url, {**BLANK, "c-C1-1": "yes", "shown": shown_field(first_page)}).status_code == 302
    with db.session_scope(world.url) as session:
        assert answers_of(session, world.assessments["a"]) == {"C1.1": "yes", "C2.1": 88}


def test_clearing_an_answer_the_page_showed_still_clears_it(app, world):
    one = signed_in(app, world, "member_a")
    url = f"/member/assessments/{world.assessments['a']}/domains/care"
    page = one.get(url).get_data(as_text=True)
    assert one.post(url, {**BLANK, "c-C2-1": "88", "shown": shown_field(page)}).status_code == 302
    page = one.get(url).get_data(as_text=True)
    assert '"C2.1":88' in shown_field(page)
    assert one.post(url, {**BLANK, "shown": shown_field(page)}).status_code == 302
    with db.session_scope(world.url) as session:
        assert answers_of(session, world.assessments["a"]) == {}


def test_a_form_without_what_it_showed_compares_with_what_is_stored(app, world):
    one = signed_in(app, world, "member_a")
    url = f"/member/assessments/{world.assessments['a']}/domains/care"
    assert one.post(url, {**BLANK, "c-C2-1": "88"}).status_code == 302
    assert one.post(url, {**BLANK, "c-C2-1": "88", "shown": "not json"}).status_code == 302
    with db.session_scope(world.url) as session:
        assert answers_of(session, world.assessments["a"]) == {"C2.1": 88}
