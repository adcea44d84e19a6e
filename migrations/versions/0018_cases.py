"""Cases: one row per order exception, with its route, owner, SLA and every action taken on it.

``cases``: kind, order, lines, channel, SKUs, state, queue/owner/priority and the routing rule
that chose them; its SLA is a ``timers`` row. ``case_events``: who or what did what, in order.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 09:15:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

KINDS = ("out_of_stock", "partial_allocation", "address_problem", "fraud_hold", "carrier_failure",
         "stuck_in_transit", "delivery_exception", "split_shipment", "refund_request", "chargeback", "backorder")
STATES = ("open", "in_progress", "waiting", "resolved")
PRIORITIES = ("urgent", "high", "normal", "low")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table(
        'cases',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='open', nullable=False),
        sa.Column('subject_type', sa.String(length=32), nullable=False),
        sa.Column('subject_id', sa.BigInteger(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('order_line_ids', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"),
                  nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('sku_codes', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"),
                  nullable=False),
        sa.Column('category', sa.String(length=64), nullable=True),
        sa.Column('customer_tier', sa.String(length=32), nullable=True),
        sa.Column('queue', sa.String(length=64), nullable=False),
        sa.Column('owner', sa.String(length=128), nullable=True),
        sa.Column('priority', sa.String(length=16), server_default='normal', nullable=False),
        sa.Column('route_index', sa.Integer(), nullable=True),
        sa.Column('sla_s', sa.Integer(), nullable=False),
        sa.Column('sla_due_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sla_breached_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('summary', sa.Text(), server_default='', nullable=False),
        sa.Column('resolution_note', sa.Text(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(_in('kind', KINDS), name=op.f('ck_cases_kind_valid')),
        sa.CheckConstraint(_in('state', STATES), name=op.f('ck_cases_state_valid')),
        sa.CheckConstraint(_in('priority', PRIORITIES), name=op.f('ck_cases_priority_valid')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL',
                                name=op.f('fk_cases_order_id_orders')),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='SET NULL',
                                name=op.f('fk_cases_store_id_stores')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_cases')),
    )
    op.create_index('uq_cases_subject', 'cases', ['kind', 'subject_type', 'subject_id'], unique=True)
    op.create_index('ix_cases_queue_state', 'cases', ['queue', 'state'], unique=False)
    op.create_index('ix_cases_order', 'cases', ['order_id'], unique=False)
    op.create_table(
        'case_events',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('case_id', sa.BigInteger(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('actor', sa.String(length=128), nullable=False),
        sa.Column('action', sa.String(length=32), nullable=False),
        sa.Column('from_state', sa.String(length=16), nullable=True),
        sa.Column('to_state', sa.String(length=16), nullable=True),
        sa.Column('note', sa.Text(), server_default='', nullable=False),
        sa.Column('detail', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='CASCADE',
                                name=op.f('fk_case_events_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_case_events')),
    )
    op.create_index('ix_case_events_case', 'case_events', ['case_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_events_case', table_name='case_events')
    op.drop_table('case_events')
    op.drop_index('ix_cases_order', table_name='cases')
    op.drop_index('ix_cases_queue_state', table_name='cases')
    op.drop_index('uq_cases_subject', table_name='cases')
    op.drop_table('cases')
