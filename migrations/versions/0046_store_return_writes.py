"""Our decisions on a store's own returns, owed to the store (Shopify's ``returnApproveRequest`` /
``returnDeclineRequest``): ``store_return_writes``, one per return.

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-04 21:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0046'
down_revision = '0045'
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.create_table(
        'store_return_writes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('return_id', sa.BigInteger(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('store_return', sa.String(length=128), nullable=False),
        sa.Column('action', sa.String(length=16), nullable=False),
        sa.Column('decline_reason', sa.String(length=32), nullable=True),
        sa.Column('note', sa.Text(), server_default='', nullable=False),
        sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
        _ts('due_at'), _ts('claimed_until'),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('store_status', sa.String(length=16), nullable=True),
        _ts('done_at'),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("action IN ('approve', 'decline')", name=op.f('ck_store_return_writes_action_valid')),
        sa.CheckConstraint("state IN ('pending', 'done', 'failed')", name=op.f('ck_store_return_writes_state_valid')),
        sa.ForeignKeyConstraint(['return_id'], ['return_requests.id'], ondelete='CASCADE',
                                name=op.f('fk_store_return_writes_return_id_return_requests')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE',
                                name=op.f('fk_store_return_writes_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_store_return_writes')),
        sa.UniqueConstraint('return_id', name=op.f('uq_store_return_writes_return_id')),
    )
    op.create_index('ix_store_return_writes_pending', 'store_return_writes', ['due_at'],
                    postgresql_where=sa.text("state = 'pending'"))


def downgrade() -> None:
    op.drop_index('ix_store_return_writes_pending', table_name='store_return_writes')
    op.drop_table('store_return_writes')
