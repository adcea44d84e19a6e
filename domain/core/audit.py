"""The audit log: every transition, push and decision, with the numbers behind it."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from domain.core.models import AuditLog


def record(session: Session, actor: str, action: str, subject_type: str, subject_id: object,
           **data: Any) -> None:
    session.add(AuditLog(actor=actor, action=action, subject_type=subject_type, subject_id=str(subject_id),
                         data=data))
