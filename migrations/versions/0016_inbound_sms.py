"""Inbound customer texts by Twilio ``MessageSid``: a replayed delivery has no second effect.

And an index to find the last text we sent a number (the conversation a reply belongs to).

Revision ID: 0016
Revises: 0013
Create Date: 2026-12-02 14:40:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0016'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'inbound_sms',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('message_sid', sa.String(length=64), nullable=False),
        sa.Column('from_number', sa.String(length=32), nullable=False),
        sa.Column('to_number', sa.String(length=64), nullable=False),
        sa.Column('keyword', sa.String(length=32), nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('backorder_id', sa.Integer(), nullable=True),
        sa.Column('outbox_id', sa.BigInteger(), nullable=True),
        sa.Column('result', sa.String(length=32), server_default='received', nullable=False),
        sa.ForeignKeyConstraint(['backorder_id'], ['backorders.id'], ondelete='SET NULL',
                                name=op.f('fk_inbound_sms_backorder_id_backorders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_sms')),
        sa.UniqueConstraint('message_sid', name=op.f('uq_inbound_sms_message_sid')),
    )
    op.create_index('ix_outbox_sms_recipient', 'outbox', ['recipient'], unique=False,
                    postgresql_where=sa.text("channel = 'sms'"))


def downgrade() -> None:
    op.drop_index('ix_outbox_sms_recipient', table_name='outbox', postgresql_where=sa.text("channel = 'sms'"))
    op.drop_table('inbound_sms')
