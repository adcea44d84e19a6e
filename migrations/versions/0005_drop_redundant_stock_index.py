"""Stock levels: drop the index on sku_id alone; the primary key (sku_id, location_id, store_id)
already serves every lookup by SKU, and each poll paid for maintaining both on every row.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 02:00:00
"""
from __future__ import annotations

from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_stock_levels_sku', table_name='stock_levels')


def downgrade() -> None:
    op.create_index('ix_stock_levels_sku', 'stock_levels', ['sku_id'], unique=False)
