"""A return's satisfaction survey is a ``csat_requests`` row (subject kind ``return``): the survey
columns the return kept for itself are dropped, their answers copied to ``csat_requests`` first.

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-03 19:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0041'
down_revision = '0040'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Answers already given on the return's own survey are kept as the return's csat survey.
    op.execute("""
        INSERT INTO csat_requests (subject_kind, subject_id, store_id, order_id, queue, intent, resolved_by,
                                   resolution, resolved_at, recipient, expires_at, score, comment, answered_at,
                                   first_answered_at, answer_count)
        SELECT 'return', r.id, o.store_id, r.order_id, 'returns', LEFT(r.reason || '/' || COALESCE(r.qc, 'none'), 64),
               'bot:returns', r.rma || ' settled', r.updated_at, o.email, r.updated_at, r.survey_score,
               r.survey_comment, r.survey_answered_at, r.survey_answered_at, 1
        FROM return_requests r JOIN orders o ON o.id = r.order_id
        WHERE r.survey_score IS NOT NULL
        ON CONFLICT (subject_kind, subject_id) DO NOTHING
    """)
    for column in ("survey_answered_at", "survey_comment", "survey_score"):
        op.drop_column('return_requests', column)


def downgrade() -> None:
    op.add_column('return_requests', sa.Column('survey_score', sa.Integer(), nullable=True))
    op.add_column('return_requests', sa.Column('survey_comment', sa.Text(), nullable=True))
    op.add_column('return_requests', sa.Column('survey_answered_at', sa.DateTime(timezone=True), nullable=True))
