"""The dashboard on a PostgreSQL store: told of each committed write by LISTEN/NOTIFY (no
polling, no files to watch), and nothing read while nothing changes."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest

from overseer.state.backend import STORE_ENV
from overseer.state.hosts import ENV as HOST_ENV
from overseer.state.pgstore import ChangeListener
from overseer.state.store import Store, open_store
from overseer.tui.screens import main
from overseer.tui.snapshot import SnapshotReader
from tests.helpers import wait_until
from tests.tui.fixtures import NOW, make_app, shows_a_write_without_polling
from tests.tui.test_snapshots import snap


def test_a_listener_hears_each_committed_write_and_nothing_else(pg_store_url: str) -> None:
    heard = threading.Event()
    listener = ChangeListener(pg_store_url, heard.set)
    listener.start()
    writer: Store = open_store(pg_store_url)
    try:
        assert not heard.wait(0.5)  # a quiet database says nothing
        with writer.tx():
            writer.event("note", "one")
            assert not heard.wait(0.3)  # not before the commit
        wait_until(heard.is_set, timeout=10, message="no notification for a commit")
        heard.clear()
        writer.upsert_tasks([{"id": "a", "command": "true"}])
        wait_until(heard.is_set, timeout=10, message="no notification for the second commit")
    finally:
        listener.stop()
        writer.close()


async def test_a_write_wakes_the_dashboard_on_postgresql_without_polling(
    tmp_path: Path, pg_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No timed re-read and no poll within the test: only the notification can wake the reader.
    monkeypatch.setattr(main, "REFRESH_IDLE", 3600.0)
    monkeypatch.setattr(main, "POLL", 3600.0)
    monkeypatch.setenv(STORE_ENV, pg_store_url)
    app = make_app(tmp_path, live=True)

    def write() -> None:
        store = open_store(pg_store_url)
        store.upsert_tasks([{"id": "brand-new", "command": "true"}])
        store.close()

    # The queue starts empty: the database's queue is shown, not the fixture's SQLite one.
    await shows_a_write_without_polling(app, write, empty_first=True)


def several_hosts(url: str) -> None:
    """Hosts a (this one, beating) and c (silent for a minute), two agents each."""
    store = open_store(url)
    try:
        store.supervisor_beat(4242, "c", NOW - 600, NOW - 60, "overseer-t-c")
        store.supervisor_beat(4243, "a", NOW - 600, NOW - 1, "overseer-t-a")
        store.upsert_tasks([{"id": f"job-{i}", "command": "make"} for i in range(4)], now=NOW)
        for host in ("a", "c"):
            for i, state in ((1, "busy"), (2, "idle")):
                name = f"{host}/w-{i}"
                store.upsert_agent(name, "shell")
                store.update_agent(
                    name,
                    state=state,
                    state_since=NOW - 30,
                    heartbeat_at=NOW - (1 if host == "a" else 60),
                    last_line=f"{name} says hello",
                    pid=os.getpid(),  # a pid of this machine: only host a's may be sampled
                )
    finally:
        store.close()


def test_the_dashboard_shows_every_host_and_greys_a_silent_ones_agents(
    tmp_path: Path, pg_store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STORE_ENV, pg_store_url)
    monkeypatch.setenv(HOST_ENV, "a")
    several_hosts(pg_store_url)
    sampled: list[int | None] = []
    reader = SnapshotReader(
        tmp_path / "state.db",
        project="t",
        clock=lambda: NOW,
        usage=lambda pid: (sampled.append(pid), (1.0, 1024))[1],
    )
    try:
        snap = reader.read()
    finally:
        reader.store.close()
    assert snap.hosts == (("a", True), ("c", False))
    rows = {r.name: r for r in snap.agents}
    assert {n for n, r in rows.items() if r.host_gone} == {"c/w-1", "c/w-2"}
    assert rows["a/w-1"].cpu_pct == 1.0 and rows["c/w-1"].cpu_pct is None
    assert len(sampled) == 2  # host c's pids name processes of another machine


@pytest.mark.parametrize("size", [(80, 24), (160, 45)])
def test_several_hosts_snapshot(
    snap_compare: Any,
    tmp_path: Path,
    pg_store_url: str,
    monkeypatch: pytest.MonkeyPatch,
    size: tuple[int, int],
) -> None:
    monkeypatch.setenv(STORE_ENV, pg_store_url)
    monkeypatch.setenv(HOST_ENV, "a")
    several_hosts(pg_store_url)
    snap(snap_compare, make_app(tmp_path, "empty"), size)
