"""Initial schema: stores, stock, orders, backorders, purchasing, timers, outbox, inbox, audit.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-25 19:00:06.625348
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.String(length=64), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log'))
    )
    op.create_index('ix_audit_log_subject', 'audit_log', ['subject_type', 'subject_id', 'at'], unique=False)
    op.create_table('dead_letters',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('task_name', sa.String(length=200), nullable=False),
    sa.Column('task_id', sa.String(length=64), nullable=False),
    sa.Column('args', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('kwargs', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('error', sa.Text(), nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('redriven_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_dead_letters')),
    sa.UniqueConstraint('task_id', name=op.f('uq_dead_letters_task_id'))
    )
    op.create_table('inbox',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('source', sa.String(length=64), nullable=False),
    sa.Column('dedupe_key', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('topic', sa.String(length=100), server_default='', nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('processed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("state IN ('pending', 'done', 'failed', 'quarantined')", name=op.f('ck_inbox_state_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbox')),
    sa.UniqueConstraint('source', 'dedupe_key', name='uq_inbox_source_dedupe')
    )
    op.create_index('ix_inbox_pending', 'inbox', ['source', 'id'], unique=False, postgresql_where=sa.text("state = 'pending'"))
    op.create_table('locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_locations')),
    sa.UniqueConstraint('key', name=op.f('uq_locations_key'))
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('template', sa.String(length=64), nullable=False),
    sa.Column('recipient', sa.String(length=320), nullable=False),
    sa.Column('context', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=True),
    sa.Column('provider_message_id', sa.String(length=200), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("channel IN ('email', 'sms', 'slack')", name=op.f('ck_outbox_channel_valid')),
    sa.CheckConstraint("state IN ('pending', 'sending', 'sent', 'delivered', 'unknown', 'failed', 'suppressed')", name=op.f('ck_outbox_state_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_outbox_idempotency_key'))
    )
    op.create_index('ix_outbox_pending', 'outbox', ['created_at'], unique=False, postgresql_where=sa.text("state IN ('pending', 'unknown')"))
    op.create_index('ix_outbox_provider_message', 'outbox', ['provider', 'provider_message_id'], unique=False)
    op.create_table('stores',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('platform', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('base_url', sa.Text(), nullable=False),
    sa.Column('credentials_env', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('webhook_secret_env', sa.String(length=128), nullable=True),
    sa.Column('options', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('sells', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('poll_interval_s', sa.Integer(), server_default=sa.text('300'), nullable=False),
    sa.Column('full_sync_interval_s', sa.Integer(), server_default=sa.text('86400'), nullable=False),
    sa.Column('stock_cursor', sa.Text(), nullable=True),
    sa.Column('order_cursor', sa.Text(), nullable=True),
    sa.Column('last_polled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_full_sync_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_poll_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=128), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('poll_interval_s > 0', name=op.f('ck_stores_poll_interval_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stores')),
    sa.UniqueConstraint('key', name=op.f('uq_stores_key'))
    )
    op.create_table('timers',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('subject_type', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.BigInteger(), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='pending', nullable=False),
    sa.Column('attempts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'fired', 'cancelled')", name=op.f('ck_timers_state_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timers'))
    )
    op.create_index('ix_timers_due_pending', 'timers', ['due_at'], unique=False, postgresql_where=sa.text("state = 'pending'"))
    op.create_index('uq_timers_pending_subject', 'timers', ['kind', 'subject_type', 'subject_id'], unique=True, postgresql_where=sa.text("state = 'pending'"))
    op.create_table('vendors',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('lead_time_days', sa.Integer(), nullable=False),
    sa.Column('min_order_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('min_order_units', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('case_pack', sa.Integer(), server_default=sa.text('1'), nullable=False),
    sa.Column('ack_within_hours', sa.Integer(), server_default=sa.text('48'), nullable=False),
    sa.Column('erp_store_key', sa.String(length=64), nullable=True),
    sa.CheckConstraint('case_pack >= 1', name=op.f('ck_vendors_case_pack_positive')),
    sa.CheckConstraint('lead_time_days >= 0', name=op.f('ck_vendors_lead_time_nonnegative')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_vendors')),
    sa.UniqueConstraint('key', name=op.f('uq_vendors_key'))
    )
    op.create_table('orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('customer_name', sa.String(length=200), server_default='', nullable=False),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('customer_timezone', sa.String(length=64), nullable=True),
    sa.Column('status', sa.String(length=32), server_default='open', nullable=False),
    sa.Column('currency', sa.String(length=3), server_default='USD', nullable=False),
    sa.Column('total_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('placed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_orders_store_id_stores')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_orders')),
    sa.UniqueConstraint('store_id', 'external_id', name='uq_orders_store_external')
    )
    op.create_index('ix_orders_status', 'orders', ['status'], unique=False)
    op.create_table('purchase_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), server_default='draft', nullable=False),
    sa.Column('window_closes_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('total_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('expected_at', sa.Date(), nullable=True),
    sa.Column('approved_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erp_ref', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('draft', 'awaiting_approval', 'approved', 'sent', 'acknowledged', 'partially_received', 'received', 'cancelled')", name=op.f('ck_purchase_orders_state_valid')),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_purchase_orders_vendor_id_vendors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_purchase_orders_number'))
    )
    op.create_index('ix_purchase_orders_open_draft', 'purchase_orders', ['vendor_id'], unique=True, postgresql_where=sa.text("state = 'draft'"))
    op.create_table('skus',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=128), nullable=False),
    sa.Column('title', sa.String(length=300), server_default='', nullable=False),
    sa.Column('category', sa.String(length=64), server_default='', nullable=False),
    sa.Column('price_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('cost_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('vendor_id', sa.Integer(), nullable=True),
    sa.Column('threshold', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('reorder_point', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('safety_stock', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('reorder_qty', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('case_pack', sa.Integer(), nullable=True),
    sa.Column('substitutes', postgresql.ARRAY(sa.String(length=128)), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('allow_backorder', sa.Boolean(), server_default=sa.text('true'), nullable=False),
    sa.Column('state', sa.String(length=16), server_default='IN_STOCK', nullable=False),
    sa.Column('state_changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('oversell_risk', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('atp_drift', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('eta', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('IN_STOCK', 'LOW', 'OUT', 'BACKORDER', 'RESTOCKED')", name=op.f('ck_skus_state_valid')),
    sa.CheckConstraint('threshold >= 0 AND safety_stock >= 0 AND reorder_qty >= 0', name=op.f('ck_skus_rules_nonnegative')),
    sa.ForeignKeyConstraint(['vendor_id'], ['vendors.id'], name=op.f('fk_skus_vendor_id_vendors')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_skus')),
    sa.UniqueConstraint('code', name=op.f('uq_skus_code'))
    )
    op.create_index('ix_skus_state', 'skus', ['state'], unique=False)
    op.create_table('store_locations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_store_locations_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_store_locations_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_store_locations')),
    sa.UniqueConstraint('store_id', 'external_id', name='uq_store_locations_external')
    )
    op.create_table('alerts',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('severity', sa.String(length=16), server_default='warning', nullable=False),
    sa.Column('dedupe_key', sa.String(length=200), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=True),
    sa.Column('store_id', sa.Integer(), nullable=True),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_alerts_sku_id_skus'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_alerts_store_id_stores'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts')),
    sa.UniqueConstraint('dedupe_key', name=op.f('uq_alerts_dedupe_key'))
    )
    op.create_table('channel_listings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('inventory_item_id', sa.String(length=64), nullable=True),
    sa.Column('parent_external_id', sa.String(length=64), nullable=True),
    sa.Column('backorders_allowed', sa.Boolean(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_channel_listings_sku_id_skus'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_channel_listings_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channel_listings')),
    sa.UniqueConstraint('store_id', 'sku_id', name='uq_channel_listings_store_sku')
    )
    op.create_index('ix_channel_listings_external', 'channel_listings', ['store_id', 'external_id'], unique=False)
    op.create_index('ix_channel_listings_inventory_item', 'channel_listings', ['store_id', 'inventory_item_id'], unique=False)
    op.create_table('order_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=True),
    sa.Column('external_id', sa.String(length=64), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('allocated_qty', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('backordered_qty', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('price_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('title', sa.String(length=300), server_default='', nullable=False),
    sa.CheckConstraint('allocated_qty + backordered_qty <= quantity', name=op.f('ck_order_lines_split_within_quantity')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_order_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name=op.f('fk_order_lines_order_id_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_order_lines_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_lines')),
    sa.UniqueConstraint('order_id', 'external_id', name='uq_order_lines_order_external')
    )
    op.create_index('ix_order_lines_sku', 'order_lines', ['sku_id'], unique=False)
    op.create_table('purchase_order_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purchase_order_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('received_qty', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('unit_cost_cents', sa.BigInteger(), server_default=sa.text('0'), nullable=False),
    sa.Column('promised_date', sa.Date(), nullable=True),
    sa.Column('eta', sa.Date(), nullable=True),
    sa.Column('reason', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_purchase_order_lines_quantity_positive')),
    sa.ForeignKeyConstraint(['purchase_order_id'], ['purchase_orders.id'], name=op.f('fk_purchase_order_lines_purchase_order_id_purchase_orders'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_purchase_order_lines_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_purchase_order_lines')),
    sa.UniqueConstraint('purchase_order_id', 'sku_id', name='uq_purchase_order_lines_po_sku')
    )
    op.create_table('sku_transitions',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=False),
    sa.Column('to_state', sa.String(length=32), nullable=False),
    sa.Column('numbers', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_sku_transitions_sku_id_skus'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sku_transitions'))
    )
    op.create_index('ix_sku_transitions_sku', 'sku_transitions', ['sku_id', 'created_at'], unique=False)
    op.create_table('stock_history',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_stock_history_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_stock_history_sku_id_skus'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_stock_history_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_stock_history'))
    )
    op.create_index('ix_stock_history_sku_recorded', 'stock_history', ['sku_id', 'recorded_at'], unique=False)
    op.create_table('stock_levels',
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('location_id', sa.Integer(), nullable=False),
    sa.Column('store_id', sa.Integer(), nullable=False),
    sa.Column('on_hand', sa.Integer(), nullable=False),
    sa.Column('committed', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('available', sa.Integer(), nullable=False),
    sa.Column('source_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['location_id'], ['locations.id'], name=op.f('fk_stock_levels_location_id_locations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_stock_levels_sku_id_skus'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['store_id'], ['stores.id'], name=op.f('fk_stock_levels_store_id_stores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('sku_id', 'location_id', 'store_id', name=op.f('pk_stock_levels'))
    )
    op.create_index('ix_stock_levels_sku', 'stock_levels', ['sku_id'], unique=False)
    op.create_table('backorders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_line_id', sa.Integer(), nullable=False),
    sa.Column('sku_id', sa.Integer(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=32), server_default='open', nullable=False),
    sa.Column('priority', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('eta', sa.Date(), nullable=True),
    sa.Column('promised_date', sa.Date(), nullable=True),
    sa.Column('consent_required', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.Column('notice_count', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('ordered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("state IN ('open', 'notified', 'accepted_wait', 'substituted', 'cancelled_by_customer', 'auto_cancelled', 'filled', 'shipped')", name=op.f('ck_backorders_state_valid')),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_backorders_quantity_positive')),
    sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], name=op.f('fk_backorders_order_line_id_order_lines'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['sku_id'], ['skus.id'], name=op.f('fk_backorders_sku_id_skus')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_backorders'))
    )
    op.create_index('ix_backorders_sku_state', 'backorders', ['sku_id', 'state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_backorders_sku_state', table_name='backorders')
    op.drop_table('backorders')
    op.drop_index('ix_stock_levels_sku', table_name='stock_levels')
    op.drop_table('stock_levels')
    op.drop_index('ix_stock_history_sku_recorded', table_name='stock_history')
    op.drop_table('stock_history')
    op.drop_index('ix_sku_transitions_sku', table_name='sku_transitions')
    op.drop_table('sku_transitions')
    op.drop_table('purchase_order_lines')
    op.drop_index('ix_order_lines_sku', table_name='order_lines')
    op.drop_table('order_lines')
    op.drop_index('ix_channel_listings_inventory_item', table_name='channel_listings')
    op.drop_index('ix_channel_listings_external', table_name='channel_listings')
    op.drop_table('channel_listings')
    op.drop_table('alerts')
    op.drop_table('store_locations')
    op.drop_index('ix_skus_state', table_name='skus')
    op.drop_table('skus')
    op.drop_index('ix_purchase_orders_open_draft', table_name='purchase_orders', postgresql_where=sa.text("state = 'draft'"))
    op.drop_table('purchase_orders')
    op.drop_index('ix_orders_status', table_name='orders')
    op.drop_table('orders')
    op.drop_table('vendors')
    op.drop_index('uq_timers_pending_subject', table_name='timers', postgresql_where=sa.text("state = 'pending'"))
    op.drop_index('ix_timers_due_pending', table_name='timers', postgresql_where=sa.text("state = 'pending'"))
    op.drop_table('timers')
    op.drop_table('stores')
    op.drop_index('ix_outbox_provider_message', table_name='outbox')
    op.drop_index('ix_outbox_pending', table_name='outbox', postgresql_where=sa.text("state IN ('pending', 'unknown')"))
    op.drop_table('outbox')
    op.drop_table('locations')
    op.drop_index('ix_inbox_pending', table_name='inbox', postgresql_where=sa.text("state = 'pending'"))
    op.drop_table('inbox')
    op.drop_table('dead_letters')
    op.drop_index('ix_audit_log_subject', table_name='audit_log')
    op.drop_table('audit_log')
