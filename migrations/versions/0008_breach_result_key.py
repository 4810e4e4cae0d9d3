"""Breaches refer to their result and its assessment with one composite key, (result, assessment) ->
assessmentresult (id, assessment_id), instead of a key to each: one lookup per breach checks both, and a
breach can no longer name an assessment other than its result's. Rescoring writes about ten breaches per
result; on PostgreSQL the two checks per breach were a quarter of the server's work in a rescore. The indexes
on the breach's assessment and on its standard and severity go too: breaches are found through their result
(dashboards count them from the results themselves).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 10:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# SQLite keeps the foreign keys unnamed: name them as PostgreSQL does, so one migration drops them on both.
NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}


def upgrade() -> None:
    op.create_index("ux_assessmentresult_id_assessment", "assessmentresult", ["id", "assessment_id"], unique=True)
    with op.batch_alter_table("breach", naming_convention=NAMES) as batch_op:
        batch_op.drop_constraint("breach_result_id_fkey", type_="foreignkey")
        batch_op.drop_constraint("breach_assessment_id_fkey", type_="foreignkey")
        batch_op.create_foreign_key(
            "fk_breach_result_assessment", "assessmentresult", ["result_id", "assessment_id"], ["id", "assessment_id"]
        )
        batch_op.drop_index("ix_breach_assessment_id")
        batch_op.drop_index("ix_breach_standard_severity")


def downgrade() -> None:
    with op.batch_alter_table("breach", naming_convention=NAMES) as batch_op:
        batch_op.drop_constraint("fk_breach_result_assessment", type_="foreignkey")
        batch_op.create_index("ix_breach_assessment_id", ["assessment_id"], unique=False)
        batch_op.create_index("ix_breach_standard_severity", ["standard_id", "severity"], unique=False)
        batch_op.create_foreign_key("breach_result_id_fkey", "assessmentresult", ["result_id"], ["id"])
        batch_op.create_foreign_key("breach_assessment_id_fkey", "assessment", ["assessment_id"], ["id"])
    op.drop_index("ux_assessmentresult_id_assessment", table_name="assessmentresult")
