"""Indexes for what the payment and dispute webhooks look up: an order by its gateway's payment
reference (``order_payments.reference``: every dispute notice), and a subject's pending timers of
every kind (``timers``: a dispute's outcome cancels its deadline and reminder timers; the unique
index on pending timers leads with ``kind`` and cannot serve it).

Revision ID: 0030
Revises: 0034
Create Date: 2026-12-03 18:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0030'
down_revision = '0034'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_order_payments_reference', 'order_payments', ['reference'], unique=False,
                    postgresql_where=sa.text('reference IS NOT NULL'))
    op.create_index('ix_timers_pending_by_subject', 'timers', ['subject_type', 'subject_id'], unique=False,
                    postgresql_where=sa.text("state = 'pending'"))


def downgrade() -> None:
    op.drop_index('ix_timers_pending_by_subject', table_name='timers')
    op.drop_index('ix_order_payments_reference', table_name='order_payments')
