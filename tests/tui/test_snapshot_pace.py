"""The dashboard reads the store at the pace its screen applies snapshots: commits coming
faster than that (ten hosts' sweeps on one database, issue 14) never queue stale snapshots
ahead of the newest one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from overseer.state.store import Store
from overseer.tui.screens.main import MainScreen
from overseer.tui.snapshot import Snapshot, SnapshotReader
from tests.tui.fixtures import make_app


async def test_a_read_waits_until_the_last_snapshot_is_on_screen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shown: list[int] = []
    began: list[int] = []  # how many snapshots were on screen as each read began
    show, read = MainScreen.show_snapshot, SnapshotReader.read

    def slow_show(screen: MainScreen, snap: Snapshot) -> None:
        time.sleep(0.15)  # a screen slower than the commits
        show(screen, snap)
        shown.append(1)

    def counted_read(reader: SnapshotReader) -> Snapshot:
        began.append(len(shown))
        return read(reader)

    monkeypatch.setattr(MainScreen, "show_snapshot", slow_show)
    monkeypatch.setattr(SnapshotReader, "read", counted_read)
    app = make_app(tmp_path, "empty", live=True)
    async with app.run_test(size=(160, 45)) as pilot:
        for _ in range(200):
            if shown:
                break
            await pilot.pause(0.05)
        store = Store(tmp_path / ".overseer" / "state.db")
        try:
            for i in range(10):
                store.event("note", f"commit {i}")
                await pilot.pause(0.03)
        finally:
            store.close()
        for _ in range(100):
            await pilot.pause(0.05)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        screen.stop.set()
        screen.wake.set()
    assert len(began) >= 3  # the commits were read
    assert all(on_screen >= i for i, on_screen in enumerate(began)), began
