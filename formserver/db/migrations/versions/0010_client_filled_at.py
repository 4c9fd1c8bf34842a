"""client fill time: when the phone filled a submission it sent later (offline filling, issue 15)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 07:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Submissions made online before this have none: the server's receive time is their fill time.
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_filled_at', sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('submissions', schema=None) as batch_op:
        batch_op.drop_column('client_filled_at')
