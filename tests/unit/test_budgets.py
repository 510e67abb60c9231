"""Budgets and the circuit breaker: their config (every bad value a one-line message with
file:line:column), and what the store keeps of them and reads for them (both backends)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from overseer.state import budgets, queue
from overseer.state.budgets import PROJECT, group_scope, task_scope
from overseer.state.config import (
    BreakerConfig,
    BudgetSpec,
    ConfigError,
    load_config_text,
    load_tasks_text,
    task_row,
    task_spec_from_mapping,
)
from overseer.state.drift import task_specs
from overseer.state.models import AttemptOutcome, Usage
from overseer.state.store import Store
from tests.backends import Backend
from tests.backends import backend as backend  # noqa: F401 (the fixture)

AGENTS = "agents: [{name: w}]\n"


def load(top: str, agents: str = AGENTS, tasks: str = "tasks: [{id: a, run: x}]\n") -> object:
    return load_config_text(top + agents + tasks, "overseer.yaml")


def test_budgets_and_the_breaker_are_read_where_they_may_be_written() -> None:
    config = load_config_text(
        "budget: {wall: 3600, cost_usd: 2.5}\n"
        "breaker: {failures: 4, window: 6}\n"
        "agents: [{name: w, budget: {tokens: 1e6, on_exceed: stop}}]\n"
        "tasks: [{id: a, run: x, budget: {wall: 60, on_exceed: warn}}, {id: b, run: y}]\n",
        "overseer.yaml",
    )
    assert config.budget == BudgetSpec(wall=3600, cost_usd=2.5, on_exceed="pause")
    assert config.breaker == BreakerConfig(failures=4, window=6, agents=3)
    assert config.agents[0].budget == BudgetSpec(tokens=1_000_000, on_exceed="stop")
    assert config.tasks[0].budget == BudgetSpec(wall=60, on_exceed="warn")
    assert config.tasks[1].budget is None
    row = task_row(config.tasks[0], 3)
    assert BudgetSpec.from_json(row["budget"]) == config.tasks[0].budget
    default = load_config_text(AGENTS + "tasks: []\n")
    assert default.budget is None and default.breaker == BreakerConfig(8, 10, 3)
    for off in ("off", "false", "no"):
        assert load_config_text(f"breaker: {off}\n" + AGENTS).breaker is None


@pytest.mark.parametrize(
    ("top", "agents", "tasks", "message"),
    [
        ("budget: {}\n", AGENTS, "", "1:9: 'budget' needs at least one of wall, tokens, cost_usd"),
        ("budget: 5\n", AGENTS, "", "1:9: 'budget' must be a mapping, got 5"),
        ("budget: {wal: 3}\n", AGENTS, "", "1:10: unknown key 'wal' in 'budget'"),
        ("budget: {wall: 0}\n", AGENTS, "", "'budget.wall' (seconds) must be a number > 0, got 0"),
        ("budget: {cost_usd: free}\n", AGENTS, "", "'budget.cost_usd' must be a number > 0"),
        (
            "budget: {wall: 9, on_exceed: kill}\n",
            AGENTS,
            "",
            "'budget.on_exceed' must be one of warn, pause, stop; got 'kill'",
        ),
        (
            "",
            "agents: [{name: w, budget: {tokens: 2.5}}]\n",
            "",
            "1:37: 'budget.tokens' of agent 'w' must be a whole number ≥ 1, got 2.5",
        ),
        (
            "",
            AGENTS,
            "tasks: [{id: a, run: x, budget: {wall: -1}}]\n",
            "2:40: 'budget.wall' of task 'a' (seconds) must be a number > 0, got -1",
        ),
        (
            "breaker: {failures: 12}\n",
            AGENTS,
            "",
            "'breaker.failures' must be a whole number from 1 to 10",
        ),
        (
            "breaker: {window: 4, failures: 5}\n",
            AGENTS,
            "",
            "(at most 'breaker.window'), got 5",
        ),
        ("breaker: {agents: 0}\n", AGENTS, "", "'breaker.agents' must be a whole number from 1"),
        ("breaker: {failure: 3}\n", AGENTS, "", "unknown key 'failure' in 'breaker'"),
        ("breaker: sometimes\n", AGENTS, "", "1:10: 'breaker' must be off or a mapping"),
    ],
)
def test_bad_budgets_and_breakers_are_one_clear_message(
    top: str, agents: str, tasks: str, message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        load_config_text(top + agents + tasks, "overseer.yaml")
    first = str(info.value).splitlines()[0]
    assert first.startswith("overseer.yaml:") and message in first, first
    assert info.value.status == 2


def test_added_tasks_take_a_budget_checked_as_the_config_is() -> None:
    (spec,) = load_tasks_text("- {id: a, run: x, budget: {cost_usd: 1, on_exceed: stop}}\n")
    assert spec.budget == BudgetSpec(cost_usd=1, on_exceed="stop")
    with pytest.raises(ConfigError, match="'budget.on_exceed' of task 'a' must be one of"):
        load_tasks_text("- {id: a, run: x, budget: {wall: 1, on_exceed: later}}\n", "t.yaml")
    spec = task_spec_from_mapping({"id": "b", "run": "y", "budget": {"tokens": 500}})
    assert spec.budget == BudgetSpec(tokens=500)
    with pytest.raises(ConfigError, match="needs at least one of wall, tokens, cost_usd"):
        task_spec_from_mapping({"id": "b", "run": "y", "budget": {"on_exceed": "stop"}})


# -- the store ---------------------------------------------------------------------------------


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend()


def test_a_changed_budget_starts_afresh_and_an_unchanged_one_keeps_its_marks(store: Store) -> None:
    spec = BudgetSpec(wall=10, on_exceed="pause")
    assert budgets.set_budgets(store, {PROJECT: spec, task_scope("a"): None}) == []
    budgets.mark(store, PROJECT, warned_at=1.0, acted_at=2.0, reason="wall 11s of 10s")
    (held,) = budgets.budgets(store)
    assert held.holding and held.reason == "wall 11s of 10s"
    assert budgets.set_budgets(store, {PROJECT: spec}) == []  # the same: kept as it was
    assert budgets.budgets(store) == [held]
    freed = budgets.set_budgets(store, {PROJECT: BudgetSpec(wall=20, on_exceed="pause")})
    assert [b.scope for b in freed] == [PROJECT]
    (fresh,) = budgets.budgets(store)
    assert fresh.acted_at is None and not fresh.holding and fresh.spec.wall == 20
    budgets.mark(store, PROJECT, acted_at=3.0)
    budgets.mark(store, PROJECT, lifted_at=4.0)
    assert not budgets.budgets(store)[0].holding  # lifted
    budgets.set_budgets(store, {PROJECT: None})
    assert budgets.budgets(store) == []


def test_the_aggregates_budgets_and_the_breaker_read(store: Store) -> None:
    store.upsert_tasks([{"id": t, "command": "x"} for t in ("a", "b", "c", "d")])
    ends = [("a", "w-1", 0, 10.0), ("b", "w-2", 3, 20.0), ("c", "w-1", 2, 30.0)]
    for task_id, agent, code, start in ends:
        claim = queue.claim(store, agent, 60, task_id=task_id, now=start)
        assert claim is not None
        outcome = AttemptOutcome.OK if code == 0 else AttemptOutcome.FAILED
        queue.finish(store, task_id, 1, outcome, exit_code=code, now=start + 5)
    store.upsert_agent("w-1", "shell")
    usage = Usage(input_tokens=100, output_tokens=20, cost_usd=0.5)
    claim = queue.claim(store, "w-3", 60, task_id="d", now=100.0)
    assert claim is not None
    store.upsert_agent("w-3", "codex")
    store.record_usage("w-3", usage, claim.attempt, usage)
    meter = budgets.WallMeter()
    walls = meter.read(store, now=104.0)
    assert walls == {"w-1": 10.0, "w-2": 5.0, "w-3": 4.0}  # the running one counts to now
    assert meter.upto == 3  # the ended attempts before the running one are summed once
    queue.finish(store, "d", 1, AttemptOutcome.OK, exit_code=0, now=106.0)
    assert meter.read(store, now=200.0) == {"w-1": 10.0, "w-2": 5.0, "w-3": 6.0}
    assert meter.upto == 4 and meter.read(store, now=300.0)["w-3"] == 6.0
    spent = budgets.task_spending(store, ["a", "d", "none"], now=104.0)
    assert spent == {"a": (5.0, []), "d": (6.0, [usage])}  # d ended at 106
    recent = budgets.recent_finished(store, 2, after_id=0)
    assert [(r[1], r[2], r[3]) for r in recent] == [("w-3", "ok", 0), ("w-1", "failed", 2)]
    assert budgets.recent_finished(store, 10, after_id=budgets.last_attempt_id(store)) == []
    assert budgets.breaker_state(store) == {"open": False, "after": 0}
    budgets.set_breaker(store, {"open": True, "after": 2, "exit_codes": ["2", "3"]})
    assert budgets.breaker_state(store)["exit_codes"] == ["2", "3"]
    assert group_scope("w") == "group:w"


def test_suggestions_for_the_breaker_and_spent_budgets_name_their_fix() -> None:
    from overseer.agents.insights import Snapshot, suggest, to_dicts
    from overseer.state.budgets import Budget
    from overseer.tui.cli_insights import command_line, target_text

    snap = Snapshot(
        now=100.0,
        breaker={"open": True, "at": 90.0, "failures": 8, "window": 10, "exit_codes": ["3"]},
        budgets=(
            Budget("group:a", BudgetSpec(wall=10), acted_at=95.0, reason="wall 11s of 10s"),
            Budget("task:t", BudgetSpec(wall=1, on_exceed="stop"), acted_at=95.0, reason="x"),
            Budget("task:u", BudgetSpec(wall=1, on_exceed="warn"), acted_at=95.0),  # holds nothing
            Budget("project", BudgetSpec(wall=1), acted_at=95.0, lifted_at=96.0),  # lifted
        ),
    )
    items = {i["key"]: i for i in to_dicts(suggest(snap))}
    assert set(items) == {
        "fleet:breaker:resume",
        "fleet:group:a:raise-budget",
        "task:t:raise-budget",
    }
    breaker = items["fleet:breaker:resume"]
    assert command_line(breaker) == "overseer resume" and target_text(breaker) == "fleet breaker"
    assert "exit codes: 3" in breaker["evidence"]
    group = items["fleet:group:a:raise-budget"]
    assert command_line(group) == "overseer resume --budget group:a"
    assert "Raise the budget in overseer.yaml" in group["howto"]
    assert "its work is paused" in group["reason"]
    assert command_line(items["task:t:raise-budget"]) == "overseer resume --budget task:t"
    assert "its work is stopped" in items["task:t:raise-budget"]["reason"]


def test_tokens_and_cost_warn_at_80_percent_and_act_at_100(tmp_path: Path) -> None:
    from overseer.agents.budget import Budgets

    config = load_config_text(
        "budget: {cost_usd: 1, on_exceed: warn}\n"
        "agents: [{name: a, kind: codex, count: 2, budget: {tokens: 1000}}, {name: b}]\n"
        "tasks: [{id: t, prompt: p, budget: {tokens: 500}, max_attempts: 3}, {id: s, run: x}]\n"
    )
    store = Store(tmp_path / "state.db")
    store.upsert_tasks(task_specs(config))
    for name, spec in config.agent_instances():
        store.upsert_agent(name, spec.kind)
    fleet: Any = SimpleNamespace(store=store, agents={}, budgets=None)
    held = Budgets(config, store)
    held.start(fleet)

    def agent(name: str) -> Any:
        return SimpleNamespace(name=name, spec=SimpleNamespace(name=name.rsplit("-", 1)[0]))

    def kinds() -> list[tuple[str, str]]:
        return [(e.kind, e.data.get("scope", "")) for e in store.events() if "budget" in e.kind]

    store.record_usage("a-1", Usage(input_tokens=800, output_tokens=50, cost_usd=0.85))
    held.check(fleet, 10.0)
    assert kinds() == [("budget.warn", "group:a"), ("budget.warn", "project")]
    assert not held.holds(agent("a-1"))
    claim = queue.claim(store, "a-2", 60, task_id="t", now=11.0)
    assert claim is not None
    told = Usage(input_tokens=550, output_tokens=50, cost_usd=0.3)
    store.record_usage("a-2", told, claim.attempt, told)
    queue.finish(store, "t", 1, AttemptOutcome.FAILED, exit_code=1, now=12.0)  # tries left
    held.check(fleet, 13.0)
    assert sorted(kinds()[2:]) == [
        ("budget.exceeded", "group:a"),
        ("budget.exceeded", "project"),
        ("budget.exceeded", "task:t"),
    ]
    assert held.holds(agent("a-1")) and held.holds(agent("a-2"))  # group a: paused
    assert not held.holds(agent("b"))  # the project's budget only warns
    task = store.task("t")
    assert task is not None and task.state.value == "blocked"
    assert task.blocked_reason == (
        "budget exceeded (tokens 600 of 500); raise it in the config or "
        "`overseer resume --budget task:t`"
    )
    held.check(fleet, 14.0)
    assert len(kinds()) == 5  # each warned and acted once
    held.start(fleet)  # a restarted supervisor: the same budgets keep what they did
    assert held.holds(agent("a-1"))
    budgets.set_breaker(store, {"open": True, "after": 0})
    held.start(fleet)
    assert held.holds(agent("b"))  # the breaker holds every agent
    off = Budgets(dataclasses.replace(config, breaker=None), store)
    off.start(fleet)  # `breaker: off` in the config closes a breaker left open
    assert not off.holds(agent("b")) and not budgets.breaker_state(store)["open"]
