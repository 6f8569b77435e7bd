"""Run the ranking service with uvicorn.

    MARQUEE_SERVE_ADMIN_TOKEN=secret python -m infra_mle.serve [--port 8000] [--no-batching]

Settings come from the environment (`infra_mle/settings.py`, `MARQUEE_SERVE_*`); the flags
override the common ones. uvicorn handles SIGTERM gracefully: it stops accepting connections,
lets the requests in flight finish, then runs the app's shutdown (`/readyz` says draining).
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from infra_mle.app import create_app
    from infra_mle.settings import ServiceSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--no-batching", action="store_true", help="one forward pass per request")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    if args.no_batching:
        overrides["batching"] = False
    settings = ServiceSettings(**overrides)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="warning",
        timeout_graceful_shutdown=10,  # seconds for requests in flight to finish
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
