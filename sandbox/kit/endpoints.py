"""Endpoints that answer from declarations: the work runs under the instance's lock, a
:class:`~sandbox.kit.ledger.Refusal` raised at any depth is answered from the platform's
:class:`~sandbox.kit.ledger.Refusals` table, the webhooks the request emitted are delivered once
the lock is released, and then the answer goes out.

* :func:`answers` registers a handler written as a function that returns the body.
* :class:`Endpoints` declares endpoints one a line: a read of one record found by the path's ids
  (Shopify's ``orders/{order_id}.json``), a list (an order's refunds, the issued gift cards) with
  query filters, whole or in the platform's pages, or a write whose function makes the record it
  answers with (a refund, a gift card).

Delivering and replying outside the lock matters: a receiver may call the stand-in back while a
delivery is under way, and an ``after_apply`` fault delays the answer of a write that already
happened; neither may hold up the instance's other requests.
"""
from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from fastapi.responses import Response

from sandbox.kit.ledger import Refusal, Refusals, found
from sandbox.kit.pages import only_fields
from sandbox.kit.resources import Filter
from sandbox.kit.standin import Call, StandIn

#: Raises the platform's refusal: ``refuse(body, status)`` returns the exception (``Call.refuse``).
Refuse = Callable[[Any, int], Exception]
PATH_PARAM = re.compile(r"\{(\w+)\}")


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
    """Register a handler as an endpoint: ``@answers(kit.api.post("/path"), REFUSALS, 201)``.

    The handler takes the path parameters and ``call: Call[State] = kit.call`` as any endpoint
    does, and returns the body (or a whole answer, e.g. a page); it runs under the instance's
    lock with refusals answered from ``refusals`` (through ``refuse(call)``, by default
    ``call.refuse``); once the lock is released the webhooks it emitted (``call.emit``) are
    delivered and the body is answered with ``status``. FastAPI reads the handler's own
    signature (the route sees the answer type).
    """
    def register(handler: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(handler)
        def endpoint(*args: Any, **kwargs: Any) -> Response:
            call: Call[Any] = kwargs["call"]
            with answering(refusals, refuse(call) if refuse else call.refuse), call.state.lock:
                body = handler(*args, **kwargs)
            call.deliver()
            return body if isinstance(body, Response) else call.reply(body, status)

        endpoint.__signature__ = inspect.signature(handler).replace(  # type: ignore[attr-defined]
            return_annotation=Response)
        route(endpoint)
        return endpoint
    return register


@dataclass(frozen=True)
class Endpoints:
    """Endpoints of one stand-in declared one a line, answered through :func:`answers` with its
    ``refusals``.

    A path's parameters (``{order_id}``) reach the lookup in their order, as ``id_type`` (a value that is
    not one is refused as the framework refuses any bad path parameter); those of the API's base
    path (Shopify's ``{version}``) are the router's, not passed on."""

    kit: StandIn[Any]
    refusals: Refusals
    refuse: Callable[[Call[Any]], Refuse] | None = None
    id_type: type = int
    #: The platform's body for a query parameter a list's filter refuses (``{param: detail}``).
    invalid: Callable[[dict[str, str]], Any] = lambda details: {"errors": details}

    def _register(self, path: str, work: Callable[..., Any], method: str = "GET", status: int = 200) -> None:
        names = PATH_PARAM.findall(path)
        params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=self.id_type) for name in names]
        call_param = inspect.Parameter("call", inspect.Parameter.KEYWORD_ONLY, default=self.kit.call,
                                       annotation=Call)

        def handler(**kwargs: Any) -> Any:
            return work(kwargs["call"], *(kwargs[name] for name in names))
        handler.__signature__ = inspect.Signature([*params, call_param])  # type: ignore[attr-defined]
        handler.__name__ = f"{method.lower()}_" + re.sub(r"\W+", "_", path).strip("_")
        route = self.kit.api.api_route(path, methods=[method])
        answers(route, self.refusals, status, self.refuse)(handler)

    def one(self, path: str, key: str | None, find: Callable[..., Any], name: str, fields: str | None = None,
            ) -> None:
        """``GET path``: ``{key: record}`` (the bare record without a ``key``) of ``find(state,
        *ids)``; None is ``name`` unknown. ``fields`` names the query parameter that keeps only
        some of its top-level keys."""
        def work(call: Call[Any], *ids: Any) -> Any:
            record = found(find(call.state, *ids), name)
            if fields is not None:
                record = only_fields(record, call.query.get(fields))
            return {key: record} if key else record
        self._register(path, work)

    def many(self, path: str, key: str | None, records: Callable[..., Sequence[Any]], *filters: Filter,
             pages: Any = None) -> None:
        """``GET path``: ``records(state, *ids)`` (which may raise a :class:`Refusal`, e.g. for an
        unknown parent) kept by each of ``filters`` (``Filter.test``; a value it refuses is answered
        with ``invalid``), as ``{key: [...]}``, or a page of them in ``pages`` (``NumberedPages``)."""
        def work(call: Call[Any], *ids: Any) -> Any:
            chosen = list(records(call.state, *ids))
            for filt in filters:
                value = filt.value(call, self.invalid, call.query)
                if value is not None and filt.test is not None:
                    chosen = [record for record in chosen if filt.test(record, value)]
            return pages.answer(call, chosen, lambda record: record) if pages is not None else {key: chosen}
        self._register(path, work)

    def write(self, method: str, path: str, key: str | None, make: Callable[..., Any], status: int = 200) -> None:
        """``method path``: ``{key: make(call, *ids)}`` (the bare record without a ``key``) answered
        with ``status``; ``make`` checks the request, changes the state and emits the webhooks."""
        self._register(path, lambda call, *ids: {key: make(call, *ids)} if key else make(call, *ids), method, status)
