"""The HTTP receiver: health, platform webhooks, customer replies and provider callbacks.

It verifies, stores and enqueues, and answers fast: Shopify gives a webhook five seconds.
"""
from __future__ import annotations

import logging
import os


from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.telemetry import TelemetryConfig

from workers.embedded import ensure_env

ensure_env()

import workers.app  # noqa: F401  (the tasks this process enqueues use the configured Celery app)
from domain.core.env_settings import get_settings
from workers.body_limit import BodyLimitMiddleware
from workers.callbacks import router as callbacks_router
from workers.back_in_stock import router as back_in_stock_router
from workers.console import router as console_router
from workers.csat_pages import router as csat_router
from workers.input_guard import InputGuardMiddleware
from workers.log_redaction import install as redact_links_in_logs
from workers.metrics_endpoint import router as metrics_router
from workers.notifications import router as notifications_router
from workers.payment_webhooks import router as payment_webhooks_router
from workers.helpdesk_webhooks import router as helpdesk_webhooks_router
from workers.return_webhooks import router as return_webhooks_router
from workers.logs import install as install_log_format
from domain.core.liveness import Thresholds
from workers.deadlines import DeadlineMiddleware, budget_s
from workers.health import HEALTH_CHECKS, READY_CHECKS, check_dead_letter_spool, run_checks
from workers.replies import router as replies_router
from workers.shipping_webhooks import router as shipping_webhooks_router
from workers.source_limits import SourceLimitMiddleware
from workers.startup_checks import require_startable
from workers.vendor_pages import router as vendor_router
from workers.webhooks import WebhookFastPath
from workers.webhooks import router as webhooks_router

log = logging.getLogger("workers.web")


def api_docs_enabled() -> bool:
    """``/docs``, ``/redoc`` and ``/openapi.json`` are served only with ``API_DOCS=1``: they list
    every endpoint and its parameters to anyone who asks. ``app.openapi()`` works either way."""
    return os.environ.get("API_DOCS", "").strip().lower() in ("1", "true", "yes", "on")


def fastapi_telemetry() -> TelemetryConfig:
    """FastAPI's own OpenTelemetry (https://fastapi.tiangolo.com/advanced/opentelemetry/) only when
    the deployment turns it on with ``FASTAPI_OTEL_AUTO_CONFIGURE=true``; otherwise it is off.

    Left on by default, it asks the tracer, meter and logger providers on every request whether
    any is configured (2.7 µs, measured; every webhook pays it) although nothing here configures
    one: this product's figures are on ``/metrics`` (Prometheus) and in the log lines."""
    if os.environ.get("FASTAPI_OTEL_AUTO_CONFIGURE", "").strip().lower() == "true":
        return TelemetryConfig()
    return TelemetryConfig(tracing=False, metrics=False, logs=False)


def create_app() -> FastAPI:
    redact_links_in_logs()  # before anything logs a request path
    install_log_format()  # JSON or console lines (LOG_FORMAT), uvicorn's access log included
    get_settings()
    budget_s(), Thresholds.from_env()  # a malformed WEBHOOK_DEADLINE_S or health threshold stops start-up, named
    require_startable("web")
    docs = api_docs_enabled()
    app = FastAPI(title="Backorder Automator", version="0.1.0", docs_url="/docs" if docs else None,
                  redoc_url="/redoc" if docs else None, openapi_url="/openapi.json" if docs else None,
                  telemetry=fastapi_telemetry())
    app.add_middleware(WebhookFastPath)  # innermost: platform webhooks skip FastAPI's routing
    app.add_middleware(InputGuardMiddleware)  # NUL anywhere, over-nested JSON: 400 before any endpoint
    app.add_middleware(BodyLimitMiddleware)  # 413 before a huge body is read, whatever the endpoint
    app.add_middleware(SourceLimitMiddleware)  # per source IP and store key, before any body is read
    app.add_middleware(DeadlineMiddleware)  # outermost: platforms get an answer within WEBHOOK_DEADLINE_S

    async def answer(checks: dict[str, Any], reported: dict[str, Any] | None = None) -> JSONResponse:
        """``checks`` decide the status; ``reported`` ones are shown beside them and never take the
        receiver out (a spooled dead letter needs a human, not a platform backing off)."""
        results = await run_checks({**checks, **(reported or {})})
        healthy = all(c.ok for c in results if c.name in checks)
        body = {"status": "ok" if healthy else "unavailable", "checks": {c.name: c.as_dict() for c in results}}
        if not healthy:
            log.warning("health check failing: %s", body["checks"])
        return JSONResponse(body, status_code=200 if healthy else 503)

    @app.get("/healthz", summary="The deployment: the database takes a write, the broker answers, every queue "
                                 "has a live worker, the clock's sweeps are on time; 503 naming what is not "
                                 "(each check within HEALTH_CHECK_TIMEOUT_S, else \"timeout\")")
    async def healthz() -> JSONResponse:
        return await answer(dict(HEALTH_CHECKS), {"dead_letter_spool": check_dead_letter_spool})

    @app.get("/readyz", summary="This receiver can store what it is sent: the database takes a write and the "
                                "broker answers; 503 naming what does not")
    async def readyz() -> JSONResponse:
        return await answer(dict(READY_CHECKS))

    app.include_router(webhooks_router)
    app.include_router(notifications_router)
    app.include_router(shipping_webhooks_router)
    app.include_router(payment_webhooks_router)
    app.include_router(helpdesk_webhooks_router)
    app.include_router(return_webhooks_router)
    app.include_router(callbacks_router)
    app.include_router(replies_router)
    app.include_router(vendor_router)
    app.include_router(metrics_router)
    app.include_router(console_router)
    app.include_router(csat_router)
    app.include_router(back_in_stock_router)
    return app


app = create_app()
