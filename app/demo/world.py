"""The demonstration world as data: ``world.yaml`` read into frozen records.

``world.yaml`` says who is in the world (the admin, alliances and their leads, organisations, the member
accounts, the two cycles) and what happens to each membership (its profile and state per cycle, comments,
overrides, improvement plans). This module reads it with YAML safe loading and checks it against the names
the story knows, so a broken file is refused as ``FILE:LINE: message`` before anything is written.
"""

from __future__ import annotations

import datetime as dt
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from rules.yamlnodes import Mapping, Node, Scalar, Sequence, YamlSyntaxError, parse

from ..services import ServiceError

WORLD_FILE = Path(__file__).with_name("world.yaml")

# Profiles: what a self-assessment looks like, and the engine outcome it must produce (answers.py).
STRONG, TYPICAL, MAJOR, WEAK, FAILING = "strong", "typical", "major", "weak", "failing"
PROFILE_NAMES = (STRONG, TYPICAL, MAJOR, WEAK, FAILING)
# Where a self-assessment of the second cycle got to; the first cycle's are all decided.
DECIDED, UNDER_REVIEW, SUBMITTED, DRAFT = "decided", "under_review", "submitted", "draft"
STATES = (DECIDED, UNDER_REVIEW, SUBMITTED, DRAFT)
OVERRIDE_KINDS = ("criterion", "standard")
ROUTES = ("full", "specialty")


class DemoError(ServiceError):
    """The demonstration world cannot be loaded (a broken world file, a missing standards pack)."""


@dataclass(frozen=True)
class Org:
    ods: str
    name: str
    org_type: str
    region: str
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Account:
    email: str
    name: str
    password: str


@dataclass(frozen=True)
class Cycle:
    name: str
    opens: dt.date
    closes: dt.date


@dataclass(frozen=True)
class Comment:
    days: int  # after the submission
    on_headline: bool  # about the member's headline measure, or the whole self-assessment
    text: str


@dataclass(frozen=True)
class Override:
    kind: str  # criterion | standard
    reason: str  # ``{day}``: the day of the peer review visit


@dataclass(frozen=True)
class MembershipStory:
    """One membership's story: route, when it joined, and each cycle's profile and where it got to."""

    ods: str
    applied: dt.date
    route: str = "full"
    specialty: Optional[str] = None
    founding: bool = False
    cycle1: Optional[str] = None  # profile; decided
    cycle2: Optional[tuple[str, str]] = None  # (profile, state)
    suspend: bool = False  # the lead suspends after the recommendation
    withdraws: Optional[str] = None  # reason, after the first cycle's decision
    comments: tuple[Comment, ...] = ()
    override: Optional[Override] = None
    improvement_plans: bool = False


@dataclass(frozen=True)
class AllianceDemo:
    slug: str
    name: str
    #: the standards file each cycle's self-assessments are on (a later cycle's new edition is published as
    #: that cycle opens; the earlier one stays registered as an earlier version)
    standards_files: tuple[str, str]
    created: dt.date
    lead: Account
    stories: tuple[MembershipStory, ...]
    buddies_proposed: Optional[dt.date] = None  # the lead's buddy match for the second cycle


@dataclass(frozen=True)
class PlanShape:
    """How a member's improvement plan for one gap reads when recorded."""

    due: dt.date
    progress: str
    owner: str


@dataclass(frozen=True)
class World:
    admin: Account
    member_template: Account  # ``{ods}`` (lower case) and ``{organisation}`` filled in per organisation
    document_library: str
    portal_opened: dt.date
    cycles: tuple[Cycle, Cycle]
    withdrawals: dt.date
    plans_recorded: dt.date
    plans_closed: dt.date
    organisations: dict[str, Org]
    alliances: tuple[AllianceDemo, ...]
    plan_shapes: tuple[PlanShape, ...]

    def member_account(self, ods: str) -> Account:
        """The member account of an organisation."""
        fill = {"ods": ods.lower(), "organisation": self.organisations[ods].name}
        template = self.member_template
        return Account(template.email.format(**fill), template.name.format(**fill), template.password.format(**fill))


def read_world(path: Path = WORLD_FILE) -> World:
    """Read and check a world file; a DemoError names the file and line of the first problem."""
    name = str(path)
    try:
        text = Path(path).read_bytes().decode("utf-8")
    except OSError as exc:
        raise DemoError(f"{name}: cannot read the demo world: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        line = Path(path).read_bytes()[: exc.start].count(b"\n") + 1
        raise DemoError(f"{name}:{line}: the demo world is not valid UTF-8 text") from None
    try:
        root = parse(text)
    except YamlSyntaxError as exc:
        raise DemoError(f"{name}:{exc.line}: {exc.message}") from None
    return _Reader(name).world(root)


WORLD_KEYS = {
    "admin": True,
    "member_account": True,
    "document_library": True,
    "portal_opened": True,
    "cycles": True,
    "withdrawals": True,
    "plans_recorded": True,
    "plans_closed": True,
    "organisations": True,
    "alliances": True,
    "improvement_plans": True,
}
ACCOUNT_KEYS = {"email": True, "name": True, "password": True}
CYCLE_KEYS = {"name": True, "opens": True, "closes": True}
ORG_KEYS = {"name": True, "type": True, "region": True, "latitude": True, "longitude": True}
ALLIANCE_KEYS = {
    "slug": True,
    "name": True,
    "standards": True,
    "created": True,
    "lead": True,
    "buddies_proposed": False,
    "memberships": True,
}
STORY_KEYS = {
    "ods": True,
    "applied": True,
    "route": False,
    "specialty": False,
    "founding": False,
    "suspend": False,
    "withdraws": False,
    "comments": False,
    "override": False,
    "improvement_plans": False,
}
COMMENT_KEYS = {"days": True, "on_headline": True, "text": True}
OVERRIDE_KEYS = {"kind": True, "reason": True}
PLAN_SHAPE_KEYS = {"due": True, "progress": True, "owner": True}


def _describe(node: Node | None) -> str:
    if node is None:
        return "nothing"
    if isinstance(node, Mapping):
        return "a mapping"
    if isinstance(node, Sequence):
        return "a list"
    return "nothing (null)" if node.value is None else repr(node.value)


class _Reader:
    """Turns the parsed file into records, stopping at the first problem with its line."""

    def __init__(self, filename: str):
        self.filename = filename

    def fail(self, line: int, message: str) -> DemoError:
        return DemoError(f"{self.filename}:{line}: {message}")

    # -- generic checks

    def mapping(self, node: Node | None, where: str, keys: dict[str, bool], line: int = 1) -> Mapping:
        node = self.any_mapping(node, where, line)
        for key, entry in node.entries.items():
            if key not in keys:
                hint = difflib.get_close_matches(key, list(keys), n=1)
                suggestion = f" (did you mean '{hint[0]}'?)" if hint else ""
                raise self.fail(
                    entry.key_line, f"{where}: unknown key '{key}'{suggestion}; allowed keys: {', '.join(keys)}"
                )
        for key, required in keys.items():
            if required and key not in node:
                raise self.fail(node.line, f"{where}: missing key '{key}'")
        return node

    def any_mapping(self, node: Node | None, where: str, line: int = 1) -> Mapping:
        """A mapping with text keys, each once."""
        if not isinstance(node, Mapping):
            at = node.line if node is not None else line
            raise self.fail(at, f"{where} must be a mapping, got {_describe(node)}")
        for key, key_line in node.duplicates:
            raise self.fail(key_line, f"{where}: duplicate key '{key}'")
        for key, key_line in node.bad_keys:
            raise self.fail(key_line, f"{where}: keys must be text, got {key!r}")
        return node

    def sequence(self, node: Mapping, key: str, where: str) -> list[Node]:
        value = node.get(key)
        if value is None:
            return []
        if not isinstance(value, Sequence):
            raise self.fail(value.line, f"{where}: '{key}' must be a list, got {_describe(value)}")
        return value.items

    def scalar(self, node: Mapping, key: str, where: str, ok: Any, wanted: str, default: Any = None) -> Any:
        value = node.get(key)
        if value is None:
            return default
        if not isinstance(value, Scalar) or not ok(value.value):
            raise self.fail(value.line, f"{where}: '{key}' must be {wanted}, got {_describe(value)}")
        return value.value

    def text(self, node: Mapping, key: str, where: str, default: Optional[str] = None) -> Any:
        return self.scalar(node, key, where, lambda v: isinstance(v, str) and v.strip() != "", "text", default)

    def date(self, node: Mapping, key: str, where: str) -> Any:
        return self.scalar(
            node, key, where, lambda v: isinstance(v, dt.date) and not isinstance(v, dt.datetime), "a date (YYYY-MM-DD)"
        )

    def number(self, node: Mapping, key: str, where: str) -> Any:
        return self.scalar(
            node, key, where, lambda v: isinstance(v, (int, float)) and not isinstance(v, bool), "a number"
        )

    def flag(self, node: Mapping, key: str, where: str) -> bool:
        return self.scalar(node, key, where, lambda v: isinstance(v, bool), "true or false", False)

    def choice(self, node: Mapping, key: str, where: str, options: tuple[str, ...], default: Any = None) -> Any:
        return self.scalar(node, key, where, lambda v: v in options, "one of " + " | ".join(options), default)

    # -- the world

    def world(self, root: Node | None) -> World:
        top = self.mapping(root, "the demo world", WORLD_KEYS)
        organisations = self.organisations(top.get("organisations"))
        cycles = tuple(self.cycle(item) for item in self.sequence(top, "cycles", "the demo world"))
        if len(cycles) != 2:
            raise self.fail(
                top.get("cycles").line,
                "the demo world: 'cycles' must list two cycles (the story "
                f"covers a decided cycle and a current one), got {len(cycles)}",
            )
        alliances = tuple(
            self.alliance(item, organisations, cycles) for item in self.sequence(top, "alliances", "the demo world")
        )
        return World(
            admin=self.account(top.get("admin"), "admin"),
            member_template=self.member_template(top.get("member_account")),
            document_library=self.text(top, "document_library", "the demo world").rstrip("/"),
            portal_opened=self.date(top, "portal_opened", "the demo world"),
            cycles=(cycles[0], cycles[1]),
            withdrawals=self.date(top, "withdrawals", "the demo world"),
            plans_recorded=self.date(top, "plans_recorded", "the demo world"),
            plans_closed=self.date(top, "plans_closed", "the demo world"),
            organisations=organisations,
            alliances=alliances,
            plan_shapes=tuple(
                self.plan_shape(item) for item in self.sequence(top, "improvement_plans", "the demo world")
            ),
        )

    def account(self, node: Node | None, where: str) -> Account:
        fields = self.mapping(node, where, ACCOUNT_KEYS)
        return Account(
            self.text(fields, "email", where), self.text(fields, "name", where), self.text(fields, "password", where)
        )

    def member_template(self, node: Node | None) -> Account:
        account = self.account(node, "member_account")
        for key in ACCOUNT_KEYS:
            try:
                getattr(account, key).format(ods="x", organisation="x")
            except (KeyError, IndexError, ValueError) as exc:
                raise self.fail(
                    node.get(key).line,
                    f"member_account: '{key}' may use {{ods}} and {{organisation}} only ({type(exc).__name__}: {exc})",
                ) from None
        return account

    def cycle(self, node: Node) -> Cycle:
        fields = self.mapping(node, "a cycle", CYCLE_KEYS)
        name = str(self.scalar(fields, "name", "a cycle", lambda v: isinstance(v, str), "text"))
        return Cycle(name, self.date(fields, "opens", f"cycle {name}"), self.date(fields, "closes", f"cycle {name}"))

    def organisations(self, node: Node | None) -> dict[str, Org]:
        node = self.any_mapping(node, "organisations")
        found = {}
        for ods, entry in node.entries.items():
            where = f"organisation {ods}"
            fields = self.mapping(entry.node, where, ORG_KEYS, entry.key_line)
            found[ods] = Org(
                ods,
                self.text(fields, "name", where),
                self.text(fields, "type", where),
                self.text(fields, "region", where),
                self.number(fields, "latitude", where),
                self.number(fields, "longitude", where),
            )
        return found

    def alliance(self, node: Node, organisations: dict[str, Org], cycles: tuple[Cycle, ...]) -> AllianceDemo:
        fields = self.mapping(node, "an alliance", ALLIANCE_KEYS)
        slug = self.text(fields, "slug", "an alliance")
        where = f"alliance {slug}"
        stories = tuple(
            self.story(item, where, organisations, cycles) for item in self.sequence(fields, "memberships", where)
        )
        return AllianceDemo(
            slug=slug,
            name=self.text(fields, "name", where),
            standards_files=self.standards_files(fields, where, cycles),
            created=self.date(fields, "created", where),
            lead=self.account(fields.get("lead"), f"{where}: lead"),
            stories=stories,
            buddies_proposed=self.date(fields, "buddies_proposed", where),
        )

    def standards_files(self, fields: Mapping, where: str, cycles: tuple[Cycle, ...]) -> tuple[str, str]:
        """``standards``: one file for both cycles, or a mapping of each cycle's name to its file."""
        node = fields.get("standards")
        if isinstance(node, Scalar):
            single = self.text(fields, "standards", where)
            return (single, single)
        names = [cycle.name for cycle in cycles]
        files = self.mapping(node, f"{where}: standards", {name: True for name in names}, fields.line)
        return tuple(self.text(files, name, f"{where}: standards") for name in names)  # type: ignore[return-value]

    def story(
        self, node: Node, alliance: str, organisations: dict[str, Org], cycles: tuple[Cycle, ...]
    ) -> MembershipStory:
        first, second = cycles[0].name, cycles[1].name
        fields = self.mapping(node, f"a membership of {alliance}", {**STORY_KEYS, first: False, second: False})
        ods = self.scalar(
            fields,
            "ods",
            f"a membership of {alliance}",
            lambda v: v in organisations,
            "the ODS code of one of the organisations",
        )
        where = f"membership {ods} of {alliance}"
        cycle2 = None
        if fields.get(second) is not None:
            pair = fields.get(second)
            wanted = f"{where}: '{second}' must be [profile, state]"
            if (
                not isinstance(pair, Sequence)
                or len(pair.items) != 2
                or not all(isinstance(item, Scalar) for item in pair.items)
            ):
                raise self.fail(pair.line, f"{wanted}, got {_describe(pair)}")
            profile, state = (item.value for item in pair.items)
            if profile not in PROFILE_NAMES or state not in STATES:
                raise self.fail(
                    pair.line,
                    f"{wanted} (profiles: {' | '.join(PROFILE_NAMES)}; states: "
                    f"{' | '.join(STATES)}), got [{profile}, {state}]",
                )
            cycle2 = (profile, state)
        return MembershipStory(
            ods=ods,
            applied=self.date(fields, "applied", where),
            route=self.choice(fields, "route", where, ROUTES, "full"),
            specialty=self.text(fields, "specialty", where),
            founding=self.flag(fields, "founding", where),
            cycle1=self.choice(fields, first, where, PROFILE_NAMES),
            cycle2=cycle2,
            suspend=self.flag(fields, "suspend", where),
            withdraws=self.text(fields, "withdraws", where),
            comments=tuple(self.comment(item, where) for item in self.sequence(fields, "comments", where)),
            override=self.override(fields.get("override"), where),
            improvement_plans=self.flag(fields, "improvement_plans", where),
        )

    def comment(self, node: Node, where: str) -> Comment:
        fields = self.mapping(node, f"{where}: a comment", COMMENT_KEYS)
        days = self.scalar(
            fields,
            "days",
            f"{where}: a comment",
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
            "a whole number",
        )
        return Comment(
            days,
            self.flag(fields, "on_headline", f"{where}: a comment"),
            self.text(fields, "text", f"{where}: a comment"),
        )

    def override(self, node: Node | None, where: str) -> Optional[Override]:
        if node is None:
            return None
        fields = self.mapping(node, f"{where}: override", OVERRIDE_KEYS)
        return Override(
            self.choice(fields, "kind", f"{where}: override", OVERRIDE_KINDS),
            self.text(fields, "reason", f"{where}: override"),
        )

    def plan_shape(self, node: Node) -> PlanShape:
        fields = self.mapping(node, "an improvement plan", PLAN_SHAPE_KEYS)
        where = "an improvement plan"
        return PlanShape(
            self.date(fields, "due", where), self.text(fields, "progress", where), self.text(fields, "owner", where)
        )
