"""Stored results: the parts of a result that other results are compared and matched on (standard results,
breaches, support needs) in a small ``headline`` column of their own, so rescoring, buddying and reports
read about 1 KB per result instead of parsing the whole 14 KB document; one current result per assessment
enforced by a unique partial index (it replaces the index on the flag alone, which SQLite's planner chose
for lookups by assessment and then scanned every current result). On SQLite the table is rebuilt with the
document last, as SQLite reads a row's columns in order and a column after the document meant reading its
overflow pages. On PostgreSQL new documents are compressed with lz4 where the server has it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 10:00:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ORDER = (
    "id",
    "assessment_id",
    "standards_version_id",
    "standards_hash",
    "overall",
    "rating",
    "outcome",
    "is_current",
    "computed_at",
    "headline",
    "result",
)


def _headline(result: dict) -> dict:
    """As ``app.services.assessments.headline_of`` made it when this revision was written."""
    return {
        "standard_results": {
            sid: {"score": r.get("score"), "status": r.get("status")}
            for sid, r in (result.get("standard_results") or {}).items()
        },
        "breaches": [
            {"criterion": b["criterion"], "standard": b["standard"], "severity": b["severity"]}
            for b in result.get("breaches") or ()
        ],
        "support_needs": list(result.get("support_needs") or ()),
    }


def _fill_headlines(connection) -> None:  # noqa: ANN001
    table = sa.table(
        "assessmentresult", sa.column("id", sa.Integer), sa.column("result", sa.JSON), sa.column("headline", sa.JSON)
    )
    last = 0
    while True:
        rows = connection.execute(
            sa.select(table.c.id, table.c.result).where(table.c.id > last).order_by(table.c.id).limit(1000)
        ).all()
        if not rows:
            return
        connection.execute(
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values(headline=sa.bindparam("filled", type_=sa.JSON)),
            [
                {"row_id": row_id, "filled": _headline(result if isinstance(result, dict) else json.loads(result))}
                for row_id, result in rows
            ],
        )
        last = rows[-1][0]


def upgrade() -> None:
    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"
    op.add_column("assessmentresult", sa.Column("headline", sa.JSON(), nullable=True))
    _fill_headlines(connection)
    with op.batch_alter_table(
        "assessmentresult", recreate="always" if sqlite else "auto", partial_reordering=[ORDER] if sqlite else ()
    ) as batch_op:
        batch_op.alter_column("headline", existing_type=sa.JSON(), nullable=False)
        batch_op.drop_index("ix_assessmentresult_is_current")
        batch_op.create_index(
            "ux_assessmentresult_current",
            ["assessment_id"],
            unique=True,
            sqlite_where=sa.text("is_current"),
            postgresql_where=sa.text("is_current"),
        )
    if (
        not sqlite
        and connection.execute(
            sa.text("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        ).scalar()
    ):
        op.execute(
            "ALTER TABLE assessmentresult ALTER COLUMN result SET COMPRESSION lz4, "
            "ALTER COLUMN headline SET COMPRESSION lz4"
        )


def downgrade() -> None:
    connection = op.get_bind()
    with op.batch_alter_table("assessmentresult") as batch_op:
        batch_op.drop_index("ux_assessmentresult_current")
        batch_op.create_index("ix_assessmentresult_is_current", ["is_current"], unique=False)
        batch_op.drop_column("headline")
    if connection.dialect.name != "sqlite":
        op.execute("ALTER TABLE assessmentresult ALTER COLUMN result SET COMPRESSION default")
