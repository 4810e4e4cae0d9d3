"""Command line for operators and alliance leads.

``python cli.py standards validate PATH...``, ``standards show PATH`` and
``score --standards PATH --answers PATH`` form the stable scoring interface:
bad input exits 1 with a clear message on stderr, never a traceback, and
``score`` prints nothing on stdout unless it succeeds.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

import rules
from rules.model import StandardsSet
from rules.numbers import plain_number
from rules.text import printable


def say(line: str, err: bool = False) -> None:
    """Print a line with what a terminal would act on escaped: names and titles come from people."""
    click.echo(printable(line), err=err)


def fail(lines: list[str] | str) -> NoReturn:
    for line in [lines] if isinstance(lines, str) else lines:
        say(line, err=True)
    sys.exit(1)


def load_or_fail(path: str) -> StandardsSet:
    try:
        return rules.load_standards(path)
    except rules.StandardsError as exc:
        fail(exc.problems)


def read_json(path: str, what: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")  # a byte-order mark from Windows editors is fine
    except OSError as exc:
        fail(f"{path}:1: cannot read the {what} file: {exc.strerror or exc}")
    except UnicodeDecodeError:
        fail(f"{path}:1: the {what} file is not valid UTF-8 text")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{path}:{exc.lineno}: the {what} file is not valid JSON: {exc.msg} (column {exc.colno})")
    except RecursionError:
        fail(f"{path}:1: the {what} file is nested too deeply to read")
    except ValueError as exc:  # e.g. an integer of thousands of digits
        fail(f"{path}:1: the {what} file cannot be read: {exc}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Accreditation for NHS provider alliances."""


@main.group()
def standards() -> None:
    """Validate, inspect, publish and compare standards files."""


@standards.command("validate")
@click.argument("paths", nargs=-1, required=True)
def standards_validate(paths: tuple[str, ...]) -> None:
    """Check standards files against the format; one summary line per valid file."""
    ok = True
    for path in paths:
        try:
            loaded = rules.load_standards(path)
        except rules.StandardsError as exc:
            ok = False
            for line in exc.problems:
                say(line, err=True)
            continue
        types: dict[str, int] = {}
        for criterion in loaded.criteria:
            types[criterion.type] = types.get(criterion.type, 0) + 1
        say(
            f"{path}: valid: {loaded.id} {loaded.version} ({loaded.title}), "
            f"{len(loaded.domains)} domains, {len(loaded.standards)} standards, {len(loaded.criteria)} criteria, "
            f"routes {', '.join(loaded.route_ids)}"
        )
    sys.exit(0 if ok else 1)


def _applies_text(applies: rules.model.Applies) -> str:
    parts = []
    if applies.routes is not None:
        parts.append("routes " + ", ".join(applies.routes))
    if applies.specialties is not None:
        parts.append("specialties " + ", ".join(applies.specialties))
    if applies.org_types is not None:
        parts.append("org types " + ", ".join(applies.org_types))
    return "; ".join(parts) if parts else "every member"


def outline(loaded: StandardsSet) -> list[str]:
    """A readable outline of a standards version, for people checking a file."""
    lines = [
        f"{loaded.title}",
        f"  set {loaded.id}, version {loaded.version}, {loaded.alliance}, effective from {loaded.effective_from.isoformat()}",
        f"  pass mark {loaded.pass_mark}%; ratings: " + ", ".join(f"{b.rating} >= {b.min}" for b in loaded.ratings),
        "  routes: " + ", ".join(f"{r.id} ({r.title})" for r in loaded.routes),
    ]
    if loaded.frameworks:
        lines.append("  mapped to: " + ", ".join(f"{f.id} ({f.title})" for f in loaded.frameworks))
    lines += _source_text(loaded.source_library)
    if loaded.core_proposition:
        lines.append("  core proposition:")
        for offer in loaded.core_proposition:
            routes = ", ".join(offer.routes) if offer.routes else "every route"
            lines.append(f"    - {offer.id}: {offer.title} [{routes}]")
    for domain in loaded.domains:
        lines.append("")
        lines.append(f"Domain {domain.id}: {domain.title} (weight {domain.weight})")
        for standard in domain.standards:
            must = ", must meet" if standard.must_meet else ""
            lines.append(f"  Standard {standard.id}: {standard.title} (weight {standard.weight}{must})")
            lines.append(f"    applies to: {_applies_text(standard.applies)}")
            if standard.maps_to:
                lines.append("    maps to: " + "; ".join(f'{r.framework} "{r.ref}"' for r in standard.maps_to))
            for c in standard.criteria:
                extra = []
                if c.type == "level":
                    extra.append("levels: " + " / ".join(f"{i} {name}" for i, name in enumerate(c.levels or ())))
                if c.options:
                    if c.type == "multi_choice":
                        extra.append("any number of options; the scores of those chosen add up, to at most 1")
                    extra += [f"option {o.id}: {o.text} (score {plain_number(o.score)})" for o in c.options]
                if c.type == "metric" and c.benchmark:
                    b = c.benchmark
                    sign = ">=" if b.direction == "higher" else "<="
                    extra.append(
                        f"target {sign} {plain_number(b.target)}{c.unit_suffix}, {b.direction} is better, "
                        f"amber {plain_number(b.amber)}"
                    )
                if (c.min, c.max) != (None, None) and not (c.unit == "%" and (c.min, c.max) == (0, 100)):
                    low = "" if c.min is None else plain_number(c.min)
                    high = "" if c.max is None else plain_number(c.max)
                    extra.append(f"range {low}..{high}{c.unit_suffix}")
                if c.when:
                    extra.append(_condition_text(loaded, c.when))
                flags = [f"weight {c.weight}", "required" if c.required else "optional"]
                if c.allow_na:
                    flags.append("na allowed")
                if c.evidence != "none":
                    flags.append(f"evidence {c.evidence}")
                text = c.text.replace("\n", "\n        ")  # an imported description keeps its line breaks
                lines.append(f"    - {c.id} [{c.type}] {text} ({', '.join(flags)})")
                lines.extend(f"        {e}" for e in extra)
    if loaded.frameworks:
        lines.append("")
        lines.append("Frameworks (the standards each ref is mapped from):")
        for framework in loaded.frameworks:
            refs = loaded.mapped_refs[framework.id]
            lines.append(f"  {framework.id}: {framework.title} ({len(refs)} ref{'' if len(refs) == 1 else 's'})")
            lines.extend(f'    "{ref}": {", ".join(ids)}' for ref, ids in refs.items())
    if loaded.rules:
        lines.append("")
        lines.append("Extra rules:")
        for rule in loaded.rules:
            lines.append(f"  - {rule.id} [{rule.severity}] {rule.message}")
    return lines


def _condition_text(loaded: StandardsSet, when: rules.model.When) -> str:
    """ "asked when Q4.1 is clinic", naming levels too: "asked when Q1.2 is one of 3 (In place), 4 (Audited)"."""
    asked = loaded.criterion_lookup[when.criterion][1]
    values = [f"{v} ({asked.levels[v]})" if asked.type == "level" and asked.levels else str(v) for v in when.values]
    return f"asked when {when.criterion} is " + (values[0] if len(values) == 1 else "one of " + ", ".join(values))


def _source_text(source: rules.model.SourceLibrary | None) -> list[str]:
    """Where an imported set came from: the library's name and urn, its version, provider, and copyright."""
    if source is None:
        return []
    named = " ".join(part for part in (source.name, f"({source.urn})" if source.urn else None) if part)
    lines = [f"  imported from: {named or 'a framework library'}"]
    facts = [
        f"{label} {value}"
        for label, value in (
            ("version", source.version),
            ("ref", source.ref_id),
            ("provider", source.provider),
            ("packager", source.packager),
            ("published", source.publication_date),
            ("locale", source.locale),
            ("framework urn", source.framework_urn),
        )
        if value
    ]
    if facts:
        lines.append("    " + ", ".join(facts))
    if source.copyright:
        first, *more = source.copyright.splitlines() or [""]
        lines.append(f"    copyright: {first}")
        lines.extend(f"      {line}" if line else "" for line in more)
    return lines


@standards.command("show")
@click.argument("path")
def standards_show(path: str) -> None:
    """Print a readable outline: domains, standards, criteria, targets, applicability."""
    for line in outline(load_or_fail(path)):
        say(line)


@standards.command("publish")
@click.argument("path")
def standards_publish(path: str) -> None:
    """Register a standards file as a published version; a published version never changes."""
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import select

    from app import db
    from app.models import StandardsVersion
    from app.services import CLI, ServiceError, register_version, set_version_state

    loaded = load_or_fail(path)
    require_schema()
    try:
        with db.session_scope() as session:
            existing = session.exec(
                select(StandardsVersion).where(
                    StandardsVersion.set_id == loaded.id, StandardsVersion.version == loaded.version
                )
            ).first()
            if existing is not None and existing.content_hash == loaded.content_hash:
                if existing.state == "retired":
                    raise ServiceError(f"{loaded.label} is retired; a retired version cannot be published again")
                if existing.state == "published":
                    say(
                        f"{loaded.label} is already published with this content "
                        f"(hash {existing.content_hash[:12]}); nothing changed"
                    )
                    return
                version = set_version_state(session, CLI, existing.id, "published")
            else:
                version = register_version(session, path, CLI, state="published")
    except rules.StandardsError as exc:  # the file changed between checking and storing it
        fail(exc.problems)
    except ServiceError as exc:
        fail(f"error: {path}: {exc}")
    except IntegrityError:
        fail(
            f"error: {path}: {loaded.label} was registered by someone else at the same moment; run publish again "
            "to see whether it holds this content"
        )
    say(
        f"published {version.set_id} {version.version} ({version.title}), effective from "
        f"{version.effective_from.isoformat()}, hash {version.content_hash[:12]}"
    )


@standards.command("delete-draft")
@click.argument("set_id", metavar="SET")
@click.argument("version")
def standards_delete_draft(set_id: str, version: str) -> None:
    """Delete a draft version a lead uploaded to preview, freeing its version number for publishing."""
    from sqlmodel import select

    from app import db
    from app.models import StandardsVersion
    from app.services import CLI, ServiceError
    from app.services.standards import delete_draft, registered_by

    require_schema()
    try:
        with db.session_scope() as session:
            found = session.exec(
                select(StandardsVersion).where(StandardsVersion.set_id == set_id, StandardsVersion.version == version)
            ).first()
            if found is None:
                raise ServiceError(f"{set_id} {version} is not registered (see `python cli.py standards list`)")
            uploader = registered_by(session, found)
            delete_draft(session, CLI, found.id, any_uploader=True)
    except ServiceError as exc:
        fail(f"error: {exc}")
    click.echo(f"deleted the draft {set_id} {version} uploaded by {uploader}")


@main.group("users")
def users_group() -> None:
    """People who sign in."""


@users_group.command("reset-mfa")
@click.argument("email")
def users_reset_mfa(email: str) -> None:
    """Remove a person's two-step verification (a lost phone, or the last admin locked out): every session of
    theirs ends, and a lead or admin sets it up again at their next sign-in. Audited as the command line."""
    from sqlmodel import select

    from app import db
    from app.models import User
    from app.services import CLI, ServiceError
    from app.services.mfa import reset

    require_schema()
    try:
        with db.session_scope() as session:
            user = session.exec(select(User).where(User.email == email.strip().lower())).first()
            if user is None:
                raise ServiceError(f"no account has the email {email}")
            reset(session, CLI, user.id)
    except ServiceError as exc:
        fail(f"error: {exc}")
    click.echo(f"two-step verification of {email.strip().lower()} is reset; every session of theirs has ended")


@standards.command("list")
def standards_list() -> None:
    """Every registered standards version with its state, newest version of each set first."""
    from packaging.version import Version
    from sqlmodel import select

    from app import db
    from app.models import StandardsVersion

    require_schema()
    with db.session_scope() as session:
        versions = session.exec(select(StandardsVersion)).all()
    if not versions:
        say("no standards versions registered (use `python cli.py standards publish PATH`)")
        return
    versions = sorted(versions, key=lambda v: Version(v.version), reverse=True)
    versions.sort(key=lambda v: v.set_id)
    rows = [("set", "version", "state", "effective from", "hash", "title")]
    rows += [
        (v.set_id, v.version, v.state, v.effective_from.isoformat(), v.content_hash[:12], printable(v.title))
        for v in versions
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    for row in rows:
        say("  ".join(cell.ljust(width) for cell, width in zip(row[:5], widths)) + "  " + row[5])


@standards.command("diff")
@click.argument("old_path", metavar="OLD")
@click.argument("new_path", metavar="NEW")
@click.option(
    "--format",
    "output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="readable text, or JSON for machines",
)
def standards_diff(old_path: str, new_path: str, output: str) -> None:
    """What changed from one standards version to another: domains, standards, criteria, targets, rules."""
    from rules.diff import diff_standards

    loaded, problems = [], []
    for path in (old_path, new_path):
        try:
            loaded.append(rules.load_standards(path))
        except rules.StandardsError as exc:
            problems += exc.problems
    if problems:
        fail(problems)
    found = diff_standards(*loaded)
    if output == "json":
        click.echo(json.dumps(found.to_dict(), indent=2, ensure_ascii=False))
    else:
        for line in found.lines():
            say(line)


@standards.command("import")
@click.argument("library_path", metavar="LIBRARY")
@click.option("--id", "set_id", required=True, help="standards set id for the new file, e.g. ncsc-caf")
@click.option("--version", "version", required=True, help='version of the new file, e.g. "2026.1"')
@click.option("--out", "out_path", required=True, help="where to write the standards file")
@click.option("--alliance", default=None, help="the alliance that will own the set (default: the library's provider)")
@click.option(
    "--effective-from",
    "effective_from",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="date the version takes effect, YYYY-MM-DD (default: today)",
)
def standards_import(
    library_path: str,
    set_id: str,
    version: str,
    out_path: str,
    alliance: str | None,
    effective_from: dt.datetime | None,
) -> None:
    """Convert a CISO Assistant framework library into a schema 2 standards file (a draft to review)."""
    from rules.library_import import LibraryError, import_library_file

    if Path(out_path).resolve() == Path(library_path).resolve():
        fail(f"error: --out {out_path} is the library itself; write the standards file somewhere else")
    try:
        imported = import_library_file(
            library_path,
            set_id,
            version,
            alliance=alliance,
            effective_from=effective_from.date() if effective_from else None,
        )
    except LibraryError as exc:
        fail(exc.problems)
    try:
        write_atomically(Path(out_path), imported.text)
    except OSError as exc:
        fail(f"error: --out {out_path}: cannot write the standards file: {exc.strerror or exc}")
    click.echo(f"{out_path}: imported {imported.summary()} from {library_path}")


def write_atomically(path: Path, text: str) -> None:
    """Write the whole text or nothing: a reader never sees half a file, a failure leaves none behind."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    try:
        with partial.open("x", encoding="utf-8", newline="\n") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


@main.command("score")
@click.option("--standards", "standards_path", required=True, help="standards YAML file")
@click.option("--answers", "answers_path", required=True, help="answers JSON file")
def score_command(standards_path: str, answers_path: str) -> None:
    """Score one set of answers and print the result as JSON."""
    loaded = load_or_fail(standards_path)
    doc = read_json(answers_path, "answers")
    try:
        submission = rules.read_submission(loaded, doc)
        result = rules.score_submission(loaded, submission)
    except rules.AnswersError as exc:
        fail([f"{answers_path}: {problem}" for problem in exc.problems])
    except rules.RulesEngineError as exc:
        fail(f"the rules engine failed: {exc}")
    for warning in submission.warnings:
        say(f"{answers_path}: warning: {warning}", err=True)
    click.echo(json.dumps(result, indent=2, ensure_ascii=False))


@main.group("db")
def db_group() -> None:
    """Database schema (DATABASE_URL selects the database; SQLite by default)."""


@db_group.command("upgrade")
def db_upgrade() -> None:
    """Create the schema, or upgrade it to this code's version."""
    from app import db

    try:
        before = db.current_revision()
        db.upgrade()
    except Exception as exc:  # noqa: BLE001  (unreachable server, unwritable file, unknown revision)
        fail(f"error: cannot upgrade the database {db.describe()}: {_first_line(exc)}")
    after = db.current_revision()
    change = "already at" if before == after else f"upgraded from {before or 'empty'} to"
    say(f"database {db.describe()}: schema {change} revision {after}")


@db_group.command("status")
def db_status() -> None:
    """Say whether the schema is this code's version and whether rows of tables without a key to check them
    refer to rows that do not exist (exit 1 if either is wrong)."""
    from app import db

    try:
        db.check_schema()
    except db.SchemaOutOfDate as exc:
        fail(f"error: {exc}")
    say(f"database {db.describe()}: schema at revision {db.current_revision()}, up to date")
    orphaned = db.orphaned_rows()
    if orphaned:
        fail(
            [f"error: {count} {key.table} row(s) {key.problem} ({key.table}.{key.column})" for key, count in orphaned]
            + [
                "these tables copy keys the database does not check; a row that names no row, or the wrong one, was "
                "written around the application: find them with the query of app.db.COPIED_KEYS"
            ]
        )
    tables = sorted({key.table for key in db.COPIED_KEYS})
    say(f"no orphaned rows in the tables whose keys are copies ({', '.join(tables)})")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def require_schema() -> None:
    """Refuse to work on a database whose schema is not this code's."""
    from app import db

    try:
        db.check_schema()
    except db.SchemaOutOfDate as exc:
        fail(f"error: {exc}")


@main.group("demo")
def demo_group() -> None:
    """Demonstration data."""


@demo_group.command("load")
def demo_load() -> None:
    """Fill the database with a realistic alliance world (loading twice adds nothing)."""
    from app import db
    from app.demo import load_demo
    from app.services import ServiceError
    from app.uploads import UploadRefused

    require_schema()
    try:
        with db.session_scope() as session:
            report = load_demo(session)
    except rules.StandardsError as exc:
        fail(["error: a bundled standards pack is not valid:", *exc.problems])
    except (ServiceError, UploadRefused) as exc:
        fail(f"error: {exc}")
    for line in report.lines():
        say(line)


@main.command("worker")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="worker processes")
@click.option("--no-periodic", is_flag=True, help="do not run the periodic tasks (reminders) in this worker")
def worker_command(workers: int, no_periodic: bool) -> None:
    """Run queued jobs (email, reminders, impact previews, exports, rescoring) until interrupted."""
    from app import config as app_config
    from app.jobs import worker

    require_schema()
    try:
        settings = app_config.load()
        worker.run(settings, workers=workers, periodic=not no_periodic)
    except (app_config.ConfigError, ValueError) as exc:
        fail(f"error: {exc}")


@main.group("jobs")
def jobs_group() -> None:
    """The job queue: what failed."""


@jobs_group.command("failures")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000), help="how many, newest first")
def jobs_failures(limit: int) -> None:
    """Queued tasks that raised an error, newest first (the same list as /admin/jobs)."""
    from app import db
    from app.services import job_failures

    require_schema()
    with db.session_scope() as session:
        lines = job_failures.recent(session, limit)
    if not lines:
        say("no job has failed")
        return
    for line in lines:
        f = line.failure
        say(
            f"{f.failed_at:%Y-%m-%d %H:%M:%S}  {f.task_name}  {f.task_id}  {f.subject or '-'}  "
            f"{f.error_type}: {f.message}  ({line.attempt_words})"
        )


@main.group("buddy")
def buddy_group() -> None:
    """Buddying: pair members that need support with peers that meet the standard."""


@buddy_group.command("match")
@click.option("--alliance", "alliance_ref", required=True, help="alliance id or slug")
@click.option("--cycle", "cycle_name", required=True, help="assessment cycle, e.g. 2026/27")
@click.option("--dry-run/--apply", default=True, help="show the proposals (default) or store them")
def buddy_match(alliance_ref: str, cycle_name: str, dry_run: bool) -> None:
    """Propose buddies for every need of the members' latest decided results."""
    from app import db
    from app.services import CLI, ServiceError
    from app.services.buddying import planning

    require_schema()
    try:
        with db.session_scope() as session:
            alliance = planning.find_alliance(session, alliance_ref)
            plan = planning.plan_buddying(session, alliance.id, planning.find_cycle(session, alliance, cycle_name).id)
            stored = [] if dry_run else planning.apply_plan(session, CLI, plan)
    except ServiceError as exc:
        fail(f"error: {exc}")
    for line in buddy_table(plan):
        say(line)
    if dry_run:
        say("dry run: nothing stored (use --apply to store these proposals)")
    else:
        say(f"stored {len(stored)} pair(s) as proposed")


@main.command("rescore")
@click.option("--set", "set_id", required=True, help="standards set id, e.g. noa-orthopaedics")
@click.option("--to-version", "version", required=True, help="the registered version to rescore against")
@click.option("--cycle", "cycle_name", default=None, help="only this assessment cycle, e.g. 2026/27")
@click.option("--dry-run/--apply", default=True, help="report what would change (default), or store it")
@click.option(
    "--jobs",
    type=click.IntRange(1, 64),
    default=None,
    help="run the batches here in N processes, without the queue (default: on the queue's workers; "
    "1 process when JOBS_URL is 'immediate' or for a dry run)",
)
@click.option("--report", "report_path", default=None, help="write the per-member report to PATH (.csv or .json)")
@click.option(
    "--batch-size",
    type=click.IntRange(1, 10000),
    default=250,
    show_default=True,
    help="assessments in a batch (one task, one transaction), when a run is opened",
)
@click.option(
    "--lease",
    "lease_seconds",
    type=click.FloatRange(1, None),
    default=60.0,
    show_default=True,
    help="seconds after which a batch started on the queue and not done is put on the queue again",
)
@click.option("--no-wait", is_flag=True, help="with --apply on the queue: return once the batches are enqueued")
@click.option(
    "--run",
    "run_ref",
    type=click.IntRange(1, None),
    default=None,
    help="with --apply: follow run ID (as --no-wait printed it), or report on it once finished",
)
@click.option("--quiet", is_flag=True, help="no progress bar")
def rescore_command(
    set_id: str,
    version: str,
    cycle_name: str | None,
    dry_run: bool,
    jobs: int | None,
    report_path: str | None,
    batch_size: int,
    lease_seconds: float,
    no_wait: bool,
    run_ref: int | None,
    quiet: bool,
) -> None:
    """Rescore every assessment of a standards set against another of its versions.

    Answers carry over by criterion id. A dry run stores nothing. --apply splits the run into batches, each
    stored in one transaction with its audit events, and refreshes buddying: the batches are tasks of the job
    queue (JOBS_URL) that `cli.py worker` processes run, on as many machines as you like, while this command
    shows the progress (Ctrl-C leaves the run going; the same command again watches it); with --jobs N the
    same batches run here in N processes instead. A run stopped at any point resumes when the same command
    is run again.
    """
    import gc

    # What is imported next lives as long as the command: collecting while it is made would only walk it again
    # and again (about a sixth of the start-up). tune_collector freezes it and switches the collector back on.
    gc.disable()
    from sqlalchemy.exc import DBAPIError

    from app import config as app_config
    from app import db
    from app.jobs import queue, rescore
    from app.services import ServiceError
    from rules.changes import summary_text

    require_schema()
    rescore.tune_collector()
    try:
        jobs_url = app_config.jobs_url()
    except app_config.ConfigError as exc:
        fail(f"error: {exc}")
    queued = not dry_run and jobs is None and jobs_url != queue.IMMEDIATE
    if no_wait and not queued:
        fail("error: --no-wait is for an applied run on the queue (--apply without --jobs, JOBS_URL not 'immediate')")
    if run_ref is not None and dry_run:
        fail("error: --run follows an applied run: add --apply")
    request = rescore.Request(set_id=set_id, version=version, cycle=cycle_name, batch=batch_size)
    bar = rescore.Bar(enabled=not quiet)
    watching = False
    try:
        rescore.check_report_path(report_path)
        target, waiting = rescore.count(request)
        scope = f"{set_id}{f' cycle {cycle_name}' if cycle_name else ''}"
        if run_ref is not None and rescore.run_status(request, run_ref) == "finished":
            outcome = rescore.report(request.url, run_ref)
        elif dry_run:
            say(
                f"dry run: {waiting} assessment(s) of {scope} to rescore against {version}; nothing will be stored",
                err=True,
            )
            outcome = rescore.dry_run(request, jobs or 1, None if quiet else bar)
        elif not queued:
            say(f"applying: rescoring {scope} against {version} ({waiting} assessment(s) not on it yet)", err=True)
            outcome = rescore.apply(request, jobs or 1, None if quiet else bar)
        else:
            say(f"applying: rescoring {scope} against {version} ({waiting} assessment(s) not on it yet)", err=True)
            queue.configure({"JOBS_URL": jobs_url, "DATABASE_URL": db.database_url()})
            run_id = rescore.open_run(request)
            if run_id is None:
                outcome = rescore.Outcome([])
            else:
                enqueued = rescore.enqueue(request, run_id, lease_seconds)
                say(f"run {run_id}: {len(enqueued)} batch(es) put on the queue {queue.describe(jobs_url)}", err=True)
                if no_wait:
                    say(
                        f"run {run_id} goes on on the queue's workers (`python cli.py worker`); follow it, or get "
                        f"its report once finished, with the same command and --run {run_id} instead of --no-wait"
                    )
                    return
                watching = True

                def no_worker() -> None:
                    bar.close()
                    say(
                        "no batch has started yet: is a queue worker running (`python cli.py worker`, "
                        f"JOBS_URL={queue.describe(jobs_url)})?",
                        err=True,
                    )

                seen = rescore.watch(request, run_id, None if quiet else bar, lease_seconds, idle_hint=no_worker)
                if seen.requeued:
                    bar.close()
                    say(
                        f"{len(seen.requeued)} batch(es) put on the queue again (started more than "
                        f"{lease_seconds:g} s before and not done: a worker stopped in them)",
                        err=True,
                    )
                outcome = rescore.report(request.url, run_id)
    except (ServiceError, rescore.RescoreFailed) as exc:
        problem = f"error: {exc}"
    except KeyboardInterrupt:
        problem = (
            "stopped watching: the run goes on on the queue's workers; run the same command again to follow it"
            if watching
            else "stopped: every batch stored so far is kept; run the same command again to resume"
        )
    except DBAPIError as exc:
        problem = (
            f"error: the database failed ({_first_line(exc.orig or exc)}); every batch stored so far is "
            "kept: run the same command again to resume"
        )
    else:
        problem = None
    finally:
        bar.close()  # before any message, so the message is not drawn over
    if problem:
        fail(problem)
    if report_path:
        meta = {
            "set": set_id,
            "to_version": version,
            "cycle": cycle_name,
            "mode": "dry-run" if dry_run else "apply",
            "run": outcome.run_id,
        }
        try:
            rescore.write_report(report_path, meta, outcome)
        except OSError as exc:
            fail(f"error: --report {report_path}: cannot write the report: {exc.strerror or exc}")
    mode = "dry run (nothing stored)" if dry_run else f"applied (run {outcome.run_id})"
    say(f"rescore of {scope} against {target.version.version}: {mode}")
    for line in summary_text(outcome.summary):
        say(line)
    if report_path:
        say(f"report: {report_path}")
    if outcome.failures:
        say(f"{len(outcome.failures)} assessment(s) could not be rescored and stay on their version:", err=True)
        for failure in outcome.failures:
            say(f"  assessment {failure['assessment']}: {failure['error']}", err=True)
        sys.exit(1)


def buddy_table(plan) -> list[str]:  # noqa: ANN001  (app.services.buddying.planning.BuddyPlan)
    """The proposals as a plain table, then the needs nobody can take."""
    names = {membership_id: printable(name) for membership_id, name in plan.names.items()}
    rows = [("member", "standard", "need", "proposed buddy", "why")]
    for proposal in plan.matching.proposals:
        need = proposal.need
        rows.append(
            (
                names[need.membership_id],
                need.standard,
                need.reason.replace("_", " "),
                names[proposal.buddy_membership_id],
                "; ".join(proposal.reasons),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        f"{printable(plan.alliance.name)}, cycle {plan.cycle.name}: {plan.needs} need(s), "
        f"{len(plan.matching.proposals)} proposal(s), {len(plan.matching.no_buddy)} without a buddy, "
        f"{len(plan.covered)} already covered by a pair",
        "",
    ]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths)) + "  " + row[4] for row in rows]
    if plan.matching.no_buddy:
        lines += ["", "no buddy available (for the alliance lead):"]
        lines += [
            f"  {names[need.membership_id]}  {need.standard}  {need.reason.replace('_', ' ')}"
            for need in plan.matching.no_buddy
        ]
    return lines


if __name__ == "__main__":
    try:
        main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(1)
    except click.exceptions.Abort:
        say("aborted", err=True)
        sys.exit(1)
