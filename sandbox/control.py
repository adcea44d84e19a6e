"""Sandbox-wide endpoints: a health check, so scripts can wait for the server to answer."""
from __future__ import annotations

from fastapi import APIRouter, FastAPI


def install(app: FastAPI) -> None:
    router = APIRouter()

    @router.get("/_sandbox/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(router)
