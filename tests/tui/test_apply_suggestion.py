"""The dashboard applies an answer suggestion only to an agent still waiting at that prompt."""

from __future__ import annotations

from pathlib import Path

from overseer.agents.insights import Insights
from overseer.state.models import AgentState
from overseer.tui.screens.dialogs import Confirm
from overseer.tui.widgets.panels import SuggestionTable
from tests.tui.fixtures import NOW, make_app
from tests.tui.test_keys import settle, store_of


def answer_suggestion(tmp_path: Path) -> None:
    """Store the suggestions for the fixture where worker-2 waits at a [y/N] prompt."""
    store = store_of(tmp_path)
    Insights(store, tmp_path / ".overseer", stall_timeout=60).refresh(
        NOW, supervisor_alive=True, events=False
    )
    items = [s for s in store.suggestions() if s["action"] == "answer"]
    assert items and items[0]["apply"]["target"] == "worker-2", store.suggestions()
    store.set_suggestions(items)
    store.close()


async def apply_first(tmp_path: Path, state: AgentState, prompt: str | None) -> list[str]:
    """Change worker-2 as the suggestion is applied; return the commands written."""
    app = make_app(tmp_path, "waiting")
    answer_suggestion(tmp_path)
    notes: list[str] = []
    async with app.run_test(size=(160, 45)) as pilot:
        await settle(app, pilot)
        store = store_of(tmp_path)
        store.update_agent("worker-2", state=state, prompt=prompt)  # meanwhile
        store.close()
        app.screen.query_one(SuggestionTable).focus()
        await pilot.press("enter")
        await settle(app, pilot)
        if isinstance(app.screen, Confirm):  # asked before it was checked: say yes
            await pilot.press("y")
            await settle(app, pilot)
        notes = [str(n.message) for n in app._notifications]
    store = store_of(tmp_path)
    rows = store.conn.execute("SELECT verb, target FROM commands").fetchall()
    store.close()
    assert any("nothing typed" in n or "secret" in n for n in notes), notes
    return [f"{verb} {target}" for verb, target in rows]


async def test_an_answer_to_a_prompt_become_a_password_prompt_is_refused(tmp_path: Path) -> None:
    assert await apply_first(tmp_path, AgentState.WAITING, "Password for deploy@staging:") == []


async def test_an_answer_to_an_agent_no_longer_waiting_is_refused(tmp_path: Path) -> None:
    assert await apply_first(tmp_path, AgentState.BUSY, None) == []
