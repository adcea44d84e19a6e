"""Returns (RMA) from request to refund and disposition: ``return_requests`` and ``return_events``.

Revision ID: 0037
Revises: 0038
Create Date: 2026-12-03 19:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0037'
down_revision = '0038'
branch_labels = None
depends_on = None

STATES = "'requested', 'review', 'approved', 'label_created', 'delivered', 'received', 'settled', 'rejected', 'cancelled'"
QC = "'restock', 'dispose', 'refurbish', 'empty'"


def upgrade() -> None:
    now = sa.text('now()')
    op.create_table(
        'return_requests',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('rma', sa.String(length=64), nullable=False),
        sa.Column('source', sa.String(length=16), nullable=False),
        sa.Column('source_ref', sa.String(length=128), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('customer', sa.String(length=320), server_default='', nullable=False),
        sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
        sa.Column('reason', sa.String(length=64), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='requested', nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
        sa.Column('decision_id', sa.BigInteger(), nullable=True),
        sa.Column('flags', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
        sa.Column('label_account', sa.String(length=64), nullable=True),
        sa.Column('label_ref', sa.String(length=128), nullable=True),
        sa.Column('label_carrier', sa.String(length=64), nullable=True),
        sa.Column('tracking_number', sa.String(length=128), nullable=True),
        sa.Column('label_url', sa.Text(), nullable=True),
        sa.Column('qc', sa.String(length=16), nullable=True),
        sa.Column('received_weight_g', sa.Integer(), nullable=True),
        sa.Column('location_id', sa.Integer(), nullable=True),
        sa.Column('restocked_qty', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('execution_id', sa.BigInteger(), nullable=True),
        sa.Column('notice_outbox_id', sa.BigInteger(), nullable=True),
        sa.Column('survey_score', sa.Integer(), nullable=True),
        sa.Column('survey_comment', sa.Text(), nullable=True),
        sa.Column('survey_answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.CheckConstraint(f"state IN ({STATES})", name=op.f('ck_return_requests_state_valid')),
        sa.CheckConstraint(f"qc IS NULL OR qc IN ({QC})", name=op.f('ck_return_requests_qc_valid')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_return_requests_order_id_orders'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id'],
                                name=op.f('fk_return_requests_location_id_locations'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_return_requests')),
        sa.UniqueConstraint('rma', name=op.f('uq_return_requests_rma')),
    )
    op.create_index('uq_return_requests_source', 'return_requests', ['source', 'source_ref'], unique=True)
    op.create_index('ix_return_requests_customer', 'return_requests', ['customer', 'created_at'])
    op.create_index('ix_return_requests_due', 'return_requests', ['due_at'],
                    postgresql_where=sa.text('due_at IS NOT NULL'))
    op.create_table(
        'return_events',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('return_id', sa.BigInteger(), nullable=False),
        sa.Column('from_state', sa.String(length=16), nullable=True),
        sa.Column('to_state', sa.String(length=16), nullable=False),
        sa.Column('step', sa.String(length=32), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=now, nullable=False),
        sa.ForeignKeyConstraint(['return_id'], ['return_requests.id'],
                                name=op.f('fk_return_events_return_id_return_requests'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_return_events')),
    )
    op.create_index(op.f('ix_return_events_return_id'), 'return_events', ['return_id'])


def downgrade() -> None:
    op.drop_table('return_events')
    op.drop_table('return_requests')
