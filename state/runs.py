"""Runs: one per supervisor session (id, host, pid, start, end), the unit `overseer report` reads.

The supervisor opens its run when it starts, beats it with its loop heartbeat and closes it
when it stops cleanly. A run left open by a supervisor that is gone (killed, its machine
down) ends at its last heartbeat: so it is read, and so it is closed when the next supervisor
of its host opens a run. Each attempt names the run that claimed it (attempts.run_id).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from overseer.state.errors import EXIT_USAGE
from overseer.state.statedir import StoreError
from overseer.state.store import Store, _insert

# A run without an end whose heartbeat is older than this is taken as ended at that
# heartbeat: the supervisor beats at least every REST_SWEEP (5 s) while it lives.
LIVE_S = 60.0


class RunNotFound(StoreError):
    """A run id that names no run (a usage error: exit 2)."""

    status = EXIT_USAGE


@dataclass(frozen=True)
class Run:
    """One supervisor session as recorded."""

    id: int
    host: str
    pid: int
    started_at: float
    ended_at: float | None  # None: still running (its end as read is `end`)
    heartbeat_at: float | None
    first_event: int
    end: float  # when it ended, or now when it still runs

    @property
    def running(self) -> bool:
        """Whether its supervisor still runs (no end recorded and a fresh heartbeat)."""
        return self.ended_at is None

    @property
    def seconds(self) -> float:
        """How long it ran (so far)."""
        return max(0.0, self.end - self.started_at)


def open_run(store: Store, host: str, pid: int, started_at: float) -> int:
    """Begin a run for this supervisor; close the runs its host left open (they ended at
    their last heartbeat); return the new run's id."""
    with store.tx() as c:
        c.execute(
            "UPDATE runs SET ended_at=COALESCE(heartbeat_at, started_at) "
            "WHERE host=? AND ended_at IS NULL",
            (host,),
        )
        first = c.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0]
        return _insert(
            c,
            "INSERT INTO runs(host, pid, started_at, heartbeat_at, first_event) VALUES (?,?,?,?,?)",
            (host, pid, started_at, started_at, int(first)),
        )


def beat(store: Store, run_id: int, now: float) -> None:
    """Record that the run's supervisor is alive at `now` (inside the caller's transaction
    when one is open)."""
    with store.tx() as c:
        c.execute("UPDATE runs SET heartbeat_at=? WHERE id=?", (now, run_id))


def close_run(store: Store, run_id: int, now: float | None = None) -> None:
    """End the run (its supervisor stops cleanly)."""
    now = time.time() if now is None else now
    with store.tx() as c:
        c.execute(
            "UPDATE runs SET ended_at=?, heartbeat_at=? WHERE id=? AND ended_at IS NULL",
            (now, now, run_id),
        )


_COLUMNS = "id, host, pid, started_at, ended_at, heartbeat_at, first_event"


def _run(r: Any, now: float) -> Run:
    """A Run from its row (sqlite3.Row or PgRow), its end as read at `now`."""
    ended, beat_at = r["ended_at"], r["heartbeat_at"]
    if ended is None and now - (beat_at or r["started_at"]) > LIVE_S:
        ended = beat_at or r["started_at"]  # its supervisor is gone: it ended at its last beat
    return Run(
        id=int(r["id"]),
        host=str(r["host"]),
        pid=int(r["pid"]),
        started_at=float(r["started_at"]),
        ended_at=ended,
        heartbeat_at=beat_at,
        first_event=int(r["first_event"]),
        end=now if ended is None else float(ended),
    )


def runs(store: Store, now: float | None = None, limit: int | None = None) -> list[Run]:
    """Every run, newest first (at most `limit`)."""
    now = time.time() if now is None else now
    sql = f"SELECT {_COLUMNS} FROM runs ORDER BY id DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return [_run(r, now) for r in store.conn.execute(sql)]


def get_run(store: Store, ref: str | int | None, now: float | None = None) -> Run:
    """The run a person names: its id, or None / "latest" for the newest; RunNotFound else."""
    now = time.time() if now is None else now
    if ref is None or ref == "latest":
        row = store.conn.execute(f"SELECT {_COLUMNS} FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            raise RunNotFound("no runs recorded yet: a run begins when a supervisor starts")
        return _run(row, now)
    text = str(ref).lstrip("#")
    if not text.isdigit():
        raise RunNotFound(f"{ref!r} is not a run id (see `overseer runs`)")
    row = store.conn.execute(f"SELECT {_COLUMNS} FROM runs WHERE id=?", (int(text),)).fetchone()
    if row is None:
        raise RunNotFound(f"no run {text} (see `overseer runs`)")
    return _run(row, now)
