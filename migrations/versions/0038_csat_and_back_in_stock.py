"""Satisfaction surveys after a resolved backorder or case, and the storefronts' back-in-stock requests.

``csat_requests``: one survey per subject (kind + id) and its answer; ``back_in_stock_requests``:
who asked to be told when a SKU is back, served oldest first after waiting backorders are filled.
Cases gain the ``csat_follow_up`` kind (a negative answer's follow-up).

Revision ID: 0038
Revises: 0036
Create Date: 2026-12-03 19:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0038'
down_revision = '0036'
branch_labels = None
depends_on = None

KINDS = ("out_of_stock", "partial_allocation", "address_problem", "fraud_hold", "carrier_failure",
         "stuck_in_transit", "delivery_exception", "split_shipment", "refund_request", "chargeback", "backorder")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.drop_constraint(op.f('ck_cases_kind_valid'), 'cases', type_='check')
    op.create_check_constraint(op.f('ck_cases_kind_valid'), 'cases', _in('kind', (*KINDS, 'csat_follow_up')))
    op.create_table(
        'csat_requests',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('subject_kind', sa.String(length=32), nullable=False),
        sa.Column('subject_id', sa.BigInteger(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('queue', sa.String(length=64), nullable=False),
        sa.Column('intent', sa.String(length=64), nullable=False),
        sa.Column('resolved_by', sa.String(length=128), nullable=False),
        sa.Column('resolution', sa.String(length=200), server_default='', nullable=False),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=True),
        sa.Column('outbox_id', sa.BigInteger(), nullable=True),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('score', sa.Integer(), nullable=True),
        sa.Column('comment', sa.Text(), nullable=True),
        sa.Column('first_answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answered_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('answer_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('decision', sa.String(length=16), nullable=True),
        sa.Column('decision_rule', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column('follow_up_case_id', sa.BigInteger(), nullable=True),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('score IS NULL OR score BETWEEN 1 AND 5', name=op.f('ck_csat_requests_score_range')),
        sa.CheckConstraint("decision IS NULL OR decision IN ('none', 'reopen', 'follow_up', 'alert')",
                           name=op.f('ck_csat_requests_decision_valid')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_csat_requests_order_id_orders'),
                                ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_csat_requests_store_id_stores'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_csat_requests')),
    )
    op.create_index('uq_csat_requests_subject', 'csat_requests', ['subject_kind', 'subject_id'], unique=True)
    op.create_index('ix_csat_requests_resolved', 'csat_requests', ['resolved_at'])
    op.create_table(
        'back_in_stock_requests',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('sku_id', sa.Integer(), nullable=False),
        sa.Column('store_id', sa.Integer(), nullable=True),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('email', sa.String(length=320), nullable=True),
        sa.Column('phone', sa.String(length=32), nullable=True),
        sa.Column('source', sa.String(length=32), server_default='cli', nullable=False),
        sa.Column('external_id', sa.String(length=200), nullable=True),
        sa.Column('state', sa.String(length=16), server_default='waiting', nullable=False),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('outbox_id', sa.BigInteger(), nullable=True),
        sa.Column('notice', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("state IN ('waiting', 'notified', 'cancelled')",
                           name=op.f('ck_back_in_stock_requests_state_valid')),
        sa.CheckConstraint("channel IN ('email', 'sms')", name=op.f('ck_back_in_stock_requests_channel_valid')),
        sa.CheckConstraint('email IS NOT NULL OR phone IS NOT NULL',
                           name=op.f('ck_back_in_stock_requests_has_contact')),
        sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_back_in_stock_requests_sku_id_skus'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_back_in_stock_requests_store_id_stores'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_back_in_stock_requests')),
    )
    op.create_index('uq_back_in_stock_waiting', 'back_in_stock_requests',
                    ['sku_id', 'channel', sa.text('coalesce(email, phone)')], unique=True,
                    postgresql_where=sa.text("state = 'waiting'"))
    op.create_index('ix_back_in_stock_queue', 'back_in_stock_requests', ['sku_id', 'requested_at', 'id'],
                    postgresql_where=sa.text("state = 'waiting'"))


def downgrade() -> None:
    op.drop_index('ix_back_in_stock_queue', table_name='back_in_stock_requests')
    op.drop_index('uq_back_in_stock_waiting', table_name='back_in_stock_requests')
    op.drop_table('back_in_stock_requests')
    op.drop_index('ix_csat_requests_resolved', table_name='csat_requests')
    op.drop_index('uq_csat_requests_subject', table_name='csat_requests')
    op.drop_table('csat_requests')
    op.execute("DELETE FROM cases WHERE kind = 'csat_follow_up'")
    op.drop_constraint(op.f('ck_cases_kind_valid'), 'cases', type_='check')
    op.create_check_constraint(op.f('ck_cases_kind_valid'), 'cases', _in('kind', KINDS))

