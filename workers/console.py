"""The ops console: read-only pages at ``/console`` behind HTTP basic auth — the overview, the case
queues (``/console/cases``), each case (``/console/cases/ID``) and customer satisfaction
(``/console/csat``, ``?days=N``).

It asks for the same credentials as Flower (``FLOWER_BASIC_AUTH``, ``user:password[,user:password]``;
under the embedded set-up the generated ``.data/flower_auth``), so an operator has one login for
both. Without credentials configured it refuses everyone: an ops page that answers anonymously
would list customers' order numbers and error texts to the internet.

The page is self-contained — inline CSS, a chart drawn as inline SVG on the server, no script,
no font or asset from anywhere — because the deployment may reach nothing outside. It refreshes
itself every minute (a ``<meta>`` refresh) and writes nothing: the redrive and case commands are
shown to copy, never run from here (a write would need a form, and its CSRF protection, that a
read-only page does not).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.concurrency import run_in_threadpool

from domain import console
from domain.core.case_config import CasesConfig
from domain.core.clock import utcnow
from domain.core.db import session_scope
from domain.messaging.rendering import TEMPLATES_DIR
from workers.basic_auth import authorised, configured_credentials
from workers.console_chart import bars

log = logging.getLogger("workers.console")

router = APIRouter(tags=["ops console"])

REALM = 'Basic realm="backorders console", charset="UTF-8"'
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
           "X-Frame-Options": "DENY",
           "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                                      "frame-ancestors 'none'; form-action 'none'"}
REFRESH_S = 60


def refused(configured: bool) -> Response:
    text = ("Credentials required (the same as Flower's)." if configured
            else "The console is closed: set FLOWER_BASIC_AUTH=user:password to open it.")
    return Response(text + "\n", status_code=401, media_type="text/plain",
                    headers={**HEADERS, "WWW-Authenticate": REALM})


@lru_cache(maxsize=1)
def _templates() -> Environment:
    """Autoescaped and strict: SKU titles, error texts and webhook topics come from outside."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html",), default=True),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["when"] = when
    env.filters["stamp"] = stamp
    env.filters["duration"] = duration
    env.filters["money"] = lambda cents: f"{(cents or 0) / 100:,.2f}"
    return env


def when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "never"


def stamp(moment: datetime | str | None) -> str:
    """A stored time (a datetime, or ISO text as the case views give it) to the minute, in UTC."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "—"


def duration(seconds: int | float | None) -> str:
    """``45s``, ``12m``, ``3h 5m``, ``2d 4h``: how long ago or how late, at a glance."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    sign, seconds = ("-" if seconds < 0 else ""), abs(seconds)
    if seconds < 60:
        return f"{sign}{seconds}s"
    if seconds < 3600:
        return f"{sign}{seconds // 60}m"
    if seconds < 86400:
        return f"{sign}{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{sign}{seconds // 86400}d {seconds % 86400 // 3600}h"


def business_timezone() -> str | None:
    """The configuration's zone (quiet hours of customers whose own zone is unknown), if it loads."""
    try:
        from domain.core.business_config import current_config

        return current_config().timezone
    except Exception:  # the console still shows everything else; outbox times are then in UTC
        log.warning("console: the business configuration could not be loaded; times shown in UTC")
        return None


def read_overview() -> dict[str, Any]:
    zone = business_timezone()
    with session_scope() as session:
        data = console.overview(session, business_timezone=zone)
        session.rollback()  # read-only
    data["age_chart"] = bars([(b["label"], b["count"]) for b in data["backorders_by_age"]["buckets"]])
    data["refresh_s"] = REFRESH_S
    return data


def cases_config() -> CasesConfig:
    """The configuration's playbooks; the defaults when it does not load (the page still shows the case)."""
    try:
        from domain.core.business_config import current_config

        return current_config().cases
    except Exception:  # noqa: BLE001 - the defaults are shown; the start-up check names the file's problem
        log.warning("console: the business configuration could not be loaded; default playbooks shown")
        return CasesConfig()


def read_cases() -> dict[str, Any]:
    now = utcnow()
    with session_scope() as session:
        data = console.case_queues(session, now)
        session.rollback()  # read-only
    return {"at": now, "refresh_s": REFRESH_S, "cases": data}


def read_case(reference: str) -> dict[str, Any] | None:
    """One case's page, or None (a 404) for an id that is not a number or not a case."""
    if not reference.isdigit() or len(reference) > 18:
        return None
    config, now = cases_config(), utcnow()
    with session_scope() as session:
        found = console.case_page(session, int(reference), config, now)
        session.rollback()  # read-only
    return None if found is None else {"at": now, "refresh_s": REFRESH_S, "case": found}


def read_csat(days: int) -> dict[str, Any]:
    """The satisfaction figures of subjects resolved in the last ``days`` days (``domain.csat.report``)."""
    from domain.csat import report

    try:
        from domain.core.business_config import current_config

        negative = current_config().csat.negative_at_most
    except Exception:  # noqa: BLE001 - the default threshold; the start-up check names the file's problem
        negative = 2
    now = utcnow()
    since, until = report.window(now, days)
    with session_scope() as session:
        data = report.report(session, since, until, negative)
        session.rollback()  # read-only
    return {"at": now, "refresh_s": REFRESH_S, "days": days, "csat": data}


async def _page(request: Request, template: str, read: Callable[..., dict[str, Any] | None], *args: Any) -> Response:
    """Every console page: the credentials first, then the figures read off the event loop, then the page."""
    accepted = await run_in_threadpool(configured_credentials)
    if not authorised(request.headers.get("authorization"), accepted):
        return refused(bool(accepted))
    data = await run_in_threadpool(read, *args)
    if data is None:
        return Response("No such case.\n", status_code=404, media_type="text/plain", headers=HEADERS)
    return HTMLResponse(_templates().get_template(template).render(**data), headers=HEADERS)


@router.get("/console", response_class=HTMLResponse, include_in_schema=False)
async def show_console(request: Request) -> Response:
    return await _page(request, "console/index.html", read_overview)


@router.get("/console/cases", response_class=HTMLResponse, include_in_schema=False)
async def show_cases(request: Request) -> Response:
    """The case queues: counts by state and priority, late ones, the oldest, every unresolved case."""
    return await _page(request, "console/cases.html", read_cases)


@router.get("/console/cases/{case_id}", response_class=HTMLResponse, include_in_schema=False)
async def show_case(request: Request, case_id: str) -> Response:
    """One case: why it is open, its playbook and its history, read-only (assign and resolve are CLI
    commands). The id is read as text so that anything but a known case is a 404 after the
    credentials, never a validation answer before them."""
    return await _page(request, "console/case.html", read_case, case_id)


@router.get("/console/csat", response_class=HTMLResponse, include_in_schema=False)
async def show_csat(request: Request, days: str = "7") -> Response:
    """Satisfaction per queue, per kind and intent, per who resolved it, and the comments."""
    span = int(days) if days.isdigit() and 1 <= int(days) <= 366 else 7
    return await _page(request, "console/csat.html", read_csat, span)
