"""Customer replies: signed choice links (``/b/{token}``) and inbound SMS keywords (Twilio).

Links: ``GET`` only shows what a click would do and asks for one confirming ``POST``, because
mail scanners and link previews fetch every link in an email; only the ``POST`` decides, through
``domain.journey.customer_journey.choose``, which locks the backorder so a reply racing the auto-cancel gets one
outcome. Answers: 200 (or 409 when it is too late), 400 tampered link, 410 expired link, 404 the
backorder is gone, 503 when the database or the settings are unavailable. Never 500: a customer
sees a page that says what happened and what to do.

SMS keywords: ``CANCEL`` is one of Twilio's default opt-out keywords (with STOP, STOPALL,
UNSUBSCRIBE, END, QUIT, REVOKE, OPTOUT): Twilio unsubscribes the number before we see the text.
So ``CANCEL`` is treated as an opt-out here too, never as a cancel-the-order choice, and the
choices are ``WAIT``, ``REFUND`` (cancel for a full refund) and ``CREDIT`` (cancel for store
credit). Each text is taken once, by Twilio's ``MessageSid`` (a replay answers empty TwiML and
changes nothing), and answers only the backorder of the last question we texted that number
before it arrived, never a newer one (``domain.messaging.sms_replies``). Answers are TwiML; 401 bad signature, 400 malformed form, 413 too large, 503 when the
auth token or the database is unavailable.

Follow-ups (outbox deliveries, refunds) are sent only after the transaction commits; if the
broker is down they are logged and the sweepers (``tasks.notify.redrive``) pick the rows up.
"""
from __future__ import annotations

import functools
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.sax.saxutils import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from connectors.errors import MalformedPayloadError, SignatureError
from connectors.messaging import twilio_sms
import domain.core.env_settings as runtime_settings
from domain.core.clock import utcnow
from domain.core.db import session_scope
from domain.core.models import Backorder, Order, OrderLine, Sku
from domain.core.stages import FollowUp
from domain.journey import backorders, customer_journey
from domain.journey.links import BadLink, ExpiredLink, LinkClaim, sign, verify
from domain.messaging import contacts, sms_replies
from domain.messaging.rendering import TEMPLATES_DIR
from flows.spine import messages
from workers.callbacks import Reject, read_body, twilio_signed_form

log = logging.getLogger("workers.replies")

router = APIRouter(tags=["customer replies"])

MAX_FORM_BYTES = 64 * 1024
TARGET_STATE = {"wait": "accepted_wait", "cancel": "cancelled_by_customer", "credit": "cancelled_by_customer",
                "substitute": "substituted"}
"""Where each choice moves a backorder (mirrors ``customer_journey.choose``), to predict the outcome on GET."""
STATUS_FOR = {"applied": 200, "already": 200, "too_late": 409, "unavailable": 409}
OPT_OUT_WORDS = contacts.STOP_WORDS | {"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "CANCEL ALL",
                                       "END", "QUIT", "REVOKE", "OPTOUT"}
"""Twilio's default opt-out keywords plus ours: CANCEL is one of them, so it never cancels an order."""
SMS_CHOICES = {"WAIT": "wait", "REFUND": "cancel", "CREDIT": "credit"}
PAGE_HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex"}
FALLBACK_STORE_NAME = "our store"

FollowUps = Sequence[FollowUp]


def current_settings() -> customer_journey.Settings:
    """The journey's settings (config, public URL, secret); a seam the tests replace."""
    return runtime_settings.current()


def _store_name() -> str:
    """The store's name for pages shown before (or without) loading anything else."""
    try:
        return current_settings().config.name or FALLBACK_STORE_NAME
    except Exception:  # a page about a broken link must still render when the config does not load
        log.exception("could not load the business config for a reply page")
        return FALLBACK_STORE_NAME


# --------------------------------------------------------------------------- pages

@lru_cache(maxsize=1)
def _pages() -> Environment:
    """Autoescaped, strict: a customer-supplied name or title can never become markup."""
    from domain.messaging import localtime

    return localtime.install(Environment(loader=FileSystemLoader(str(TEMPLATES_DIR)), undefined=StrictUndefined,
                                         autoescape=select_autoescape(enabled_extensions=("html",), default=True),
                                         trim_blocks=True, lstrip_blocks=True))


def page(name: str, status: int, **context: Any) -> HTMLResponse:
    html = _pages().get_template(f"pages/{name}.html").render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def invalid_page(reason: str, status: int) -> HTMLResponse:
    return page("invalid", status, reason=reason, store_name=_store_name())


def unavailable_page() -> HTMLResponse:
    return page("unavailable", 503, store_name=_store_name())


def _never_500(handler: Callable[..., HTMLResponse]) -> Callable[..., HTMLResponse]:
    """Anything unexpected (database down, config unreadable) becomes the 503 page, logged."""
    @functools.wraps(handler)
    def wrapped(token: str) -> HTMLResponse:
        try:
            return handler(token)
        except Exception:
            log.exception("customer reply on /b/ could not be handled")
            try:
                return unavailable_page()
            except Exception:
                return HTMLResponse("Please try again in a few minutes.", status_code=503,
                                    headers=PAGE_HEADERS)

    return wrapped


# --------------------------------------------------------------------------- facts

@dataclass(frozen=True)
class View:
    """What a page shows about one backorder, read inside the transaction."""

    store_name: str
    order_number: str
    item_title: str
    quantity: int
    eta: str | None
    consent_required: bool
    deadline: str | None
    state: str
    resolution: str | None
    #: The zone ``deadline`` is given in: the customer's, else the business's (``domain.messaging.localtime``).
    timezone: str = "UTC"
    credit_bonus_cents: int = 0

    def context(self) -> dict[str, Any]:
        return dict(self.__dict__)


def load_view(session: Session, backorder_id: int, settings: customer_journey.Settings) -> View | None:
    from domain.messaging import localtime

    row = session.execute(
        select(Backorder, OrderLine.title, Order.number, Sku.title, Order.customer_timezone)
        .join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Sku, Sku.id == Backorder.sku_id)
        .where(Backorder.id == backorder_id)
    ).first()
    if row is None:
        return None
    backorder, line_title, order_number, sku_title, customer_timezone = row
    zone = localtime.customer_zone(customer_timezone, settings.config.timezone)
    return View(
        store_name=settings.config.name or FALLBACK_STORE_NAME, order_number=order_number,
        item_title=line_title or sku_title, quantity=backorder.quantity,
        eta=backorder.eta.isoformat() if backorder.eta else None, consent_required=backorder.consent_required,
        deadline=localtime.local_iso(backorder.deadline_at, zone), state=backorder.state,
        resolution=backorder.resolution, timezone=zone.key, credit_bonus_cents=backorder.credit_bonus_cents)


def predicted_result(state: str, choice: str) -> str | None:
    """What a POST would answer if it cannot apply; None when it would apply (or needs the stock check)."""
    target = TARGET_STATE[choice]
    if state == target:
        return "already"
    if not backorders.can_move(state, target):
        return "too_late"
    return None


def _substitute_facts(session: Session, code: str | None) -> dict[str, Any]:
    sku = session.scalar(select(Sku).where(Sku.code == code)) if code else None
    return {"substitute": code, "substitute_title": sku.title if sku else None,
            "substitute_price_cents": sku.price_cents if sku else None}


def _substitute_price(session: Session, claim: LinkClaim, settings: customer_journey.Settings
                      ) -> dict[str, Any] | None:
    """The price difference the customer would confirm, and how the store's policy settles it."""
    from domain.core.models import Store
    from domain.journey import substitutes

    if claim.choice != "substitute" or not claim.substitute:
        return None
    row = session.execute(
        select(Backorder, Sku, Store.key).join(OrderLine, OrderLine.id == Backorder.order_line_id)
        .join(Order, Order.id == OrderLine.order_id).join(Store, Store.id == Order.store_id)
        .join(Sku, Sku.code == claim.substitute).where(Backorder.id == claim.backorder_id)).first()
    if row is None:
        return None
    backorder, sku, store_key = row
    policy = settings.config.policy_for(store_key)
    decided = substitutes.figures(session, backorder, sku, policy)
    return {"paid_cents": decided.rule["paid_cents"],
            "substitute_total_cents": decided.rule["substitute_total_cents"],
            "difference_cents": decided.difference_cents, "settlement": decided.settlement,
            "due_cents": decided.due_cents, "refund_cents": decided.refund_cents,
            "awaiting_staff": decided.needs_staff}


def other_links(settings: customer_journey.Settings, claim: LinkClaim) -> dict[str, str]:
    """Fresh links for the other choices when the picked alternative sold out (same expiry)."""
    def link(choice: str) -> str:
        token = sign(settings.secret_key, LinkClaim(claim.backorder_id, choice, claim.expires_at))
        return f"{settings.public_base_url}/b/{token}"

    return {choice: link(choice) for choice in ("wait", "cancel", "credit")}


# --------------------------------------------------------------------------- follow-ups

def send_follow_ups(follow_ups: FollowUps) -> None:
    """Enqueue after commit. A broker outage is logged, not raised: the rows are in PostgreSQL
    and the sweepers re-drive them, and the customer's choice is already saved."""
    if not follow_ups:
        return
    try:
        from workers.app import app  # lazily: workers.app imports the tasks, which import the domain
    except Exception:
        log.exception("could not load the Celery app; %d follow-ups left to the sweepers", len(follow_ups))
        return
    for signature, args, options in messages(follow_ups, app):
        try:
            signature.apply_async(args=list(args), **options)
        except Exception:
            log.exception("could not enqueue %s%r; the sweeper will re-drive it", signature.name, tuple(args))


# --------------------------------------------------------------------------- links

def _claim(token: str, settings: customer_journey.Settings) -> LinkClaim | HTMLResponse:
    try:
        return verify(settings.secret_key, token, utcnow())
    except ExpiredLink:
        return invalid_page("expired", 410)
    except BadLink:
        return invalid_page("bad", 400)


@router.get("/b/{token}", response_class=HTMLResponse,
            summary="Show the choice a signed link makes; changes nothing")
@_never_500
def show_choice(token: str) -> HTMLResponse:
    settings = current_settings()
    claim = _claim(token, settings)
    if isinstance(claim, HTMLResponse):
        return claim
    with session_scope() as session:
        view = load_view(session, claim.backorder_id, settings)
        if view is None:
            return invalid_page("missing", 404)
        substitute = _substitute_facts(session, claim.substitute)
        substitute["substitute_price"] = _substitute_price(session, claim, settings)
        session.rollback()  # read-only: nothing a prefetching scanner does may be committed
    predicted = predicted_result(view.state, claim.choice)
    if predicted is not None:
        return page("done", STATUS_FOR[predicted], result=predicted, choice=claim.choice, other_links={},
                    **view.context())
    return page("choice", 200, choice=claim.choice, action=f"/b/{token}", **substitute, **view.context())


@router.post("/b/{token}", response_class=HTMLResponse, summary="Apply the choice of a signed link")
@_never_500
def confirm_choice(token: str) -> HTMLResponse:
    settings = current_settings()
    claim = _claim(token, settings)
    if isinstance(claim, HTMLResponse):
        return claim
    with session_scope() as session:
        outcome, follow_ups = customer_journey.choose(session, claim.backorder_id, claim.choice, settings,
                                             source="link", substitute=claim.substitute)
        view = load_view(session, claim.backorder_id, settings) if outcome.result != "unknown" else None
    if view is None:
        return invalid_page("missing", 404)
    send_follow_ups(follow_ups)
    links = other_links(settings, claim) if outcome.result == "unavailable" else {}
    log.info("backorder %s: link choice %s -> %s (%s)", claim.backorder_id, claim.choice, outcome.result,
             outcome.state)
    return page("done", STATUS_FOR.get(outcome.result, 200), result=outcome.result, choice=claim.choice,
                other_links=links, **view.context())


# --------------------------------------------------------------------------- SMS

def twiml(message: str | None) -> Response:
    """``<Response>`` with one escaped ``<Message>``, or empty (Twilio then sends nothing)."""
    body = f"<Message>{escape(message)}</Message>" if message else ""
    return Response(f'<?xml version="1.0" encoding="UTF-8"?><Response>{body}</Response>',
                    media_type="application/xml")


def keyword(body: str) -> str:
    """Case-insensitive, trimmed, inner spaces collapsed, trailing punctuation ignored ("Wait!")."""
    return " ".join(body.split()).strip(" .!?").upper()


def help_text(store: str) -> str:
    return (f"{store}: reply WAIT to keep your backordered item, REFUND to cancel it for a full refund, "
            "CREDIT to cancel it for store credit. STOP to opt out.")


def outcome_text(store: str, order_number: str, choice: str, outcome: customer_journey.Outcome) -> str:
    """The SMS answer to a keyword; the full confirmation follows by email (and SMS)."""
    done = {"wait": "you will wait: we ship it as soon as it arrives",
            "cancel": "the item is cancelled and we are refunding you in full",
            "credit": "the item is cancelled for store credit"}[choice]
    if outcome.result == "applied":
        return f"{store}: thanks, order {order_number}: {done}."
    if outcome.result == "already":
        return f"{store}: order {order_number}: you already chose this, nothing changed."
    return f"{store}: order {order_number}: this choice is no longer possible. Please reply to our email."


def handle_sms(sms: Any, settings: customer_journey.Settings) -> str | None:
    """Applies one inbound text once; returns the reply (None: nothing to say, or a replay).

    The text is recorded by ``MessageSid`` in the transaction that applies it, and a keyword
    answers only the backorder of the last question we texted that number before it arrived
    (``domain.messaging.sms_replies``)."""
    word = keyword(sms.body)
    store = settings.config.name or FALLBACK_STORE_NAME
    e164 = contacts.normalize_phone(sms.from_)
    choice = SMS_CHOICES.get(word)
    known = word if (word in OPT_OUT_WORDS or word in contacts.START_WORDS or choice) else "other"
    follow_ups: FollowUps = []
    with session_scope() as session:
        received = sms_replies.record(session, sms.provider_message_id, e164 or sms.from_, sms.to, known)
        if received is None:
            log.info("inbound sms %s was taken before: a replay, nothing done", sms.provider_message_id)
            return None
        if word in OPT_OUT_WORDS:
            contacts.opt_out(session, "sms", e164 or sms.from_, word)
            sms_replies.settle(session, received, "opt_out")
            log.info("sms opt-out by keyword %s", word)
            return None
        if word in contacts.START_WORDS:
            contacts.opt_in(session, "sms", e164 or sms.from_)
            sms_replies.settle(session, received, "opt_in")
            log.info("sms opt-in by keyword %s", word)
            return None  # Twilio confirms the opt-in itself
        if choice is None:
            sms_replies.settle(session, received, "help")
            return help_text(store)
        talk = sms_replies.conversation(session, e164, received.received_at) if e164 else None
        if talk is None:
            sms_replies.settle(session, received, "no_conversation")
            return (f"{store}: we could not find an open backorder question for this number. "
                    "Please reply to our email.")
        outcome, follow_ups = customer_journey.choose(session, talk.backorder_id, choice, settings, source="sms")
        sms_replies.settle(session, received, outcome.result, talk)
        view = load_view(session, talk.backorder_id, settings)
    send_follow_ups(follow_ups)
    log.info("backorder %s: sms choice %s -> %s (%s)", talk.backorder_id, choice, outcome.result, outcome.state)
    return outcome_text(store, view.order_number if view else "", choice, outcome)


@router.post("/sms/inbound", summary="Twilio inbound-message webhook: WAIT / REFUND / CREDIT / STOP")
async def sms_inbound(request: Request) -> Response:
    """Checks ``X-Twilio-Signature`` against ``PUBLIC_BASE_URL`` + path (+ query), the URL Twilio
    called (a proxy may have rewritten ours), as ``workers.callbacks`` does."""
    try:
        token = os.environ.get("TWILIO_AUTH_TOKEN", "").strip()
        if not token:
            log.error("inbound SMS rejected: TWILIO_AUTH_TOKEN is not set")
            raise Reject(503, "TWILIO_AUTH_TOKEN is not configured")
        raw = await read_body(request, MAX_FORM_BYTES)
        settings = current_settings()
        params = twilio_signed_form(request, raw, token, settings.public_base_url)
        sms = twilio_sms.parse_inbound({name: values[0] for name, values in params.items()})
        return twiml(await run_in_threadpool(handle_sms, sms, settings))
    except Reject as exc:
        return Response(exc.detail, status_code=exc.status, media_type="text/plain")
    except SignatureError as exc:
        log.warning("inbound SMS with a bad signature: %s", exc)
        return Response("invalid signature", status_code=401, media_type="text/plain")
    except MalformedPayloadError as exc:
        return Response(str(exc), status_code=400, media_type="text/plain")
    except Exception:
        log.exception("inbound SMS could not be handled")
        return Response("temporarily unavailable", status_code=503, media_type="text/plain")
