"""A minimal web server for the UvicornServer tests:

python -m tests.shared.echo_server --port 8000      # answers 200 to every GET
ECHO_FAIL=1 python -m tests.shared.echo_server ...   # dies on start-up with a message
"""

from __future__ import annotations

import argparse
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # the name http.server calls
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    port = parser.parse_args().port
    if os.environ.get("ECHO_FAIL"):
        print("echo_server: refusing to start (ECHO_FAIL is set)", file=sys.stderr)
        return 3
    HTTPServer(("127.0.0.1", port), Handler).serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
