"""Rescore runs are shared out as batches on the job queue: a run's items are split into numbered batches when
the run is listed (``rescoreitem.batch``), each batch a row of ``rescorebatch`` that is marked done in the
transaction that stores its results. The claims of the runner's own workers (``rescoreitem.worker`` and
``claimed_at``, state ``claimed``) are gone: a batch is a task, and exactly once comes from the batch's done mark.

Items of a run still going when this migration runs are put in batches of 250 in the order they were listed
(claimed ones back to pending), so the run resumes on the queue.

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-08 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

BATCH = 250


def upgrade() -> None:
    op.create_table(
        "rescorebatch",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("enqueued_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("done_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["rescorerun.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "number"),
    )
    with op.batch_alter_table("rescoreitem", schema=None) as batch_op:
        batch_op.add_column(sa.Column("batch", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE rescoreitem SET state = 'pending' WHERE state = 'claimed'")
    op.execute(
        f"UPDATE rescoreitem SET batch = (id - (SELECT MIN(first.id) FROM rescoreitem first "
        f"WHERE first.run_id = rescoreitem.run_id)) / {BATCH}"
    )
    op.execute(
        "INSERT INTO rescorebatch (run_id, number, size, state, attempts) "
        "SELECT run_id, batch, COUNT(*), CASE WHEN SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) = 0 "
        "THEN 'done' ELSE 'pending' END, 0 FROM rescoreitem GROUP BY run_id, batch"
    )
    with op.batch_alter_table("rescoreitem", schema=None) as batch_op:
        batch_op.alter_column("batch", server_default=None)
        batch_op.drop_column("worker")
        batch_op.drop_column("claimed_at")
        batch_op.create_index("ix_rescoreitem_run_batch", ["run_id", "batch"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rescoreitem", schema=None) as batch_op:
        batch_op.drop_index("ix_rescoreitem_run_batch")
        batch_op.add_column(sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.drop_column("batch")
    op.drop_table("rescorebatch")
