"""Slack Block Kit as readable HTML, for the sandbox's message page.

A Slack post is JSON (``blocks`` with ``mrkdwn`` text); shown raw it is hard to read, so the page
draws it roughly as Slack does: ``header`` as a heading, ``section`` text and its ``fields`` in two
columns, ``context`` small, ``divider`` as a rule, ``actions`` buttons as labels, ``image`` by its
alt text (nothing is fetched). mrkdwn follows Slack's formatting reference
(https://api.slack.com/reference/surfaces/formatting): ``*bold*``, ``_italic_``, ``~strike~``,
`` `code` ``, ```` ```preformatted``` ````, ``<url|label>`` links (http, https and mailto only),
and the three escapes ``&amp; &lt; &gt;``. Blocks are those of the Block Kit reference
(https://api.slack.com/reference/block-kit/blocks); an unknown one is shown as JSON. Every
character that came from a message is HTML-escaped.
"""
from __future__ import annotations

import html
import json
import re
from typing import Any

CODE = re.compile(r"(```.*?```|`[^`\n]+`)", re.S)
LINK = re.compile(r"(<[^<>\n]+>)")
STYLES = ((re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)\*(?![\w*])"), "b"),
          (re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)_(?![\w_])"), "i"),
          (re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)~(?![\w~])"), "s"))
SAFE_SCHEMES = ("http://", "https://", "mailto:")


def _plain(text: str) -> str:
    """Slack's escapes undone, then HTML-escaped: what the reader sees, safe in the page."""
    return html.escape(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"), quote=True)


def _styled(text: str) -> str:
    out = _plain(text)
    for pattern, tag in STYLES:
        out = pattern.sub(rf"<{tag}>\1</{tag}>", out)
    return out.replace("\n", "<br>")


def _link(token: str) -> str:
    target, _, label = token[1:-1].partition("|")
    if target.startswith(SAFE_SCHEMES):
        return f'<a href="{html.escape(target, quote=True)}" rel="noreferrer">{_styled(label or target)}</a>'
    return _styled(label or target)  # <@U…>, <#C…>, <!here>: shown as their text


def mrkdwn(text: str) -> str:
    """One mrkdwn string as HTML."""
    out = []
    for part in CODE.split(text):
        if len(part) >= 6 and part.startswith("```") and part.endswith("```"):
            out.append(f"<pre>{_plain(part[3:-3])}</pre>")
        elif len(part) >= 2 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{_plain(part[1:-1])}</code>")
        else:
            out.extend(_link(token) if LINK.fullmatch(token) else _styled(token) for token in LINK.split(part))
    return "".join(out)


def text_object(obj: Any) -> str:
    """A Block Kit text object (``plain_text`` or ``mrkdwn``) as HTML."""
    if not isinstance(obj, dict):
        return ""
    text = str(obj.get("text", ""))
    return mrkdwn(text) if obj.get("type") == "mrkdwn" else html.escape(text, quote=True).replace("\n", "<br>")


def _block(block: Any) -> str:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "header":
        return f'<h4 style="margin:.4em 0">{text_object(block.get("text"))}</h4>'
    if kind == "section":
        body = f"<div>{text_object(block['text'])}</div>" if block.get("text") else ""
        fields = block.get("fields") or []
        if fields:
            cells = "".join(f"<div>{text_object(field)}</div>" for field in fields)
            body += f'<div style="display:grid;grid-template-columns:1fr 1fr;gap:.4em 1em;margin:.3em 0">{cells}</div>'
        return f'<div style="margin:.4em 0">{body}</div>'
    if kind == "divider":
        return "<hr>"
    if kind == "context":
        parts = " · ".join(text_object(e) if e.get("type") in ("mrkdwn", "plain_text")
                           else f"[image: {html.escape(str(e.get('alt_text', '')))}]"
                           for e in block.get("elements") or [] if isinstance(e, dict))
        return f'<div style="color:#666;font-size:.85em;margin:.3em 0">{parts}</div>'
    if kind == "actions":
        buttons = " ".join(f'<span style="border:1px solid #aaa;border-radius:4px;padding:.1em .5em">'
                           f'{text_object(e.get("text"))}</span>' for e in block.get("elements") or []
                           if isinstance(e, dict))
        return f'<div style="margin:.4em 0">{buttons}</div>'
    if kind == "image":
        return f"<p>[image: {html.escape(str(block.get('alt_text', '')), quote=True)}]</p>"
    return f"<pre>{html.escape(json.dumps(block, indent=2, ensure_ascii=False))}</pre>"


def render(blocks: list[Any]) -> str:
    """The blocks drawn in order, with the raw JSON kept behind a disclosure for checking."""
    raw = html.escape(json.dumps(blocks, indent=2, ensure_ascii=False))
    return (f'<div class="slack-blocks">{"".join(_block(b) for b in blocks)}</div>'
            f"<details><summary>Block Kit JSON</summary><pre>{raw}</pre></details>")
