"""Vendors: an optional daily order cut-off that closes their draft purchase orders.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 22:20:00
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('vendors', sa.Column('order_cutoff', sa.Time(), nullable=True))


def downgrade() -> None:
    op.drop_column('vendors', 'order_cutoff')
