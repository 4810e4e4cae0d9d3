"""Four-eyes decisions: each alliance's choice of which lead actions need a second lead's approval, and the
approvals themselves (a proposed decision, override or suspension, pending until approved, sent back or
withdrawn).

Revision ID: 0021
Revises: 0018
Create Date: 2026-12-08 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approvalsetting",
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("decisions", sa.Boolean(), nullable=False),
        sa.Column("overrides", sa.Boolean(), nullable=False),
        sa.Column("suspensions", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alliance_id"], ["alliance.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("alliance_id"),
    )
    op.create_table(
        "approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.JSON(), nullable=False),
        sa.Column("proposed_by", sa.Integer(), nullable=False),
        sa.Column("proposed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["alliance_id"], ["alliance.id"]),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"]),
        sa.ForeignKeyConstraint(["proposed_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("approval", schema=None) as batch_op:
        batch_op.create_index("ix_approval_alliance_status", ["alliance_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_approval_assessment_id"), ["assessment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_approval_membership_id"), ["membership_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approval", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_membership_id"))
        batch_op.drop_index(batch_op.f("ix_approval_assessment_id"))
        batch_op.drop_index("ix_approval_alliance_status")
    op.drop_table("approval")
    op.drop_table("approvalsetting")
