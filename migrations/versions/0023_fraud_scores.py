"""Fraud hints: what the platform said about an order's payment, and each order's score.

``orders`` gains the inputs (customer IP, AVS and CVV results, the card without its number,
billing and shipping countries and addresses), all nullable: a platform that does not say leaves
them empty and the signal reads "not known". ``fraud_scores``: one row per order with every
signal's contribution, the verdict and the case it opened (``domain.fraud``).

Revision ID: 0023
Revises: 0019
Create Date: 2026-12-04 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

VERDICTS = ("pass", "review", "hold", "decline")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.add_column('orders', sa.Column('customer_ip', sa.String(length=45), nullable=True))
    op.add_column('orders', sa.Column('avs_result', sa.String(length=16), nullable=True))
    op.add_column('orders', sa.Column('cvv_result', sa.String(length=16), nullable=True))
    op.add_column('orders', sa.Column('card_fingerprint', sa.String(length=128), nullable=True))
    op.add_column('orders', sa.Column('billing_country', sa.String(length=2), nullable=True))
    op.add_column('orders', sa.Column('shipping_country', sa.String(length=2), nullable=True))
    op.add_column('orders', sa.Column('billing_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.add_column('orders', sa.Column('shipping_address', postgresql.JSONB(astext_type=sa.Text()), nullable=True))
    op.create_index('ix_orders_customer_ip', 'orders', ['customer_ip', 'placed_at'], unique=False)
    op.create_table(
        'fraud_scores',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=False),
        sa.Column('score', sa.Integer(), nullable=False),
        sa.Column('verdict', sa.String(length=16), nullable=False),
        sa.Column('signals', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"),
                  nullable=False),
        sa.Column('thresholds', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column('inputs_digest', sa.String(length=64), nullable=False),
        sa.Column('case_id', sa.BigInteger(), nullable=True),
        sa.Column('times_scored', sa.Integer(), server_default=sa.text('1'), nullable=False),
        sa.Column('scored_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(_in('verdict', VERDICTS), name=op.f('ck_fraud_scores_verdict_valid')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='CASCADE',
                                name=op.f('fk_fraud_scores_order_id_orders')),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id'], ondelete='SET NULL',
                                name=op.f('fk_fraud_scores_case_id_cases')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fraud_scores')),
        sa.UniqueConstraint('order_id', name=op.f('uq_fraud_scores_order_id')),
    )
    op.create_index('ix_fraud_scores_verdict', 'fraud_scores', ['verdict', 'scored_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_fraud_scores_verdict', table_name='fraud_scores')
    op.drop_table('fraud_scores')
    op.drop_index('ix_orders_customer_ip', table_name='orders')
    for column in ('shipping_address', 'billing_address', 'shipping_country', 'billing_country', 'card_fingerprint',
                   'cvv_result', 'avs_result', 'customer_ip'):
        op.drop_column('orders', column)
