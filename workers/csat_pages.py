"""The satisfaction survey page: ``/csat/{token}`` (signed, ``domain.journey.links.sign_csat_link``).

``GET`` shows the survey with the score the email's button carried (``?score=N``) marked and
saves nothing: mail scanners and link previews fetch every link in an email, so a one-click
answer on GET would record answers nobody gave. One press of a score on the page (``POST``,
form fields ``score`` 1–5 and an optional ``comment``) saves it, once per survey: answering again
changes the answer (``domain.csat.surveys.answer``). Answers: 200, 400 tampered link or a score
out of range, 410 expired link, 404 no such survey, 413 a body over 16 KiB, 503 when the database
or the settings are unavailable; never 500. Same look as the reply pages (``workers.replies``).
"""
from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from domain.core.clock import utcnow
from domain.core.db import session_scope
from domain.core.models import Backorder, CsatRequest, Order, OrderLine
from domain.core.stages import FollowUp, Stage
from domain.csat import surveys
from domain.journey.links import BadLink, ExpiredLink, verify_csat_link
from workers import replies
from workers.callbacks import Reject, read_body

log = logging.getLogger("workers.csat_pages")

router = APIRouter(tags=["customer replies"])
MAX_FORM_BYTES = 16 * 1024
ABOUT = {"backorder": "Your backordered item", "case": "Your request", "ticket": "Your message to us",
         "return": "Your return"}


def _request_id(token: str) -> int | HTMLResponse:
    try:
        return verify_csat_link(replies.current_settings().secret_key, token, utcnow())
    except ExpiredLink:
        return replies.invalid_page("expired", 410)
    except BadLink:
        return replies.invalid_page("bad", 400)


def _facts(session: Session, request: CsatRequest, store_name: str) -> dict[str, Any]:
    """The page's facts: the order number and what the survey is about, in words."""
    about = ABOUT.get(request.subject_kind, "Your request")
    number = session.scalar(select(Order.number).where(Order.id == request.order_id)) if request.order_id else None
    if request.subject_kind == "backorder":
        title = session.scalar(select(OrderLine.title).join(Backorder, Backorder.order_line_id == OrderLine.id)
                               .where(Backorder.id == request.subject_id))
        about = f"{about}: {title}" if title else about
    return {"store_name": store_name, "order_number": number, "about": about}


def _score(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() and int(raw) in surveys.SCORES else None


def show(token: str, picked: str | None) -> HTMLResponse:
    request_id = _request_id(token)
    if isinstance(request_id, HTMLResponse):
        return request_id
    settings = replies.current_settings()
    with session_scope() as session:
        request = session.get(CsatRequest, request_id)
        if request is None:
            return replies.invalid_page("missing", 404)
        facts = _facts(session, request, settings.config.name or replies.FALLBACK_STORE_NAME)
        score, comment = request.score, request.comment
        session.rollback()  # read-only: nothing a prefetching scanner does may be committed
    return replies.page("csat", 200, action=f"/csat/{token}", saved=False, picked=_score(picked) or score,
                        score=score, comment=comment, negative=False, **facts)


def save(token: str, raw: bytes) -> HTMLResponse:
    request_id = _request_id(token)
    if isinstance(request_id, HTMLResponse):
        return request_id
    form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    score = _score((form.get("score") or [""])[0])
    comment = (form.get("comment") or [""])[0]
    settings = replies.current_settings()
    if score is None:
        return replies.invalid_page("bad", 400)
    with session_scope() as session:
        if session.get(CsatRequest, request_id) is None:
            return replies.invalid_page("missing", 404)
        answered = surveys.answer(session, request_id, score, comment, settings.config)
        request = session.get(CsatRequest, request_id)
        assert request is not None
        facts = _facts(session, request, settings.config.name or replies.FALLBACK_STORE_NAME)
        saved_comment = request.comment
    replies.send_follow_ups(_deliveries(answered.follow_up_ids))
    log.info("survey %s answered %s (decision %s)", request_id, score, answered.decision)
    return replies.page("csat", 200, action=f"/csat/{token}", saved=True, picked=score, score=score,
                        comment=saved_comment, negative=score <= settings.config.csat.negative_at_most, **facts)


def _deliveries(outbox_ids: tuple[int, ...]) -> list[FollowUp]:
    return [FollowUp(Stage.DELIVER, (i,)) for i in outbox_ids]


def _safe(work: Any, *args: Any) -> HTMLResponse:
    try:
        response: HTMLResponse = work(*args)
        return response
    except surveys.SurveyError:
        return replies.invalid_page("missing", 404)
    except Exception:
        log.exception("survey page /csat/ could not be handled")
        try:
            return replies.unavailable_page()
        except Exception:
            return HTMLResponse("Please try again in a few minutes.", status_code=503, headers=replies.PAGE_HEADERS)


@router.get("/csat/{token}", response_class=HTMLResponse, summary="Show a satisfaction survey; saves nothing")
async def show_survey(token: str, score: str | None = None) -> HTMLResponse:
    return await run_in_threadpool(_safe, show, token, score)


@router.post("/csat/{token}", response_class=HTMLResponse, summary="Save (or change) a satisfaction answer")
async def answer_survey(token: str, request: Request) -> HTMLResponse:
    try:
        raw = await read_body(request, MAX_FORM_BYTES)
    except Reject as exc:
        return HTMLResponse(exc.detail, status_code=exc.status, headers=replies.PAGE_HEADERS)
    return await run_in_threadpool(_safe, save, token, raw)
