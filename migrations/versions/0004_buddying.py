"""Buddying lifecycle: who accepted a pair and when, when it started and ended, and why it ended.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 14:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("buddyassignment", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lead_accepted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("buddy_accepted_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("started_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("ended_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("end_reason", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False, server_default="")
        )
    with op.batch_alter_table("buddyassignment", schema=None) as batch_op:  # existing pairs got '', new ones set it
        batch_op.alter_column(
            "end_reason",
            existing_type=sqlmodel.sql.sqltypes.AutoString(length=500),
            existing_nullable=False,
            server_default=None,
        )


def downgrade() -> None:
    with op.batch_alter_table("buddyassignment", schema=None) as batch_op:
        batch_op.drop_column("end_reason")
        batch_op.drop_column("ended_at")
        batch_op.drop_column("started_at")
        batch_op.drop_column("buddy_accepted_at")
        batch_op.drop_column("lead_accepted_at")
