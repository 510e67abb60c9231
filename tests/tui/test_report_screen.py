"""o on the dashboard: the current run's report over it, closed by Esc; none recorded: a
warning, and the dashboard stays."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import Static

from overseer.state.store import Store
from overseer.tui.screens.main import MainScreen
from overseer.tui.screens.report import ReportScreen
from tests.tui.pilot import dashboard, settle


async def test_o_opens_the_current_runs_report_and_esc_closes_it(tmp_path: Path) -> None:
    async with dashboard(tmp_path, "tokens") as (app, pilot):
        await pilot.press("o")
        await settle(app, pilot)
        screen = app.screen
        assert isinstance(screen, ReportScreen)
        assert screen.title_text.startswith("run 1 ")
        text = "\n".join(screen.lines)
        assert "running" in text and "done 1  failed 1  blocked 1" in text
        assert "in 25,763  out 438" in text  # the attempts' tokens, as `overseer report`
        assert screen.query(Static)
        await pilot.press("escape")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)


async def test_o_without_a_run_warns_and_stays(tmp_path: Path) -> None:
    async with dashboard(tmp_path, "busy") as (app, pilot):
        store = Store(tmp_path / ".overseer" / "state.db")
        with store.tx() as c:
            c.execute("DELETE FROM runs")
        store.close()
        await pilot.press("o")
        await settle(app, pilot)
        assert isinstance(app.screen, MainScreen)
        assert any("no runs recorded yet" in str(n.message) for n in app._notifications)
