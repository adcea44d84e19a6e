"""Refunds paid at a payment provider or a store, once per decision; how each order was paid.

Revision ID: 0021
Revises: 0019
Create Date: 2026-12-03 15:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'order_payments',
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('method', sa.String(length=64), nullable=True),
        sa.Column('reference', sa.String(length=128), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE',
                                name=op.f('fk_order_payments_order_id_orders')),
        sa.PrimaryKeyConstraint('order_id', name=op.f('pk_order_payments')),
    )
    op.create_table(
        'refund_executions',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('decision_id', sa.BigInteger(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('route', sa.String(length=16), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('payment_ref', sa.String(length=128), nullable=True),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('idempotency_key', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
        sa.Column('provider_ref', sa.String(length=128), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('detail', sa.Text(), server_default='', nullable=False),
        sa.Column('notice_outbox_id', sa.BigInteger(), nullable=True),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'sending', 'awaiting', 'held', 'succeeded', 'failed')",
                           name=op.f('ck_refund_executions_state_valid')),
        sa.CheckConstraint("route IN ('provider', 'store')", name=op.f('ck_refund_executions_route_valid')),
        sa.CheckConstraint('amount_cents >= 0', name=op.f('ck_refund_executions_amount_not_negative')),
        sa.ForeignKeyConstraint(['decision_id'], ['refund_decisions.id'], ondelete='CASCADE',
                                name=op.f('fk_refund_executions_decision_id_refund_decisions')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL',
                                name=op.f('fk_refund_executions_order_id_orders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_executions')),
        sa.UniqueConstraint('decision_id', name=op.f('uq_refund_executions_decision_id')),
        sa.UniqueConstraint('idempotency_key', name=op.f('uq_refund_executions_idempotency_key')),
    )
    op.create_index('ix_refund_executions_due', 'refund_executions', ['due_at'], unique=False,
                    postgresql_where=sa.text("state IN ('pending', 'sending', 'awaiting')"))
    op.create_index('ix_refund_executions_provider_ref', 'refund_executions', ['provider', 'provider_ref'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_refund_executions_provider_ref', table_name='refund_executions')
    op.drop_index('ix_refund_executions_due', table_name='refund_executions')
    op.drop_table('refund_executions')
    op.drop_table('order_payments')
