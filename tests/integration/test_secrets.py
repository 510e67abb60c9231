"""Secrets a task prints or asks about never reach the store, the event log or the notify hook.

The tasks build their secrets at run time, so the only place the literal could come from is
what the supervisor read from the pane.
"""

from __future__ import annotations

import sqlite3

from overseer.state.models import AgentState, TaskState
from tests.helpers import wait_until
from tests.project import Project

TOKEN = "ghp_" + "Zq7" * 12  # what the `ask` task prints, assembled from pieces below
DB_PASS = "Hunter2Secret"
SIG = "AbCd0123EfGh4567"

HOOK = 'env | grep "^OVERSEER_" >> notified.txt'

TASKS = """
agents:
  - {name: w, kind: shell, count: 2}
tasks:
  - id: ask
    run: 't=ghp_; for i in 1 2 3 4 5 6 7 8 9 10 11 12; do t="${t}Zq7"; done; read -r -p "Use token $t to deploy? [y/N] " a'
  - id: leak
    run: 'p=Hunter2; echo "DB_PASS=${p}Secret"; s=AbCd0123; echo "GET /b?sv=1&sig=${s}EfGh4567"; exit 3'
"""


def dump(project: Project) -> str:
    """Every value in the database, as one text (what a copy of state.db would give away)."""
    conn = sqlite3.connect(project.state_dir / "state.db")
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_secrets_from_prompts_and_output_are_masked_everywhere(project: Project) -> None:
    project.write(
        TASKS,
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
        notify={"command": HOOK, "events": ["agent.waiting", "task.failed"], "min_interval": 0},
    )
    project.start()
    project.wait_task("leak", TaskState.FAILED)
    wait_until(
        lambda: (
            project.agent_state(project.store.task("ask").claimed_by or "")  # type: ignore[union-attr]
            == AgentState.WAITING.value
        ),
        timeout=30,
        message="the ask task never waited at its prompt",
    )
    notified = project.root / "notified.txt"
    wait_until(
        lambda: notified.exists() and notified.read_text().count("OVERSEER_EVENT=") >= 2,
        timeout=20,
        message="the notify hook did not run for both events",
    )
    prompt_events = [e for e in project.store.events() if "Use token" in e.message]
    assert prompt_events, "no event names the prompt"
    assert all("ghp_***" in e.message for e in prompt_events)
    everything = dump(project)
    for secret in (TOKEN, DB_PASS, SIG):
        assert secret not in everything
    hook_saw = notified.read_text()
    assert "Use token ghp_***" in hook_saw
    for secret in (TOKEN, DB_PASS, SIG):
        assert secret not in hook_saw
