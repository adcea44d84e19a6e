"""The database as the vault of rotating OAuth grants (``connectors.token_rotation.TokenVault``).

QuickBooks Online hands out a new refresh token on each refresh; losing it means the customer must
connect the app again. So the grant is written to ``oauth_grants`` and committed **in its own
transaction**, at once: a poll or a PO send whose own work later rolls back must not take the new
token with it. The renewal runs under ``SELECT … FOR UPDATE`` on the grant's row, so two workers
never spend one refresh token twice (the second finds the first one's access token and uses it);
the lock is held for the one token request. What is stored is sealed by the connector (never a
token in clear), and nothing here logs it.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from domain.core.db import get_sessionmaker
from domain.core.models import OAuthGrant


class DatabaseVault:
    """One row per key; ``sessions`` makes the vault's own sessions (default: the application's)."""

    def __init__(self, sessions: Callable[[], sessionmaker[Session]] = get_sessionmaker) -> None:
        self.sessions = sessions

    def peek(self, key: str) -> str | None:
        with self.sessions()() as session:
            return session.scalar(select(OAuthGrant.sealed).where(OAuthGrant.key == key))

    def hold(self, key: str, renew: Callable[[str | None], str | None]) -> str | None:
        with self.sessions()() as session, session.begin():
            session.execute(insert(OAuthGrant).values(key=key).on_conflict_do_nothing(index_elements=["key"]))
            row = session.scalars(select(OAuthGrant).where(OAuthGrant.key == key).with_for_update()).one()
            new = renew(row.sealed)
            if new is not None:
                row.sealed, row.renewals = new, row.renewals + 1
            return row.sealed
