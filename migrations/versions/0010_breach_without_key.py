"""Breaches lose their key to their result (and the results the unique index on (id, assessment) that only
that key used). A breach is a fact of its result's document, written only with it: ``write_results`` stores
a result's breaches from the result itself, in the transaction that stores the result, under the id read
back there; results are never deleted. The key's check, run once per breach, was half of the server's work
of writing breaches, and about a twentieth of a rescore of 10,000 self-assessments on PostgreSQL. The tests
check after a rescore that every breach matches its result.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 07:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("breach") as batch_op:
        batch_op.drop_constraint("fk_breach_result_assessment", type_="foreignkey")
    op.drop_index("ux_assessmentresult_id_assessment", table_name="assessmentresult")


def downgrade() -> None:
    op.create_index("ux_assessmentresult_id_assessment", "assessmentresult", ["id", "assessment_id"], unique=True)
    with op.batch_alter_table("breach") as batch_op:
        batch_op.create_foreign_key(
            "fk_breach_result_assessment", "assessmentresult", ["result_id", "assessment_id"], ["id", "assessment_id"]
        )
