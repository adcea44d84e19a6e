"""Pending effects: detection after a poll or a receipt, restock fills and purchase planning as rows.

One row per kind × SKU, recorded in the transaction that decides the effect and deleted in the
one that performs it; ``tasks.effects.sweep`` re-sends rows whose message was lost
(``domain/core/effects.py``).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 14:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'pending_effects',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('sku_id', sa.Integer(), nullable=False),
        sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.CheckConstraint("kind IN ('evaluate', 'fill', 'plan')", name=op.f('ck_pending_effects_kind_valid')),
        sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], ondelete='CASCADE',
                                name=op.f('fk_pending_effects_sku_id_skus')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pending_effects')),
        sa.UniqueConstraint('kind', 'sku_id', name='uq_pending_effects_kind_sku'),
    )
    op.create_index('ix_pending_effects_due', 'pending_effects', ['due_at'], unique=False,
                    postgresql_where=sa.text('due_at IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('ix_pending_effects_due', table_name='pending_effects',
                  postgresql_where=sa.text('due_at IS NOT NULL'))
    op.drop_table('pending_effects')
