"""The HTTP receiver: health, platform webhooks, customer replies and provider callbacks.

It verifies, stores and enqueues, and answers fast: Shopify gives a webhook five seconds.
"""
from __future__ import annotations

import logging
import os

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from workers.embedded import ensure_env

ensure_env()

import workers.app  # noqa: F401  (the tasks this process enqueues use the configured Celery app)
from domain.settings import get_settings
from workers.body_limit import BodyLimitMiddleware
from workers.callbacks import router as callbacks_router
from workers.health import check_broker, check_database
from workers.input_guard import InputGuardMiddleware
from workers.log_redaction import install as redact_links_in_logs
from workers.replies import router as replies_router
from workers.source_limits import SourceLimitMiddleware
from workers.startup_checks import require_valid_config
from workers.vendor_pages import router as vendor_router
from workers.webhooks import WebhookFastPath
from workers.webhooks import router as webhooks_router

log = logging.getLogger("workers.web")


def api_docs_enabled() -> bool:
    """``/docs``, ``/redoc`` and ``/openapi.json`` are served only with ``API_DOCS=1``: they list
    every endpoint and its parameters to anyone who asks. ``app.openapi()`` works either way."""
    return os.environ.get("API_DOCS", "").strip().lower() in ("1", "true", "yes", "on")


def create_app() -> FastAPI:
    redact_links_in_logs()  # before anything logs a request path
    get_settings()
    require_valid_config("web")
    docs = api_docs_enabled()
    app = FastAPI(title="Backorder Automator", version="0.1.0", docs_url="/docs" if docs else None,
                  redoc_url="/redoc" if docs else None, openapi_url="/openapi.json" if docs else None)
    app.add_middleware(WebhookFastPath)  # innermost: platform webhooks skip FastAPI's routing
    app.add_middleware(InputGuardMiddleware)  # NUL anywhere, over-nested JSON: 400 before any endpoint
    app.add_middleware(BodyLimitMiddleware)  # 413 before a huge body is read, whatever the endpoint
    app.add_middleware(SourceLimitMiddleware)  # per source IP and store key, before any body is read

    @app.get("/healthz", summary="200 when PostgreSQL and the broker answer; 503 with the reason when not")
    def healthz() -> JSONResponse:
        checks = [check_database(), check_broker()]
        body = {"status": "ok" if all(c.ok for c in checks) else "unavailable",
                "checks": {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}}
        if not all(c.ok for c in checks):
            log.warning("health check failing: %s", body["checks"])
        return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)

    app.include_router(webhooks_router)
    app.include_router(callbacks_router)
    app.include_router(replies_router)
    app.include_router(vendor_router)
    return app


app = create_app()
