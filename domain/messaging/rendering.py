"""Turns a template name plus a context into the words of an email, an SMS or a Slack post.

Domain code decides *that* a message goes out and which facts it carries; the words live in
``templates/`` (after pypi/warehouse's email layout). Rendering is strict on purpose:

* ``StrictUndefined`` — a fact missing from the context is an error at render time, never a blank
  in a message a store's staff or customer reads.
* HTML is autoescaped (``.html`` templates), so a product title a customer or a platform supplied
  cannot inject markup; plain-text templates are left alone.
* Slack templates are Block Kit JSON; every ``{{ value }}`` in them is escaped for Slack mrkdwn
  (``&``, ``<``, ``>``) and then for a JSON string, so a title like ``<!channel> "x"`` can neither
  ping a channel nor break the JSON.
* SMS must fit two concatenated segments, so one notice never turns into a five-part bill.
* Times a customer reads are in their zone, named (``local_when``: ``domain.messaging.localtime``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, TemplateError, select_autoescape

from domain.messaging import localtime

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
"""Characters that exist in GSM-7 only through the escape table: each costs two septets."""

MAX_SMS_SEGMENTS = 2
GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


class RenderError(ValueError):
    """A template could not produce a valid message (missing fact, bad JSON, too long)."""


class SmsTooLongError(RenderError):
    """The rendered SMS needs more segments than :data:`MAX_SMS_SEGMENTS`."""


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def escape_mrkdwn(value: str) -> str:
    """Slack's three control characters; everything else in mrkdwn is literal enough."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _slack_finalize(value: Any) -> str:
    """Applied to every ``{{ }}`` in a Slack template: mrkdwn-escape, then JSON-string-escape.

    ``str()`` on a StrictUndefined raises, so a missing fact still fails loudly.
    """
    text = value if isinstance(value, str) else str(value)
    return json.dumps(escape_mrkdwn(text), ensure_ascii=False)[1:-1]


def _mail_environment(directory: Path) -> Environment:
    return localtime.install(Environment(
        loader=FileSystemLoader(str(directory)),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False, default=False),
        keep_trailing_newline=False,
        trim_blocks=True,
        lstrip_blocks=True,
    ))


def _slack_environment(directory: Path) -> Environment:
    return Environment(
        loader=FileSystemLoader(str(directory)),
        undefined=StrictUndefined,
        autoescape=False,
        finalize=_slack_finalize,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def sms_segments(text: str) -> int:
    """How many segments a carrier bills for ``text`` (at least one).

    GSM-7 when every character is in the GSM 03.38 table (extension characters cost two
    septets): 160 in one segment, 153 per segment when concatenated. Otherwise UCS-2, counted in
    UTF-16 code units (an emoji is two): 70 alone, 67 per concatenated segment.
    """
    if _is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi = GSM7_SINGLE, GSM7_MULTI
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = UCS2_SINGLE, UCS2_MULTI
    if units <= single:
        return 1
    return -(-units // multi)


class Renderer:
    """Renders from one templates directory; the module functions use the product's own."""

    def __init__(self, templates_dir: Path = TEMPLATES_DIR) -> None:
        self.templates_dir = templates_dir
        self._mail = _mail_environment(templates_dir)
        self._slack = _slack_environment(templates_dir)

    def _render(self, environment: Environment, name: str, context: dict[str, Any]) -> str:
        try:
            return environment.get_template(name).render(**context)
        except TemplateError as exc:
            raise RenderError(f"template {name}: {exc}") from exc

    def render_email(self, template: str, context: dict[str, Any]) -> RenderedEmail:
        """Subject (one line: a newline in a fact must not reach the header), text and HTML bodies."""
        base = f"email/{template}"
        subject = " ".join(self._render(self._mail, f"{base}/subject.txt", context).split())
        if not subject:
            raise RenderError(f"template {base}/subject.txt rendered an empty subject")
        text = self._render(self._mail, f"{base}/body.txt", context).strip() + "\n"
        html = self._render(self._mail, f"{base}/body.html", context)
        return RenderedEmail(subject=subject, text=text, html=html)

    def render_sms(self, template: str, context: dict[str, Any]) -> str:
        """The SMS body, whitespace-trimmed; raises :class:`SmsTooLongError` past two segments."""
        name = f"sms/{template}.txt"
        body = self._render(self._mail, name, context).strip()
        if not body:
            raise RenderError(f"template {name} rendered an empty message")
        segments = sms_segments(body)
        if segments > MAX_SMS_SEGMENTS:
            encoding = "GSM-7" if _is_gsm7(body) else "UCS-2"
            limit = MAX_SMS_SEGMENTS * (GSM7_MULTI if encoding == "GSM-7" else UCS2_MULTI)
            raise SmsTooLongError(
                f"template {name} rendered {len(body)} characters ({encoding}, {segments} segments); "
                f"at most {MAX_SMS_SEGMENTS} segments ({limit} {encoding} characters) are allowed")
        return body

    def render_text(self, name: str, context: dict[str, Any]) -> str:
        """A plain-text template by its path under ``templates/`` (a support reply draft), trimmed."""
        text = self._render(self._mail, name, context).strip()
        if not text:
            raise RenderError(f"template {name} rendered nothing")
        return text + "\n"

    def render_slack(self, template: str, context: dict[str, Any]) -> dict[str, Any]:
        """The Block Kit payload (``text`` fallback plus ``blocks``) as a dict."""
        name = f"slack/{template}.json"
        raw = self._render(self._slack, name, context)
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            raise RenderError(f"template {name} did not render valid JSON: {exc}") from exc
        if not isinstance(payload, dict) or not str(payload.get("text") or "").strip():
            raise RenderError(f"template {name} must render an object with a non-empty 'text'")
        return payload


@lru_cache(maxsize=1)
def default_renderer() -> Renderer:
    return Renderer()


def render_email(template: str, context: dict[str, Any]) -> RenderedEmail:
    return default_renderer().render_email(template, context)


def render_sms(template: str, context: dict[str, Any]) -> str:
    return default_renderer().render_sms(template, context)


def render_slack(template: str, context: dict[str, Any]) -> dict[str, Any]:
    return default_renderer().render_slack(template, context)


def render_text(name: str, context: dict[str, Any]) -> str:
    return default_renderer().render_text(name, context)
