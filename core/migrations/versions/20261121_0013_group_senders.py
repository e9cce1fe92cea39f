"""messages sent on behalf of a group

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-21 20:00:00.000000

A message sent by someone who is not a staff account (a watch scheme's coordinator)
keeps the name, role and area recipients are shown.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sender_name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('sender_role', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('sender_areas', sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('sender_areas')
        batch_op.drop_column('sender_role')
        batch_op.drop_column('sender_name')
