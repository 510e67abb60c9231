"""A changed cell re-renders that cell only; the table shows the new value at once."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App, ComposeResult

from overseer.tui.widgets.tables import KeyedTable


class Plain(KeyedTable[Any]):
    COLUMNS: ClassVar[list[tuple[str, str, int | None]]] = [
        ("id", "id", 4),
        ("a", "a", 6),
        ("b", "b", 6),
    ]


class Host(App[None]):
    def compose(self) -> ComposeResult:
        yield Plain(id="t")


def line_text(table: Plain, row: int) -> str:
    return table.render_line(row + table.header_height).text


async def test_one_changed_cell_renders_only_that_cell() -> None:
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(Plain)
        for i in range(6):
            table.add_row(f"r{i}", f"a{i}", f"b{i}", key=f"r{i}")
        await pilot.pause()
        before = [line_text(table, i) for i in range(6)]
        cache = table._cell_render_cache
        cached = {k: cache.get(k) for k in cache.keys()}  # noqa: SIM118 (no __iter__)
        table.update_cell("r3", "b", "NEW")
        await pilot.pause()
        after = [line_text(table, i) for i in range(6)]
        assert "NEW" in after[3] and "b3" not in after[3]
        assert after[:3] == before[:3] and after[4:] == before[4:]
        # DataTable's own update_cell renders every visible cell again (18, and the header).
        rendered = {
            (k[0].value, k[1].value)
            for k in cache.keys()  # noqa: SIM118
            if k[0].value is not None and cached.get(k) is not cache.get(k)
        }
        assert rendered == {("r3", "b")}, rendered
