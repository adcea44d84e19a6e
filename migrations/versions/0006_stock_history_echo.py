"""Stock history: mark the readings that only repeat a figure we pushed to that store (an echo).

Demand is counted from real consumption; a store reporting back the figure we wrote to it is not
a sale, and must never trigger another push.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 12:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('stock_history', sa.Column('echo', sa.Boolean(), server_default=sa.text('false'),
                                             nullable=False))


def downgrade() -> None:
    op.drop_column('stock_history', 'echo')
