"""Run the web app with uvicorn.

    MARQUEE_APP_SERVICE_URL=http://127.0.0.1:8000 python -m fullstack_mle.serve [--port 8080]

Settings come from the environment (`fullstack_mle/settings.py`, `MARQUEE_APP_*`). On SIGTERM
or Ctrl-C the app ships the open day's logged events to S3 before it exits.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    from fullstack_mle.app import create_app
    from fullstack_mle.settings import AppSettings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = AppSettings(**overrides)
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
