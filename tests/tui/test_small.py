"""Small terminals: at 80x24 every panel is reachable, the prompt readable, the help legible."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Footer, Static
from textual.widgets._footer import FooterKey

from overseer.tui.screens.dialogs import HelpScreen
from overseer.tui.widgets.panels import PromptBar
from overseer.tui.widgets.tables import QueueTable
from tests.tui.fixtures import PROMPT, make_app
from tests.tui.pilot import dashboard, settle, written
from tests.tui.test_crash import plain


def footer_keys(app) -> list[str]:  # type: ignore[no-untyped-def]
    footer = app.screen.query_one(Footer)
    return [f"{k.key_display} {k.description}" for k in footer.query(FooterKey)]


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_tab_brings_every_panel_on_screen_full_width(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    async with dashboard(tmp_path, size=size) as (app, pilot):
        assert footer_keys(app)[0] == "tab Panels"  # the footer says how, first
        seen = []
        for _ in range(5):
            await pilot.press("tab")
            await settle(app, pilot)
            panel = app.screen.focused
            assert panel is not None
            seen.append(panel.id)
            region = panel.region
            assert region.width >= size[0] - 4 and region.height >= 1, (panel.id, region)
            assert app.screen.region.contains_region(region)
        assert seen == ["suggestions", "detail-box", "events", "agents", "queue"]


async def test_wide_terminal_shows_every_panel_at_once(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        for panel in ("agents", "queue", "suggestions", "detail-box", "events"):
            assert app.screen.query_one(f"#{panel}").region.width > 0, panel
        assert "tab Panels" not in footer_keys(app)
        assert not app.screen.query_one(PromptBar).display  # the detail panel shows the prompt


@pytest.mark.parametrize("size", [(80, 24), (100, 30)])
async def test_the_prompt_of_the_selected_tasks_agent_is_shown_in_full(
    tmp_path: Path, size: tuple[int, int]
) -> None:
    async with dashboard(tmp_path, "waiting", size=size) as (app, pilot):
        bar = app.screen.query_one(PromptBar)
        assert not bar.display  # fetch is selected: nobody runs it
        queue = app.screen.query_one(QueueTable)
        assert queue.has_focus
        await pilot.press("down")  # build, which worker-2 runs and waits in
        await settle(app, pilot)
        assert bar.display and bar.region.height >= 1
        text = " ".join(plain(bar).split())
        assert f"worker-2 waits at: {PROMPT}" in text and "y yes · n no" in text
        await pilot.press("y")  # what it says is what y answers
        await settle(app, pilot)
    cmds = written(tmp_path)
    assert cmds == [("answer", "worker-2", {"answer": "y"})]


async def test_help_at_80x24_keeps_each_action_on_a_line(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app, pilot)
        await pilot.press("question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = app.screen.query_one("#help-keys", Static)
        table = keys.content
        rows = table.row_count  # type: ignore[union-attr]
        # What the key does (a line, two for the longest) and its id and command line below:
        # never a word per line.
        assert keys.size.height <= 3 * rows + 1, (keys.size.height, rows)
        assert "Make the task ready again now (marked rows: all)" in plain(keys)
