"""The HTTP receiver: health, platform webhooks, customer replies and provider callbacks.

It verifies, stores and enqueues, and answers fast: Shopify gives a webhook five seconds.
"""
from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from workers.embedded import ensure_env

ensure_env()

import workers.app  # noqa: F401  (the tasks this process enqueues use the configured Celery app)
from domain.settings import get_settings
from workers.body_limit import BodyLimitMiddleware
from workers.callbacks import router as callbacks_router
from workers.health import check_broker, check_database
from workers.replies import router as replies_router
from workers.source_limits import SourceLimitMiddleware
from workers.startup_checks import require_startable
from workers.vendor_pages import router as vendor_router
from workers.webhooks import WebhookFastPath
from workers.webhooks import router as webhooks_router

log = logging.getLogger("workers.web")


def create_app() -> FastAPI:
    get_settings()
    require_startable("web")
    app = FastAPI(title="Backorder Automator", version="0.1.0")
    app.add_middleware(WebhookFastPath)  # innermost: platform webhooks skip FastAPI's routing
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
