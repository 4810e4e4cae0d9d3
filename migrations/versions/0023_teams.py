"""Teams inside a member: each member user's roles in their organisation (organisation admin, contributor,
approver; every existing user, and by default every new one, holds all three, so nothing changes for them),
the roles an invitation gives, the owner of a domain or standard per membership, and the approver's
attestation on a submitted self-assessment.

Revision ID: 0023
Revises: 0019
Create Date: 2026-12-08 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

ALL = "org_admin contributor approver"


def upgrade() -> None:
    for table in ("user", "invitation"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(
                sa.Column("team_roles", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False, server_default=ALL)
            )
    with op.batch_alter_table("assessment") as batch_op:
        batch_op.add_column(sa.Column("attested_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("attested_name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column("attested_role", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True))
        batch_op.add_column(sa.Column("attested_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("attestation", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=True))
        batch_op.create_foreign_key("fk_assessment_attested_by", "user", ["attested_by"], ["id"])
    op.create_table(
        "teamassignment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("membership_id", sa.Integer(), nullable=False),
        sa.Column("scope", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("ref", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("assigned_by", sa.Integer(), nullable=True),
        sa.Column("assigned_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["membership_id"], ["membership.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.ForeignKeyConstraint(["assigned_by"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("membership_id", "scope", "ref"),
    )
    op.create_index("ix_teamassignment_membership_id", "teamassignment", ["membership_id"])
    op.create_index("ix_teamassignment_user_id", "teamassignment", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_teamassignment_user_id", table_name="teamassignment")
    op.drop_index("ix_teamassignment_membership_id", table_name="teamassignment")
    op.drop_table("teamassignment")
    with op.batch_alter_table("assessment") as batch_op:
        batch_op.drop_constraint("fk_assessment_attested_by", type_="foreignkey")
        for column in ("attestation", "attested_at", "attested_role", "attested_name", "attested_by"):
            batch_op.drop_column(column)
    for table in ("invitation", "user"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("team_roles")
