"""Breaches refer to their result with a key again: breach.result_id -> assessmentresult.id, ON DELETE CASCADE.

Without a key (migration 0010) a result deleted by hand, or by a tool working around the application, left its
breaches behind, counted by nothing and matching no result. The key is the cheapest the database offers: one
primary-key lookup per breach (no extra index: the composite key of 0008 needed a unique index on (id,
assessment) of every result), and deleting a result deletes its breaches. Breaches already orphaned cannot keep
a key; they are copies of a result that is gone, read through that result only, so they are deleted first.
``python cli.py db status`` reports the rows of tables whose copied keys are still unchecked (a breach's
assessment, a rescore item's alliance).

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-08 09:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("DELETE FROM breach WHERE NOT EXISTS (SELECT 1 FROM assessmentresult r WHERE r.id = breach.result_id)")
    with op.batch_alter_table("breach") as batch_op:
        batch_op.create_foreign_key("fk_breach_result", "assessmentresult", ["result_id"], ["id"], ondelete="CASCADE")


def downgrade() -> None:
    with op.batch_alter_table("breach") as batch_op:
        batch_op.drop_constraint("fk_breach_result", type_="foreignkey")
