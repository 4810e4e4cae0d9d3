"""The application's forms, and the self-assessment forms built from a standards file.

A domain's form has one field per applicable criterion. What the member typed
or ticked is turned into an answer (a choice, an option id, a list of option
ids, a level index, a number, text or "na") and checked by
``rules.check_answer``: the same check the engine, the CLI and
``save_answers`` use, so the web never accepts what the engine would refuse.
A refusal reaches the member (and an API client) as a person would say it
(``answer_problem``), and a stored number is shown in the digits it was written in.
``page_layout`` says where a page shows each conditional question (schema 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Optional

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, Field, PasswordField, StringField, TextAreaField
from wtforms.validators import DataRequired, EqualTo, Length, ValidationError

import rules
from rules.model import CHOICES, Criterion, Standard, StandardsSet, is_number
from rules.text import text_problem

from ..services.accounts import EMAIL, MAX_PASSWORD, MIN_PASSWORD
from ..services.api_tokens import NAME_MAX
from ..services.evidence import NOTE_MAX, is_link
from ..services.membership import ODS_CODE
from ..services.questions import condition_words
from ..wording import decimal_text

NA = "na"
#: The box of a multi_choice question that answers "none of these" (an empty list): option ids are slugs, so
#: no option has this id.
NONE_OF_THEM = "_none"
OTHER = "__other__"
ORG_TYPES = ("acute", "specialist", "community", "mental-health", "primary-care", "social-care", "teaching")
SLUG = re.compile(r"[a-z0-9][a-z0-9-]*\Z")


class PlainText:
    """What a text field may hold, checked as the services check it (``rules.text``): no control characters
    or lone surrogates; ``single_line`` (names, titles, links) no line breaks or tabs either."""

    def __init__(self, single_line: bool = True):
        self.single_line = single_line

    def __call__(self, form: FlaskForm, field: Field) -> None:
        problem = text_problem(field.data, self.single_line) if isinstance(field.data, str) else None
        if problem:
            raise ValidationError(problem[:1].upper() + problem[1:])


def _required_text(label: str, missing: str, longest: int) -> StringField:
    """A one-line text a person must give: the message when it is missing, a length limit, plain text only."""
    return StringField(
        label,
        validators=[
            DataRequired(missing),
            Length(max=longest, message=f"Use {longest} characters or fewer"),
            PlainText(),
        ],
    )


class ChoiceField(StringField):
    """A choice rendered by the page's own radios or select; ``choices`` holds (value, label) pairs and the
    form's ``validate_<name>`` checks the value against them."""

    def __init__(self, *args: Any, choices: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.choices = list(choices or [])

    def offered(self, value: Optional[str]) -> bool:
        return any(value == choice for choice, _ in self.choices if choice)


class LoginForm(FlaskForm):
    email = StringField("Email address", validators=[DataRequired("Enter your email address"), PlainText()])
    password = PasswordField("Password", validators=[DataRequired("Enter your password")])


class RegisterForm(FlaskForm):
    organisation_name = _required_text("Organisation name", "Enter the organisation's name", 200)
    ods_code = StringField("ODS code", validators=[DataRequired("Enter the organisation's ODS code")])
    org_type = ChoiceField("Type of organisation", validators=[DataRequired("Choose the type of organisation")])
    region = _required_text("Region", "Enter the region", 100)
    name = _required_text("Your full name", "Enter your full name", 200)
    email = _required_text("Email address", "Enter your email address", 254)
    password = PasswordField(
        "Create a password",
        validators=[
            DataRequired("Enter a password"),
            Length(min=MIN_PASSWORD, message=f"Use at least {MIN_PASSWORD} characters for your password"),
            Length(max=MAX_PASSWORD, message=f"Use {MAX_PASSWORD} characters or fewer for your password"),
        ],
    )
    confirm = PasswordField(
        "Confirm your password",
        validators=[DataRequired("Enter your password again"), EqualTo("password", "The passwords do not match")],
    )

    def __init__(self, *args: Any, org_types: tuple[str, ...] = ORG_TYPES, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.org_type.choices = [("", "Choose a type")] + [(t, t.replace("-", " ").capitalize()) for t in org_types]

    def validate_org_type(self, field: Field) -> None:
        if field.data and not field.offered(field.data):
            raise ValidationError("Choose a type of organisation from the list")

    def validate_email(self, field: Field) -> None:
        if field.data and not EMAIL.match(field.data.strip()):
            raise ValidationError("Enter an email address in the correct format, like name@nhs.net")

    def validate_ods_code(self, field: Field) -> None:
        if field.data and not ODS_CODE.match(field.data.strip().upper()):
            raise ValidationError("Enter an ODS code of 3 to 10 letters or digits, like RRJ")


class ChangePasswordForm(FlaskForm):
    current = PasswordField("Current password", validators=[DataRequired("Enter your current password")])
    password = PasswordField(
        "New password",
        validators=[
            DataRequired("Enter a new password"),
            Length(min=MIN_PASSWORD, message=f"Use at least {MIN_PASSWORD} characters for your password"),
            Length(max=MAX_PASSWORD, message=f"Use {MAX_PASSWORD} characters or fewer for your password"),
        ],
    )
    confirm = PasswordField(
        "Confirm your new password",
        validators=[DataRequired("Enter your new password again"), EqualTo("password", "The passwords do not match")],
    )


class CodeForm(FlaskForm):
    """A code from an authenticator app (6 digits) or a recovery code; the service reads either."""

    code = StringField(
        "Code",
        validators=[
            DataRequired("Enter the code from your authenticator app"),
            Length(max=40, message="Enter the 6-digit code from your app, or a recovery code"),
        ],
    )


class ApplyForm(FlaskForm):
    route = ChoiceField("Membership route", validators=[DataRequired("Choose a membership route")])
    specialty = ChoiceField("Specialty")
    specialty_other = StringField("Other specialty")
    sponsor = StringField("Sponsor's ODS code")

    def __init__(self, *args: Any, routes: list[tuple[str, str]], specialties: list[str], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.route.choices = routes
        self.specialty.choices = (
            [("", "Choose a specialty")]
            + [(s, s.replace("-", " ").capitalize()) for s in specialties]
            + [(OTHER, "Another specialty")]
        )

    def validate_route(self, field: Field) -> None:
        if field.data and not field.offered(field.data):
            raise ValidationError("Choose a membership route from the list")

    def validate_specialty(self, field: Field) -> None:
        if self.route.data != "specialty":
            return
        if not field.data:
            raise ValidationError("Choose the specialty of the membership")
        if not field.offered(field.data):
            raise ValidationError("Choose a specialty from the list")

    def validate_specialty_other(self, field: Field) -> None:
        if self.route.data != "specialty" or self.specialty.data != OTHER:
            return
        text = (field.data or "").strip().lower()
        if not text:
            raise ValidationError("Enter the specialty")
        if not SLUG.match(text):
            raise ValidationError("Enter the specialty in lower-case letters, digits and hyphens, like hand-surgery")

    @property
    def chosen_specialty(self) -> Optional[str]:
        if self.route.data != "specialty":
            return None
        if self.specialty.data == OTHER:
            return (self.specialty_other.data or "").strip().lower()
        return self.specialty.data


class EvidenceForm(FlaskForm):
    kind = ChoiceField(
        "What kind of evidence?",
        choices=[("file", "Upload a file"), ("link", "Give a link")],
        validators=[DataRequired("Choose whether to upload a file or give a link")],
    )
    upload = FileField("Upload a file")
    url = StringField("Link to the evidence")
    note = TextAreaField(
        "Note (optional)",
        validators=[Length(max=NOTE_MAX, message=f"Use {NOTE_MAX} characters or fewer"), PlainText(single_line=False)],
    )

    def validate_kind(self, field: Field) -> None:
        if field.data and not field.offered(field.data):
            raise ValidationError("Choose whether to upload a file or give a link")

    def validate_upload(self, field: Field) -> None:
        if self.kind.data == "file" and (field.data is None or not getattr(field.data, "filename", "")):
            raise ValidationError("Choose a file to upload")

    def validate_url(self, field: Field) -> None:
        if self.kind.data != "link":
            return
        url = (field.data or "").strip()
        if not url:
            raise ValidationError("Enter the link to the evidence")
        if not is_link(url):
            raise ValidationError("Enter a full link starting with https://, like https://example.nhs.uk/policy.pdf")


# -- self-assessment forms --------------------------------------------------------------------------------


def field_names(standards: StandardsSet) -> dict[str, str]:
    """A form field name (and HTML id) for every criterion: readable, unique within the file."""
    names: dict[str, str] = {}
    used: set[str] = set()
    for index, criterion in enumerate(standards.criteria):
        base = "c-" + (re.sub(r"[^A-Za-z0-9]+", "-", criterion.id).strip("-") or str(index))
        name = base if base not in used else f"{base}-{index}"
        used.add(name)
        names[criterion.id] = name
    return names


def _raw_answer(criterion: Criterion, data: Any, na_ticked: bool) -> tuple[Any, Optional[str]]:
    """What the member typed or ticked, as the answer it stands for (still to be checked)."""
    if criterion.type == "multi_choice":
        return _ticked_answer(list(data or ()))
    text = data if isinstance(data, str) else ""
    text = text.strip() if criterion.type != "text" else text
    if na_ticked:
        if text.strip():
            return None, "Either give an answer or choose not applicable, not both"
        return NA, None
    if not text.strip():
        return None, None
    if criterion.type == "level" and re.fullmatch(r"-?\d+", text):
        return int(text), None
    if criterion.type == "metric":
        number = _number(text)
        return (text if number is None else number), None
    return text, None


def _ticked_answer(ticked: list[str]) -> tuple[Any, Optional[str]]:
    """A multi_choice answer from its boxes: the options ticked, [] for "None of these", or "na"."""
    for only, words in ((NONE_OF_THEM, "none of them"), (NA, "not applicable")):
        if only in ticked:
            if len(ticked) > 1:
                return None, f"Either choose options or {words}, not both"
            return ([] if only == NONE_OF_THEM else NA), None
    return (ticked or None), None


def _number(text: str) -> int | float | None:
    cleaned = text.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+(\.\d+)?", text) else text
    try:
        return int(cleaned)
    except ValueError:
        pass
    try:
        return float(cleaned)
    except ValueError:
        return None


def metric_bounds(criterion: Criterion) -> tuple[Optional[float], Optional[float]]:
    """The range a metric's answers must be in: its ``min`` and ``max``; a percentage without either is 0-100."""
    low, high = getattr(criterion, "min", None), getattr(criterion, "max", None)
    if low is None and high is None and (criterion.unit or "").strip() == "%":
        return 0, 100
    return low, high


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def answer_problem(
    criterion: Criterion, value: Any, problem: str, na_choice: str = "choose not applicable", option_ids: bool = False
) -> str:
    """A refusal of ``rules.check_answer`` as a person would write it ("Enter a number between 0 and 100"),
    from the criterion and the refused answer; ``na_choice``: how the person says "not applicable" (an API
    client sends "na"); ``option_ids``: name a choice's options by their ids (what an API client sends),
    not their texts."""
    or_na = f", or {na_choice}" if criterion.allow_na else ""
    unreadable = text_problem(value) if isinstance(value, str) else None
    if unreadable:  # what is wrong with the text itself, whatever the question asks for
        return f"Enter plain text: the answer {unreadable}"
    if isinstance(value, str) and value == NA:
        return "Give an answer: this question cannot be answered not applicable"
    if criterion.type in ("choice", "multi_choice"):
        options = (
            [f'"{o.id}"' for o in criterion.options or ()]
            if option_ids
            else [f"“{o.text}”" for o in criterion.options or ()]
        )
        if criterion.type == "choice":
            return (
                f"Send one of the option ids {_listed(options)}{or_na}"
                if option_ids
                else f"Choose one of {_listed(options)}{or_na}"
            )
        if option_ids:
            return f"Send a list of distinct option ids from {_listed(options)} ([] for none of them){or_na}"
        return f"Choose any of {_listed(options)}, each once, or “None of these”{or_na}"
    if criterion.type in CHOICES:
        options = [{"partial": "partly"}.get(o, o) for o in CHOICES[criterion.type]]
        return f"Choose {', '.join(options[:-1])} or {options[-1]}{or_na}"
    if criterion.type == "level":
        return f"Choose a level from 0 to {len(criterion.levels or ()) - 1}{or_na}"
    if criterion.type == "metric":
        if is_number(value):
            low, high = metric_bounds(criterion)
            if low is not None and high is not None:
                return f"Enter a number between {decimal_text(low)} and {decimal_text(high)}{or_na}"
            if low is not None:
                return f"Enter a number of {decimal_text(low)} or more{or_na}"
            if high is not None:
                return f"Enter a number of {decimal_text(high)} or less{or_na}"
        return f"Enter a number, like 82.5{or_na}"
    if criterion.type == "text":
        return f"Enter your answer as text{or_na}"
    return problem[:1].upper() + problem[1:]


def checked_answer(
    criterion: Criterion, value: Any, na_choice: str = "choose not applicable"
) -> tuple[Any, Optional[str]]:
    """``rules.check_answer`` with its refusal in a person's words."""
    clean, problem = rules.check_answer(criterion, value)
    return (None, answer_problem(criterion, value, problem, na_choice)) if problem else (clean, None)


def save_problem(
    criterion: Optional[Criterion],
    value: Any,
    problem: str,
    na_choice: str = "choose not applicable",
    option_ids: bool = False,
) -> str:
    """A refusal of a save (``SaveOutcome.errors``) in a person's words: the answer check's refusals are
    reworded, the service's own (a criterion that does not apply) are kept."""
    if criterion is not None and rules.check_answer(criterion, value)[1] == problem:
        return answer_problem(criterion, value, problem, na_choice, option_ids)
    return problem


class AnswerField(StringField):
    """One criterion's answer; ``answer`` holds the checked value once the form validates it. A multi_choice
    field's data is the list of boxes ticked (none ticked: unanswered)."""

    def __init__(self, *args: Any, criterion: Criterion, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.criterion = criterion
        self.answer: Any = None
        self.na_field: Optional[BooleanField] = None

    def process_formdata(self, valuelist: list[Any]) -> None:
        if self.criterion.type == "multi_choice":
            self.data = [v for v in valuelist if isinstance(v, str)]
        else:
            super().process_formdata(valuelist)

    def pre_validate(self, form: FlaskForm) -> None:
        na_ticked = bool(self.na_field is not None and self.na_field.data)
        raw, problem = _raw_answer(self.criterion, self.data, na_ticked)
        if problem:
            raise ValidationError(problem)
        value, problem = checked_answer(self.criterion, raw)
        if problem:
            raise ValidationError(problem)
        self.answer = value


def _shown_value(criterion: Criterion, value: Any) -> tuple[Any, bool]:
    """A stored answer as the form shows it: the field's text (a multi_choice's boxes ticked), and whether
    "not applicable" is ticked."""
    if criterion.type == "multi_choice":
        if value is None:
            return [], False
        if value == NA:
            return [NA], False
        return (list(value) if value else [NONE_OF_THEM]), False
    if value is None:
        return "", False
    if value == NA:
        return ("", True) if criterion.type in ("metric", "text") else (NA, False)
    return decimal_text(value), False


def domain_form_class(criteria: list[Criterion], names: dict[str, str]) -> type[FlaskForm]:
    """A form class for one domain page: an answer field (and, where allowed, a "not applicable" box) per criterion."""

    class DomainForm(FlaskForm):
        def __init__(self, *args: Any, **kwargs: Any):
            super().__init__(*args, **kwargs)
            self.left_as_stored: set[str] = set()
            for criterion in criteria:
                field = self[names[criterion.id]]
                field.na_field = self._fields.get(names[criterion.id] + "-na")

        @property
        def answer_fields(self) -> list[AnswerField]:
            return [self[names[c.id]] for c in criteria]

        def answers(self) -> dict[str, Any]:
            """The checked answers of the fields that passed (the others keep what was stored)."""
            return {
                f.criterion.id: f.answer
                for f in self.answer_fields
                if not f.errors and f.criterion.id not in self.left_as_stored
            }

        def leave_as_stored(self, criterion_ids: Iterable[str]) -> None:
            """Drop what was sent for these questions, with any error in it: they are not asked (schema 2
            conditions), so what was typed into them is ignored, as the engine ignores it, and what is
            stored for them stays."""
            for criterion_id in criterion_ids:
                field = self._fields.get(names.get(criterion_id, ""))
                if isinstance(field, AnswerField) and field.errors:
                    field.errors = []
                    self.left_as_stored.add(criterion_id)

    for criterion in criteria:
        name = names[criterion.id]
        setattr(DomainForm, name, AnswerField(criterion.text, criterion=criterion))
        if criterion.allow_na and criterion.type in ("metric", "text"):
            setattr(DomainForm, name + "-na", BooleanField("Not applicable"))
    return DomainForm


def domain_form(criteria: list[Criterion], names: dict[str, str], stored: dict[str, Any]) -> FlaskForm:
    """The form for a domain page, filled with the stored answers (or, on a POST, with what was sent)."""
    data: dict[str, Any] = {}
    for criterion in criteria:
        text, na = _shown_value(criterion, stored.get(criterion.id))
        data[names[criterion.id]] = text
        if criterion.allow_na and criterion.type in ("metric", "text"):
            data[names[criterion.id] + "-na"] = na
    return domain_form_class(criteria, names)(data=data)


@dataclass(frozen=True)
class Reveal:
    """Questions a page shows inside a controlling question's answers (the NHS.UK conditional reveal pattern):
    ``values`` are the controlling field's values (as the form posts them) that reveal them."""

    id: str
    values: tuple[str, ...]
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class PageLayout:
    """How a domain page nests its questions: a conditional question whose condition names a question of the
    same standard is shown inside that question's answers (revealed by the answer, or, without JavaScript,
    shown under it); any other conditional question is shown in its place, with a hint naming the question it
    depends on."""

    reveals: dict[str, tuple[Reveal, ...]]  # controlling criterion id -> what its answers reveal
    nested: frozenset[str]  # criteria shown inside another question, not at the top of their standard
    depends: dict[str, str]  # conditional criteria shown in their place -> the hint naming what they depend on

    def top(self, standard: Standard) -> list[Criterion]:
        return [c for c in standard.criteria if c.id not in self.nested]


def page_layout(standards_set: StandardsSet, standards: list[Standard], names: dict[str, str]) -> PageLayout:
    """Where a domain page showing ``standards`` (of ``standards_set``) puts its conditional questions."""
    grouped: dict[str, dict[tuple[str, ...], list[Criterion]]] = {}
    for standard in standards:
        own = {c.id for c in standard.criteria}
        for criterion in standard.criteria:
            when = criterion.when
            if when is not None and when.criterion in own:
                values = tuple(str(v) for v in when.values)
                grouped.setdefault(when.criterion, {}).setdefault(values, []).append(criterion)
    reveals = {
        controller: tuple(
            Reveal(f"conditional-{names[controller]}-{index}", values, tuple(criteria))
            for index, (values, criteria) in enumerate(by_values.items(), start=1)
        )
        for controller, by_values in grouped.items()
    }
    nested = frozenset(c.id for found in reveals.values() for reveal in found for c in reveal.criteria)
    lookup = standards_set.criterion_lookup
    depends = {
        c.id: condition_words(c, lookup)
        for s in standards
        for c in s.criteria
        if c.when is not None and c.id not in nested
    }
    return PageLayout(reveals, nested, depends)


def show_service_error(form: FlaskForm, message: str, fields: dict[str, str]) -> None:
    """Put a service's refusal ("field: problem; field: problem") on the form fields it names.

    ``fields`` maps the service's field names to the form's; a problem naming no known field goes on the
    form as a whole (``form.form_errors``).
    """
    for part in (p.strip() for p in message.split("; ") if p.strip()):
        key, sep, text = part.partition(": ")
        target = fields.get(key) if sep else None
        if target is not None and target in form._fields:
            form[target].errors = [*form[target].errors, text[:1].upper() + text[1:]]
        else:
            form.form_errors.append(part[:1].upper() + part[1:])


class ApiTokenForm(FlaskForm):
    """A new API token: what it is for, and the one organisation or alliance it may reach."""

    name = StringField(
        "What is the token for?",
        validators=[
            DataRequired("Enter what the token is for"),
            Length(max=NAME_MAX, message=f"Use {NAME_MAX} characters or fewer"),
            PlainText(),
        ],
    )
    scope = ChoiceField("Who the token acts for", validators=[DataRequired("Choose an organisation or an alliance")])

    def __init__(
        self, *args: Any, organisations: list[tuple[int, str]], alliances: list[tuple[int, str]], **kwargs: Any
    ):
        super().__init__(*args, **kwargs)
        self.scope.choices = (
            [("", "Choose an organisation or an alliance")]
            + [(f"organisation:{i}", f"Organisation: {name}") for i, name in organisations]
            + [(f"alliance:{i}", f"Alliance (as its lead): {name}") for i, name in alliances]
        )

    def validate_scope(self, field: Field) -> None:
        if field.data and not field.offered(field.data):
            raise ValidationError("Choose an organisation or an alliance from the list")

    @property
    def chosen(self) -> dict[str, int]:
        """``organisation_id`` or ``alliance_id`` for the token service."""
        kind, _, ident = (self.scope.data or "").partition(":")
        return {f"{kind}_id": int(ident)}


class StandardsUploadForm(FlaskForm):
    """A draft version of the alliance's standards file, to preview its impact before it is published."""

    standards_file = FileField("Standards file (YAML)")

    def validate_standards_file(self, field: Field) -> None:
        if field.data is None or not getattr(field.data, "filename", ""):
            raise ValidationError("Choose a standards file to upload")


class LibraryImportForm(FlaskForm):
    """A CISO Assistant framework library to import as a draft version of the alliance's standards set."""

    library_file = FileField("Framework library (YAML)")
    set_id = StringField(
        "Standards set id",
        validators=[DataRequired("Enter the standards set id"), Length(max=100, message="Use 100 characters or fewer")],
    )
    version = StringField(
        "Version",
        validators=[
            DataRequired("Enter the version of the draft, for example 2026.2"),
            Length(max=32, message="Use 32 characters or fewer"),
        ],
    )

    def validate_library_file(self, field: Field) -> None:
        if field.data is None or not getattr(field.data, "filename", ""):
            raise ValidationError("Choose a framework library to upload")


def _new_password(label: str) -> PasswordField:
    return PasswordField(
        label,
        validators=[
            DataRequired("Enter a password"),
            Length(min=MIN_PASSWORD, message=f"Use at least {MIN_PASSWORD} characters for your password"),
            Length(max=MAX_PASSWORD, message=f"Use {MAX_PASSWORD} characters or fewer for your password"),
        ],
    )


def _confirm() -> PasswordField:
    return PasswordField(
        "Confirm your password",
        validators=[DataRequired("Enter your password again"), EqualTo("password", "The passwords do not match")],
    )


class InviteForm(FlaskForm):
    """Invite a colleague: their email, and the role and place (only those the inviter may invite into)."""

    email = StringField("Email address", validators=[DataRequired("Enter their email address"), PlainText()])
    place = ChoiceField("Invite them as", validators=[DataRequired("Choose what to invite them as")])

    def __init__(self, *args: Any, places: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.place.choices = places
        if len(places) == 1 and not self.place.data:
            self.place.data = places[0][0]

    def validate_email(self, field: Field) -> None:
        if field.data and not EMAIL.match(field.data.strip()):
            raise ValidationError("Enter an email address in the correct format, like name@nhs.net")

    def validate_place(self, field: Field) -> None:
        if field.data and not field.offered(field.data):
            raise ValidationError("Choose what to invite them as from the list")


class AttestationForm(FlaskForm):
    """The approver's attestation with a submission: the box ticked, their name and their role."""

    confirmed = BooleanField("I confirm that this self-assessment is accurate")
    name = _required_text("Your full name", "Enter your name", 200)
    role = _required_text("Your role", "Enter your role, for example Director of Nursing", 200)

    def validate_confirmed(self, field: Field) -> None:
        if not field.data:
            raise ValidationError("Confirm that the self-assessment is accurate")


class AcceptInvitationForm(FlaskForm):
    name = _required_text("Your full name", "Enter your full name", 200)
    password = _new_password("Choose a password")
    confirm = _confirm()


class ForgotPasswordForm(FlaskForm):
    email = StringField("Email address", validators=[DataRequired("Enter your email address"), PlainText()])

    def validate_email(self, field: Field) -> None:
        if field.data and not EMAIL.match(field.data.strip()):
            raise ValidationError("Enter an email address in the correct format, like name@nhs.net")


class ResetPasswordForm(FlaskForm):
    password = _new_password("New password")
    confirm = _confirm()


class ApprovalSettingsForm(FlaskForm):
    """Which of a lead's actions need a second lead of the alliance before they take effect (four eyes)."""

    decisions = BooleanField("A decision more favourable than the engine's outcome")
    overrides = BooleanField("An override that changes a standard's status")
    suspensions = BooleanField("Suspending a member")
