"""Runs the sandbox on a loopback port, in a background thread (tests) or in the foreground (demo)."""
from __future__ import annotations

import contextlib
import socket
import threading
import time

import requests
import uvicorn
from fastapi import FastAPI

from sandbox.app import create_app


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


class SandboxServer:
    """An ASGI app served by uvicorn in a daemon thread; ``app`` gives tests direct access to state.

    Tests also serve the product's own web app this way (``health_path="/readyz"``), so the
    sandbox can deliver webhooks to it over real HTTP.
    """

    def __init__(self, host: str = "127.0.0.1", port: int | None = None, app: FastAPI | None = None,
                 health_path: str = "/_sandbox/health"):
        self.host = host
        self.port = port or free_port(host)
        self.app = app or create_app()
        self.health_path = health_path
        self._server = uvicorn.Server(
            uvicorn.Config(self.app, host=self.host, port=self.port, log_level="warning", access_log=False)
        )
        self._thread = threading.Thread(target=self._server.run, name="sandbox", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 30.0) -> "SandboxServer":
        """Serve, and wait until the health path answers 2xx.

        A slow answer is not a failure: ``/readyz`` checks the database and the broker, and on a
        loaded 2-core machine it took over 0.5 s, which used to end the wait with a read timeout.
        Until the deadline, every refusal, timeout or non-2xx answer is simply asked again."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            with contextlib.suppress(requests.RequestException):  # not up yet, or slow: ask again
                if requests.get(f"{self.base_url}{self.health_path}", timeout=5).ok:
                    return self
            time.sleep(0.05)
        raise RuntimeError(f"sandbox did not answer on {self.base_url} within {timeout_s}s")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
