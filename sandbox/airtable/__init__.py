"""Airtable Web API stand-in, served at ``/airtable/{base}/v0/…``: one base with one inventory table.

Follows the docs the connector follows (connectors/airtable.py lists them, under
https://airtable.com/developers/web/api/): ``Authorization: Bearer`` personal access tokens
(401 ``AUTHENTICATION_REQUIRED`` otherwise); list records with ``pageSize`` (≤ 100), ``offset``,
``fields[]`` and ``filterByFormula`` (the functions a sync uses: ``IS_AFTER``, ``DATETIME_PARSE``,
``LAST_MODIFIED_TIME``, ``RECORD_ID``, ``OR``, ``AND``, ``NOT`` and ``=``; anything else is 422
``INVALID_FILTER_BY_FORMULA``); ``PATCH`` of at most 10 records naming only known fields; 5
requests per second per base, then 429 for every request during the penalty (30 s, no
``Retry-After``); webhooks created, listed and refreshed (7 days), pinged with
``X-Airtable-Content-MAC`` on every change, and their payloads read by cursor.

Built on ``sandbox.kit``: ``base`` declares the stand-in (state, auth, limit, errors, formulas),
``api`` holds the Web API endpoints, ``admin`` the control endpoints (docs/sandbox.md).
"""
from sandbox.airtable import admin, api  # noqa: F401  (each registers its routes)
from sandbox.airtable.base import DEFAULT_TOKEN, kit

__all__ = ["DEFAULT_TOKEN", "install"]

install = kit.install
