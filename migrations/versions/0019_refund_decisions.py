"""Refund and appeasement decisions, each with the rule that made it (``domain.policy.refunds``).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 09:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'refund_decisions',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('request_id', sa.String(length=128), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('order_number', sa.String(length=64), nullable=False),
        sa.Column('customer', sa.String(length=320), server_default='', nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=False),
        sa.Column('amount_asked_cents', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
        sa.Column('channel', sa.String(length=64), server_default='', nullable=False),
        sa.Column('tier', sa.String(length=32), nullable=True),
        sa.Column('decision', sa.String(length=16), nullable=False),
        sa.Column('amount_approved_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('settle_as', sa.String(length=16), nullable=True),
        sa.Column('rule_index', sa.Integer(), nullable=True),
        sa.Column('rule_name', sa.String(length=120), nullable=False),
        sa.Column('figures', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column('context', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("decision IN ('approve', 'review', 'deny', 'credit')",
                           name=op.f('ck_refund_decisions_decision_valid')),
        sa.CheckConstraint('amount_asked_cents >= 0 AND amount_approved_cents >= 0',
                           name=op.f('ck_refund_decisions_amounts_not_negative')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL',
                                name=op.f('fk_refund_decisions_order_id_orders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refund_decisions')),
        sa.UniqueConstraint('request_id', name='uq_refund_decisions_request_id'),
    )
    op.create_index('ix_refund_decisions_customer', 'refund_decisions', ['customer', 'created_at'], unique=False)
    op.create_index('ix_refund_decisions_created_at', 'refund_decisions', ['created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_refund_decisions_created_at', table_name='refund_decisions')
    op.drop_index('ix_refund_decisions_customer', table_name='refund_decisions')
    op.drop_table('refund_decisions')
