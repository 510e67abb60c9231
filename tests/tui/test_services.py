"""The main screen runs on what it is handed: any Textual app hosting it with its Services gets
the whole dashboard (the screen never reaches for OverseerApp); a theme change restyles it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import App
from textual.screen import Screen

import overseer.tui
from overseer.state.models import TaskState
from overseer.tui.commands import Outcome, send
from overseer.tui.screens.dialogs import HelpScreen
from overseer.tui.screens.main import MainScreen
from overseer.tui.services import Services
from overseer.tui.snapshot import SnapshotReader
from overseer.tui.widgets.format import palette
from overseer.tui.widgets.tables import AgentTable, QueueTable
from tests.tui.fixtures import NOW, SCREEN, build, config
from tests.tui.pilot import dashboard, pick, settle, store_of


class Host(App[None]):
    """A plain Textual app: all it gives the screen is the Services it was built with."""

    CSS_PATH = str(Path(overseer.tui.__file__).parent / "styles" / "app.tcss")

    def __init__(self, services: Services) -> None:
        super().__init__()
        self.services = services

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(self.services)


class FixtureServices:
    """The fixture store's services: real reads and operator commands, recorded hand-offs."""

    def __init__(self, root: Path, calls: list[str]) -> None:
        self.state_dir = build(root, "waiting")
        self.config = config(root)
        self.keymap = {"retry": "R"}
        self.live = False
        self.calls = calls

    def make_reader(self) -> SnapshotReader:
        return SnapshotReader(
            self.state_dir / "state.db",
            project="fleet",
            clock=lambda: NOW,
            usage=lambda pid: (None, None),
            supervisor_alive=lambda: True,
        )

    def send_command(self, verb: str, target: str, args: dict[str, Any]) -> Outcome:
        self.calls.append(f"send {verb} {target}")
        return send(self.state_dir, self.config, verb, target, args, wait=10.0)

    def dismiss(self, key: str, evidence_hash: str) -> None:
        self.calls.append(f"dismiss {key}")

    def stop_supervisor(self) -> None:
        self.calls.append("stop")

    def screen_of(self, agent: str, pane_id: str | None) -> str | None:
        return SCREEN if pane_id else None

    def attach(self, agent: str) -> None:
        self.calls.append(f"attach {agent}")

    def cycle_theme(self) -> str:
        self.calls.append("theme")
        return "light"

    def shown(self) -> None:
        self.calls.append("shown")


async def test_any_app_can_host_the_main_screen_with_its_services(tmp_path: Path) -> None:
    calls: list[str] = []
    app = Host(FixtureServices(tmp_path, calls))
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        assert calls == ["shown"]
        queue = app.screen.query_one(QueueTable)
        assert "db-migrate" in queue.rows_by_key
        queue.focus()
        queue.select_key("db-migrate")
        await pilot.press("r")
        await settle(app, pilot)
        pick(app, AgentTable, "worker-2")
        await pilot.press("enter", "t", "question_mark")
        await settle(app, pilot)
        assert isinstance(app.screen, HelpScreen)
        assert app.screen.keys["retry"] == "R"  # the keys as the services' keymap has them
        await pilot.press("escape", "Q", "y")  # quit and stop the supervisor
        await settle(app, pilot)
    assert calls[1:] == ["send retry db-migrate", "attach worker-2", "theme", "stop"]
    assert store_of(tmp_path).task("db-migrate").state == TaskState.READY  # type: ignore[union-attr]


async def test_a_theme_changed_by_any_means_restyles_the_rows(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        queue = app.screen.query_one(QueueTable)
        assert queue.pal == palette(app.current_theme)
        app.theme = "light"  # as Textual's own theme picker in the palette sets it
        await settle(app, pilot)
        assert app.current_theme.name == "light"
        assert queue.pal == palette(app.current_theme)
