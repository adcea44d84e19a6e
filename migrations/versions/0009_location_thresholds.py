"""Per-location thresholds: a SKU's own low-stock level at one location, from the file or a platform.

A showroom at 0 alerts for that showroom even while the warehouse has plenty. The file's figure
and the one imported from a platform (Lightspeed X-Series' reorder point) are both kept; the
file's wins. ``state`` holds the location's OK/LOW/OUT so each crossing alerts once.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 12:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'location_thresholds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sku_id', sa.Integer(), nullable=False),
        sa.Column('location_id', sa.Integer(), nullable=False),
        sa.Column('config_threshold', sa.Integer(), nullable=True),
        sa.Column('imported_threshold', sa.Integer(), nullable=True),
        sa.Column('imported_from_store_id', sa.Integer(), nullable=True),
        sa.Column('imported_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('state', sa.String(length=16), server_default='OK', nullable=False),
        sa.Column('state_changed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("state IN ('OK', 'LOW', 'OUT')", name=op.f('ck_location_thresholds_state_valid')),
        sa.CheckConstraint('config_threshold >= 0 AND imported_threshold >= 0',
                           name=op.f('ck_location_thresholds_thresholds_nonnegative')),
        sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_location_thresholds_sku_id_skus'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['location_id'], ['locations.id'],
                                name=op.f('fk_location_thresholds_location_id_locations'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['imported_from_store_id'], ['stores.id'],
                                name=op.f('fk_location_thresholds_imported_from_store_id_stores'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_location_thresholds')),
        sa.UniqueConstraint('sku_id', 'location_id', name='uq_location_thresholds_sku_location'),
    )


def downgrade() -> None:
    op.drop_table('location_thresholds')
