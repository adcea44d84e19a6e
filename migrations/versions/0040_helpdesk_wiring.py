"""Helpdesks wired to support tickets: a poll state per helpdesk, write-backs owed after triage,
and the source's update time on each ticket.

``helpdesk_states``: one row per ``[[helpdesks]]`` entry (poll interval, cursor, lease, last poll
and error); ``helpdesk_write_backs``: tags, priority, group and the internal note owed to a
helpdesk ticket, pending until a task performed it; ``support_tickets.source_updated_at``: the
helpdesk's ``updated_at`` of the copy stored, so an older copy never overwrites a newer one.

Revision ID: 0040
Revises: 0037
Create Date: 2026-12-03 19:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0040'
down_revision = '0037'
branch_labels = None
depends_on = None


def _ts(name: str) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    op.add_column('support_tickets', _ts('source_updated_at'))
    op.create_table(
        'helpdesk_states',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=32), nullable=False),
        sa.Column('platform', sa.String(length=16), nullable=False),
        sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('poll_interval_s', sa.Integer(), server_default=sa.text('300'), nullable=False),
        sa.Column('cursor', sa.Text(), nullable=True),
        _ts('next_poll_at'), _ts('last_polled_at'),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('last_tickets', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('lease_owner', sa.String(length=128), nullable=True),
        _ts('lease_expires_at'),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint('poll_interval_s > 0', name=op.f('ck_helpdesk_states_poll_interval_positive')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_helpdesk_states')),
        sa.UniqueConstraint('key', name=op.f('uq_helpdesk_states_key')),
    )
    op.create_table(
        'helpdesk_write_backs',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('ticket_id', sa.BigInteger(), nullable=False),
        sa.Column('helpdesk', sa.String(length=32), nullable=False),
        sa.Column('kind', sa.String(length=16), server_default='triage', nullable=False),
        sa.Column('idempotency_key', sa.String(length=128), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
        _ts('due_at'), _ts('claimed_until'),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('fields_written', sa.Text(), server_default='', nullable=False),
        sa.Column('note_id', sa.String(length=64), server_default='', nullable=False),
        _ts('done_at'),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("state IN ('pending', 'done', 'failed')", name=op.f('ck_helpdesk_write_backs_state_valid')),
        sa.ForeignKeyConstraint(['ticket_id'], ['support_tickets.id'], ondelete='CASCADE',
                                name=op.f('fk_helpdesk_write_backs_ticket_id_support_tickets')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_helpdesk_write_backs')),
        sa.UniqueConstraint('ticket_id', 'kind', name='uq_helpdesk_write_backs_ticket_kind'),
    )
    op.create_index('ix_helpdesk_write_backs_pending', 'helpdesk_write_backs', ['due_at'],
                    postgresql_where=sa.text("state = 'pending'"))


def downgrade() -> None:
    op.drop_index('ix_helpdesk_write_backs_pending', table_name='helpdesk_write_backs')
    op.drop_table('helpdesk_write_backs')
    op.drop_table('helpdesk_states')
    op.drop_column('support_tickets', 'source_updated_at')
