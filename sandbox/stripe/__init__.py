"""Stripe stand-in, served at ``/stripe/{instance}/v1/…`` (the SDK's ``api`` and ``files`` base address
is ``/stripe/{instance}``).

Follows Stripe's public API reference where the connector leans on it: Bearer secret-key auth with
the documented 401 body, ``{"error": {...}}`` errors, idempotent POSTs replayed with
``Idempotent-Replayed: true`` and ``idempotency_error`` for other parameters under a used key
(https://docs.stripe.com/idempotency), refunds capped at what the charge has left, disputes with
``evidence_details`` (``due_by``, ``has_evidence``, ``submission_count``) whose evidence is staged
(``submit=false``) and then submitted, and events signed ``Stripe-Signature: t=…,v1=…``.

Built on ``sandbox.kit``: ``account`` declares the stand-in, ``api`` holds the API endpoints,
``admin`` the control endpoints (docs/sandbox-payments.md).
"""
from sandbox.stripe import admin, api  # noqa: F401  (each registers its routes)
from sandbox.stripe.account import DEFAULT_KEY, kit

__all__ = ["DEFAULT_KEY", "install"]

install = kit.install
