"""Allotment sites.

Revision ID: a001
Revises:
Create Date: 2026-11-21
"""

import sqlalchemy as sa
from alembic import op

revision = "a001"
down_revision = None
branch_labels = ("allotment_watch",)
depends_on = "0001"


def upgrade():
    op.create_table(
        "allotment_watch_site",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["area_id"], ["area.id"],
                                name=op.f("fk_allotment_watch_site_area_id_area")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_allotment_watch_site")),
        sa.UniqueConstraint("name", name=op.f("uq_allotment_watch_site_name")),
    )


def downgrade():
    op.drop_table("allotment_watch_site")
