"""Read-only stores and the writes they held back.

``stores.read_only``: a store being connected observes and alerts but writes nothing to the
channel (stock, backorder policy, refunds, substitute orders) until it is switched on.
``blocked_writes``: one row per write that was not made because of it, so ``status`` can say
what would have been written.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 08:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('stores', sa.Column('read_only', sa.Boolean(), server_default=sa.text('false'), nullable=False))
    op.create_table(
        'blocked_writes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('subject_type', sa.String(length=32), nullable=False),
        sa.Column('subject_id', sa.BigInteger(), nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=False),
        sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE',
                                name=op.f('fk_blocked_writes_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_blocked_writes')),
    )
    op.create_index('ix_blocked_writes_store_created', 'blocked_writes', ['store_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_blocked_writes_store_created', table_name='blocked_writes')
    op.drop_table('blocked_writes')
    op.drop_column('stores', 'read_only')
