"""Latency histograms the supervisor keeps in the store for `overseer serve`'s /metrics.

The server is a process of its own, so the supervisor writes each observation where it can
read it: the `latency` table holds, per metric and bucket, a count and a sum that only grow
(Prometheus's counters). One observation is one upsert, in the transaction of the write it
measures. Buckets are stored by their upper bound, each counting its own observations; the
reader makes them cumulative.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass

from overseer.state.backend import Conn
from overseer.state.store import Store

# The moment the supervisor learns an attempt's exit (its rc file's mtime: the wrapper writes
# it before it prints the sentinel) -> the attempt's record written, before its commit.
EXIT = "exit_to_store"
# A task ready (made ready, or last changed while ready, or its retry time) -> claimed.
CLAIM = "claim"
METRICS = (EXIT, CLAIM)
# Upper bounds in seconds: exits are recorded in milliseconds, claims can wait for minutes.
BUCKETS = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    math.inf,
)

_OBSERVE = (
    "INSERT INTO latency(metric, le, n, total) VALUES (?,?,1,?) "
    "ON CONFLICT(metric, le) DO UPDATE SET n = latency.n + 1, total = latency.total + excluded.total"
)


def bucket(seconds: float) -> float:
    """The upper bound of the bucket an observation falls in."""
    return BUCKETS[bisect_left(BUCKETS, seconds)]


def observe(c: Conn, metric: str, seconds: float) -> None:
    """Count one observation (inside the caller's transaction: one statement)."""
    seconds = max(0.0, seconds)
    c.execute(_OBSERVE, (metric, bucket(seconds), seconds))


@dataclass(frozen=True)
class Histogram:
    """One metric's buckets as Prometheus reads them: cumulative counts by upper bound."""

    metric: str
    buckets: list[tuple[float, int]]  # (upper bound, observations at or below it), +Inf last
    total: float  # the sum of every observation

    @property
    def count(self) -> int:
        """Every observation."""
        return self.buckets[-1][1]


def histograms(store: Store) -> list[Histogram]:
    """Every metric's histogram (zeros where nothing was observed): one read of a table of at
    most len(METRICS) * len(BUCKETS) rows."""
    counts: dict[tuple[str, float], int] = {}
    totals: dict[str, float] = {}
    for metric, le, n, total in store.conn.execute("SELECT metric, le, n, total FROM latency"):
        counts[(str(metric), float(le))] = int(n)
        totals[str(metric)] = totals.get(str(metric), 0.0) + float(total)
    out = []
    for metric in METRICS:
        running, buckets = 0, []
        for le in BUCKETS:
            running += counts.get((metric, le), 0)
            buckets.append((le, running))
        out.append(Histogram(metric, buckets, totals.get(metric, 0.0)))
    return out
