"""How a money endpoint answers: its work runs under the instance's lock, a
:class:`~sandbox.kit.ledger.Refusal` raised at any depth is answered from the platform's
:class:`~sandbox.kit.ledger.Refusals` table, and the reply goes out once the lock is released.

Replying outside the lock matters: an ``after_apply`` fault delays the answer of a write that
already happened, and that delay must not hold up the instance's other requests.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.responses import Response

from sandbox.kit.ledger import Refusal, Refusals
from sandbox.kit.standin import Call

#: Raises the platform's refusal: ``refuse(body, status)`` returns the exception (``Call.refuse``).
Refuse = Callable[[Any, int], Exception]


@contextmanager
def answering(refusals: Refusals, refuse: Refuse) -> Iterator[None]:
    """Within: a :class:`Refusal` is answered by raising ``refuse(body, status)``."""
    try:
        yield
    except Refusal as refusal:
        status, body = refusals.answer(refusal)
        raise refuse(body, status) from None


def answers(route: Callable[[Callable[..., Any]], Any], refusals: Refusals, status: int = 200,
            refuse: Callable[[Call[Any]], Refuse] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a handler as a money endpoint: ``@answers(kit.api.get("/path"), REFUSALS)``.

    The handler takes the path parameters and ``call: Call[State] = kit.call`` as any endpoint
    does, and returns the body (or a whole answer, e.g. a page); it runs under the instance's
    lock with refusals answered from ``refusals`` (through ``refuse(call)``, by default
    ``call.refuse``), and the body is answered with ``status`` after the lock is released.
    FastAPI reads the handler's own signature (the route sees the answer type).
    """
    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def endpoint(*args: Any, **kwargs: Any) -> Response:
            call: Call[Any] = kwargs["call"]
            with answering(refusals, refuse(call) if refuse else call.refuse), call.state.lock:
                body = handler(*args, **kwargs)
            return body if isinstance(body, Response) else call.reply(body, status)

        endpoint.__signature__ = inspect.signature(handler).replace(  # type: ignore[attr-defined]
            return_annotation=Response)
        route(endpoint)
        return endpoint
    return register
