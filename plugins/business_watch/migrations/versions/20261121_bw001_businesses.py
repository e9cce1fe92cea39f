"""businesses

Revision ID: bw001
Revises:
Create Date: 2026-11-21 19:00:00

"""
import sqlalchemy as sa
from alembic import op

revision = "bw001"
down_revision = None
branch_labels = ("business_watch",)
depends_on = "0013"


def upgrade():
    op.create_table(
        "business_watch_business",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sector", sa.String(length=32), nullable=False),
        sa.Column("address_line", sa.String(length=200), nullable=False),
        sa.Column("postcode", sa.String(length=10), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=False),
        sa.Column("opening_hours", sa.Text(), nullable=False),
        sa.Column("staff_count", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["area_id"], ["area.id"],
                                name=op.f("fk_business_watch_business_area_id_area")),
        sa.ForeignKeyConstraint(["member_id"], ["member.id"], ondelete="CASCADE",
                                name=op.f("fk_business_watch_business_member_id_member")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_watch_business")),
    )
    with op.batch_alter_table("business_watch_business", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_business_watch_business_area_id"), ["area_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_business_watch_business_member_id"), ["member_id"],
                              unique=False)
        batch_op.create_index(batch_op.f("ix_business_watch_business_sector"), ["sector"],
                              unique=False)


def downgrade():
    with op.batch_alter_table("business_watch_business", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_business_watch_business_sector"))
        batch_op.drop_index(batch_op.f("ix_business_watch_business_member_id"))
        batch_op.drop_index(batch_op.f("ix_business_watch_business_area_id"))
    op.drop_table("business_watch_business")
