"""Channel pushes as rows: one per SKU × selling store (due, in flight, attempts, last error), the
figures last written per store location (to recognise their echo), and each store's measured
propagation delay (the sync lag its oversell buffer is sized from).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 12:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'channel_pushes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('sku_id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('dirty_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('covering_since', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('pushes', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('pushed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_backorder', sa.Boolean(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_channel_pushes_sku_id_skus'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_channel_pushes_store_id_stores'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_pushes')),
        sa.UniqueConstraint('sku_id', 'store_id', name='uq_channel_pushes_sku_store'),
    )
    op.create_index('ix_channel_pushes_due', 'channel_pushes', ['due_at'], unique=False,
                    postgresql_where=sa.text('due_at IS NOT NULL'))
    op.create_table(
        'pushed_levels',
        sa.Column('sku_id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('available', sa.Integer(), nullable=False),
        sa.Column('withheld', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('pushed_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('awaiting', postgresql.ARRAY(sa.Integer()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column('echoed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('live', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_pushed_levels_sku_id_skus'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_pushed_levels_store_id_stores'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id'],
                                name=op.f('fk_pushed_levels_location_id_locations'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('sku_id', 'store_id', 'location_id', name=op.f('pk_pushed_levels')),
    )
    op.create_table(
        'store_sync_lags',
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('delay_s', sa.Float(), nullable=False),
        sa.Column('last_s', sa.Float(), nullable=False),
        sa.Column('samples', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_sync_lags_store_id_stores'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('store_id', name=op.f('pk_store_sync_lags')),
    )


def downgrade() -> None:
    op.drop_table('store_sync_lags')
    op.drop_table('pushed_levels')
    op.drop_index('ix_channel_pushes_due', table_name='channel_pushes', postgresql_where=sa.text('due_at IS NOT NULL'))
    op.drop_table('channel_pushes')
