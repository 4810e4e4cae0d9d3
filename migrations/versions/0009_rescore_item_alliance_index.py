"""A rescore run's items are found by alliance through an index on (run, alliance): after every batch a
worker asks which of the batch's alliances have decided self-assessments among the run's items, and without
it each question read every item of the run (on PostgreSQL about 30 ms for 10,000 items, some fifty times a
run). An item's alliance is a copy of its assessment's, taken when the run lists its items, to claim them
alliance by alliance: it stops being a key (a key could not say it is the assessment's alliance, only that
the alliance exists), which saves a check per item while the run is being listed, before any worker starts.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 06:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# SQLite keeps the foreign keys unnamed: name them as PostgreSQL does, so one migration drops them on both.
NAMES = {"fk": "%(table_name)s_%(column_0_name)s_fkey"}


def upgrade() -> None:
    op.create_index("ix_rescoreitem_run_alliance", "rescoreitem", ["run_id", "alliance_id"], unique=False)
    with op.batch_alter_table("rescoreitem", naming_convention=NAMES) as batch_op:
        batch_op.drop_constraint("rescoreitem_alliance_id_fkey", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("rescoreitem", naming_convention=NAMES) as batch_op:
        batch_op.create_foreign_key("rescoreitem_alliance_id_fkey", "alliance", ["alliance_id"], ["id"])
    op.drop_index("ix_rescoreitem_run_alliance", table_name="rescoreitem")
