"""Housekeeping of the sweep: agents' heartbeats and last lines, suggestions, and the
event and command logs kept within their retention."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from contextlib import suppress
from typing import TYPE_CHECKING

from overseer.agents.drivers.base import LIVE_FIELDS
from overseer.agents.insights import CPU_ACTIVE_RATE
from overseer.state.store import StoreError

if TYPE_CHECKING:
    from overseer.agents.insights import Insights
    from overseer.agents.supervisor import Supervisor

log = logging.getLogger("overseer.supervisor")

TRIM_EVERY = 300.0  # seconds between trims of the event and command logs
TRIM_SOON = 1.0  # after a full batch
TRIM_BATCH = 5000
INSIGHTS_MIN_GAP = 1.0  # suggestions are recomputed at most once a sweep
# Failures to persist state (disk full, read-only, locked or corrupt database): the
# supervisor stops with a clear message, and the next start recovers as after a kill -9.
PERSIST_ERRORS = (StoreError, sqlite3.Error, OSError)


def flush_agents(sup: Supervisor) -> None:
    """Write heartbeats, last output times and last lines of changed agents in one go.

    An agent whose only change is its heartbeat (every resting agent, every second) costs
    one row of a batched UPDATE of that column, not a rewrite (and re-masking) of its row.
    """
    rows, beats = [], []
    for rt in sup.agents.values():
        last = rt.driver.last_line(rt)
        snap = (rt.state, rt.last_output_at, last, rt.prompt, rt.pid, rt.pane_id)
        if snap != rt.flushed:
            rows.append(rt)
            rt.flushed, rt.flushed_beat = snap, rt.heartbeat_at
        elif rt.heartbeat_at != rt.flushed_beat:
            beats.append((rt.heartbeat_at, rt.name))
            rt.flushed_beat = rt.heartbeat_at
    if not rows and not beats:
        return
    with sup.store.tx() as c:
        for rt in rows:
            sup.store.update_agent_in(c, rt.name, **rt.fields(LIVE_FIELDS))
        if beats:
            sup.store.heartbeats_in(c, beats)


def trim_history(sup: Supervisor, now: float) -> None:
    """Keep the event log and the command log within `retention` (a batch at a time)."""
    if now < sup.trim_due:
        return
    cfg = sup.config
    gone = sup.store.trim_history(now - cfg.retention_seconds, cfg.retention_events, TRIM_BATCH)
    # A full batch means there is more: take the next one soon, not all in one go.
    full = max(gone.values()) >= TRIM_BATCH
    sup.trim_due = now + (TRIM_SOON if full else TRIM_EVERY)
    if any(gone.values()):
        log.info("trimmed %(events)d events and %(commands)d commands", gone)


def refresh_insights(sup: Supervisor, now: float, force: bool = False) -> None:
    """Recompute the stored suggestions on the worker's thread (at once and waiting when
    forced); a store failure there stops the loop here, as one of its own would."""
    if not force:
        sup.suggester.raise_failure()
        if now < sup.suggester.due:
            return
    job = (
        now,
        frozenset(
            rt.name
            for rt in sup.agents.values()
            if rt.running is not None and rt.cpu_rate >= CPU_ACTIVE_RATE
        ),
        frozenset(
            rt.name
            for rt in sup.agents.values()
            if rt.running is not None and rt.running.stop_at is not None
        ),
    )
    if force:
        sup.suggester.run(job)
    else:
        sup.suggester.submit(job)


Job = tuple[float, frozenset[str], frozenset[str]]  # when, agents busy on CPU, agents stopping


class Suggester:
    """Keeps the stored suggestions current on a thread of its own, with its own connection.

    A refresh over 50 busy agents takes tens of milliseconds of Python: on the loop's thread,
    every exit that arrived meanwhile waited for it. A refresh that takes long spaces the next
    ones out (ten times its duration), so suggestions never take more than a tenth of a core.
    """

    def __init__(self, insights: Insights) -> None:
        self.insights = insights
        self._lock = threading.Lock()  # one refresh at a time, on either thread
        self._ready = threading.Condition()
        self._job: Job | None = None
        self._failure: BaseException | None = None
        self._failed_at = 0.0
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.gap = INSIGHTS_MIN_GAP  # between refreshes: ten times the last one's duration
        self.due = 0.0  # when the next refresh may be asked for

    def idle(self) -> bool:
        """Whether no refresh is asked for or in progress."""
        with self._ready:
            if self._job is not None:
                return False
        return not self._lock.locked()

    def submit(self, job: Job) -> None:
        """Ask for a refresh (the latest ask wins); returns at once."""
        with self._ready:
            if self._stopped:
                return
            self._job = job
            self.due = job[0] + self.gap  # until this one has run and says how long it took
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="suggester", daemon=True)
                self._thread.start()
            self._ready.notify()

    def run(self, job: Job) -> None:
        """Refresh now, on the caller's thread, after any refresh in progress; raise a store
        failure it meets."""
        with self._lock:
            self._failure = None
            self._refresh(job)
        self.raise_failure()

    def raise_failure(self) -> None:
        """Raise, once, a store failure met on the worker's thread."""
        failure, self._failure = self._failure, None
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Stop the thread (after the refresh in progress) and close the connection."""
        with self._ready:
            self._stopped = True
            self._ready.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10.0)
        with self._lock, suppress(Exception):
            self.insights.store.close()

    def _serve(self) -> None:
        while True:
            with self._ready:
                while self._job is None and not self._stopped:
                    self._ready.wait()
                if self._stopped:
                    return
                job, self._job = self._job, None
                self._lock.acquire()  # before the job is seen taken: idle() stays False
            try:
                if job is not None and self._failure is None:
                    self._refresh(job)
            finally:
                self._lock.release()

    def _refresh(self, job: Job) -> None:
        now, cpu_active, stopping = job
        began = time.monotonic()
        try:
            self.insights.refresh(
                now, supervisor_alive=True, cpu_active=cpu_active, stopping=stopping, events=True
            )
        except PERSIST_ERRORS as exc:
            self._failure = exc  # the store itself failed: the loop stops cleanly (see run)
        except Exception as exc:
            log.exception("insights refresh failed")
            if now - self._failed_at >= 60.0:
                self._failed_at = now
                with suppress(*PERSIST_ERRORS):
                    self.insights.store.event(
                        "insights.error", f"suggestions not refreshed: {exc!r}"
                    )
        finally:
            self.gap = max(INSIGHTS_MIN_GAP, 10 * (time.monotonic() - began))
            self.due = now + self.gap
