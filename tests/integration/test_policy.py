"""Policy: max_parallel, pause_after, timeouts with SIGKILL escalation, on_stall interrupt."""

from __future__ import annotations

from overseer.state.models import AttemptOutcome, TaskState
from tests.helpers import wait_until
from tests.project import Project


def test_max_parallel_caps_running_tasks(project: Project) -> None:
    tasks = "\n".join(f"  - {{id: t{i}, run: 'sleep 0.4'}}" for i in range(8))
    project.write(
        "agents:\n  - {name: w, kind: shell, count: 4}\ntasks:\n" + tasks + "\n", max_parallel=2
    )
    assert project.cli("run", "--until-done", "--timeout", "90").returncode == 0
    spans = [(a.started_at, a.finished_at or 0.0) for a in project.store.attempts()]
    assert len(spans) == 8
    overlap = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert overlap == 2  # both slots were used, never more


def test_consecutive_failures_pause_the_agent_until_resumed(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: f1, run: 'exit 1', max_attempts: 1}
  - {id: f2, run: 'exit 1', max_attempts: 1}
  - {id: later, run: 'echo fine', depends_on: []}
""",
        pause_after=2,
    )
    project.start()
    wait_until(lambda: project.agent_state("w") == "paused", timeout=30, message="not paused")
    agent = project.store.agent("w")
    assert agent is not None and "2 consecutive failures" in (agent.reason or "")
    assert project.task_state("later") == TaskState.READY  # nothing is handed to a paused agent
    assert project.cli("resume", "w").returncode == 0
    project.wait_task("later", TaskState.DONE)


def test_timeout_escalates_to_sigkill_for_a_task_that_ignores_sigterm(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: stubborn, run: "trap '' TERM; echo ignoring TERM; while true; do sleep 0.2; done", timeout: 1, max_attempts: 1}
""",
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    (attempt,) = project.store.attempts("stubborn")
    assert attempt.outcome == AttemptOutcome.TIMEOUT
    assert attempt.exit_code == 137 and attempt.signal == 9
    assert attempt.reason == "timed out after 1s"


def test_on_stall_interrupt_sends_ctrl_c(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: silent, run: 'echo hi; sleep 60', max_attempts: 1}
""",
        stall_timeout=1,
        on_stall="interrupt",
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    task = project.store.task("silent")
    assert task is not None and task.state == TaskState.FAILED and task.exit_code == 130
    assert any(e.kind == "agent.interrupt" for e in project.store.events(agent="w"))


def test_failed_dependency_leaves_dependants_pending_and_run_ends(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: base, run: 'exit 9', max_attempts: 1}
  - {id: child, run: 'true', depends_on: [base]}
  - {id: grandchild, run: 'true', depends_on: [child]}
""",
    )
    proc = project.cli("run", "--until-done", "--timeout", "60")
    assert proc.returncode == 1
    assert project.task_state("child") == TaskState.PENDING
    assert project.task_state("grandchild") == TaskState.PENDING
    status = project.cli("status").stdout
    assert "waits for base" in status
