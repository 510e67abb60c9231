"""Stalls, slow-but-live tasks, prompts for a human, dead panes and respawns."""

from __future__ import annotations

import os
import signal

from overseer.state.models import AgentState, AttemptOutcome, TaskState
from tests.helpers import wait_until
from tests.project import Project


def test_silent_task_is_stalled_and_retried_but_a_slow_live_one_is_not(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell, count: 2}
tasks:
  - {id: silent, run: "echo starting; sleep 60", max_attempts: 2}
  - {id: slow, run: "for i in 1 2 3 4 5 6; do echo tick $i; sleep 0.5; done"}
""",
        stall_timeout=1.5,
        retry={"max_attempts": 2, "backoff": 0, "backoff_max": 0},
        on_stall="retry",
    )
    proc = project.cli("run", "--until-done", "--timeout", "60")
    assert proc.returncode == 1
    store = project.store
    assert project.task_state("slow") == TaskState.DONE
    assert [a.outcome for a in store.attempts("slow")] == [AttemptOutcome.OK]
    silent = store.attempts("silent")
    assert [a.outcome for a in silent] == [AttemptOutcome.STALLED, AttemptOutcome.STALLED]
    assert project.task_state("silent") == TaskState.FAILED
    assert silent[0].reason and silent[0].reason.startswith("stalled: no output for")
    kinds = [e.kind for e in store.events(agent=silent[0].agent)]
    assert "agent.stalled" in kinds


def test_on_stall_block_parks_the_task_with_a_reason(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: silent, run: "sleep 60"}
""",
        stall_timeout=1,
        on_stall="block",
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    task = project.store.task("silent")
    assert task is not None and task.state == TaskState.BLOCKED
    assert task.blocked_reason and "stalled" in task.blocked_reason


def test_prompt_for_a_human_is_seen_as_waiting_and_can_be_answered(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: ask, run: 'read -r -p "Deploy to staging? [y/N] " a; [ "$a" = y ] && echo deployed'}
""",
        stall_timeout=2,
    )
    project.start()
    wait_until(lambda: project.agent_state("w") == "waiting", timeout=30, message="not waiting")
    agent = project.store.agent("w")
    assert agent is not None and agent.prompt == "Deploy to staging? [y/N]"
    # Waiting for a human is not a stall, even well past stall_timeout.
    start = project.store.agent("w")
    assert start is not None
    assert project.cli("send", "w", "y").returncode == 0
    project.wait_task("ask", TaskState.DONE)
    project.attempt_showing("ask", "deployed")
    assert not any(e.kind == "agent.stalled" for e in project.store.events(agent="w"))


def test_password_prompt_is_waiting(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: pw, run: 'read -r -s -p "Password: " p; echo', timeout: 20}
""",
    )
    project.start()
    wait_until(lambda: project.agent_state("w") == "waiting", timeout=30, message="not waiting")
    agent = project.store.agent("w")
    assert agent is not None and agent.prompt == "Password:"


def test_killed_shell_requeues_the_task_and_respawns_the_agent(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: long, run: 'n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; [ $n -ge 1 ] || sleep 60'}
""",
        retry={"max_attempts": 3, "backoff": 0, "backoff_max": 0},
    )
    project.start()
    wait_until(lambda: (project.root / "count").exists(), timeout=30, message="task never started")
    agent = project.store.agent("w")
    assert agent is not None and agent.pid
    os.kill(agent.pid, signal.SIGKILL)  # the agent's shell dies mid-task
    project.wait_task("long", TaskState.DONE, timeout=40)
    attempts = project.store.attempts("long")
    assert attempts[0].outcome == AttemptOutcome.LOST, attempts[0]
    assert attempts[0].reason and "agent died" in attempts[0].reason
    assert attempts[-1].outcome == AttemptOutcome.OK
    respawned = project.store.agent("w")
    assert respawned is not None and respawned.respawns >= 1 and respawned.pid != agent.pid


def test_respawn_loop_is_capped_and_shows_dead(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell, command: "sh -c 'echo broken agent; exit 7'"}
tasks: []
""",
    )
    project.start()
    wait_until(lambda: project.agent_state("w") == "dead", timeout=40, message="never dead")
    agent = project.store.agent("w")
    assert agent is not None and agent.reason and "respawn loop" in agent.reason
    assert agent.state == AgentState.DEAD


def test_deleted_log_file_loses_no_exit_code(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: a, run: 'echo started; while [ ! -f go ]; do sleep 0.1; done; echo after; exit 6', max_attempts: 1}
  - {id: b, run: 'echo b-output', depends_on: [a]}
""",
    )
    project.start()
    project.wait_task("a", TaskState.RUNNING)
    log = project.state_dir / "logs" / "w.log"
    wait_until(log.exists, message="no log")
    log.unlink()
    (project.root / "go").touch()
    project.wait_task("a", TaskState.FAILED)
    assert project.store.task("a").exit_code == 6  # type: ignore[union-attr]
    wait_until(log.exists, message="log was not re-opened")
    assert any(e.kind == "agent.log-reopened" for e in project.store.events(agent="w"))
