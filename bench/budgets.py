"""Issue 15: what the supervisor's budget and breaker check costs on its sweep (agents/budget.py
`Budgets.check`): a project budget, two group budgets and 50 task budgets, all far from their
limits, over stores of 1,000 and 100,000 attempts (8 agents, a few attempts running).

No tmux: the check reads only the store. The project's and groups' wall is one grouped read
of the attempts table (it grows with the table); the tasks' is read through the task index.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from bench.common import Goal, Result, Row, Scale, summary
from overseer.agents.budget import Budgets
from overseer.state.config import load_config_text
from overseer.state.store import Store

CONFIG = """
name: bench-budgets
budget: {wall: 1e12, tokens: 1e9, on_exceed: stop}
agents:
  - {name: a, count: 4, budget: {wall: 1e12, on_exceed: pause}}
  - {name: b, count: 4, budget: {cost_usd: 1e9}}
tasks:
"""


def fill(state_dir: Path, attempts: int) -> None:
    """A store with `attempts` tasks of one attempt each over 8 agents, the last 8 running."""
    store = Store(state_dir / "state.db")
    store.upsert_tasks([{"id": f"t{i:06d}", "command": "true"} for i in range(attempts)])
    now = time.time()
    agents = [f"{g}-{n}" for g in "ab" for n in range(1, 5)]
    with store.tx() as c:
        c.executemany(
            "INSERT INTO attempts(task_id, number, agent, started_at, finished_at, outcome, "
            "exit_code) VALUES (?, 1, ?, ?, ?, ?, ?)",
            [
                (
                    f"t{i:06d}",
                    agents[i % 8],
                    now - 10,
                    None if i >= attempts - 8 else now - 5,
                    "running" if i >= attempts - 8 else "ok",
                    None if i >= attempts - 8 else 0,
                )
                for i in range(attempts)
            ],
        )
    for name in agents:
        store.upsert_agent(name, "shell")
    store.close()


def measure(state_dir: Path, attempts: int, checks: int) -> list[float]:
    """The check's time (ms), `checks` times."""
    tasks = "".join(
        f"  - {{id: t{i:06d}, run: 'true', budget: {{wall: 1e9}}}}\n"
        for i in range(attempts - 50, attempts)
    )
    config = load_config_text(CONFIG + tasks)
    store = Store(state_dir / "state.db")
    fleet: Any = SimpleNamespace(store=store, agents={}, budgets=None)
    budgets = Budgets(config, store)
    budgets.start(fleet)
    took: list[float] = []
    try:
        for _ in range(checks):
            t0 = time.perf_counter()
            budgets.check(fleet, time.time())
            took.append((time.perf_counter() - t0) * 1000)
    finally:
        store.close()
    return took


def run(scale: Scale, tmp: Path) -> Result:
    """Issue 15: the budget and breaker check of one sweep."""
    checks = 10 if scale.name == "smoke" else 50
    res = Result()
    for attempts in (1000, 100_000):
        state_dir = tmp / f"budgets-{attempts}"
        fill(state_dir, attempts)
        res.details[f"check_ms_{attempts}_attempts"] = summary(
            measure(state_dir, attempts, checks), 2
        )
    small, big = res.details["check_ms_1000_attempts"], res.details["check_ms_100000_attempts"]
    res.rows.append(
        Row(
            "15",
            "budget + breaker check per sweep at 100,000 attempts, median",
            big["median"],
            "ms",
            Goal("<=", 50.0),
            f"p95 {big['p95']} ms; at 1,000 attempts: median {small['median']} ms "
            "(project + 2 groups + 50 tasks; the grouped read of the attempts grows with them)",
        )
    )
    return res
