"""A stand-in declared once: its routers, its per-app instances, and the call every request makes.

A platform module builds one :class:`StandIn` at import time and writes its endpoints as
module-level functions on ``kit.api`` / ``kit.admin``. Each API endpoint takes ``call: Call =
kit.call``: by the time it runs, the request is in the log and has passed the injected faults,
the platform's auth and its rate limit, in the order a real request meets them; a refusal at any
step is answered in the platform's format without reaching the endpoint (:class:`Answer`).
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import cached_property
from typing import Any, Generic, Protocol

from fastapi import APIRouter, Body, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response

from sandbox.kit.faults import DefaultBody, Fault, add_fault_routes, any_fault, fault_answer, late_answer, respond
from sandbox.kit.instances import Instances, PlatformState, State, add_request_log_routes

#: Checks a request's credentials against its instance: None to let it in, else the refusal.
Auth = Callable[["Call[Any]"], JSONResponse | None]
#: A JSON object: a request body, a stored record, an answer.
Json = dict[str, Any]
#: Webhooks a change emits, in order: (topic, payload).
Events = list[tuple[str, Any]]
#: How a platform delivers the events one API request caused (the request may name the API version).
Deliver = Callable[["Call[Any]", Events], list[dict[str, Any]]]


class Answer(Exception):
    """Raised to answer a request early (a fault, a refusal): the kit's handler sends ``response``."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


async def _raw_body(request: Request) -> bytes:
    """Read before the (threaded) call pipeline runs, which cannot await."""
    return await request.body()


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or None when there is none or it is not JSON (the platform decides what
    to answer then, not the framework)."""
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


async def _answer(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Answer)
    return exc.response


@dataclass
class KitState(PlatformState):
    """What the kit's admin endpoints use besides faults and the log: a movable clock and webhooks."""

    clock_offset: timedelta = timedelta()
    #: While set (``_admin/clock`` ``{"freeze": true}``), every change happens in this one second.
    frozen_at: datetime | None = None
    webhooks: list[dict[str, Any]] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)

    def now(self) -> datetime:
        if self.frozen_at is not None:
            return self.frozen_at + self.clock_offset
        return (datetime.now(timezone.utc) + self.clock_offset).replace(microsecond=0)

    def log_time(self) -> str:
        """How the request log writes when a request came (the platform's own time format may differ)."""
        return self.now().isoformat()


class Limit(Protocol):
    """A rate limit a stand-in declares: ``check`` returns the headers every answer carries, or
    raises :class:`Answer` with the platform's 429."""

    def check(self, call: "Call[Any]") -> dict[str, str]: ...


@dataclass
class Call(Generic[State]):
    """One API request on its way through an endpoint: the instance, the log entry, the answer."""

    request: Request
    state: State
    entry: dict[str, Any]
    raw: bytes
    kit: "StandIn[State]"
    headers: dict[str, str] = field(default_factory=dict)
    #: Webhooks this request caused, delivered by :meth:`deliver` once the change is made.
    events: Events = field(default_factory=list)

    @cached_property
    def body(self) -> Any:
        """The JSON body, or None when there is none or it is not JSON."""
        return parse_json(self.raw)

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params)

    def path_param(self, name: str) -> str:
        return str(self.request.path_params[name])

    def reply(self, content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        """The answer, spoiled by an ``after_apply`` fault if one matched, logged with its status."""
        content, status, headers = late_answer(self.entry, content, status, headers, self.kit.error_body)
        self.entry["status"] = status
        return respond(content, status, {**self.headers, **(headers or {})})

    def answer(self, response: Response) -> Response:
        """A non-JSON answer (e.g. 204 with ``Location``), logged with its status."""
        self.entry["status"] = response.status_code
        return response

    def refuse(self, content: Any, status: int, headers: dict[str, str] | None = None) -> Answer:
        """``raise call.refuse(body, status)`` from any depth of an endpoint."""
        return Answer(self.reply(content, status, headers))

    def refuse_as_is(self, content: Any, status: int) -> Answer:
        """``raise call.refuse_as_is(body, status)``: a refusal that an ``after_apply`` fault does not
        spoil (a check that runs before anything is applied), with the headers every answer carries."""
        self.entry["status"] = status
        return Answer(respond(content, status, self.headers))

    def emit(self, topic: str, *payloads: Any) -> Any:
        """Note the webhooks this request causes, one per payload, in order; the last payload is
        returned (to answer with it too), None when there is none."""
        self.events += [(topic, payload) for payload in payloads]
        return payloads[-1] if payloads else None

    def deliver(self) -> list[dict[str, Any]]:
        """Deliver the noted webhooks through the platform's ``deliver``, in order; their records.
        Call it with the instance's lock released: a receiver may call the stand-in back."""
        events, self.events = self.events, []
        if not events:
            return []
        assert self.kit.deliver is not None, f"{self.kit.platform} emits webhooks but declares no deliver"
        return self.kit.deliver(self, events)


class StandIn(Generic[State]):
    """One platform's declarations: where it is served, its state, auth, limit and error body.

    ``platform`` names the URL prefix (``/{platform}/{instance}``) and the ``app.state`` slot;
    ``api_path`` follows it with the platform's real base path. Admin endpoints live under
    ``/{platform}/{instance}/_admin``: faults (``parse_fault`` reads the options, ``describe_fault``
    adds to the answer; ``fault_target`` names what their ``path_contains`` is matched against when
    it is not the path) and the request log always, the clock when
    ``clock_view`` renders it, the webhook list and byte-for-byte redelivery when asked, and
    ``POST _admin/webhooks`` answered by ``subscribe(state, payload)`` when given. ``deliver(call,
    events)`` sends the webhooks an API request emitted (:meth:`Call.emit`).
    """

    def __init__(self, platform: str, api_path: str, state: Callable[[str], State], auth: Auth,
                 error_body: DefaultBody, limit: Limit | None = None,
                 parse_fault: Callable[[dict[str, Any]], Fault] = any_fault,
                 describe_fault: Callable[[Fault], dict[str, Any]] | None = None,
                 clock_view: Callable[[datetime], dict[str, Any]] | None = None,
                 webhook_admin: bool = False, redeliver: Callable[..., int | str] | None = None,
                 subscribe: Callable[[Any, dict[str, Any]], dict[str, Any]] | None = None,
                 log_body: Callable[[bytes], Any] = parse_json,
                 fault_target: Callable[["Call[State]"], str] | None = None,
                 deliver: Deliver | None = None) -> None:
        self.platform = platform
        self.deliver = deliver
        self.factory = state
        self.auth = auth
        self.error_body = error_body
        self.limit = limit
        self.log_body = log_body
        self.fault_target = fault_target
        self.api = APIRouter(prefix=f"/{platform}/{{instance}}{api_path}")
        self.admin = APIRouter(prefix=f"/{platform}/{{instance}}/_admin")
        self.call = Depends(self._open_call)
        self.state = Depends(self._state)
        self._parse_fault = parse_fault
        self._describe_fault = describe_fault
        if clock_view is not None:
            self._add_clock(clock_view)
        if webhook_admin:
            self._add_webhook_list()
        if redeliver is not None:
            self._add_redeliver(redeliver)
        if subscribe is not None:
            self._add_subscribe(subscribe)

    def instances(self, app: FastAPI) -> Instances[State]:
        return getattr(app.state, self.platform)

    def _state(self, request: Request, instance: str) -> State:
        return self.instances(request.app).get(instance)

    def _open_call(self, request: Request, instance: str, raw: bytes = Depends(_raw_body)) -> Call[State]:
        """Log, then faults, then auth, then the rate limit. Runs in the worker thread pool, so a
        fault's ``delay_s`` holds this request only."""
        state = self.instances(request.app).get(instance)
        entry = state.requests.record(request, self.log_body(raw), state.log_time())
        call = Call(request, state, entry, raw, self)
        target = self.fault_target(call) if self.fault_target else None
        faulted = fault_answer(state, request, entry, self.error_body, target)
        if faulted:
            raise Answer(faulted)
        denied = self.auth(call)
        if denied is not None:
            entry["status"] = denied.status_code
            raise Answer(denied)
        if self.limit is not None:
            call.headers.update(self.limit.check(call))
        return call

    def install(self, app: FastAPI) -> None:
        """Give ``app`` its own instances and serve the routes (``sandbox.app`` calls this)."""
        instances = Instances(self.factory)
        setattr(app.state, self.platform, instances)
        app.add_exception_handler(Answer, _answer)
        admin = APIRouter(prefix=self.admin.prefix)  # per app: these routes hold its instances
        add_fault_routes(admin, instances, self._parse_fault, self._describe_fault)
        add_request_log_routes(admin, instances)
        for router in (self.api, self.admin, admin):
            app.include_router(router)

    def _add_clock(self, view: Callable[[datetime], dict[str, Any]]) -> None:
        @self.admin.post("/clock")
        def clock(state: KitState = self.state, payload: dict[str, Any] = Body(default_factory=dict),
                  ) -> dict[str, Any]:
            """``advance_s`` moves the instance's clock; ``freeze`` stops it at the current second."""
            state.clock_offset += timedelta(seconds=float(payload.get("advance_s", 0)))
            if "freeze" in payload:
                state.frozen_at = state.now() - state.clock_offset if payload["freeze"] else None
            return view(state.now())

    def _add_webhook_list(self) -> None:
        @self.admin.get("/webhooks")
        def list_webhooks(state: KitState = self.state) -> dict[str, Any]:
            return {"webhooks": state.webhooks, "deliveries": state.deliveries}

    def _add_redeliver(self, post: Callable[..., int | str]) -> None:
        @self.admin.post("/redeliver")
        def redeliver(state: KitState = self.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
            """Send a past delivery again, byte for byte with the same ids, as platform retries do."""
            original = state.deliveries[int(payload.get("index", -1))]
            statuses = [post(original["address"], original["body"].encode(), original["headers"])
                        for _ in range(int(payload.get("times", 1)))]
            return {"statuses": statuses, "event_id": original.get("event_id")}

    def _add_subscribe(self, subscribe: Callable[[Any, dict[str, Any]], dict[str, Any]]) -> None:
        @self.admin.post("/webhooks")
        def add_webhook(state: KitState = self.state, payload: dict[str, Any] = Body(...)) -> dict[str, Any]:
            return subscribe(state, payload)
