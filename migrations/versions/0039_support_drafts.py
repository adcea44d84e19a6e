"""Reply drafts for support tickets with the facts they used, and their internal notes.

``support_drafts``: one row per draft version (template, text, facts, what an answer applied);
``support_notes``: each draft to post to the ticket's helpdesk as an internal note, a row the
sweeper finds again; ``support_decisions.kind`` also takes ``draft`` and ``answer``.

Revision ID: 0039
Revises: 0041
Create Date: 2026-12-03 19:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0039'
down_revision = '0041'
branch_labels = None
depends_on = None


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _now() -> sa.Column[sa.DateTime]:
    return sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False)


def upgrade() -> None:
    op.drop_constraint(op.f('ck_support_decisions_kind_valid'), 'support_decisions', type_='check')
    op.create_check_constraint(op.f('ck_support_decisions_kind_valid'), 'support_decisions',
                               _in('kind', ('triage', 'routing', 'qa', 'draft', 'answer')))
    op.create_table(
        'support_drafts',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('ticket_id', sa.BigInteger(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('intent', sa.String(length=32), nullable=False),
        sa.Column('template', sa.String(length=120), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('facts', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column('applied', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
        sa.Column('auto_answer', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('asks', sa.Boolean(), server_default=sa.text('false'), nullable=False),
        sa.Column('created_by', sa.String(length=128), server_default='', nullable=False),
        _now(),
        sa.ForeignKeyConstraint(['ticket_id'], ['support_tickets.id'], ondelete='CASCADE',
                                name=op.f('fk_support_drafts_ticket_id_support_tickets')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_support_drafts')),
        sa.UniqueConstraint('ticket_id', 'version', name='uq_support_drafts_ticket_version'),
    )
    op.create_table(
        'support_notes',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('draft_id', sa.BigInteger(), nullable=False),
        sa.Column('ticket_id', sa.BigInteger(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('external_ref', sa.String(length=128), nullable=True),
        sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
        _now(),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint(_in('state', ('pending', 'in_flight', 'posted', 'failed')),
                           name=op.f('ck_support_notes_state_valid')),
        sa.ForeignKeyConstraint(['draft_id'], ['support_drafts.id'], ondelete='CASCADE',
                                name=op.f('fk_support_notes_draft_id_support_drafts')),
        sa.ForeignKeyConstraint(['ticket_id'], ['support_tickets.id'], ondelete='CASCADE',
                                name=op.f('fk_support_notes_ticket_id_support_tickets')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_support_notes')),
        sa.UniqueConstraint('draft_id', name=op.f('uq_support_notes_draft_id')),
    )
    op.create_index('ix_support_notes_open', 'support_notes', ['source', 'updated_at'], unique=False,
                    postgresql_where=sa.text("state IN ('pending', 'in_flight')"))


def downgrade() -> None:
    op.drop_index('ix_support_notes_open', table_name='support_notes')
    op.drop_table('support_notes')
    op.drop_table('support_drafts')
    op.execute("DELETE FROM support_decisions WHERE kind IN ('draft', 'answer')")
    op.drop_constraint(op.f('ck_support_decisions_kind_valid'), 'support_decisions', type_='check')
    op.create_check_constraint(op.f('ck_support_decisions_kind_valid'), 'support_decisions',
                               _in('kind', ('triage', 'routing', 'qa')))
