"""Driving the dashboard with Pilot on a fixture store: start it, wait for it, pick rows, read
back the operator commands it wrote."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from textual.pilot import Pilot
from textual.widgets import DataTable

from overseer.state.models import Command
from overseer.state.store import Store
from overseer.tui.app import OverseerApp
from overseer.tui.screens.main import MainScreen
from tests.tui.fixtures import make_app

T = TypeVar("T", bound=DataTable[Any])
WIDE = (160, 45)


async def settle(app: Any, pilot: Pilot[Any], timeout: float = 20.0) -> None:
    """Wait (with a deadline) until no worker runs and every message is handled."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()
        busy = [w for w in app.workers if w.is_running and w.group != "store-live"]
        if not busy:
            await pilot.pause()
            if not [w for w in app.workers if w.is_running and w.group != "store-live"]:
                return
        assert time.monotonic() < deadline, f"workers still running: {busy}"
        await pilot.pause(0.02)


@asynccontextmanager
async def dashboard(
    root: Path, scenario: str = "busy", size: tuple[int, int] = WIDE, **kw: Any
) -> AsyncIterator[tuple[OverseerApp, Pilot[None]]]:
    """The dashboard on the fixture store of `scenario`, its first snapshot shown."""
    app = make_app(root, scenario, **kw)
    async with app.run_test(size=size) as pilot:
        await settle(app, pilot)
        yield app, pilot


def pick(app: Any, table: type[T], key: str) -> T:
    """Focus a table of the main screen and put its cursor on the row `key`."""
    widget = app.screen.query_one(table)
    widget.focus()
    widget.select_key(key)
    return widget  # type: ignore[no-any-return]


async def reload(app: Any, pilot: Pilot[Any]) -> None:
    screen = app.screen
    assert isinstance(screen, MainScreen)
    screen.watch_store()
    await settle(app, pilot)


def store_of(tmp_path: Path) -> Store:
    return Store(tmp_path / ".overseer" / "state.db")


def commands_in(store: Store) -> list[Command]:
    """Every operator command written to the store, oldest first."""
    rows = store.conn.execute("SELECT id FROM commands ORDER BY id").fetchall()
    return [c for r in rows if (c := store.command(r[0])) is not None]


def written(tmp_path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    """The operator commands the dashboard wrote: verb, target and arguments of each."""
    return [(c.verb, c.target, c.args) for c in commands_in(store_of(tmp_path))]
