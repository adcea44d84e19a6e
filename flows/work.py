"""A unit of work: one database session and the messages to send once it has committed.

``tasks.base.DbTask.unit_of_work`` opens it, commits, and then sends ``after_commit`` in order;
``flows.spine.dispatch`` is how a follow-up gets onto it.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.orm import Session

from domain.core.stages import Stage

if TYPE_CHECKING:
    from celery import Celery, Task


@dataclass
class UnitOfWork:
    """A session plus the messages to send once it has committed."""

    session: Session
    after_commit: list[tuple[Any, tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    #: The app whose tasks ``flows.spine.dispatch`` sends (the running task's).
    app: Celery | None = None
    #: The stage of the task that opened it (``flows.spine`` checks what it dispatches).
    stage: Stage | None = None

    def enqueue(self, task: Task, *args: Any, **options: Any) -> None:
        """Queue one message for a task object (tests and the drain's fallback use it)."""
        self.after_commit.append((task, args, options))


class Transactional(Protocol):
    """What a flow needs of the task that runs it (``tasks.base.DbTask``): units of work, each its
    own transaction, whose messages are sent once it has committed."""

    def unit_of_work(self) -> AbstractContextManager[UnitOfWork]: ...
