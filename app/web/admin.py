"""Operators' pages (administration comes in a later release)."""
from __future__ import annotations

from flask import Blueprint, render_template

from ..services import overview
from .access import roles, unit_of_work

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@roles("admin")
def home():
    with unit_of_work() as session:
        figures = overview.counts(session)
    return render_template("admin/home.html", figures=figures)
