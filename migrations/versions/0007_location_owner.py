"""Locations: an optional owner store, the record of that location's stock when no ERP maps it.

Demand is read from one source per location (the ERP that maps it, else its owner, else the
lowest-id store that maps it), so one sale reported by several stores is counted once.

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


def downgrade() -> None:
    op.drop_constraint('fk_locations_owner_store_id_stores', 'locations', type_='foreignkey')
    op.drop_column('locations', 'owner_store_id')
