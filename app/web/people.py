"""The people a person manages, and inviting colleagues: a member user's organisation ("People in your
organisation"), a lead's alliance, an admin's invitations. One page for every role: what it lists and where
one may invite is decided by ``services.invitations`` (``places_for``), from who is signed in."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..models import TEAM_ROLES, User
from ..services import NotFound, ServiceError, invitations
from .access import actor, roles, unit_of_work
from .forms import InviteForm, show_service_error

bp = Blueprint("people", __name__, url_prefix="/people")
EVERYONE = ("member", "lead", "admin")


def _places() -> dict[str, invitations.Place]:
    with unit_of_work() as session:
        return {place.key: place for place in invitations.places_for(session, session.get(User, current_user.id))}


@bp.get("/")
@roles(*EVERYONE)
def home():
    with unit_of_work() as session:
        view = invitations.people(session, current_user.id)
    return render_template("people/home.html", view=view)


@bp.route("/invite", methods=["GET", "POST"])
@roles(*EVERYONE)
def invite():
    places = _places()
    if not places:
        abort(403)
    form = InviteForm(places=[("", "Choose a role")] * (len(places) > 1) + [(k, p.words) for k, p in places.items()])
    # A member user's team roles (services.teams): ticked on the form; contributor and approver to begin with.
    chosen = [r for r in TEAM_ROLES if request.form.get(f"team-{r}")] if form.is_submitted() else TEAM_ROLES[1:]
    if form.validate_on_submit():
        place = places[form.place.data]
        try:
            with unit_of_work() as session:
                invitation, _ = invitations.invite(
                    session,
                    actor(),
                    email=form.email.data,
                    role=place.role,
                    organisation_id=place.organisation_id,
                    alliance_id=place.alliance_id,
                    days=current_app.config["INVITATION_DAYS"],
                    team_roles=chosen if place.role == "member" else None,
                )
                email = invitation.email
        except invitations.NotAllowed:
            abort(403)
        except ServiceError as exc:
            show_service_error(form, str(exc), {"email": "email", "place": "place", "roles": "place"})
        else:
            flash(f"An invitation is on its way to {email}.", "success")
            return redirect(url_for("people.home"))
    return render_template(
        "people/invite.html",
        form=form,
        single=len(places) == 1,
        team_roles=TEAM_ROLES,
        chosen=chosen,
        members=any(p.role == "member" for p in places.values()),
    )


def _act(invitation_id: int, what: str):  # noqa: ANN202
    try:
        with unit_of_work() as session:
            if what == "resend":
                invitation, _ = invitations.resend(
                    session, actor(), invitation_id, days=current_app.config["INVITATION_DAYS"]
                )
                done = f"The invitation to {invitation.email} is sent again, with a new link."
            else:
                invitation = invitations.revoke(session, actor(), invitation_id)
                done = f"The invitation to {invitation.email} is withdrawn: its link no longer works."
    except invitations.NotAllowed:
        abort(403)
    except NotFound:
        raise
    except ServiceError as exc:
        flash(str(exc), "error")
    else:
        flash(done, "success")
    return redirect(url_for("people.home"))


@bp.post("/invitations/<int:invitation_id>/resend")
@roles(*EVERYONE)
def resend(invitation_id: int):
    return _act(invitation_id, "resend")


@bp.post("/invitations/<int:invitation_id>/revoke")
@roles(*EVERYONE)
def revoke(invitation_id: int):
    return _act(invitation_id, "revoke")
