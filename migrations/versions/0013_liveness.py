"""Liveness rows: worker heartbeats, sweeper runs and the health probe's write.

``worker_heartbeats`` holds one row per Celery worker process, refreshed every few seconds;
``sweep_runs`` the last run of each beat-scheduled sweeper; ``health_probes`` the row ``/healthz``
upserts to prove the database takes writes. All times are PostgreSQL's ``now()``.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 14:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'worker_heartbeats',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('host', sa.String(length=200), nullable=False),
        sa.Column('pid', sa.Integer(), nullable=False),
        sa.Column('queues', postgresql.ARRAY(sa.String(length=64)), server_default=sa.text("'{}'"),
                  nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_worker_heartbeats')),
    )
    op.create_table(
        'sweep_runs',
        sa.Column('task', sa.String(length=200), nullable=False),
        sa.Column('interval_s', sa.Float(), nullable=False),
        sa.Column('last_run_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('runs', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
        sa.PrimaryKeyConstraint('task', name=op.f('pk_sweep_runs')),
    )
    op.create_table(
        'health_probes',
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('written_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_health_probes')),
    )


def downgrade() -> None:
    op.drop_table('health_probes')
    op.drop_table('sweep_runs')
    op.drop_table('worker_heartbeats')
