"""An open-loop load generator: requests are sent on a fixed schedule, whether or not earlier ones
have answered, and each latency is measured from the request's *intended* send time.

A closed loop (send, wait, send) slows down when the server does and so hides its worst moments
(coordinated omission); here a slow server makes later requests late, and that lateness counts.

    result = asyncio.run(open_loop(url, bodies, rate=200, seconds=10))
    result.percentile(99), result.achieved_rps
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

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
