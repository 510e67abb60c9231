"""The replay panel: a task's last attempt played through the virtual terminal, paused,
sought, sped up, from the fixture's worker-1 log and its times."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from overseer.tui.screens.replay import ReplayScreen
from overseer.tui.widgets.tables import QueueTable
from tests.tui.pilot import dashboard, pick, settle


async def test_v_replays_the_tasks_attempt_with_play_pause_seek_and_speed(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        pick(app, QueueTable, "fetch")
        await pilot.press("v")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReplayScreen)
        assert screen.playing and screen.end == pytest.approx(3.9)

        def shown() -> str:
            return screen.vscreen.text()

        await pilot.press("end")
        assert not screen.playing and screen.position == pytest.approx(3.9)
        assert "fetched 12 files" in shown() and "token=***" in shown()
        assert "tok_4f2c1e9a77" not in shown()  # masked, as in every export
        assert "lint.1.sh" not in shown()  # the next attempt on worker-1 is not part of it
        await pilot.press("left")  # 5 s back: the start, an empty screen
        assert screen.position == 0 and shown() == ""
        await pilot.press("plus", "plus", "plus", "plus")  # x1 -> x16
        assert screen.speed == 16
        await pilot.press("space")
        deadline = time.monotonic() + 20
        while screen.playing:  # 3.9 s at x16: played through, then it stops at the end
            assert time.monotonic() < deadline, "the replay never reached its end"
            await pilot.pause(0.05)
        assert screen.position == pytest.approx(3.9) and "fetched 12 files" in shown()
        await pilot.press("escape")
        assert not isinstance(app.screen, ReplayScreen)
