"""checkpoint scans: patrol visits to the QR checkpoints of checkpoints.yaml (issue 15)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 04:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checkpoint_scans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('checkpoint_id', sa.String(length=64), nullable=False),
    sa.Column('area_id', sa.String(length=32), nullable=False),
    sa.Column('shift', sa.String(length=32), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('patrol_uid', sa.String(length=36), nullable=False),
    sa.Column('scanned_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_checkpoint_scans_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoint_scans'))
    )
    with op.batch_alter_table('checkpoint_scans', schema=None) as batch_op:
        batch_op.create_index('ix_checkpoint_scans_day', ['day'], unique=False)
        batch_op.create_index('ix_checkpoint_scans_patrol_uid', ['patrol_uid'], unique=False)
        batch_op.create_index('ix_checkpoint_scans_user_day', ['user_id', 'day'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('checkpoint_scans', schema=None) as batch_op:
        batch_op.drop_index('ix_checkpoint_scans_user_day')
        batch_op.drop_index('ix_checkpoint_scans_patrol_uid')
        batch_op.drop_index('ix_checkpoint_scans_day')

    op.drop_table('checkpoint_scans')
