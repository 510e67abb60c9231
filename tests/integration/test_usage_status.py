"""Tokens and cost in `overseer status` (text and --json) and in the event log."""

from __future__ import annotations

import json
import time

from overseer.state import queue
from overseer.state.models import AttemptOutcome, Usage
from tests.project import Project

CONFIG = """
agents:
  - {name: cx, kind: shell}
  - {name: sh, kind: shell}
tasks: []
"""


def test_status_shows_each_agents_and_attempts_tokens_and_cost(project: Project) -> None:
    project.write(CONFIG)
    store = project.store
    store.upsert_agent("cx", "codex")
    store.upsert_agent("sh", "shell")
    store.upsert_tasks([{"id": "t", "command": "fix it", "kind": "prompt", "max_attempts": 3}])
    got = queue.claim(store, "cx", 30, kind="prompt")
    assert got is not None
    queue.finish(store, "t", 1, AttemptOutcome.FAILED, reason="gave up")
    again = queue.claim(store, "cx", 30, kind="prompt", now=time.time() + 3600)
    assert again is not None
    first = Usage(12_300, 1_100, 10_000, None, "mock-model")
    store.record_usage("cx", first, got.attempt, first)
    share = Usage(700, 50, 0, 0.42, "gpt-5")
    store.record_usage(
        "cx",
        Usage(13_000, 1_150, 10_000, None, "gpt-5"),
        again.attempt,
        share,
        event=("cx: 13k/1.1k unpriced", {"usage": {"input_tokens": 13_000}}),
    )
    project.close_store()

    data = json.loads(project.cli("status", "--json", check=True).stdout)
    agents = {a["name"]: a for a in data["agents"]}
    assert agents["cx"]["usage"] == {
        "input_tokens": 13_000,
        "output_tokens": 1_150,
        "cached_tokens": 10_000,
        "cost_usd": None,
        "model": "gpt-5",
    }
    assert agents["sh"]["usage"] is None
    (task,) = data["tasks"]
    assert [(a["number"], a["usage"]["cost_usd"]) for a in task["usage_by_attempt"]] == [
        (1, None),
        (2, 0.42),
    ]
    # One attempt unpriced: the task's total is unpriced, never a partial $0.42.
    assert task["usage"]["input_tokens"] == 13_000 and task["usage"]["cost_usd"] is None

    text = project.cli("status", check=True).stdout
    assert "TOKENS COST" in text
    cx = next(line for line in text.splitlines() if line.startswith("cx "))
    assert "13k/1.1k unpriced" in cx and "$0" not in cx
    sh = next(line for line in text.splitlines() if line.startswith("sh "))
    assert "unpriced" not in sh

    events = project.cli("events", "--json", check=True).stdout
    usage_events = [json.loads(x) for x in events.splitlines() if '"agent.usage"' in x]
    assert len(usage_events) == 1 and usage_events[0]["agent"] == "cx"
