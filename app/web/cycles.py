"""The lead's assessment cycles: the list with each cycle's state, opening a cycle with its dates, changing the
dates of one not closed, and closing one. Leads only; another alliance's cycle is a 404, reading and writing."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..models import utcnow
from ..services import NotFound, ServiceError, overview
from ..services import cycles as service
from .access import actor, roles, unit_of_work
from .review import field_problems

bp = Blueprint("cycles", __name__, url_prefix="/review/cycles")


def _date(form, name: str, words: str) -> dt.date:  # noqa: ANN001
    raw = (form.get(name) or "").strip()
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise ServiceError(f"{name}: the {words} must be a real date, like 2027-04-01") from None


def _dates(form) -> tuple[dt.date, dt.date]:  # noqa: ANN001
    problems = []
    found = []
    for name, words in (("opens_on", "opening date"), ("closes_on", "closing date")):
        try:
            found.append(_date(form, name, words))
        except ServiceError as exc:
            problems.append(str(exc))
    if problems:
        raise ServiceError("; ".join(problems))
    return found[0], found[1]


def _page(errors: dict | None = None, entered: dict | None = None, code: int = 200):
    with unit_of_work() as session:
        alliance = overview.alliance(session, current_user.alliance_id)
        lines = service.lines_of(session, current_user.alliance_id) if alliance else []
        current = service.open_cycle_of(session, current_user.alliance_id) if alliance else None
    return (
        render_template(
            "cycles/cycles.html",
            alliance=alliance,
            lines=lines,
            current=current,
            today=utcnow().date(),
            errors=errors or {},
            entered=entered or {},
            page_has_errors=bool(errors),
        ),
        code,
    )


@bp.get("")
@roles("lead")
def cycles():
    return _page()


@bp.post("")
@roles("lead")
def open_cycle():
    form = request.form
    try:
        opens_on, closes_on = _dates(form)
        with unit_of_work() as session:
            cycle = service.open_new(
                session,
                actor(),
                current_user.alliance_id,
                name=form.get("name", ""),
                opens_on=opens_on,
                closes_on=closes_on,
            )
            name = cycle.name
    except NotFound:
        raise
    except ServiceError as exc:
        return _page(field_problems(str(exc)), dict(form), 400)
    flash(f"The {name} cycle is opened.", "success")
    return redirect(url_for("cycles.cycles"))


@bp.route("/<int:cycle_id>/edit", methods=["GET", "POST"])
@roles("lead")
def edit(cycle_id: int):
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            opens_on, closes_on = _dates(request.form)
            with unit_of_work() as session:
                service.change_dates(
                    session, actor(), current_user.alliance_id, cycle_id, opens_on=opens_on, closes_on=closes_on
                )
        except NotFound:
            raise
        except ServiceError as exc:
            errors = field_problems(str(exc))
        else:
            flash("The cycle's dates are changed.", "success")
            return redirect(url_for("cycles.cycles"))
    with unit_of_work() as session:
        cycle = service.cycle_of(session, current_user.alliance_id, cycle_id)
        state = service.state(cycle)
    entered = (
        dict(request.form)
        if errors
        else {"opens_on": cycle.opens_on.isoformat(), "closes_on": cycle.closes_on.isoformat()}
    )
    return (
        render_template(
            "cycles/edit.html", cycle=cycle, state=state, errors=errors, entered=entered, page_has_errors=bool(errors)
        ),
        400 if errors else 200,
    )


@bp.post("/<int:cycle_id>/close")
@roles("lead")
def close(cycle_id: int):
    try:
        with unit_of_work() as session:
            cycle = service.close(session, actor(), current_user.alliance_id, cycle_id)
            name = cycle.name
    except NotFound:
        raise
    except ServiceError as exc:
        flash(str(exc)[:1].upper() + str(exc)[1:] + ".", "error")
        return redirect(url_for("cycles.cycles"))
    flash(f"The {name} cycle is closed. Drafts submitted from now on are marked late.", "success")
    return redirect(url_for("cycles.cycles"))
