"""Lightspeed X-Series' restock level (the reorder amount) kept beside its imported reorder point.

``location_thresholds`` gains ``imported_restock_level``: what the platform would reorder at that
location once its reorder point is reached; NULL where it reports none (0 there).

Revision ID: 0029
Revises: 0023
Create Date: 2026-12-10 10:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0029'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('location_thresholds', sa.Column('imported_restock_level', sa.Integer(), nullable=True))
    op.create_check_constraint(op.f('ck_location_thresholds_restock_level_nonnegative'), 'location_thresholds',
                               'imported_restock_level >= 0')


def downgrade() -> None:
    op.drop_constraint(op.f('ck_location_thresholds_restock_level_nonnegative'), 'location_thresholds', type_='check')
    op.drop_column('location_thresholds', 'imported_restock_level')
