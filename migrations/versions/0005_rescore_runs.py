"""Rescore runs: the shared work list of an applied batch rescore, so a run can be resumed and shared by
several workers, and the alliance cycles whose buddying needs it has refreshed.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 15:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rescorerun",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("to_version_id", sa.Integer(), nullable=False),
        sa.Column("cycle_name", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("started_by", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["to_version_id"],
            ["standardsversion.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rescorerun", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rescorerun_set_id"), ["set_id"], unique=False)

    op.create_table(
        "rescoreitem",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("state", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("worker", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
        sa.Column("claimed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("done_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("change", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["alliance_id"],
            ["alliance.id"],
        ),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["assessment.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["rescorerun.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "assessment_id"),
    )
    with op.batch_alter_table("rescoreitem", schema=None) as batch_op:
        batch_op.create_index("ix_rescoreitem_run_state", ["run_id", "state"], unique=False)

    op.create_table(
        "rescorerefresh",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("withdrawn", sa.Integer(), nullable=False),
        sa.Column("stored", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alliance_id"],
            ["alliance.id"],
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"],
            ["assessmentcycle.id"],
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["rescorerun.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "alliance_id", "cycle_id"),
    )
    with op.batch_alter_table("rescorerefresh", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rescorerefresh_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rescorerefresh", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rescorerefresh_run_id"))
    op.drop_table("rescorerefresh")
    with op.batch_alter_table("rescoreitem", schema=None) as batch_op:
        batch_op.drop_index("ix_rescoreitem_run_state")
    op.drop_table("rescoreitem")
    with op.batch_alter_table("rescorerun", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rescorerun_set_id"))
    op.drop_table("rescorerun")
