"""A changed cell re-renders that cell only; a column that widens redraws every cell; a fresh
heartbeat changes no cell."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult

from overseer.tui.screens.main import MainScreen
from overseer.tui.snapshot import Snapshot
from overseer.tui.widgets.format import age_label
from overseer.tui.widgets.tables import AgentTable, KeyedTable, QueueTable
from tests.tui.pilot import dashboard


class Plain(KeyedTable[Any]):
    COLUMNS: ClassVar[list[tuple[str, str, int | None]]] = [
        ("id", "id", 4),
        ("a", "a", 6),
        ("b", "b", None),  # auto width: widens to its widest cell
    ]


class Host(App[None]):
    # A fixed size, as on the dashboard: a table that grew would be resized, and a resize
    # invalidates every cached render anyway.
    CSS = "Plain { height: 10; }"

    def compose(self) -> ComposeResult:
        yield Plain(id="t")


def on_screen(table: Plain) -> list[str]:
    """The table's lines as a frame draws them (render_lines, the compositor's way in)."""
    return [strip.text for strip in table.render_lines(table.size.region)]


async def test_one_changed_cell_renders_only_that_cell() -> None:
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(Plain)
        for i in range(6):
            table.add_row(f"r{i}", f"a{i}", f"b{i}", key=f"r{i}")
        await pilot.pause()
        table.refresh()  # every line drawn from the cache as it is now
        before = on_screen(table)
        cache = table._cell_render_cache
        cached = {k: cache.get(k) for k in cache.keys()}  # noqa: SIM118 (no __iter__)
        table.update_cell("r3", "b", "B3")
        await pilot.pause()
        after = on_screen(table)
        row3 = 3 + table.header_height
        assert "B3" in after[row3] and "b3" not in after[row3]
        assert after[:row3] == before[:row3] and after[row3 + 1 :] == before[row3 + 1 :]
        # DataTable's own update_cell renders every visible cell again (18, and the header).
        rendered = {
            (k[0].value, k[1].value)
            for k in cache.keys()  # noqa: SIM118
            if k[0].value is not None and cached.get(k) is not cache.get(k)
        }
        assert rendered == {("r3", "b")}, rendered


async def test_a_cell_drawn_before_its_column_widened_is_drawn_again_in_full() -> None:
    app = Host()
    async with app.run_test(size=(60, 12)) as pilot:
        table = app.query_one(Plain)
        table.add_row("r0", "a0", "short", key="r0")
        await pilot.pause()
        # A frame drawn between a new row and the idle pass that measures it caches the
        # new row's cells at the old width of the auto-width column.
        table.add_row("r1", "a1", "a much longer line", key="r1")
        table.refresh()
        assert not any("a much longer line" in line for line in on_screen(table))
        await pilot.pause()  # idle: DataTable widens the column, invalidating nothing
        table.update_cell("r0", "a", "A0")  # one cell changes, the rest come from the cache
        await pilot.pause()
        lines = on_screen(table)
        assert any("a much longer line" in line for line in lines), lines
        assert any("A0" in line and "short" in line for line in lines), lines


def test_a_heartbeat_reads_fresh_until_it_is_late() -> None:
    assert [age_label(a, 30, 90) for a in (0.0, 1.4, 5.2, 9.9)] == ["<10s"] * 4
    assert [age_label(a, 30, 90) for a in (10.0, 29.0, 31.0, 95.0)] == [
        "10s",
        "29s",
        "31s !",
        "1m !!",
    ]
    assert [age_label(a, 3, 9) for a in (2.9, 3.0, None)] == ["<3s", "3s !", "-"]


async def test_heartbeats_written_each_second_change_no_cell(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        screen, table = app.screen, app.screen.query_one(AgentTable)
        assert isinstance(screen, MainScreen) and screen.snap is not None
        snap = screen.snap

        def beats(age: float) -> Snapshot:
            agents = [
                replace(a, heartbeat_age=age) if a.state == "busy" else a for a in snap.agents
            ]
            return replace(snap, agents=agents)

        table.show(beats(0.3).agents, beats(0.3), table.pal)
        await pilot.pause()
        shown = dict(table.cells)
        for age in (1.1, 2.0, 4.2, 6.3):  # what a live agent's heartbeat does between reads
            table.show(beats(age).agents, beats(age), table.pal)
            assert not table.changed_cells and table.cells == shown
        table.show(beats(12.0).agents, beats(12.0), table.pal)  # late: its age counts
        busy = {a.name for a in snap.agents if a.state == "busy"}
        assert {(r.value, c.value) for r, c in table.changed_cells} == {(n, "beat") for n in busy}


async def test_running_clocks_within_the_second_render_no_task_row(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Issue 14: hundreds of running rows re-rendered at every commit took the loop's time;
    a row whose shown text is the same (its clocks within the second) is not rendered."""
    async with dashboard(tmp_path) as (app, pilot):
        screen, table = app.screen, app.screen.query_one(QueueTable)
        assert isinstance(screen, MainScreen) and screen.snap is not None
        snap = screen.snap
        running = {r.id for r in snap.tasks if r.state == "running"}
        assert running

        def later(dt: float) -> Snapshot:
            tasks = [
                replace(r, duration=(r.duration or 0) + dt, lease_left=(r.lease_left or 0) - dt)
                if r.id in running
                else r
                for r in snap.tasks
            ]
            return replace(snap, tasks=tasks)

        table.show(later(0.1).tasks, later(0.1), table.pal)
        await pilot.pause()
        rendered: list[str] = []
        render = QueueTable.render_row
        monkeypatch.setattr(
            QueueTable,
            "render_row",
            lambda self, row, s: (rendered.append(row.id), render(self, row, s))[1],
        )
        shown = dict(table.cells)
        table.show(later(0.2).tasks, later(0.2), table.pal)
        assert rendered == [] and table.cells == shown
        table.show(later(1.3).tasks, later(1.3), table.pal)  # a second on: the clocks move
        assert set(rendered) == running and table.cells != shown
