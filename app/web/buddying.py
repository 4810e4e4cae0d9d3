"""Buddying pages: the lead's board for the alliance's pairs, and the actions of the two member
organisations of a pair. A pair outside the lead's alliance, or not involving the member user's own
organisation, is a 404 for reading and writing alike."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..services import NotFound, ServiceError
from ..services.buddying import pairs
from ..services.buddying.board import board as board_of
from .access import actor, roles, unit_of_work

bp = Blueprint("buddying", __name__)

DONE = {
    "accept": "Accepted.",
    "start": "Buddying started.",
    "withdraw": "Pair withdrawn.",
    "reassign": "Buddy reassigned: the new pair is proposed.",
}


def _sentence(message: str) -> str:
    key, sep, text = message.partition(": ")
    message = text if sep and " " not in key else message
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def _act(step: str, pair_id: int, back: str, **scope):
    try:
        with unit_of_work() as session:
            if step == "accept":
                pairs.accept(session, actor(), pair_id, **scope)
            elif step == "start":
                pairs.start(session, actor(), pair_id, **scope)
            elif step == "withdraw":
                pairs.withdraw(session, actor(), pair_id, request.form.get("reason", ""), **scope)
            else:
                buddy = request.form.get("buddy", "")
                if not buddy.isdigit():
                    raise ServiceError("buddy: choose a buddy")
                pairs.reassign(
                    session, actor(), scope["alliance_id"], pair_id, int(buddy), request.form.get("reason", "")
                )
    except NotFound:
        raise
    except ServiceError as exc:
        flash(_sentence(str(exc)), "error")
    else:
        flash(DONE[step], "success")
    return redirect(back)


@bp.get("/review/buddying")
@roles("lead")
def board():
    with unit_of_work() as session:
        found = board_of(session, current_user.alliance_id)
    return render_template("buddying/board.html", board=found)


@bp.post("/review/buddying/<int:pair_id>/<any(accept, start, withdraw, reassign):step>")
@roles("lead")
def lead_step(pair_id: int, step: str):
    return _act(
        step, pair_id, url_for("buddying.board", _anchor=f"pair-{pair_id}"), alliance_id=current_user.alliance_id
    )


@bp.post("/member/buddying/<int:pair_id>/<any(accept, start, withdraw):step>")
@roles("member")
def member_step(pair_id: int, step: str):
    return _act(step, pair_id, url_for("member.home", _anchor="buddying"), organisation_id=current_user.organisation_id)
