"""The ingest baseline: one POST route that reads the body and answers 200, nothing else.

Served by the same ``uvicorn … --workers 2`` command as ``workers.web:app``, so the difference
between the two is exactly what our receiver does (verify, store, enqueue).
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

app = FastAPI()


@app.get("/healthz")
@app.get("/readyz")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@app.post("/webhooks/{store_key}")
async def receive(store_key: str, request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"status": "accepted", "bytes": len(body)})
