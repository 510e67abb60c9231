"""Suggestions are recomputed at most once a sweep, and a slow refresh spaces out the next
ones (ten times its own duration), so they never take more than a tenth of the loop."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import overseer.agents.supervisor as supervisor_module
from overseer.agents.supervisor import Supervisor
from overseer.state.config import demo_config
from tests.helpers import wait_until


class Clock:
    """A monotonic clock the fake refresh advances, as a slow refresh would."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_a_slow_refresh_spaces_out_the_next_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = Supervisor(demo_config(), tmp_path / ".overseer")
    clock = Clock()
    calls: list[float] = []

    def slow_refresh(now: float, **_: Any) -> list[dict[str, Any]]:
        calls.append(now)
        clock.t += 0.5  # each refresh takes half a second
        return []

    monkeypatch.setattr(supervisor_module.time, "monotonic", clock)
    monkeypatch.setattr(sup.suggester.insights, "refresh", slow_refresh)
    start = 5000.0
    for second in range(20):  # one sweep a second for 20 s
        sup.refresh_insights(start + second)
        wait_until(sup.suggester.idle, message="the refresh did not run")
    # 0.5 s each, then 5 s apart: 4 refreshes in 20 s, not 20.
    assert calls == [start, start + 5, start + 10, start + 15]
    sup.store.close()


def test_a_fast_refresh_runs_at_most_once_a_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sup = Supervisor(demo_config(), tmp_path / ".overseer")
    calls: list[float] = []
    monkeypatch.setattr(sup.suggester.insights, "refresh", lambda now, **_: calls.append(now) or [])
    for tenth in range(30):  # the loop wakes every 0.1 s for 3 s
        sup.refresh_insights(100.0 + tenth / 10)
        wait_until(sup.suggester.idle, message="the refresh did not run")
    assert len(calls) == 3
    sup.store.close()


def test_rules_run_again_at_once_on_a_change_and_rarely_while_only_the_clock_moves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import overseer.agents.insights as insights_module
    from overseer.agents.insights import QUIET_EVAL, Insights
    from overseer.state import queue
    from overseer.state.models import AttemptOutcome
    from overseer.state.store import Store

    store = Store(tmp_path / "state.db")
    store.upsert_tasks(
        [{"id": "root", "command": "false", "max_attempts": 1}]
        + [{"id": f"p{i}", "command": "true", "depends_on": ["root"]} for i in range(200)]
    )
    claim = queue.claim(store, "w", 30, task_id="root")
    assert claim is not None
    queue.finish(store, "root", 1, AttemptOutcome.FAILED, exit_code=1, delay=lambda n: 0.0)
    real = insights_module.suggest
    runs: list[float] = []

    def counting(snap: Any) -> Any:
        runs.append(snap.now)
        return real(snap)

    monkeypatch.setattr(insights_module, "suggest", counting)
    ins = Insights(store, tmp_path)
    first = ins.refresh(1000.0)
    for second in range(1, 12):  # a quiet queue, refreshed every second
        assert ins.refresh(1000.0 + second) == first
    assert runs == [1000.0, 1000.0 + QUIET_EVAL, 1000.0 + 2 * QUIET_EVAL]
    queue.retry(store, "root")  # a change: the rules run at the next refresh
    ins.refresh(1012.0)
    assert runs[-1] == 1012.0
    store.close()


def test_a_refresh_in_progress_does_not_hold_up_the_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3
    import threading

    sup = Supervisor(demo_config(), tmp_path / ".overseer")
    release = threading.Event()
    ran_on: list[str] = []

    def blocked_refresh(now: float, **_: Any) -> list[dict[str, Any]]:
        ran_on.append(threading.current_thread().name)
        release.wait(30)
        return []

    monkeypatch.setattr(sup.suggester.insights, "refresh", blocked_refresh)
    sup.refresh_insights(100.0)  # returns although the refresh cannot finish yet
    wait_until(lambda: ran_on, message="the refresh did not start")
    assert ran_on == ["suggester"] and not sup.suggester.idle()
    sup.refresh_insights(101.5)  # asked again meanwhile: it waits its turn, no second thread
    release.set()
    wait_until(sup.suggester.idle, message="the refresh did not end")
    assert ran_on == ["suggester", "suggester"]

    def failing_refresh(now: float, **_: Any) -> list[dict[str, Any]]:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(sup.suggester.insights, "refresh", failing_refresh)
    sup.refresh_insights(200.0)
    wait_until(sup.suggester.idle, message="the refresh did not end")
    # The store's failure on the worker's thread stops the loop at its next sweep.
    with pytest.raises(sqlite3.OperationalError):
        sup.refresh_insights(201.0)
    sup.suggester.close()
    sup.store.close()
