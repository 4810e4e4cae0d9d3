"""Single sign-on: identities at the OpenID Connect provider linked to accounts, and the operators' leave for
an account to be linked by verified email.

Revision ID: 0018
Revises: 0013
Create Date: 2026-12-08 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "externalidentity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issuer", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("subject", sqlmodel.sql.sqltypes.AutoString(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=False),
        sa.Column("linked_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.Column("last_signed_in_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("issuer", "subject"),
    )
    with op.batch_alter_table("externalidentity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_externalidentity_user_id"), ["user_id"], unique=False)
    op.create_table(
        "ssolinkpermit",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("allowed_by", sa.Integer(), nullable=True),
        sa.Column("allowed_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["allowed_by"], ["user.id"]),
        sa.ForeignKeyConstraint(["user_id"], ["user.id"]),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("ssolinkpermit")
    with op.batch_alter_table("externalidentity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_externalidentity_user_id"))
    op.drop_table("externalidentity")
