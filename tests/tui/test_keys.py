"""Every key's effect on the store, driven with Pilot on a fixture store (no tmux needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from textual.widgets import Input

from overseer.state import pool
from overseer.state.models import CommandStatus, TaskState
from overseer.tui.screens import main
from overseer.tui.screens.dialogs import AskText, Confirm, HelpScreen
from overseer.tui.screens.main import MainScreen
from overseer.tui.widgets.tables import AgentTable, QueueTable
from tests.tui.fixtures import make_app, shows_a_write_without_polling
from tests.tui.pilot import commands_in, dashboard, pick, settle, store_of, written


async def test_filter_then_b_blocks_the_task_with_the_reason(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        await pilot.press("slash", *"db-migrate", "enter")
        queue = app.screen.query_one(QueueTable)
        assert queue.has_focus and queue.selected_key() == "db-migrate"
        await pilot.press("b")
        assert isinstance(app.screen, AskText)
        await pilot.press(*"needs a schema fix", "enter")
        await settle(app, pilot)
    task = store_of(tmp_path).task("db-migrate")
    assert task is not None and task.state == TaskState.BLOCKED
    assert task.blocked_reason == "needs a schema fix"


async def test_r_makes_a_failed_task_ready(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        await pilot.press("slash", *"state:failed", "enter", "r")
        await settle(app, pilot)
    task = store_of(tmp_path).task("db-migrate")
    assert task is not None and task.state == TaskState.READY


async def test_marks_then_r_retries_several(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        queue = app.screen.query_one(QueueTable)
        queue.focus()
        assert queue.select_key("db-migrate")
        await pilot.press("space")  # marks db-migrate, moves to docs
        assert queue.selected_key() == "docs"
        await pilot.press("down", "space")  # mirror-sync
        assert queue.marked == {"db-migrate", "mirror-sync"}
        await pilot.press("r")
        await settle(app, pilot)
        assert queue.marked == set()  # marks are used up by the action
    store = store_of(tmp_path)
    assert store.task("db-migrate").state == TaskState.READY  # type: ignore[union-attr]
    assert store.task("mirror-sync").state == TaskState.READY  # type: ignore[union-attr]
    assert store.task("docs").state == TaskState.READY  # type: ignore[union-attr]
    verbs = [(c.verb, c.target) for c in commands_in(store)]
    assert verbs == [("retry", "db-migrate"), ("retry", "mirror-sync")]


async def test_u_unblocks_and_x_releases(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        queue = pick(app, QueueTable, "mirror-sync")
        await pilot.press("u")
        await settle(app, pilot)
        queue.select_key("lint")
        await pilot.press("x")  # release kills the running attempt: it asks first
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        await settle(app, pilot)
    store = store_of(tmp_path)
    assert store.task("mirror-sync").state == TaskState.READY  # type: ignore[union-attr]
    lint = store.task("lint")
    assert lint is not None and lint.state == TaskState.READY and lint.claimed_by is None
    assert store.attempts("lint")[-1].outcome.value == "released"


async def test_agent_keys_write_agent_commands(tmp_path: Path) -> None:
    # With no live tmux the agent commands are rejected, but each key wrote the right command.
    async with dashboard(tmp_path, "waiting") as (app, pilot):
        agents = pick(app, AgentTable, "worker-2")
        await pilot.press("y")
        await pilot.press("i")
        assert isinstance(app.screen, AskText)
        await pilot.press(*"echo hi", "enter")
        await pilot.press("ctrl+c")
        assert isinstance(app.screen, Confirm)
        await pilot.press("y")
        agents.select_key("worker-4")
        await pilot.press("p")  # worker-4 is paused: p resumes it
        agents.select_key("worker-1")
        await pilot.press("p")
        await settle(app, pilot)
    cmds = written(tmp_path)
    assert cmds == [
        ("answer", "worker-2", {"answer": "y"}),
        ("send", "worker-2", {"text": "echo hi", "enter": True}),
        ("interrupt", "worker-2", {}),
        ("resume", "worker-4", {}),
        ("pause", "worker-1", {}),
    ]
    statuses = {c.status for c in commands_in(store_of(tmp_path))}
    assert statuses <= {CommandStatus.APPLIED, CommandStatus.REJECTED}


async def test_task_key_on_the_agents_panel_acts_on_the_agents_task(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        pick(app, AgentTable, "worker-1")  # runs lint
        await pilot.press("b", *"wrong branch", "enter")
        await settle(app, pilot)
    lint = store_of(tmp_path).task("lint")
    assert (
        lint is not None
        and lint.state == TaskState.BLOCKED
        and lint.blocked_reason == "wrong branch"
    )


async def test_escape_cancels_the_block_dialog(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        await pilot.press("b", *"never mind", "escape")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
    assert commands_in(store_of(tmp_path)) == []


async def test_sort_filter_help_theme_and_quit(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        queue = app.screen.query_one(QueueTable)
        assert queue.order[:2] == ["fetch", "build"]
        await pilot.press("s")  # by state: failed first
        assert queue.sort_name == "state" and queue.order[0] == "db-migrate"
        await pilot.press("slash", *"shard", "enter")
        assert queue.row_count == 6 and queue.selected_key() == "shard-01"
        await pilot.press("escape")
        assert queue.row_count == 15
        assert not app.screen.query_one("#filter", Input).display
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        first = app.theme
        await pilot.press("t")
        assert app.theme != first
        await pilot.press("tab")
        await pilot.press("q")
    assert app.return_code in (0, None)


async def test_store_change_shows_without_a_key(tmp_path: Path) -> None:
    app = make_app(tmp_path, live=True)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0.3)
        queue = app.screen.query_one(QueueTable)
        store = store_of(tmp_path)
        store.upsert_tasks([{"id": "brand-new", "command": "true"}])
        for _ in range(60):
            if "brand-new" in queue.rows_by_key:
                break
            await pilot.pause(0.05)
        assert "brand-new" in queue.rows_by_key
        app.screen.stop.set()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify")
async def test_a_write_to_the_store_wakes_the_dashboard_without_polling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No timed re-read and no poll within the test: only the write itself can wake the reader.
    monkeypatch.setattr(main, "REFRESH_IDLE", 3600.0)
    monkeypatch.setattr(main, "POLL", 3600.0)
    app = make_app(tmp_path, live=True)
    await shows_a_write_without_polling(
        app, lambda: store_of(tmp_path).upsert_tasks([{"id": "brand-new", "command": "true"}])
    )


@pytest.mark.parametrize("keymap", [{"retry": "R"}])
async def test_keymap_remaps_a_key(tmp_path: Path, keymap: dict[str, str]) -> None:
    app = make_app(tmp_path)
    app.keymap = keymap
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"db-migrate", "enter", "r")  # r no longer retries
        await settle(app, pilot)
        assert store_of(tmp_path).task("db-migrate").state == TaskState.FAILED  # type: ignore[union-attr]
        await pilot.press("R")
        await settle(app, pilot)
    assert store_of(tmp_path).task("db-migrate").state == TaskState.READY  # type: ignore[union-attr]


async def test_digit_keys_pick_a_menu_choice_and_d_opens_no_diff_without_worktree(
    tmp_path: Path,
) -> None:
    async with dashboard(tmp_path, "waiting") as (app, pilot):
        pick(app, AgentTable, "worker-2")
        await pilot.press("2")
        await pilot.press("d")  # worker-2 has no worktree: a notice, no diff screen
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
    cmds = written(tmp_path)
    assert cmds == [("answer", "worker-2", {"answer": "2"})]


async def test_plus_and_minus_scale_the_selected_agents_group(tmp_path: Path) -> None:
    # No supervisor runs: the commands apply here, and the sizes wait for the next one.
    async with dashboard(tmp_path) as (app, pilot):
        pick(app, AgentTable, "worker-2")
        await pilot.press("plus")
        await settle(app, pilot)
        await pilot.press("plus")
        await settle(app, pilot)
        await pilot.press("minus")
        await settle(app, pilot)
    assert written(tmp_path) == [
        ("scale", "worker-2", {"size": "+1", "force": False}),
        ("scale", "worker-2", {"size": "+1", "force": False}),
        ("scale", "worker-2", {"size": "-1", "force": False}),
    ]
    store = store_of(tmp_path)
    assert {c.status for c in commands_in(store)} == {CommandStatus.APPLIED}
    # 4 -> 6 -> 5: the one not yet started went first, highest number first.
    assert pool.stored(store)["worker"]["names"] == [f"worker-{i}" for i in range(1, 6)]
