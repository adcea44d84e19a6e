"""``python -m sandbox --port 8900``: serve every stand-in in the foreground (used by the demo)."""
from __future__ import annotations

import argparse

import uvicorn

from sandbox.app import create_app


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve the platform and provider stand-ins.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8900)
    args = parser.parse_args()
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
