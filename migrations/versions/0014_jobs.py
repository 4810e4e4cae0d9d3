"""Jobs: failed queued tasks (for operators), impact previews kept until their draft changes, and whole-cycle
exports written by a job.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobfailure",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("task_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("failed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("retries_left", sa.Integer(), nullable=False),
        sa.Column("error_type", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("message", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobfailure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_jobfailure_task_name"), ["task_name"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobfailure_failed_at"), ["failed_at"], unique=False)
    op.create_table(
        "impactpreview",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=True),
        sa.Column("failures", sa.JSON(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["alliance_id"], ["alliance.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["version_id"], ["standardsversion.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("version_id", "alliance_id"),
    )
    with op.batch_alter_table("impactpreview", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_impactpreview_version_id"), ["version_id"], unique=False)
    op.create_table(
        "cycleexport",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("fmt", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("file_name", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("finished_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["alliance_id"], ["alliance.id"]),
        sa.ForeignKeyConstraint(["cycle_id"], ["assessmentcycle.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cycleexport", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_cycleexport_alliance_id"), ["alliance_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("cycleexport", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cycleexport_alliance_id"))
    op.drop_table("cycleexport")
    with op.batch_alter_table("impactpreview", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_impactpreview_version_id"))
    op.drop_table("impactpreview")
    with op.batch_alter_table("jobfailure", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobfailure_failed_at"))
        batch_op.drop_index(batch_op.f("ix_jobfailure_task_name"))
    op.drop_table("jobfailure")
