"""One-use tokens of signed callbacks, remembered in PostgreSQL for as long as they could verify.

A Mailgun event webhook carries its signature in the body: the same body verifies again for the
whole timestamp tolerance (300 s), so the token is what makes it one-use. It used to live only in
Redis; with ``allkeys-lru`` (or a flush, or a restart without persistence) the token went and a
replayed callback was accepted. Here the token is a row claimed in the same transaction that
applies the callback: if applying fails, the claim rolls back with it, so the provider's honest
retry of the same body is let through and nothing needs undoing by hand.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, text
from sqlalchemy.orm import Session

from domain.core.models import ReplayToken

_CLAIM = text(
    "INSERT INTO replay_tokens (source, token, expires_at) "
    "VALUES (:source, :token, now() + make_interval(secs => :valid_s)) "
    "ON CONFLICT ON CONSTRAINT uq_replay_tokens_source_token DO UPDATE "
    "SET seen_at = now(), expires_at = EXCLUDED.expires_at "
    "WHERE replay_tokens.expires_at < now() "  # an expired, not yet purged token may be used again
    "RETURNING id")


def claim(session: Session, source: str, token: str, valid_for: timedelta) -> bool:
    """True the first time ``(source, token)`` is seen within ``valid_for``; False for a replay.

    Validity is counted on PostgreSQL's clock, like every other deadline.
    Concurrent claims of one token: the unique constraint makes the second wait for the first's
    transaction and then see its row, so exactly one wins.
    """
    params = {"source": source, "token": token, "valid_s": valid_for.total_seconds()}
    return session.execute(_CLAIM, params).first() is not None


def seen(session: Session, source: str, token: str) -> bool:
    """Whether a live claim of ``token`` exists (for reports and tests)."""
    return session.execute(select(ReplayToken.id).where(
        ReplayToken.source == source, ReplayToken.token == token,
        ReplayToken.expires_at >= func.now())).first() is not None


def purge_expired(session: Session, limit: int = 10_000) -> int:
    """Delete up to ``limit`` tokens past their validity window; returns how many went."""
    ids = select(ReplayToken.id).where(ReplayToken.expires_at < func.now()).limit(limit).scalar_subquery()
    return session.execute(delete(ReplayToken).where(ReplayToken.id.in_(ids))).rowcount or 0
