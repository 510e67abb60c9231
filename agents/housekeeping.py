"""Housekeeping of the sweep: agents' heartbeats and last lines, suggestions, and the
event and command logs kept within their retention."""

from __future__ import annotations

import logging
import sqlite3
import time
from typing import TYPE_CHECKING

from overseer.agents.drivers.base import LIVE_FIELDS
from overseer.agents.insights import CPU_ACTIVE_RATE
from overseer.state.store import StoreError

if TYPE_CHECKING:
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
    """Recompute the stored suggestions (a bug in a rule is logged, never fatal).

    A refresh over a big store can take a while: the next one waits ten times as long
    as this one took, so suggestions never take more than a tenth of the loop.
    """
    if not force and now < sup.insights_due:
        return
    began = time.monotonic()
    try:
        sup.insights.refresh(
            now,
            supervisor_alive=True,
            cpu_active=frozenset(
                rt.name
                for rt in sup.agents.values()
                if rt.running is not None and rt.cpu_rate >= CPU_ACTIVE_RATE
            ),
            stopping=frozenset(
                rt.name
                for rt in sup.agents.values()
                if rt.running is not None and rt.running.stop_at is not None
            ),
            events=True,
        )
    except PERSIST_ERRORS:
        raise  # the store itself failed: the loop stops cleanly (see run)
    except Exception as exc:
        log.exception("insights refresh failed")
        if now - sup.insights_failed_at >= 60.0:
            sup.insights_failed_at = now
            sup.store.event("insights.error", f"suggestions not refreshed: {exc!r}")
    finally:
        sup.insights_due = now + max(INSIGHTS_MIN_GAP, 10 * (time.monotonic() - began))
