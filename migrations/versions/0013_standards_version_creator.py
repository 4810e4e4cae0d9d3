"""Standards versions record who registered them: a lead's draft names its lead, so an operator publishing the
same version number learns who holds it, and only that lead (or an operator) may delete the draft. Versions
registered before take their creator from the audit log's ``standards.registered`` event (none: the command
line's).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-08 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("standardsversion") as batch_op:
        batch_op.add_column(sa.Column("created_by", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_standardsversion_created_by", "user", ["created_by"], ["id"])
    op.execute(
        "UPDATE standardsversion SET created_by = (SELECT e.actor_id FROM auditevent e "
        "WHERE e.action = 'standards.registered' AND e.entity_type = 'standardsversion' "
        "AND e.entity_id = standardsversion.id ORDER BY e.id LIMIT 1)"
    )


def downgrade() -> None:
    with op.batch_alter_table("standardsversion") as batch_op:
        batch_op.drop_constraint("fk_standardsversion_created_by", type_="foreignkey")
        batch_op.drop_column("created_by")
