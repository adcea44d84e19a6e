"""Customer journey: backorder follow-up columns (notice, reminder, deadline, resolution), opt-outs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 19:24:54.315385
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contact_opt_outs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('address', sa.String(length=320), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_opt_outs')),
    sa.UniqueConstraint('channel', 'address', name='uq_contact_opt_outs_channel_address')
    )
    op.add_column('backorders', sa.Column('notified_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('backorders', sa.Column('reminded_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('backorders', sa.Column('deadline_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('backorders', sa.Column('substitute_sku_id', sa.Integer(), nullable=True))
    op.add_column('backorders', sa.Column('resolution', sa.String(length=16), nullable=True))
    op.add_column('backorders', sa.Column('resolution_ref', sa.String(length=64), nullable=True))
    op.add_column('backorders', sa.Column('filled_at', sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(op.f('fk_backorders_substitute_sku_id_skus'), 'backorders', 'skus', ['substitute_sku_id'], ['id'])


def downgrade() -> None:
    op.drop_constraint(op.f('fk_backorders_substitute_sku_id_skus'), 'backorders', type_='foreignkey')
    op.drop_column('backorders', 'filled_at')
    op.drop_column('backorders', 'resolution_ref')
    op.drop_column('backorders', 'resolution')
    op.drop_column('backorders', 'substitute_sku_id')
    op.drop_column('backorders', 'deadline_at')
    op.drop_column('backorders', 'reminded_at')
    op.drop_column('backorders', 'notified_at')
    op.drop_table('contact_opt_outs')
