"""Chargebacks: disputes from payment providers, their notices, evidence packets, provider calls
and finance notes; orders learn their payment reference and what checkout knew about the payment.

``orders.payment_ref`` (nullable: orders from before, or paid on the platform itself, have none)
is how a dispute finds its order; ``orders.payment_facts`` holds the checkout's IP, device, user,
addresses and AVS/CVV results that fraud evidence quotes (``domain.chargebacks.sources``).

Revision ID: 0022
Revises: 0019
Create Date: 2026-12-03 14:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0022'
down_revision = '0019'
branch_labels = None
depends_on = None

DISPUTE_STATES = ("opened", "packet_ready", "staged", "approved", "submitted", "won", "lost", "accepted")
CALL_ACTIONS = ("stage", "submit")
CALL_STATES = ("pending", "in_flight", "done", "failed", "unknown")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _jsonb(name: str, default: str = "'{}'") -> sa.Column:
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text(default), nullable=False)


def _at(name: str, nullable: bool = True) -> sa.Column:
    if nullable:
        return sa.Column(name, sa.DateTime(timezone=True), nullable=True)
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False)


def upgrade() -> None:
    op.add_column('orders', sa.Column('payment_ref', sa.String(length=128), nullable=True))
    op.add_column('orders', _jsonb('payment_facts'))
    op.create_index('ix_orders_payment_ref', 'orders', ['payment_ref'], unique=False,
                    postgresql_where=sa.text('payment_ref IS NOT NULL'))

    op.create_table(
        'disputes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('provider', sa.String(length=16), nullable=False),
        sa.Column('account', sa.String(length=64), nullable=False),
        sa.Column('dispute_ref', sa.String(length=128), nullable=False),
        sa.Column('payment_ref', sa.String(length=128), server_default='', nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('case_id', sa.BigInteger(), nullable=True),
        sa.Column('reason_code', sa.String(length=64), server_default='', nullable=False),
        sa.Column('network_code', sa.String(length=16), server_default='', nullable=False),
        sa.Column('category', sa.String(length=32), server_default='general', nullable=False),
        sa.Column('amount_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('currency', sa.String(length=3), server_default='', nullable=False),
        _at('due_by'),
        sa.Column('state', sa.String(length=16), server_default='opened', nullable=False),
        sa.Column('provider_status', sa.String(length=64), server_default='', nullable=False),
        sa.Column('approved_by', sa.String(length=128), nullable=True),
        _at('approved_at'), _at('staged_at'), _at('submitted_at'), _at('outcome_at'), _at('escalated_at'),
        _at('created_at', nullable=False), _at('updated_at', nullable=False),
        sa.CheckConstraint(_in('state', DISPUTE_STATES), name=op.f('ck_disputes_state_valid')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL',
                                name=op.f('fk_disputes_order_id_orders')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='SET NULL',
                                name=op.f('fk_disputes_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_disputes')),
        sa.UniqueConstraint('provider', 'dispute_ref', name='uq_disputes_provider_ref'),
    )
    op.create_index('ix_disputes_state_due', 'disputes', ['state', 'due_by'], unique=False)
    op.create_index('ix_disputes_order', 'disputes', ['order_id'], unique=False)

    op.create_table(
        'dispute_notices',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('provider', sa.String(length=16), nullable=False),
        sa.Column('event_id', sa.String(length=200), nullable=False),
        sa.Column('dispute_id', sa.BigInteger(), nullable=True),
        sa.Column('status', sa.String(length=64), server_default='', nullable=False),
        sa.Column('outcome', sa.String(length=16), server_default='open', nullable=False),
        _jsonb('data'),
        _at('received_at', nullable=False),
        sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], ondelete='CASCADE',
                                name=op.f('fk_dispute_notices_dispute_id_disputes')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_notices')),
        sa.UniqueConstraint('provider', 'event_id', name='uq_dispute_notices_provider_event'),
    )
    op.create_index('ix_dispute_notices_dispute', 'dispute_notices', ['dispute_id', 'id'], unique=False)

    op.create_table(
        'dispute_packets',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('dispute_id', sa.BigInteger(), nullable=False),
        sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
        sa.Column('rule_name', sa.String(length=200), nullable=False),
        _jsonb('rule'), _jsonb('facts'), _jsonb('present', "'[]'"), _jsonb('missing', "'[]'"), _jsonb('fields'),
        _jsonb('documents'),
        sa.Column('defense_reason', sa.String(length=64), server_default='', nullable=False),
        sa.Column('html', sa.Text(), server_default='', nullable=False),
        _at('built_at', nullable=False),
        sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], ondelete='CASCADE',
                                name=op.f('fk_dispute_packets_dispute_id_disputes')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_packets')),
        sa.UniqueConstraint('dispute_id', name=op.f('uq_dispute_packets_dispute_id')),
    )

    op.create_table(
        'dispute_calls',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('dispute_id', sa.BigInteger(), nullable=False),
        sa.Column('action', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
        sa.Column('packet_version', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('requested_by', sa.String(length=128), server_default='', nullable=False),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        _at('lease_until'),
        sa.Column('last_error', sa.Text(), nullable=True),
        _jsonb('receipt'),
        _at('created_at', nullable=False), _at('updated_at', nullable=False), _at('done_at'),
        sa.CheckConstraint(_in('action', CALL_ACTIONS), name=op.f('ck_dispute_calls_action_valid')),
        sa.CheckConstraint(_in('state', CALL_STATES), name=op.f('ck_dispute_calls_state_valid')),
        sa.ForeignKeyConstraint(['dispute_id'], ['disputes.id'], ondelete='CASCADE',
                                name=op.f('fk_dispute_calls_dispute_id_disputes')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_dispute_calls')),
        sa.UniqueConstraint('dispute_id', 'action', name='uq_dispute_calls_dispute_action'),
    )
    op.create_index('ix_dispute_calls_open', 'dispute_calls', ['updated_at'], unique=False,
                    postgresql_where=sa.text("state IN ('pending', 'in_flight')"))

    op.create_table(
        'finance_notes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('subject_type', sa.String(length=32), nullable=False),
        sa.Column('subject_id', sa.BigInteger(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('amount_cents', sa.BigInteger(), nullable=False),
        sa.Column('currency', sa.String(length=3), server_default='', nullable=False),
        sa.Column('provider', sa.String(length=16), server_default='', nullable=False),
        sa.Column('reference', sa.String(length=128), server_default='', nullable=False),
        sa.Column('gl_note', sa.Text(), server_default='', nullable=False),
        sa.Column('rule', sa.String(length=200), server_default='', nullable=False),
        _jsonb('figures'),
        _at('created_at', nullable=False),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL',
                                name=op.f('fk_finance_notes_order_id_orders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_finance_notes')),
        sa.UniqueConstraint('subject_type', 'subject_id', 'kind', name='uq_finance_notes_subject_kind'),
    )
    op.create_index('ix_finance_notes_created_at', 'finance_notes', ['created_at'], unique=False)
    op.create_index('ix_finance_notes_order', 'finance_notes', ['order_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_finance_notes_order', table_name='finance_notes')
    op.drop_index('ix_finance_notes_created_at', table_name='finance_notes')
    op.drop_table('finance_notes')
    op.drop_index('ix_dispute_calls_open', table_name='dispute_calls')
    op.drop_table('dispute_calls')
    op.drop_table('dispute_packets')
    op.drop_index('ix_dispute_notices_dispute', table_name='dispute_notices')
    op.drop_table('dispute_notices')
    op.drop_index('ix_disputes_order', table_name='disputes')
    op.drop_index('ix_disputes_state_due', table_name='disputes')
    op.drop_table('disputes')
    op.drop_index('ix_orders_payment_ref', table_name='orders')
    op.drop_column('orders', 'payment_facts')
    op.drop_column('orders', 'payment_ref')
