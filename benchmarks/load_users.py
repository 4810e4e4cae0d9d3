"""The people of the load test (a locustfile): run by benchmarks/load_test.py, which prepares the database
and passes the accounts in ``LOAD_PLAN`` (JSON) and collects every timing into ``LOAD_RESULTS``.

Members sign in, open their draft self-assessment, open a domain and save it
with the CSRF token of the form (as a browser posts it); members with a
complete draft of their own submit it once and then read their result;
alliance leads sign in and browse the review queue, assessments under review,
member timelines, the dashboard, plans and the buddying board.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import threading
from html.parser import HTMLParser

from locust import HttpUser, between, events, task

PLAN = json.loads(open(os.environ["LOAD_PLAN"], encoding="utf-8").read()) if os.environ.get("LOAD_PLAN") else {}
TIMINGS: list[tuple[str, str, float, bool]] = []  # (method, name, milliseconds, failed)
_lock = threading.Lock()
_accounts = {kind: itertools.cycle(PLAN.get(kind) or [None]) for kind in ("savers", "submitters", "leads")}
_submitters = iter(PLAN.get("submitters") or [])


@events.request.add_listener
def _timed(request_type, name, response_time, response_length, exception=None, **kwargs):  # noqa: ANN001
    with _lock:
        TIMINGS.append((request_type, name, float(response_time), exception is not None))


@events.quitting.add_listener
def _write(environment, **kwargs):  # noqa: ANN001
    target = os.environ.get("LOAD_RESULTS")
    if target:
        with open(target, "w", encoding="utf-8") as out:
            json.dump(TIMINGS, out)


class FormFields(HTMLParser):
    """The values a browser would post from the page's first POST form (radios and checkboxes as checked)."""

    def __init__(self):
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self.textareas: list[str] = []
        self._depth = 0  # 1 while inside the first POST form
        self._done = False
        self._textarea = None
        self._text = ""

    def handle_starttag(self, tag, attrs):  # noqa: ANN001
        a = dict(attrs)
        if tag == "form" and not self._done and (a.get("method") or "").lower() == "post":
            self._depth = 1
        if not self._depth:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = (a.get("type") or "text").lower()
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    self.fields.append((name, a.get("value") or "on"))
            elif kind not in ("submit", "button"):
                self.fields.append((name, a.get("value") or ""))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_data(self, data):  # noqa: ANN001
        if self._textarea:
            self._text += data

    def handle_endtag(self, tag):  # noqa: ANN001
        if tag == "textarea" and self._textarea:
            self.fields.append((self._textarea, self._text.lstrip("\n")))
            self.textareas.append(self._textarea)
            self._textarea = None
        elif tag == "form" and self._depth:
            self._depth, self._done = 0, True


def form_of(html: str) -> FormFields:
    parser = FormFields()
    parser.feed(html)
    return parser


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


class Person(HttpUser):
    abstract = True
    wait_time = between(*(float(x) for x in os.environ.get("LOAD_THINK", "1,3").split(",")))  # seconds between steps
    account: dict | None = None

    def sign_in(self) -> None:
        page = self.client.get("/login", name="GET /login")
        token = CSRF.search(page.text)
        with self.client.post(
            "/login",
            name="POST /login",
            allow_redirects=False,
            catch_response=True,
            data={
                "email": self.account["email"],
                "password": self.account["password"],
                "csrf_token": token.group(1) if token else "",
            },
        ) as reply:
            if reply.status_code != 302:
                reply.failure(f"sign-in of {self.account['email']} gave {reply.status_code}")

    def page(self, url: str, name: str):
        with self.client.get(url, name=name, catch_response=True) as reply:
            if reply.status_code != 200 or "/login" in reply.url:
                reply.failure(f"{url} gave {reply.status_code} at {reply.url}")
            return reply


class DraftMember(Person):
    """A member working on the draft self-assessment it shares with colleagues: reads and saves answers."""

    abstract = False
    weight = 3

    def on_start(self) -> None:
        self.account = next(_accounts["savers"])
        self.domains: list[str] = []
        self.sign_in()
        self.open_assessment()

    def open_assessment(self) -> None:
        reply = self.page(f"/member/assessments/{self.account['assessment']}", "GET assessment")
        found = re.findall(rf'href="(/member/assessments/{self.account["assessment"]}/domains/[^"]+)"', reply.text)
        self.domains = sorted(set(found)) or self.domains

    @task(1)
    def home(self) -> None:
        self.page("/member/", "GET /member/")

    @task(2)
    def assessment(self) -> None:
        self.open_assessment()

    @task(6)
    def save_domain(self) -> None:
        if not self.domains:
            return
        url = random.choice(self.domains)
        page = self.page(url, "GET domain")
        form = form_of(page.text)
        fields = dict(form.fields)
        for name in form.textareas[:1]:  # change one text answer, so every save writes
            fields[name] = f"Reviewed at the divisional quality meeting (update {random.randint(1, 10**6)})."
        fields["action"] = "save"
        with self.client.post(
            url, name="POST domain (save)", data=fields, allow_redirects=False, catch_response=True
        ) as reply:
            if reply.status_code != 302:
                problem = re.search(r"nhsuk-error-summary__list.*?<a[^>]*>([^<]+)", reply.text, re.S)
                reply.failure(f"save gave {reply.status_code}: {problem.group(1) if problem else ''}")


class SubmittingMember(Person):
    """A member with a complete draft of its own: checks a domain, submits once, then reads the result."""

    abstract = False
    fixed_count = len(PLAN.get("submitters") or [])

    def on_start(self) -> None:
        self.account = next(_submitters, None)
        self.submitted = self.account is None
        if self.account:
            self.sign_in()

    @task
    def work(self) -> None:
        if self.account is None:
            return
        assessment = self.account["assessment"]
        if self.submitted:
            self.page(f"/member/assessments/{assessment}/result", "GET result")
            return
        self.page(f"/member/assessments/{assessment}", "GET assessment")
        page = self.page(f"/member/assessments/{assessment}/submit", "GET submit")
        token = CSRF.search(page.text)
        with self.client.post(
            f"/member/assessments/{assessment}/submit",
            name="POST submit",
            allow_redirects=False,
            data={"csrf_token": token.group(1) if token else ""},
            catch_response=True,
        ) as reply:
            if reply.status_code != 302:
                reply.failure(f"submit of assessment {assessment} gave {reply.status_code}")
        self.submitted = True


class Lead(Person):
    """An alliance lead reviewing: the queue, assessments, member timelines, dashboard, plans, buddying."""

    abstract = False
    fixed_count = int(os.environ.get("LOAD_LEADS", "10"))

    def on_start(self) -> None:
        self.account = next(_accounts["leads"])
        self.assessments: list[str] = []
        self.members: list[str] = []
        self.sign_in()
        self.queue()

    @task(3)
    def queue(self) -> None:
        reply = self.page("/review/", "GET /review/")
        self.assessments = sorted(set(re.findall(r'href="(/review/assessments/\d+)"', reply.text))) or self.assessments
        self.members = sorted(set(re.findall(r'href="(/review/members/\d+)"', reply.text))) or self.members

    @task(4)
    def assessment(self) -> None:
        if self.assessments:
            self.page(random.choice(self.assessments), "GET review assessment")

    @task(2)
    def member(self) -> None:
        if self.members:
            self.page(random.choice(self.members), "GET review member")

    @task(2)
    def dashboard(self) -> None:
        reply = self.page("/review/dashboard", "GET /review/dashboard")
        self.members = sorted(set(re.findall(r'href="(/review/members/\d+)"', reply.text))) or self.members

    @task(1)
    def plans(self) -> None:
        self.page("/review/plans", "GET /review/plans")

    @task(1)
    def buddying(self) -> None:
        self.page("/review/buddying", "GET /review/buddying")
