"""A store's own return is told more than our decision: ``store_return_writes`` holds one row per
return and action — the decision (``approve`` / ``decline``, still one per return) and the return's
end (``cancel`` / ``close``, Shopify's ``returnCancel`` / ``returnClose``).

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-04 22:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0047'
down_revision = '0046'
branch_labels = None
depends_on = None

TABLE = 'store_return_writes'


def upgrade() -> None:
    op.drop_constraint(op.f('uq_store_return_writes_return_id'), TABLE, type_='unique')
    op.create_unique_constraint(op.f('uq_store_return_writes_return_action'), TABLE, ['return_id', 'action'])
    op.create_index(op.f('uq_store_return_writes_decision'), TABLE, ['return_id'], unique=True,
                    postgresql_where=sa.text("action IN ('approve', 'decline')"))
    op.drop_constraint(op.f('ck_store_return_writes_action_valid'), TABLE, type_='check')
    op.create_check_constraint(op.f('ck_store_return_writes_action_valid'), TABLE,
                               "action IN ('approve', 'decline', 'cancel', 'close')")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM store_return_writes WHERE action IN ('cancel', 'close')"))
    op.drop_constraint(op.f('ck_store_return_writes_action_valid'), TABLE, type_='check')
    op.create_check_constraint(op.f('ck_store_return_writes_action_valid'), TABLE, "action IN ('approve', 'decline')")
    op.drop_index(op.f('uq_store_return_writes_decision'), table_name=TABLE)
    op.drop_constraint(op.f('uq_store_return_writes_return_action'), TABLE, type_='unique')
    op.create_unique_constraint(op.f('uq_store_return_writes_return_id'), TABLE, ['return_id'])
