"""The agents table grows a tokens/cost column when the first AI CLI tells its usage."""

from __future__ import annotations

from pathlib import Path

from overseer.state.models import Usage
from overseer.tui.widgets.tables import AgentTable
from tests.tui.pilot import dashboard, reload, store_of


async def test_usage_appears_in_the_agent_row_when_it_is_told(tmp_path: Path) -> None:
    async with dashboard(tmp_path) as (app, pilot):
        table = app.screen.query_one(AgentTable)
        assert "usage" not in [str(k.value) for k in table.columns]  # a fleet of shells
        store = store_of(tmp_path)
        store.update_agent("worker-2", usage=Usage(40_500, 45, 0, None, "mock-model"))
        store.update_agent("worker-1", usage=Usage(123_456, 7_890, 0, 0.42, "gpt-5"))
        store.close()
        await reload(app, pilot)
        keys = [str(k.value) for k in table.columns]
        assert keys.index("usage") == keys.index("line") - 1
        assert str(table.get_cell("worker-1", "usage")) == "123.5k/7.9k $0.42"
        assert str(table.get_cell("worker-2", "usage")) == "40.5k/45 unpriced"
        assert str(table.get_cell("worker-3", "usage")) == "-"
        assert str(table.get_cell("worker-2", "line")) == "compiling module 2/3"
        # The table still updates cell by cell afterwards.
        store = store_of(tmp_path)
        store.update_agent("worker-1", usage=Usage(200_000, 9_000, 0, 1.5, "gpt-5"))
        store.close()
        await reload(app, pilot)
        assert str(table.get_cell("worker-1", "usage")) == "200k/9k $1.50"
