"""The web application (Flask) for members, alliance leads and operators.

``create_app(config)`` builds one application: settings from the environment
(``app.config.load``) with ``config`` on top; it refuses to start without a
secret key in production or on a database whose schema is not this code's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional

from . import config as app_config
from . import db

if TYPE_CHECKING:
    from flask import Flask


class StartupError(RuntimeError):
    """The application cannot start; the message says why and what to do."""


def create_app(config: Optional[Mapping[str, Any]] = None) -> Flask:
    # Flask comes in here, not with the package: the command line's workers use the services only.
    from flask import Flask
    from jinja2 import ChainableUndefined, ChoiceLoader, FileSystemLoader, PackageLoader

    from .jobs import mail as mail_jobs  # noqa: F401  (mail is enqueued when the transaction commits)
    from .jobs import queue
    from .web import register

    app = Flask(__name__, instance_relative_config=False)
    try:
        settings = app_config.load(config)
    except app_config.ConfigError as exc:
        raise StartupError(f"configuration: {exc}") from None
    app.config.update(settings)
    if app.config["CHECK_SCHEMA"]:
        try:
            db.check_schema(app.config["DATABASE_URL"])
        except db.SchemaOutOfDate as exc:
            raise StartupError(str(exc)) from None
    # NHS.UK frontend macros need ChainableUndefined (they read nested optional parameters); their templates end
    # in .jinja, which Flask would not autoescape by default, so escaping is on for every template.
    app.jinja_options = {**app.jinja_options, "undefined": ChainableUndefined, "autoescape": True}
    app.jinja_loader = ChoiceLoader(
        [FileSystemLoader(app.root_path + "/templates"), PackageLoader("nhsuk_frontend_jinja")]
    )
    register(app)
    queue.configure(app.config)
    return app
