"""One-use callback tokens (Mailgun's signature token) kept in PostgreSQL, not only in Redis.

A flushed or evicting Redis used to forget them, after which a replayed Mailgun callback was
accepted. ``(source, token)`` is unique; rows past ``expires_at`` are purged by beat.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 14:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'replay_tokens',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('source', sa.String(length=32), nullable=False),
        sa.Column('token', sa.String(length=200), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('source', 'token', name='uq_replay_tokens_source_token'),
    )
    op.create_index('ix_replay_tokens_expires_at', 'replay_tokens', ['expires_at'])


def downgrade() -> None:
    op.drop_index('ix_replay_tokens_expires_at', table_name='replay_tokens')
    op.drop_table('replay_tokens')
