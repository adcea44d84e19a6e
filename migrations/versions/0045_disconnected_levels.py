"""Items a store disconnected from one of its locations (Shopify's ``inventory_levels/disconnect``).

Revision ID: 0045
Revises: 0039
Create Date: 2026-12-04 17:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0045'
down_revision = '0043'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'disconnected_levels',
        sa.Column('store_id', sa.Integer(), nullable=False),
        sa.Column('sku_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('disconnected_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('available_before', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['store_id'], ['stores.id'], ondelete='CASCADE',
                                name=op.f('fk_disconnected_levels_store_id_stores')),
        sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], ondelete='CASCADE',
                                name=op.f('fk_disconnected_levels_sku_id_skus')),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id'], ondelete='CASCADE',
                                name=op.f('fk_disconnected_levels_location_id_locations')),
        sa.PrimaryKeyConstraint('store_id', 'sku_id', 'location_id', name=op.f('pk_disconnected_levels')),
    )


def downgrade() -> None:
    op.drop_table('disconnected_levels')
