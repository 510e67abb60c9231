"""Host.record_usage on a fake host with a real store: each reading counted once, into the agent's
total and the attempt it belongs to, priced when the CLI gave no cost, announced now and then."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from overseer.agents import usage as usage_
from overseer.agents.drivers.base import USAGE_EVENT_EVERY, USAGE_GRACE, AgentRuntime
from overseer.agents.runner import Dispatch
from overseer.state import queue
from overseer.state.models import AttemptOutcome, Usage
from tests.unit.test_drivers import FakeHost, agent
from tests.unit.test_usage import lines


@pytest.fixture(autouse=True)
def own_prices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped table plus a user file of the test's own (read afresh)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(usage_, "_table", None)
    return tmp_path / "config" / "overseer" / "prices.yaml"


def start(host: FakeHost, rt: AgentRuntime, task_id: str) -> Any:
    """Claim the prompt task `task_id` for the agent and put it in flight."""
    host.store.upsert_tasks([{"id": task_id, "command": "go", "kind": "prompt"}])
    got = queue.claim(host.store, "w", 30, kind="prompt")
    assert got is not None and got.task.id == task_id
    d = Dispatch.of(host.paths.run, task_id, got.attempt.number, got.attempt.nonce)
    rt.driver.begin(rt, got.task, got.attempt, d)
    return got


def end(host: FakeHost, rt: AgentRuntime) -> None:
    run = rt.running
    assert run is not None
    queue.finish(host.store, run.task.id, run.attempt.number, AttemptOutcome.OK, now=host.now)
    rt.running = None


def codex_readings(model: str) -> list[Usage]:
    got = [usage_.codex_token_count(r, model) for r in lines("codex-0.171.0/rollout.jsonl")]
    return [x for x in got if x is not None]


def usage_events(host: FakeHost) -> list[Any]:
    return [e for e in host.store.events() if e.kind == "agent.usage"]


def test_a_running_total_is_shared_between_the_attempts_it_grew_in(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "codex")
    first, second, third, again = codex_readings("gpt-5-codex")
    a = start(host, rt, "a")
    for reading in (first, second):
        host.record_usage(rt, reading)
        host.now += 1
    end(host, rt)
    host.now += USAGE_GRACE + 1
    b = start(host, rt, "b")
    host.record_usage(rt, third)
    host.record_usage(rt, again)  # the same total written again (an interrupted turn)
    one, two = host.store.attempt(a.attempt.id), host.store.attempt(b.attempt.id)
    assert one is not None and one.usage is not None
    assert (one.usage.input_tokens, one.usage.output_tokens) == (26885, 39)
    assert two is not None and two.usage is not None
    assert (two.usage.input_tokens, two.usage.output_tokens) == (40500 - 26885, 45 - 39)
    total = host.store.agent("w").usage  # type: ignore[union-attr]
    assert total is not None and (total.input_tokens, total.output_tokens) == (40500, 45)
    # Priced from the shipped table (gpt-5-codex: $1.25 in, $10 out per million).
    assert total.cost_usd == pytest.approx((40500 * 1.25 + 45 * 10) / 1e6)
    assert one.usage.cost_usd is not None and two.usage.cost_usd is not None
    assert one.usage.cost_usd + two.usage.cost_usd == pytest.approx(total.cost_usd)


def test_a_model_without_a_price_is_recorded_unpriced(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "codex")
    start(host, rt, "a")
    host.record_usage(rt, codex_readings("mock-model")[0])
    total = host.store.agent("w").usage  # type: ignore[union-attr]
    assert total is not None and total.input_tokens == 13402 and total.cost_usd is None
    (event,) = usage_events(host)
    assert "unpriced" in event.message and "$0" not in event.message


def test_the_users_price_file_prices_a_model_the_table_lacks(
    tmp_path: Path, own_prices: Path
) -> None:
    own_prices.parent.mkdir(parents=True)
    own_prices.write_text("mock-model: {input: 10, output: 100, date: 2026-12-01, source: ours}\n")
    host = FakeHost(tmp_path)
    rt = agent(host, "codex")
    host.record_usage(rt, codex_readings("mock-model")[0])
    total = host.store.agent("w").usage  # type: ignore[union-attr]
    assert total is not None and total.cost_usd == pytest.approx((13402 * 10 + 6 * 100) / 1e6)


def test_a_broken_price_file_is_said_once_and_prices_nothing_from_it(
    tmp_path: Path, own_prices: Path
) -> None:
    own_prices.parent.mkdir(parents=True)
    own_prices.write_text("mock-model: {input: free, output: 1}\n")
    host = FakeHost(tmp_path)
    rt = agent(host, "codex")
    for reading in codex_readings("mock-model"):
        host.record_usage(rt, reading)
    assert host.events.count("prices.invalid") == 1
    assert host.store.agent("w").usage.cost_usd is None  # type: ignore[union-attr]


def test_repeated_messages_count_once_and_the_clis_own_cost_wins(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "gemini")
    start(host, rt, "a")
    for record in lines("gemini-0.61.0/session.jsonl"):
        reading = usage_.gemini_session_usage(record)
        if reading is not None:
            host.record_usage(rt, reading)
    total = host.store.agent("w").usage  # type: ignore[union-attr]
    assert total is not None and total.input_tokens == 12051 + 12082 + 12201
    assert total.cost_usd is None  # gemini-3.1-pro-preview is not in the table

    aider = agent_named(host, "aider")
    for record in lines("aider-0.86.2/analytics.jsonl"):
        reading = usage_.aider_analytics_usage(record)
        if reading is not None:
            host.record_usage(aider, dataclasses.replace(reading, model="claude-sonnet-4-5"))
    mine = host.store.agent("w").usage  # type: ignore[union-attr]
    assert mine is not None and mine.cost_usd == pytest.approx(0.027132)  # aider's, not ours


def agent_named(host: FakeHost, kind: str) -> AgentRuntime:
    """A second agent "w" of another kind (a fresh runtime and usage)."""
    host.store.remove_agent("w")
    return agent(host, kind)


def test_usage_told_just_after_the_attempt_ended_is_still_its_own(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "claude")
    a = start(host, rt, "a")
    end(host, rt)
    status = [
        usage_.claude_statusline_usage(r["payload"])
        for r in lines("claude-2.1.197/statusline.jsonl")
    ]
    host.now += 1  # Claude runs its statusLine after Stop
    host.record_usage(rt, status[3])  # type: ignore[arg-type]
    got = host.store.attempt(a.attempt.id)
    assert got is not None and got.usage is not None
    assert got.usage.cost_usd == pytest.approx(0.11546)
    # Long after, nothing runs: the agent's total grows, no attempt's does.
    host.now += USAGE_GRACE + 1
    host.record_usage(rt, dataclasses.replace(status[3], input_tokens=30000, cost_usd=0.2))  # type: ignore[arg-type]
    assert host.store.agent("w").usage.cost_usd == pytest.approx(0.2)  # type: ignore[union-attr]
    assert host.store.attempt(a.attempt.id).usage == got.usage  # type: ignore[union-attr]


def test_events_are_rate_limited_but_each_attempt_gets_one(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "codex")
    start(host, rt, "a")
    for n in range(1, 21):  # a token_count line every second
        host.record_usage(rt, Usage(1000 * n, 10 * n, model="gpt-5", key="codex-session"))
        host.now += 1
    assert len(usage_events(host)) == 1
    host.now += USAGE_EVENT_EVERY
    host.record_usage(rt, Usage(30000, 300, model="gpt-5", key="codex-session"))
    assert len(usage_events(host)) == 2
    end(host, rt)
    host.now += USAGE_GRACE + 1
    start(host, rt, "b")
    host.record_usage(rt, Usage(31000, 310, model="gpt-5", key="codex-session"))
    events = usage_events(host)
    assert len(events) == 3
    last = events[-1]
    assert last.task_id == "b" and "31k/310 $0.04" in last.message
    assert "b #1: 1k/10 <$0.01" in last.message
    assert last.data["usage"]["input_tokens"] == 31000
    assert last.data["attempt_usage"]["input_tokens"] == 1000
    # Nothing new (the same total again): no write, no event.
    host.now += USAGE_EVENT_EVERY
    host.record_usage(rt, Usage(31000, 310, model="gpt-5", key="codex-session"))
    assert len(usage_events(host)) == 3


def test_a_new_supervisor_goes_on_from_the_stored_totals(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "aider")
    a = start(host, rt, "a")
    host.record_usage(rt, Usage(100, 10, cost_usd=0.5))
    # The supervisor restarts: a fresh runtime for the same agent and its running attempt.
    again = AgentRuntime(
        name="w", spec=rt.spec, profile=rt.profile, stream=rt.stream, driver=rt.driver
    )
    again.running = rt.running
    assert again.running is not None
    again.running.attempt = host.store.attempt(a.attempt.id)  # type: ignore[assignment]
    host.record_usage(again, Usage(50, 5, cost_usd=0.25))
    total = host.store.agent("w").usage  # type: ignore[union-attr]
    assert total == Usage(150, 15, 0, 0.75)
    assert host.store.attempt(a.attempt.id).usage == Usage(150, 15, 0, 0.75)  # type: ignore[union-attr]


def test_an_idle_agents_usage_is_its_own_only(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "aider")
    host.record_usage(rt, Usage(100, 10, cost_usd=0.5))
    assert host.store.agent("w").usage == Usage(100, 10, 0, 0.5)  # type: ignore[union-attr]
    assert usage_events(host)[0].task_id is None


def test_a_restarted_supervisor_counts_a_running_total_on_from_its_last_reading(
    tmp_path: Path,
) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "codex")
    first, second, third, _ = codex_readings("gpt-5-codex")
    a = start(host, rt, "a")
    host.record_usage(rt, first)
    host.record_usage(rt, second)
    # A new supervisor: a fresh runtime, the attempt re-adopted from the store.
    again = AgentRuntime(
        name="w", spec=rt.spec, profile=rt.profile, stream=rt.stream, driver=rt.driver
    )
    again.running = rt.running
    assert again.running is not None
    again.running.attempt = host.store.attempt(a.attempt.id)  # type: ignore[assignment]
    host.record_usage(again, third)
    total = host.store.agent("w").usage  # type: ignore[union-attr]
    assert total is not None and (total.input_tokens, total.output_tokens) == (40500, 45)
    share = host.store.attempt(a.attempt.id).usage  # type: ignore[union-attr]
    assert share is not None and share.input_tokens == 40500
    # An agent removed from the config takes its kept readings with it.
    host.store.remove_agent("w")
    assert host.store.usage_readings("w") == {}
