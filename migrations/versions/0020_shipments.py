"""Shipments, their lines and tracking events, and the shipping accounts polled for them
(``domain.shipping``).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 09:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0020'
down_revision = '0023'
branch_labels = None
depends_on = None

STATUSES = "'label_created', 'manifested', 'in_transit', 'out_for_delivery', 'delivered', 'exception', " \
           "'returned', 'voided'"


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _created(name: str = 'created_at') -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False)


def upgrade() -> None:
    op.create_table(
        'shipping_accounts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=64), nullable=False),
        sa.Column('provider', sa.String(length=32), nullable=False),
        sa.Column('enabled', sa.Boolean(), server_default=sa.text('true'), nullable=False),
        sa.Column('poll_interval_s', sa.Integer(), server_default=sa.text('600'), nullable=False),
        sa.Column('cursor', sa.Text(), nullable=True),
        _when('next_poll_at'), _when('last_polled_at'),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('lease_owner', sa.String(length=128), nullable=True),
        _when('lease_expires_at'), _created(),
        sa.CheckConstraint('poll_interval_s > 0', name=op.f('ck_shipping_accounts_poll_interval_positive')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_shipping_accounts')),
        sa.UniqueConstraint('key', name=op.f('uq_shipping_accounts_key')),
    )
    op.create_table(
        'shipments',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('account_id', sa.Integer(), nullable=False),
        sa.Column('external_id', sa.String(length=128), nullable=False),
        sa.Column('order_id', sa.Integer(), nullable=True),
        sa.Column('order_number', sa.String(length=64), server_default='', nullable=False),
        sa.Column('carrier', sa.String(length=64), server_default='', nullable=False),
        sa.Column('service', sa.String(length=64), server_default='', nullable=False),
        sa.Column('tracking_number', sa.String(length=128), server_default='', nullable=False),
        sa.Column('label_ref', sa.String(length=128), nullable=True),
        sa.Column('status', sa.String(length=24), server_default='label_created', nullable=False),
        _when('status_at'), _when('label_created_at'), _when('shipped_at'), _when('delivered_at'),
        _when('last_scan_at'), _when('last_tracked_at'), _when('stuck_at'), _created(), _created('updated_at'),
        sa.CheckConstraint(f'status IN ({STATUSES})', name=op.f('ck_shipments_status_valid')),
        sa.ForeignKeyConstraint(['account_id'], ['shipping_accounts.id'], ondelete='CASCADE',
                                name=op.f('fk_shipments_account_id_shipping_accounts')),
        sa.ForeignKeyConstraint(['order_id'], ['orders.id'], ondelete='SET NULL',
                                name=op.f('fk_shipments_order_id_orders')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_shipments')),
        sa.UniqueConstraint('account_id', 'external_id', name='uq_shipments_account_external'),
    )
    op.create_index('ix_shipments_order', 'shipments', ['order_id'], unique=False)
    op.create_index('ix_shipments_order_number', 'shipments', ['order_number'], unique=False)
    op.create_table(
        'shipment_lines',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('shipment_id', sa.BigInteger(), nullable=False),
        sa.Column('order_line_id', sa.Integer(), nullable=True),
        sa.Column('sku', sa.String(length=128), server_default='', nullable=False),
        sa.Column('quantity', sa.Integer(), nullable=False),
        sa.CheckConstraint('quantity >= 0', name=op.f('ck_shipment_lines_quantity_not_negative')),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], ondelete='CASCADE',
                                name=op.f('fk_shipment_lines_shipment_id_shipments')),
        sa.ForeignKeyConstraint(['order_line_id'], ['order_lines.id'], ondelete='SET NULL',
                                name=op.f('fk_shipment_lines_order_line_id_order_lines')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_shipment_lines')),
    )
    op.create_index('ix_shipment_lines_shipment', 'shipment_lines', ['shipment_id'], unique=False)
    op.create_index('ix_shipment_lines_order_line', 'shipment_lines', ['order_line_id'], unique=False)
    op.create_table(
        'tracking_events',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('shipment_id', sa.BigInteger(), nullable=False),
        sa.Column('event_key', sa.String(length=200), nullable=False),
        sa.Column('status', sa.String(length=24), nullable=True),
        sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('description', sa.Text(), server_default='', nullable=False),
        sa.Column('location', sa.String(length=200), server_default='', nullable=False),
        sa.Column('code', sa.String(length=64), server_default='', nullable=False),
        _created('recorded_at'),
        sa.ForeignKeyConstraint(['shipment_id'], ['shipments.id'], ondelete='CASCADE',
                                name=op.f('fk_tracking_events_shipment_id_shipments')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_events')),
        sa.UniqueConstraint('shipment_id', 'event_key', name='uq_tracking_events_shipment_event'),
    )
    op.create_index('ix_tracking_events_shipment_occurred', 'tracking_events', ['shipment_id', 'occurred_at'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_tracking_events_shipment_occurred', table_name='tracking_events')
    op.drop_table('tracking_events')
    op.drop_index('ix_shipment_lines_order_line', table_name='shipment_lines')
    op.drop_index('ix_shipment_lines_shipment', table_name='shipment_lines')
    op.drop_table('shipment_lines')
    op.drop_index('ix_shipments_order_number', table_name='shipments')
    op.drop_index('ix_shipments_order', table_name='shipments')
    op.drop_table('shipments')
    op.drop_table('shipping_accounts')
