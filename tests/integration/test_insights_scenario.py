"""Real tmux: a missing command, stalled tasks and a [y/N] prompt each get the right
suggestion; `overseer apply N` changes the store as the action says; the notify hook runs."""

from __future__ import annotations

import json
from typing import Any

from overseer.state.models import AttemptOutcome, TaskState
from tests.helpers import wait_until
from tests.project import Project

HOOK = 'printf "%s %s %s\\n" "$OVERSEER_EVENT" "$OVERSEER_TASK" "$OVERSEER_AGENT" >> notified.txt'

TASKS = """
agents:
  - {name: w, kind: shell, count: 4}
tasks:
  - {id: nocmd, run: "echo token=hunter2secret; no-such-command-xyz --flag"}
  - {id: quiet, run: "echo syncing; sleep 60"}
  - {id: crunch, run: "echo crunching; while :; do :; done"}
  - {id: ask, run: 'read -r -p "Deploy to staging? [y/N] " a; [ "$a" = y ] && echo deployed'}
"""

EXPECTED = {
    "task:nocmd:edit-command",
    "task:quiet:retry",
    "task:crunch:raise-timeout",
}


def suggestions(project: Project) -> list[dict[str, Any]]:
    r = project.cli("suggest", "--json", check=True)
    return list(json.loads(r.stdout))


def rank_of(project: Project, key: str) -> tuple[str, dict[str, Any]]:
    item = next((s for s in suggestions(project) if s["key"] == key), None)
    assert item is not None, f"{key} not suggested: {suggestions(project)}"
    return str(item["rank"]), item


def test_suggestions_for_real_failures_and_applying_them(project: Project) -> None:
    project.write(
        TASKS,
        stall_timeout=3,  # the CPU rate needs two sweeps (1 s apart) into a task
        on_stall="block",
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
        notify={"command": HOOK, "events": ["task.blocked", "agent.waiting"], "min_interval": 0},
    )
    project.start()

    def all_there() -> list[dict[str, Any]] | None:
        items = project.store.suggestions()
        keys = {s["key"] for s in items}
        # The output of an exit known from its rc file reaches the store a moment after it.
        told = any(
            "output: no-such-command-xyz: command not found" in s["evidence"]
            for s in items
            if s["key"] == "task:nocmd:edit-command"
        )
        answer = any(s["action"] == "answer" for s in items)
        return items if keys >= EXPECTED and answer and told else None

    items = wait_until(all_there, timeout=40, message="the three situations were not suggested")
    by_key = {s["key"]: s for s in items}
    assert [s["rank"] for s in items] == list(range(1, len(items) + 1))

    # exit 127: edit the command, never a retry; the secret it printed is masked everywhere.
    nocmd = by_key["task:nocmd:edit-command"]
    assert "output: no-such-command-xyz: command not found" in nocmd["evidence"]
    assert not any(k.startswith("task:nocmd:") and k != nocmd["key"] for k in by_key)
    tail = project.store.attempts("nocmd")[0].output_tail
    assert "token=***" in tail and "hunter2secret" not in tail
    # Stalled while idle: retry it. Stalled while burning CPU: give it more time.
    assert by_key["task:quiet:retry"]["rule"] == "stalled-idle"
    crunch = project.store.attempts("crunch")[0]
    assert crunch.outcome == AttemptOutcome.STALLED and "still use CPU" in (crunch.reason or "")
    # The prompt: answer y, with the prompt as evidence.
    answer = next(s for s in items if s["action"] == "answer")
    waiting_agent = answer["target"]["agent"]
    assert answer["text"] == "y" and "prompt: Deploy to staging? [y/N]" in answer["evidence"]
    # `overseer status --json` lists the same suggestions.
    status = json.loads(project.cli("status", "--json", check=True).stdout)
    assert {s["key"] for s in status["suggestions"]} >= EXPECTED

    # edit-command needs a person: apply prints what to do and changes nothing.
    n, _ = rank_of(project, "task:nocmd:edit-command")
    r = project.cli("apply", n)
    assert r.returncode == 0 and "This needs a person" in r.stdout, r.stdout + r.stderr
    assert "overseer retry nocmd" in r.stdout
    assert project.task_state("nocmd") == TaskState.FAILED
    assert len(project.store.attempts("nocmd")) == 1

    # answer types y into the waiting pane: the task passes.
    n, _ = rank_of(project, f"agent:{waiting_agent}:answer")
    r = project.cli("apply", n, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["command"] == f"overseer send {waiting_agent} y"
    project.wait_task("ask", TaskState.DONE)
    project.attempt_showing("ask", "deployed")
    wait_until(  # the next sweep drops the answered prompt; ranks are stable after that
        lambda: all(s["action"] != "answer" for s in project.store.suggestions()),
        message="answered prompt still suggested",
    )

    # Dismissed stays dismissed while its evidence is the same.
    n, crunch_item = rank_of(project, "task:crunch:raise-timeout")
    assert project.cli("dismiss", n).returncode == 0
    beat = project.store.supervisor().heartbeat_at or 0.0
    wait_until(
        lambda: (project.store.supervisor().heartbeat_at or 0.0) > beat + 1.5,
        message="supervisor did not sweep",
    )
    assert crunch_item["key"] not in {s["key"] for s in suggestions(project)}

    # retry puts the blocked, stalled task back in the queue: it runs a second time.
    n, _ = rank_of(project, "task:quiet:retry")
    assert project.cli("apply", n, "--yes").returncode == 0
    wait_until(lambda: len(project.store.attempts("quiet")) == 2, timeout=30, message="not retried")
    r = project.cli("apply", "99")
    assert r.returncode == 2 and "no suggestion '99'" in r.stderr

    # The hook ran for the block and the prompt, with the task and agent in its environment.
    notified = project.root / "notified.txt"
    wait_until(
        lambda: notified.exists() and "agent.waiting" in notified.read_text(),
        message="notify hook did not run",
    )
    text = notified.read_text()
    assert "task.blocked quiet" in text and f"agent.waiting ask {waiting_agent}" in text
