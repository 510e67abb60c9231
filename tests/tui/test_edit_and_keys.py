"""Editing a task's command, safe confirm dialogs, movement, header sorts, copy, try and
heartbeat columns: driven with Pilot on a fixture store (no tmux)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Button, TextArea

from overseer.state.config import UserConfig
from overseer.state.store import Store
from overseer.tui.screens.dialogs import Confirm, EditText, HelpScreen
from overseer.tui.screens.main import MainScreen
from overseer.tui.widgets.tables import AgentTable, KeyedTable, QueueTable
from tests.tui.fixtures import NOW, PROMPT, _attempt, _task, make_app
from tests.tui.pilot import commands_in, dashboard, pick, settle, store_of


def rendered(table: KeyedTable) -> list[str]:  # type: ignore[type-arg]
    """The table's lines as they are drawn (cells cut to their column widths)."""
    return ["".join(seg.text for seg in table.render_line(y)) for y in range(table.size.height)]


async def test_e_edits_the_command_and_the_store_records_it(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        queue = app.screen.query_one(QueueTable)
        queue.focus()
        assert queue.select_key("db-migrate")
        await pilot.press("e")
        assert isinstance(app.screen, EditText)
        area = app.screen.query_one(TextArea)
        assert area.text == "make db-migrate"
        await pilot.press("end", *" --schema v2", "ctrl+s")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
    store = store_of(tmp_path)
    task = store.task("db-migrate")
    assert task is not None and task.command == "make db-migrate --schema v2"
    cmds = [(c.verb, c.target, c.args) for c in commands_in(store)]
    assert cmds == [
        (
            "edit",
            "db-migrate",
            {"tasks": {"db-migrate": {"command": "make db-migrate --schema v2"}}},
        )
    ]
    edited = [e for e in store.events(task_id="db-migrate") if e.kind == "task.edited"]
    assert len(edited) == 1 and "'make db-migrate' -> 'make db-migrate --schema v2'" in (
        edited[0].message
    )


async def test_escape_leaves_the_command_as_it_was(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        app.screen.query_one(QueueTable).select_key("docs")
        await pilot.press("e", *"xyz", "escape")
        await settle(app, pilot)
    assert commands_in(store_of(tmp_path)) == []


async def test_confirm_dialogs_default_to_no(tmp_path: Path) -> None:
    # Enter right after ctrl+c, K, x or Q answers No: nothing is sent, nothing stops.
    async with dashboard(tmp_path, "waiting") as (app, pilot):
        pick(app, AgentTable, "worker-2")
        for key in ("ctrl+c", "K", "x", "Q"):
            await pilot.press(key)
            assert isinstance(app.screen, Confirm), key
            focused = app.screen.focused
            assert isinstance(focused, Button) and focused.id == "no", key
            await pilot.press("enter")
            await settle(app, pilot)
            assert isinstance(app.screen, MainScreen), key
        assert app.is_running
    assert commands_in(store_of(tmp_path)) == []
    lint = store_of(tmp_path).task("build")
    assert lint is not None and lint.state.value == "running"


async def test_j_k_g_G_move_the_cursor(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        queue = app.screen.query_one(QueueTable)
        queue.focus()
        await pilot.press("G")
        assert queue.cursor_row == queue.row_count - 1
        await pilot.press("g", "j", "j")
        assert queue.cursor_row == 2
        await pilot.press("k")
        assert queue.cursor_row == 1 and queue.selected_key() == "build"


async def test_a_click_on_a_column_header_sorts_by_it(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        queue = app.screen.query_one(QueueTable)

        def header_x(key: str) -> int:
            x = 0
            for column in queue.ordered_columns:
                if column.key.value == key:
                    return x + 1
                x += column.get_render_width(queue)
            raise AssertionError(key)

        assert queue.sort_name == "queue"
        await pilot.click(QueueTable, offset=(header_x("state"), 0))
        await settle(app, pilot)
        assert queue.sort_name == "state" and queue.order[0] == "db-migrate"
        await pilot.click(QueueTable, offset=(header_x("dur"), 0))
        await settle(app, pilot)
        assert queue.sort_name == "time" and queue.order[0] == "build"  # running 95 s


async def test_c_copies_the_id_and_C_the_prompt(tmp_path: Path) -> None:
    async with dashboard(tmp_path, "waiting") as (app, pilot):
        pick(app, QueueTable, "db-migrate")
        await pilot.press("c")
        assert app.clipboard == "db-migrate"
        await pilot.press("C")
        assert app.clipboard == "make db-migrate"
        pick(app, AgentTable, "worker-2")
        await pilot.press("C")
        assert app.clipboard == PROMPT
        await pilot.press("c")
        assert app.clipboard == "worker-2"


async def test_the_try_column_counts_tries_not_released_attempts(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    store = Store(tmp_path / ".overseer" / "state.db")
    with store.tx() as c:
        # Released twice (no try used), failed once, running now: 2 tries of 2.
        _task(c, "requeued", 20, "running", attempts=4, max_attempts=2, agent="worker-3")
        _attempt(c, "requeued", 1, "worker-3", "released", None, NOW - 90, NOW - 80)
        _attempt(c, "requeued", 2, "worker-3", "released", None, NOW - 70, NOW - 60)
        _attempt(c, "requeued", 3, "worker-3", "failed", 1, NOW - 50, NOW - 40)
        _attempt(c, "requeued", 4, "worker-3", "running", None, NOW - 5, None)
    store.close()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        queue = app.screen.query_one(QueueTable)
        assert str(queue.get_cell("requeued", "try")) == "2/2"
        assert str(queue.get_cell("fetch", "try")) == "1/3"
        queue.select_key("requeued")
        await settle(app, pilot)
        assert not any("4/2" in line for line in rendered(queue))


async def test_the_alert_mark_survives_past_a_minute(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    store = Store(tmp_path / ".overseer" / "state.db")
    store.update_agent("worker-1", heartbeat_at=NOW - 100)  # alert is at 90 s
    store.close()
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        lines = rendered(app.screen.query_one(AgentTable))
        row = next(line for line in lines if "worker-1" in line)
        assert "1m !!" in row


async def test_help_shows_each_action_id(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(160, 90)) as pilot:  # tall: the whole list on screen
        await settle(app, pilot)
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        await pilot.pause()
        shot = app.export_screenshot()
        for action_id in ("quit_stop", "cursor_down", "copy_id", "next_panel", "edit"):
            assert action_id in shot, action_id


async def test_the_user_config_sets_the_theme_and_remaps_keys(tmp_path: Path) -> None:
    user = UserConfig(path=tmp_path / "config.yaml", theme="light", keymap={"retry": "R"})
    app = make_app(tmp_path, user=user)
    assert app.theme == "light"
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        await pilot.press("slash", *"db-migrate", "enter", "r")  # r no longer retries
        await settle(app, pilot)
        assert store_of(tmp_path).task("db-migrate").state.value == "failed"  # type: ignore[union-attr]
        await pilot.press("R")
        await settle(app, pilot)
    assert store_of(tmp_path).task("db-migrate").state.value == "ready"  # type: ignore[union-attr]
