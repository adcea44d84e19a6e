"""Rotating OAuth grants kept sealed: ``oauth_grants`` (QuickBooks Online's refresh tokens).

Revision ID: 0034
Revises: 0029
Create Date: 2026-12-03 18:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0034'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'oauth_grants',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.Column('sealed', sa.Text(), nullable=True),
        sa.Column('renewals', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oauth_grants')),
        sa.UniqueConstraint('key', name=op.f('uq_oauth_grants_key')),
    )


def downgrade() -> None:
    op.drop_table('oauth_grants')
