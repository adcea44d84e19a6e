"""A support ticket follows its helpdesk's status: ``support_tickets.source_status`` keeps the
helpdesk's own word as last seen (Zendesk ``solved``, Intercom ``closed`` …), and
``support_decisions.kind`` also takes ``reopen`` (a ticket re-opened in the helpdesk, and why).

Revision ID: 0043
Revises: 0039
Create Date: 2026-12-04 17:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0043'
down_revision = '0039'
branch_labels = None
depends_on = None

KINDS = ('triage', 'routing', 'qa', 'draft', 'answer')


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.add_column('support_tickets', sa.Column('source_status', sa.String(length=32), nullable=True))
    op.drop_constraint(op.f('ck_support_decisions_kind_valid'), 'support_decisions', type_='check')
    op.create_check_constraint(op.f('ck_support_decisions_kind_valid'), 'support_decisions',
                               _in('kind', (*KINDS, 'reopen')))


def downgrade() -> None:
    op.execute("DELETE FROM support_decisions WHERE kind = 'reopen'")
    op.drop_constraint(op.f('ck_support_decisions_kind_valid'), 'support_decisions', type_='check')
    op.create_check_constraint(op.f('ck_support_decisions_kind_valid'), 'support_decisions', _in('kind', KINDS))
    op.drop_column('support_tickets', 'source_status')
