"""Dynamic micro-batching: concurrent ranking requests share one forward pass.

A forward pass of the network costs about the same for 20 rows as for 600, so under load it pays
to wait a moment for other requests and score them together. The first request of a batch waits
at most `max_wait_ms` for others; a batch closes at `max_batch` requests. With batching off,
every request runs its own pass in the thread pool; `make bench` compares the two.

    batcher = MicroBatcher(max_batch=32, max_wait_ms=1.0)
    p = await batcher.score(scorer.score_arrays, categorical, dense)   # this request's rows

Each request brings the scoring function of the model it was encoded for, and a batch is split
by function, so a model reload in the middle of a batch never scores a request with a model
whose vocabulary did not encode it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import numpy as np
from starlette.concurrency import run_in_threadpool

ScoreFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


class MicroBatcher:
    def __init__(self, max_batch: int = 32, max_wait_ms: float = 1.0):
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._queue: asyncio.Queue | None = None
        self._worker: asyncio.Task | None = None
        self.batches = 0  # forward passes run, for the metrics

    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    async def start(self) -> None:
        self._queue = asyncio.Queue()
        self._worker = asyncio.create_task(self._run())

    async def stop(self, timeout: float = 5.0) -> None:
        """Finish the pass in progress (its thread cannot be interrupted), then stop."""
        if self._worker is None or self._queue is None:
            return
        await self._queue.put(None)
        try:
            await asyncio.wait_for(self._worker, timeout)
        except TimeoutError:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def score(self, fn: ScoreFn, categorical: np.ndarray, dense: np.ndarray) -> np.ndarray:
        if self._queue is None:
            raise RuntimeError("start the batcher first")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        await self._queue.put((fn, categorical, dense, future))
        return await future

    async def _run(self) -> None:
        assert self._queue is not None
        loop = asyncio.get_running_loop()
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            batch = [first]
            deadline = loop.time() + self.max_wait
            while len(batch) < self.max_batch:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
                if item is None:
                    stopping = True  # serve what was queued before the stop, then end
                    break
                batch.append(item)
            live = [b for b in batch if not b[3].done()]  # a request that timed out is gone
            groups: dict[ScoreFn, list] = {}  # bound methods of one model compare equal
            for request in live:
                groups.setdefault(request[0], []).append(request)
            for fn, requests in groups.items():
                await self._pass(fn, requests)

    async def _pass(self, fn: ScoreFn, requests: list) -> None:
        """One forward pass over `requests`, each future getting its own rows' scores."""
        sizes = [len(c) for _, c, _, _ in requests]
        try:
            scores = await run_in_threadpool(
                fn,
                np.concatenate([c for _, c, _, _ in requests]),
                np.concatenate([d for _, _, d, _ in requests]),
            )
        except Exception as e:  # every waiting request learns of it
            for *_, future in requests:
                if not future.done():
                    future.set_exception(e)
            return
        self.batches += 1
        for (*_, future), part in zip(
            requests, np.split(scores, np.cumsum(sizes)[:-1]), strict=True
        ):
            if not future.done():
                future.set_result(part)
