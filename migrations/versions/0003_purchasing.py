"""Purchasing: purchase-order events (scorecard), acknowledgement/ASN due times, shipped quantities.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 19:44:04.421718
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('purchase_order_events',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('purchase_order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("kind IN ('drafted', 'approved', 'sent', 'acknowledged', 'dates_changed', 'asn', 'received', 'escalated', 'cancelled')", name=op.f('ck_purchase_order_events_kind_valid')),
    sa.ForeignKeyConstraint(['purchase_order_id'], ['purchase_orders.id'], name=op.f('fk_purchase_order_events_purchase_order_id_purchase_orders'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_order_events'))
    )
    op.create_index('ix_purchase_order_events_po', 'purchase_order_events', ['purchase_order_id', 'at'], unique=False)
    op.add_column('purchase_order_lines', sa.Column('shipped_qty', sa.Integer(), server_default=sa.text('0'), nullable=False))
    op.add_column('purchase_orders', sa.Column('email_outbox_id', sa.BigInteger(), nullable=True))
    op.add_column('purchase_orders', sa.Column('ack_due_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('purchase_orders', sa.Column('asn_due_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    op.drop_column('purchase_orders', 'asn_due_at')
    op.drop_column('purchase_orders', 'ack_due_at')
    op.drop_column('purchase_orders', 'email_outbox_id')
    op.drop_column('purchase_order_lines', 'shipped_qty')
    op.drop_index('ix_purchase_order_events_po', table_name='purchase_order_events')
    op.drop_table('purchase_order_events')
