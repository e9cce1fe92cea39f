"""deliveries without foreign keys

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-21 16:10:00.000000

The fan-out writes one delivery row per recipient and channel; PostgreSQL checked both
foreign keys with a trigger per row. Deliveries are removed with their member by the
application instead.

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_constraint('fk_delivery_message_id_message', type_='foreignkey')
        batch_op.drop_constraint('fk_delivery_member_id_member', type_='foreignkey')


def downgrade():
    op.execute('DELETE FROM delivery WHERE member_id NOT IN (SELECT id FROM member) '
               'OR message_id NOT IN (SELECT id FROM message)')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_delivery_member_id_member', 'member', ['member_id'],
                                    ['id'], ondelete='CASCADE')
        batch_op.create_foreign_key('fk_delivery_message_id_message', 'message',
                                    ['message_id'], ['id'], ondelete='CASCADE')
