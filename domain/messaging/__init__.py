"""Messaging: staff alerts, the outbox and its delivery rules, rendering, senders, contact hygiene,
customer-facing local time, the provider circuit breaker, one-use callback tokens and SMS replies."""
