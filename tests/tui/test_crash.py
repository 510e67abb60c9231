"""No crash, no false success: the palette, text from data, a bug in a handler, a dead supervisor."""

from __future__ import annotations

import io
import stat
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from textual.command import CommandList, CommandPalette
from textual.widgets import Label

from overseer.state.models import TaskState
from overseer.tui.screens.dialogs import Confirm
from overseer.tui.screens.main import MainScreen
from overseer.tui.widgets.panels import StatusHeader, SuggestionTable, SupervisorBanner
from tests.tui.fixtures import make_app
from tests.tui.pilot import commands_in, dashboard, settle, store_of


def plain(widget: Any) -> str:
    """What a Static shows, as plain text."""
    console = Console(width=300, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def test_palette_opens_lists_every_key_and_runs_a_command(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        await pilot.press("slash", *"db-migrate", "enter")
        await pilot.press("ctrl+p")
        await settle(app, pilot)
        assert isinstance(app.screen, CommandPalette)
        titles = [c.title for c in app.get_system_commands(app.screen_stack[-2])]
        # Key names in brackets are shown as written, not read as markup tags.
        assert "Filter \\[/]" in titles and "Respawn \\[K]" in titles
        await pilot.press(*"Retry")
        await settle(app, pilot)
        palette = app.screen
        assert isinstance(palette, CommandPalette)
        shown = [str(o.prompt).split("\n")[0] for o in palette.query_one(CommandList).options]
        assert shown and shown[0] == "Retry [r]", shown
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
    task = store_of(tmp_path).task("db-migrate")
    assert task is not None and task.state == TaskState.READY


async def test_brackets_from_data_are_shown_as_written(tmp_path: Path) -> None:
    """A prompt's `[y/N]`, a filter `[/]` and a reason `[K]` are text, never markup."""
    app = make_app(tmp_path, "waiting")
    store = store_of(tmp_path)
    store.set_suggestions(
        [
            {
                "key": "answer:worker-2",
                "action": "answer",
                "target": {"agent": "worker-2"},
                "reason": "worker-2 waits at Deploy to staging? [y/N] [/]",
                "apply": {"verb": "block", "target": "lint", "args": {"reason": "[K] x"}},
                "destructive": True,
            }
        ]
    )
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        table = app.screen.query_one(SuggestionTable)
        reason = table.get_row_at(0)[3]
        assert reason.plain == "worker-2 waits at Deploy to staging? [y/N] [/]"
        await pilot.press("slash", "[", "/", "]")  # a filter that is a markup closing tag
        await settle(app, pilot)
        title = app.screen.query_one("#queue-title", Label)
        assert "filter: [/]" in str(title.render())
        await pilot.press("escape")
        table.focus()
        await pilot.press("enter")  # a destructive suggestion asks first, quoting its reason
        await settle(app, pilot)
        assert isinstance(app.screen, Confirm)
        question = app.screen.query_one("#dialog-title", Label)
        assert "[y/N] [/]" in str(question.render())
        app.notify("prompt: Deploy? [y/N] [/]")  # a notification carrying data
        await pilot.press("n")
        await settle(app, pilot)
    assert app.return_code in (0, None)


async def test_a_bug_in_a_handler_ends_the_dashboard_with_a_crash_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: MainScreen) -> None:
        raise RuntimeError("retry handler broke")

    monkeypatch.setattr(MainScreen, "action_retry", broken)
    app = make_app(tmp_path)
    with pytest.raises(RuntimeError, match="retry handler broke"):
        async with app.run_test(size=(160, 45)) as pilot:
            await settle(app, pilot)
            await pilot.press("r")
            await pilot.pause()
    assert app.return_code == 1
    assert app.crash is not None
    error, log = app.crash
    assert str(error) == "retry handler broke"
    assert log is not None and log.parent == tmp_path / ".overseer" / "logs"
    assert log.name.startswith("crash-") and stat.S_IMODE(log.stat().st_mode) == 0o600
    text = log.read_text()
    assert "Traceback" in text and "in broken" in text and "retry handler broke" in text
    assert not app._exit_renderables  # nothing left for Textual to print on the terminal


async def test_a_supervisor_that_died_is_shown_and_keys_are_not_applied(tmp_path: Path) -> None:
    async with dashboard(tmp_path, died=True) as (app, pilot):
        banner = app.screen.query_one(SupervisorBanner)
        assert banner.display
        shown = plain(banner)
        assert "pid 4242) died" in shown and "No space left on device" in shown
        assert "died (pid 4242)" in plain(app.screen.query_one(StatusHeader))
        await pilot.press("slash", *"state:failed", "enter", "r")
        await settle(app, pilot)
        assert any("not applied" in n.message for n in app._notifications)
    store = store_of(tmp_path)
    assert commands_in(store) == []  # nothing queued, nothing applied behind the user's back
    assert store.task("db-migrate").state == TaskState.FAILED  # type: ignore[union-attr]


async def test_a_supervisor_that_stopped_cleanly_is_no_alarm(tmp_path: Path) -> None:
    async with dashboard(tmp_path, alive=False) as (app, pilot):
        assert not app.screen.query_one(SupervisorBanner).display
        assert "not running" in plain(app.screen.query_one(StatusHeader))
        await pilot.press("slash", *"state:failed", "enter", "r")
        await settle(app, pilot)
    assert store_of(tmp_path).task("db-migrate").state == TaskState.READY  # type: ignore[union-attr]
