"""A bounded, order-keeping map over a thread pool, shared by the connectors that fetch
per-ticket details concurrently (Zendesk comments, Freshdesk conversations)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def ordered_map(
    pool: ThreadPoolExecutor, work: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    """`work(item)` for each item, run on `pool` with at most `window` items ahead of the
    consumer, yielded in input order; what is still queued is cancelled if the consumer
    stops early (an error, a crash, a spent budget)."""
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(work, item))
            if len(pending) >= max(1, window):
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
