"""Locations: an optional owner store, the record of that location's stock for demand; orders
indexed by when they were placed.

Demand is read from one source per location (its owner, else the ERP that maps it, else the
lowest-id store that maps it), so one sale reported by several stores is counted once; order
lines, read by the day their order was placed, come first.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 12:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('locations', sa.Column('owner_store_id', sa.Integer(), nullable=True))
    op.create_foreign_key('fk_locations_owner_store_id_stores', 'locations', 'stores', ['owner_store_id'], ['id'],
                          ondelete='SET NULL')
    op.create_index('ix_orders_placed_at', 'orders', ['placed_at'])


def downgrade() -> None:
    op.drop_index('ix_orders_placed_at', table_name='orders')
    op.drop_constraint('fk_locations_owner_store_id_stores', 'locations', type_='foreignkey')
    op.drop_column('locations', 'owner_store_id')
