"""The one-click satisfaction survey after a return: a signed link per score (1–5), answered once.

The link is ``{PUBLIC_BASE_URL}/returns/survey/{token}`` with ``token`` = base64url(JSON) . base64url
(HMAC-SHA256 of ``return-survey:`` + JSON, keyed by ``SECRET_KEY``); changing any character breaks it.
The first answer counts; a later click on another score changes nothing.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import datetime

from sqlalchemy.orm import Session

from domain.core.models import ReturnRequest
from domain.returns import machine

PURPOSE = b"return-survey:"
SCORES = (1, 2, 3, 4, 5)


class BadSurveyLink(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(secret: str, return_id: int, score: int, expires_at: int) -> str:
    payload = json.dumps({"r": return_id, "s": score, "e": expires_at}, separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(hmac.new(secret.encode(), PURPOSE + payload, hashlib.sha256).digest())}"


def verify(secret: str, token: str, now: datetime) -> tuple[int, int]:
    """(return id, score) of a genuine, unexpired link; :class:`BadSurveyLink` otherwise."""
    try:
        payload_part, mac_part = token.split(".")
        payload = base64.urlsafe_b64decode(payload_part + "=" * (-len(payload_part) % 4))
        if _b64(payload) != payload_part:
            raise ValueError("not canonical")
        expected = _b64(hmac.new(secret.encode(), PURPOSE + payload, hashlib.sha256).digest())
        if not hmac.compare_digest(expected, mac_part):
            raise BadSurveyLink("signature does not match")
        body = json.loads(payload)
        return_id, score, expires_at = int(body["r"]), int(body["s"]), int(body["e"])
    except BadSurveyLink:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise BadSurveyLink("malformed link") from exc
    if score not in SCORES:
        raise BadSurveyLink("unknown score")
    if now.timestamp() > expires_at:
        raise BadSurveyLink("link expired")
    return return_id, score


def links(secret: str, base_url: str, return_id: int, expires_at: int) -> dict[str, str]:
    return {str(score): f"{base_url.rstrip('/')}/returns/survey/{sign(secret, return_id, score, expires_at)}"
            for score in SCORES}


def answer(session: Session, return_id: int, score: int, now: datetime, comment: str | None = None) -> bool:
    """Record the customer's score (the first answer only); True when this answer was recorded."""
    row = machine.lock(session, return_id)
    if row is None or row.survey_score is not None:
        return False
    row.survey_score, row.survey_answered_at = score, now
    row.survey_comment = (comment or "")[:2000] or None
    machine.note(session, row, "survey_answered", "customer", now, score=score)
    return True


def summary(row: ReturnRequest) -> str:
    return f"{row.survey_score}/5" if row.survey_score is not None else "not answered"
