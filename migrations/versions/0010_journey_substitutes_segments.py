"""The journey's half-built rows: substitute orders placed on the platform, and customer tiers.

``substitute_orders`` holds each substitute a customer chose until it is ordered on their store
and the price difference is settled; ``backorders.segment`` / ``credit_bonus_cents`` keep the
tier the offer was made with, decided from the customer's orders found by ``lower(email)``.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 12:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('backorders', sa.Column('segment', sa.String(length=32), nullable=True))
    op.add_column('backorders', sa.Column('credit_bonus_cents', sa.BigInteger(), server_default=sa.text('0'),
                                          nullable=False))
    op.create_table(
        'substitute_orders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('backorder_id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('sku_id', sa.Integer(), nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
        sa.Column('substitute_total_cents', sa.BigInteger(), nullable=False),
        sa.Column('paid_cents', sa.BigInteger(), nullable=False),
        sa.Column('difference_cents', sa.BigInteger(), nullable=False),
        sa.Column('settlement', sa.String(length=16), nullable=False),
        sa.Column('due_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('rule', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column('idempotency_key', sa.String(length=100), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
        sa.Column('draft_external_id', sa.String(length=64), nullable=True),
        sa.Column('external_id', sa.String(length=64), nullable=True),
        sa.Column('external_number', sa.String(length=64), nullable=True),
        sa.Column('refund_ref', sa.String(length=64), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("state IN ('awaiting_staff', 'pending', 'placed', 'settled', 'failed')",
                           name=op.f('ck_substitute_orders_state_valid')),
        sa.CheckConstraint('quantity > 0', name=op.f('ck_substitute_orders_quantity_positive')),
        sa.ForeignKeyConstraint(['backorder_id'], ['backorders.id'], ondelete='CASCADE',
                                name=op.f('fk_substitute_orders_backorder_id_backorders')),
        sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_substitute_orders_sku_id_skus')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'],
                                name=op.f('fk_substitute_orders_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_substitute_orders')),
        sa.UniqueConstraint('backorder_id', name=op.f('uq_substitute_orders_backorder_id')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_substitute_orders_idempotency_key')),
    )
    op.create_index('ix_orders_email_lower', 'orders', [sa.text('lower(email)')], unique=False)
    op.create_index('ix_substitute_orders_unfinished', 'substitute_orders', ['updated_at'], unique=False,
                    postgresql_where=sa.text("state IN ('pending', 'placed')"))


def downgrade() -> None:
    op.drop_index('ix_substitute_orders_unfinished', table_name='substitute_orders',
                  postgresql_where=sa.text("state IN ('pending', 'placed')"))
    op.drop_table('substitute_orders')
    op.drop_index('ix_orders_email_lower', table_name='orders')
    op.drop_column('backorders', 'credit_bonus_cents')
    op.drop_column('backorders', 'segment')
