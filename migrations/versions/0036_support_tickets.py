"""Support tickets, the orders and cases each is linked to, and every triage, routing and QA decision.

``support_tickets``: one row per source and external id with where triage and the ladder put it;
``support_ticket_links``: its orders and open cases and how each was matched; ``support_decisions``:
each decision with its figures and reasons (``domain.support``).

Revision ID: 0036
Revises: 0030
Create Date: 2026-12-03 18:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0036'
down_revision = '0030'
branch_labels = None
depends_on = None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now() -> sa.Column[sa.DateTime]:
    return sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False)


def upgrade() -> None:
    op.create_table(
        'support_tickets',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('external_id', sa.String(length=128), nullable=False),
        sa.Column('customer_email', sa.String(length=320), nullable=True),
        sa.Column('customer_name', sa.String(length=200), server_default='', nullable=False),
        sa.Column('subject', sa.Text(), server_default='', nullable=False),
        sa.Column('body', sa.Text(), server_default='', nullable=False),
        sa.Column('channel', sa.String(length=16), server_default='email', nullable=False),
        sa.Column('language', sa.String(length=8), server_default='en', nullable=False),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='new', nullable=False),
        sa.Column('intent', sa.String(length=32), nullable=True),
        sa.Column('confidence', sa.Float(), nullable=True),
        sa.Column('sentiment', sa.Float(), nullable=True),
        sa.Column('legal_threat', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('priority', sa.String(length=16), nullable=True),
        sa.Column('clv_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.Column('clv_tier', sa.String(length=32), nullable=True),
        sa.Column('queue', sa.String(length=64), nullable=True),
        sa.Column('owner', sa.String(length=128), nullable=True),
        sa.Column('needs_human', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('auto_answer', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('qa_sampled', sa.Boolean(), nullable=True),
        sa.Column('resolution_note', sa.Text(), nullable=True),
        sa.Column('resolved_at', sa.DateTime(timezone=True), nullable=True),
        _now(),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(_in('state', ('new', 'triaged', 'resolved')), name=op.f('ck_support_tickets_state_valid')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_support_tickets')),
        sa.UniqueConstraint('source', 'external_id', name='uq_support_tickets_source_external'),
    )
    op.create_index('ix_support_tickets_queue_state', 'support_tickets', ['queue', 'state'], unique=False)
    op.create_index('ix_support_tickets_email_lower', 'support_tickets', [sa.text('lower(customer_email)')],
                    unique=False)
    op.create_table(
        'support_ticket_links',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('ticket_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=8), nullable=False),
        sa.Column('ref_id', sa.BigInteger(), nullable=False),
        sa.Column('matched_by', sa.String(length=16), nullable=False),
        _now(),
        sa.CheckConstraint(_in('kind', ('order', 'case')), name=op.f('ck_support_ticket_links_kind_valid')),
        sa.ForeignKeyConstraint(['ticket_id'], ['support_tickets.id'], ondelete='CASCADE',
                                name=op.f('fk_support_ticket_links_ticket_id_support_tickets')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_support_ticket_links')),
        sa.UniqueConstraint('ticket_id', 'kind', 'ref_id', name='uq_support_ticket_links_ref'),
    )
    op.create_index('ix_support_ticket_links_ref', 'support_ticket_links', ['kind', 'ref_id'], unique=False)
    op.create_table(
        'support_decisions',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('ticket_id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('outcome', sa.String(length=64), nullable=False),
        sa.Column('rule', sa.String(length=120), server_default='', nullable=False),
        sa.Column('model', sa.String(length=64), server_default='', nullable=False),
        sa.Column('figures', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column('reasons', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
        _now(),
        sa.CheckConstraint(_in('kind', ('triage', 'routing', 'qa')), name=op.f('ck_support_decisions_kind_valid')),
        sa.ForeignKeyConstraint(['ticket_id'], ['support_tickets.id'], ondelete='CASCADE',
                                name=op.f('fk_support_decisions_ticket_id_support_tickets')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_support_decisions')),
    )
    op.create_index('ix_support_decisions_ticket', 'support_decisions', ['ticket_id', 'id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_support_decisions_ticket', table_name='support_decisions')
    op.drop_table('support_decisions')
    op.drop_index('ix_support_ticket_links_ref', table_name='support_ticket_links')
    op.drop_table('support_ticket_links')
    op.drop_index('ix_support_tickets_email_lower', table_name='support_tickets')
    op.drop_index('ix_support_tickets_queue_state', table_name='support_tickets')
    op.drop_table('support_tickets')
