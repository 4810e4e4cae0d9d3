"""The review queue: who is to review each assessment (one lead of its alliance), and the index the queue reads
an alliance's assessments by state through.

Revision ID: 0022
Revises: 0018
Create Date: 2026-12-08 01:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reviewassignment",
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("reviewer_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
        sa.ForeignKeyConstraint(["assigned_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["reviewer_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("assessment_id"),
    )
    with op.batch_alter_table("reviewassignment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reviewassignment_reviewer_id"), ["reviewer_id"], unique=False)
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.create_index(
            "ix_assessment_membership_status", ["membership_id", "status", "submitted_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("assessment", schema=None) as batch_op:
        batch_op.drop_index("ix_assessment_membership_status")
    with op.batch_alter_table("reviewassignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reviewassignment_reviewer_id"))
    op.drop_table("reviewassignment")
