"""What every HTTP server of the project refuses before its handlers see a request body: an ASGI
middleware for the ranking service (infra_mle) and the web app (fullstack_mle).

    app.add_middleware(StrictJSONBodies, max_bytes=64 * 1024)

- A body larger than `max_bytes` is a 413, decided from `Content-Length` before anything is read,
  or as soon as a body sent without one (chunked) grows past the limit: a 100 MB body costs the
  server nothing.
- A body that is not JSON at all (or not UTF-8) is a 400 with the parser's message.
- `NaN`, `Infinity` and numbers too large for a float (`1e999`) are not JSON numbers (RFC 8259),
  though Python's parser accepts them: a 422 naming the value. Let through, they reach the model
  as NaN, or make the error response itself unserialisable (a 500).
- Nesting deeper than `max_depth` is a 422: no request of this project needs more than a few
  levels, and a parser walking 100,000 brackets deep fails with a recursion error.

Everything else reaches the application unchanged, which validates it against its own schema.
A 422 from here has the shape of FastAPI's validation errors; a 400 or 413 is
`{"detail": "<why>"}` (document them with `REFUSALS` in a route's `responses`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, BeforeValidator
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WITH_BODY = ("POST", "PUT", "PATCH")


class Problem(BaseModel):
    """Why a request was refused: a sentence, or FastAPI's list of field errors, or a record of
    every problem (the app's event batches)."""

    detail: str | list[Any] | dict[str, Any]


REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "the body is not JSON"},
    413: {"model": Problem, "description": "the body is larger than the server accepts"},
}


def refusals(**more: str) -> dict[int | str, dict[str, Any]]:
    """`REFUSALS` and more documented refusals of a route, each a `Problem`:
    `refusals(_404="no such user")` (a keyword cannot start with a digit)."""
    return {
        **REFUSALS,
        **{
            int(code.lstrip("_")): {"model": Problem, "description": why}
            for code, why in more.items()
        },
    }


def _text_only(value: object) -> object:
    if not isinstance(value, str | dt.datetime):
        raise ValueError("must be an ISO 8601 date-time string, e.g. 2026-01-06T20:00:00Z")
    return value


# A date-time with its zone, sent as a string, as an OpenAPI `date-time` says: pydantic alone
# would also take the number 0 as 1970-01-01.
DateTimeText = Annotated[AwareDatetime, BeforeValidator(_text_only)]


class BodyProblem(ValueError):
    """Why a body is refused, and with which status."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _non_finite(text: str) -> Any:
    raise BodyProblem(422, f"{text} is not a JSON number: send a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyProblem(422, f"{text} is too large for a number: send a finite number")
    return value


def _depth(value: Any) -> int:
    """How many lists and objects `value` nests (`[]` is 1, a scalar 0), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def check_json_body(body: bytes, max_depth: int) -> None:
    """Raise `BodyProblem` if `body` is not strict JSON nested at most `max_depth` deep."""
    try:
        value = json.loads(body, parse_constant=_non_finite, parse_float=_finite_float)
    except BodyProblem:
        raise
    except RecursionError:
        raise BodyProblem(422, f"the body nests deeper than {max_depth} levels") from None
    except (ValueError, UnicodeDecodeError) as error:
        raise BodyProblem(400, f"the body is not valid JSON: {error}") from None
    if _depth(value) > max_depth:
        raise BodyProblem(422, f"the body nests deeper than {max_depth} levels")


class StrictJSONBodies:
    """ASGI middleware: cap the size of request bodies and refuse non-strict JSON (see the module
    docstring). The body is read once, checked, and handed to the app as it arrived."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_depth: int = 16):
        self.app, self.max_bytes, self.max_depth = app, max_bytes, max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in WITH_BODY:
            await self.app(scope, receive, send)
            return
        try:
            body = await self._read(scope, receive)
            if body and self._is_json(scope):
                check_json_body(body, self.max_depth)
        except BodyProblem as problem:
            await _refuse(send, problem.status, str(problem))
            return
        except _Disconnected:
            return
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return await receive()  # after the body: the disconnect, when it comes
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _read(self, scope: Scope, receive: Receive) -> bytes:
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            raise BodyProblem(413, f"the body may be at most {self.max_bytes:,} bytes")
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise _Disconnected
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                raise BodyProblem(413, f"the body may be at most {self.max_bytes:,} bytes")
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)

    @staticmethod
    def _is_json(scope: Scope) -> bool:
        kind = dict(scope["headers"]).get(b"content-type", b"application/json").lower()
        return kind.startswith(b"application/json") or kind.endswith(b"+json")


class _Disconnected(Exception):
    """The client went away before sending its whole body."""


async def _refuse(send: Send, status: int, message: str) -> None:
    # A 422 has the shape of FastAPI's own validation errors, so one schema describes both.
    detail: Any = [{"loc": ["body"], "msg": message, "type": "value_error"}]
    body = json.dumps({"detail": detail if status == 422 else message}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))  # the rest of the body is not read
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
