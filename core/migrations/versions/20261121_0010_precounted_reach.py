"""precounted reach

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21 16:30:00.000000

"""
from alembic import op
import sqlalchemy as sa



# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('reach_count',
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=False),
    sa.Column('min_priority', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('by_day', sa.Integer(), nullable=False),
    sa.Column('by_night', sa.Integer(), nullable=False),
    sa.Column('busy', sa.Integer(), nullable=False),
    sa.Column('counted_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('organisation_id', 'area_id', 'min_priority', 'channel', name=op.f('pk_reach_count'))
    )
    reach_dirty = op.create_table('reach_dirty',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('area_id', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reach_dirty'))
    )
    # Members who were here before: every area is to be counted.
    op.bulk_insert(reach_dirty, [{'area_id': None}])


def downgrade():
    op.drop_table('reach_dirty')
    op.drop_table('reach_count')
