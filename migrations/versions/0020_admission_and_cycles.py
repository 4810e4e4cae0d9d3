"""Admission and cycles: applications for membership with their state, sponsor and decision; each alliance's
admission policy (organisation types, regions, a sponsor required); a cycle closed by its lead; an impact preview
of one cycle's self-assessments. Every membership that is an applicant today gets its application, new.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-08 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "membershipapplication",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("sponsor_organisation_id", sa.Integer(), nullable=True),
        sa.Column("sponsor_status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("sponsor_answered_by", sa.Integer(), nullable=True),
        sa.Column("sponsor_answered_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"]),
        sa.ForeignKeyConstraint(["alliance_id"], ["alliance.id"]),
        sa.ForeignKeyConstraint(["organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["sponsor_organisation_id"], ["organisation.id"]),
        sa.ForeignKeyConstraint(["sponsor_answered_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("membership_id"),
    )
    with op.batch_alter_table("membershipapplication", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_membershipapplication_alliance_id"), ["alliance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_membershipapplication_organisation_id"), ["organisation_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_membershipapplication_sponsor_organisation_id"), ["sponsor_organisation_id"], unique=False
        )
    op.create_table(
        "admissionpolicy",
        sa.Column("alliance_id", sa.Integer(), nullable=False),
        sa.Column("org_types", sa.JSON(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("sponsor_required", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alliance_id"], ["alliance.id"]),
        sa.ForeignKeyConstraint(["updated_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("alliance_id"),
    )
    with op.batch_alter_table("assessmentcycle") as batch_op:
        batch_op.add_column(sa.Column("closed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("closed_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_assessmentcycle_closed_by", "user", ["closed_by"], ["id"])
    with op.batch_alter_table("impactpreview") as batch_op:
        batch_op.add_column(sa.Column("cycle_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_impactpreview_cycle_id", "assessmentcycle", ["cycle_id"], ["id"])
    op.execute(
        "INSERT INTO membershipapplication (membership_id, alliance_id, organisation_id, status, sponsor_status, "
        "reason, created_at, updated_at) SELECT id, alliance_id, organisation_id, 'new', '', '', created_at, "
        "created_at FROM membership WHERE status = 'applicant'"
    )


def downgrade() -> None:
    with op.batch_alter_table("impactpreview") as batch_op:
        batch_op.drop_constraint("fk_impactpreview_cycle_id", type_="foreignkey")
        batch_op.drop_column("cycle_id")
    with op.batch_alter_table("assessmentcycle") as batch_op:
        batch_op.drop_constraint("fk_assessmentcycle_closed_by", type_="foreignkey")
        batch_op.drop_column("closed_by")
        batch_op.drop_column("closed_at")
    op.drop_table("admissionpolicy")
    with op.batch_alter_table("membershipapplication", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membershipapplication_sponsor_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_membershipapplication_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_membershipapplication_alliance_id"))
    op.drop_table("membershipapplication")
