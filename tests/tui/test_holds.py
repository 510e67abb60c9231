"""The dashboard shows what holds dispatch: the circuit breaker and a spent budget in the
header, and in the detail of an agent that takes no task because of them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from overseer.state import budgets
from overseer.state.config import BudgetSpec
from overseer.state.store import Store
from overseer.tui.app import OverseerApp
from tests.tui.fixtures import make_app
from tests.tui.test_snapshots import snap


def held_app(tmp_path: Path) -> OverseerApp:
    """The busy fleet with its breaker open and the worker group's budget spent."""
    app = make_app(tmp_path, "busy")
    store = Store(tmp_path / ".overseer" / "state.db")
    budgets.set_breaker(
        store,
        {"open": True, "at": 0.0, "after": 0, "exit_codes": ["3", "128"], "reason": "…"},
    )
    budgets.set_budgets(store, {"group:worker": BudgetSpec(tokens=1000, on_exceed="pause")})
    budgets.mark(store, "group:worker", acted_at=1.0, reason="tokens 1,204 of 1,000")
    store.close()
    return app


def test_breaker_and_budget_in_the_header_200x60(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, held_app(tmp_path), (200, 60))


def test_the_header_mark_at_80x24(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, held_app(tmp_path), (80, 24))


def test_a_held_agents_detail_140x40(snap_compare: Any, tmp_path: Path) -> None:
    # The agents panel, worker-2 selected: its detail says why it takes no task.
    snap(snap_compare, held_app(tmp_path), (140, 40), "tab", "tab", "tab", "tab", "down")
