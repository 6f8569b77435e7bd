"""An open-loop load generator: requests are sent on a fixed schedule, whether or not earlier ones
have answered, and each latency is measured from the request's *intended* send time.

A closed loop (send, wait, send) slows down when the server does and so hides its worst moments
(coordinated omission); here a slow server makes later requests late, and that lateness counts.

    result = asyncio.run(open_loop(url, bodies, rate=200, seconds=10))
    result.percentile(99), result.achieved_rps
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from urllib.parse import urlparse

import httpx
import numpy as np


@dataclass
class LoadResult:
    rate_rps: float
    seconds: float
    latencies_s: list[float] = field(default_factory=list)  # of the answered requests
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0  # connection errors and timeouts
    wall_s: float = 0.0  # from the first intended send to the last answer

    def percentile(self, q: float) -> float:
        """Latency percentile in milliseconds."""
        return (
            float(np.percentile(self.latencies_s, q) * 1000) if self.latencies_s else float("nan")
        )

    @property
    def sent(self) -> int:
        return sum(self.statuses.values()) + self.errors

    @property
    def achieved_rps(self) -> float:
        """Requests answered with 200 per second, over the time it took to answer them all:
        a server (or generator) that falls behind stretches the run and so lowers the rate."""
        return self.statuses.get(200, 0) / max(self.seconds, self.wall_s)

    def summary(self) -> dict:
        return {
            "rate_rps": self.rate_rps,
            "achieved_rps": round(self.achieved_rps, 1),
            "sent": self.sent,
            "ok": self.statuses.get(200, 0),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
            **{f"p{q}_ms": round(self.percentile(q), 2) for q in (50, 95, 99)},
        }


async def open_loop(
    url: str, bodies: list[dict], rate: float, seconds: float, timeout_s: float = 5.0
) -> LoadResult:
    """POST `bodies` (cycled) to `url` at `rate` per second for `seconds`."""
    result = LoadResult(rate, seconds)
    n = int(rate * seconds)
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(timeout=timeout_s, limits=limits) as client:
        start = time.perf_counter() + 0.2  # a moment to schedule everything

        async def one(i: int) -> None:
            intended = start + i / rate
            await asyncio.sleep(max(0.0, intended - time.perf_counter()))
            try:
                response = await client.post(url, json=bodies[i % len(bodies)])
            except httpx.HTTPError:
                result.errors += 1
                return
            elapsed = time.perf_counter() - intended
            result.statuses[response.status_code] = result.statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                result.latencies_s.append(elapsed)

        await asyncio.gather(*(one(i) for i in range(n)))
        result.wall_s = time.perf_counter() - start
    return result


@dataclass
class ClosedLoopResult:
    """What `connections` clients, each sending its next request as soon as the last one is
    answered (as wrk does, with no back-off on a 503), got from the server."""

    connections: int
    seconds: float
    budget_s: float  # an answer later than this is not worth having
    ok_latencies_s: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def goodput_rps(self) -> float:
        """Rankings answered 200 within the budget, per second."""
        return sum(1 for t in self.ok_latencies_s if t <= self.budget_s) / self.seconds

    @property
    def refused_rps(self) -> float:
        return self.statuses.get(503, 0) / self.seconds

    def percentile(self, q: float) -> float:
        """Latency percentile of the admitted (200) requests, in milliseconds."""
        if not self.ok_latencies_s:
            return float("nan")
        return float(np.percentile(self.ok_latencies_s, q) * 1000)

    def summary(self) -> dict:
        return {
            "connections": self.connections,
            "goodput_rps": round(self.goodput_rps, 1),
            "ok": self.statuses.get(200, 0),
            "refused_rps": round(self.refused_rps, 1),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "errors": self.errors,
            "admitted_p50_ms": round(self.percentile(50), 2),
            "admitted_p99_ms": round(self.percentile(99), 2),
        }


async def _http_client(
    host: str, port: int, path: str, payloads: list[bytes], stop: float, first: int, step: int,
    result: ClosedLoopResult,
) -> None:  # fmt: skip
    """One keep-alive HTTP/1.1 connection sending back to back until `stop`. Written on asyncio
    streams: a general-purpose client spends more CPU per request than the server under test,
    and on a shared machine that throttles the very load it should create."""
    reader, writer = await asyncio.open_connection(host, port)
    i = first
    try:
        while time.perf_counter() < stop:
            body = payloads[i % len(payloads)]
            i += step
            sent = time.perf_counter()
            writer.write(
                f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:
                result.errors += 1  # the server closed the connection
                return
            length, closing = 0, False
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode("latin-1").partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and value.strip().lower() == "close":
                    closing = True
            await reader.readexactly(length)
            code = int(status_line.split()[1])
            result.statuses[code] = result.statuses.get(code, 0) + 1
            if code == 200:
                result.ok_latencies_s.append(time.perf_counter() - sent)
            if closing:
                return
    except (ConnectionError, asyncio.IncompleteReadError):
        result.errors += 1
    finally:
        writer.close()


async def closed_loop(
    url: str, bodies: list[dict], connections: int, seconds: float, budget_s: float = 0.1
) -> ClosedLoopResult:
    """`connections` clients POST `bodies` (cycled) to `url` back to back for `seconds`, each
    sending its next request as soon as the last is answered, with no back-off after a 503."""
    address = urlparse(url)
    payloads = [json.dumps(b).encode() for b in bodies]
    result = ClosedLoopResult(connections, seconds, budget_s)
    stop = time.perf_counter() + seconds
    await asyncio.gather(
        *(
            _http_client(address.hostname or "127.0.0.1", address.port or 80, address.path,
                         payloads, stop, k, connections, result)
            for k in range(connections)
        )
    )  # fmt: skip
    return result
