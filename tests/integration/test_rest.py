"""While the fleet rests the loop sleeps until something happens, and the sweep does not
list tmux's panes every second: an agent shell's death wakes the loop through its pidfd, a
command or a new task through the state dir's watch, a retry through its timer."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from overseer.agents import health
from overseer.agents.wakeup import Wakeup
from overseer.state.models import TaskState
from tests.ai_runs import fake
from tests.helpers import wait_until
from tests.project import Project

pytestmark = pytest.mark.tmux

# `overseer run` with the sweep at rest (and its listing of panes) pushed an hour away: what
# happens at rest can only be noticed through what wakes the loop. The start of each wait of
# a second or more (the loop asleep: awake, it waits at most 0.2 s) is noted in the file named
# by its first argument.
RUN_AT_REST = """
import sys, time
import overseer.agents.supervisor as sup
from overseer.agents.wakeup import Wakeup
sup.PANES_AT_REST = sup.REST_SWEEP = 3600.0
sleeps = sys.argv.pop(1)
wait = Wakeup.wait
def noted(self, timeout, also=()):
    if timeout >= 1:
        with open(sleeps, "a") as f:
            f.write(f"{time.time()}\\n")
    return wait(self, timeout, also)
Wakeup.wait = noted
from overseer.tui.cli import main
sys.exit(main(sys.argv[1:]))
"""

# The sweep at rest runs at least every half of heartbeat.warn: this keeps it an hour away.
AT_REST_BEAT = {"warn": 7200, "alert": 9000}


def start_at_rest(project: Project, sleeps: Path) -> subprocess.Popen[str]:
    """The supervisor of RUN_AT_REST, noting its long waits in `sleeps`."""
    return project.start(program=[sys.executable, "-c", RUN_AT_REST, str(sleeps)])


def asleep(sleeps: Path, after: float, until: float | None = None) -> bool:
    """Whether the loop began a wait of a second or more after `after` (and before `until`)."""
    starts = [float(x) for x in sleeps.read_text().split()] if sleeps.exists() else []
    return any(after < t and (until is None or t < until) for t in starts)


def fell_asleep(sleeps: Path, after: float, what: str) -> None:
    """Wait until the loop has fallen asleep after `after` (its own clock)."""
    wait_until(
        lambda: asleep(sleeps, after), timeout=30, message=f"the loop never fell asleep {what}"
    )


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfds are Linux >= 5.3")
def test_an_exit_wakes_the_wait_and_is_named_once() -> None:
    proc = subprocess.Popen(["sleep", "60"])
    watch, wake = health.ExitWatch(), Wakeup()
    try:
        assert watch.arm("w", proc.pid)
        assert not wake.wait(0.0, watch.fds()) and watch.exited() == set()
        proc.kill()
        assert wake.wait(60.0, watch.fds())  # woken by the exit, not by the timeout
        assert watch.exited() == {"w"}
        assert watch.fds() == [] and not watch.arm("w", proc.pid)  # never again for that pid
    finally:
        proc.kill()
        proc.wait()
        watch.close()
        wake.close()


def two_resting_shells(project: Project, **config: Any) -> tuple[subprocess.Popen[str], Path]:
    """Two idle shell agents under a supervisor whose loop has fallen asleep: it and its
    record of sleeps."""
    project.write(
        """
agents:
  - {name: w, kind: shell, count: 2}
tasks: []
""",
        heartbeat=AT_REST_BEAT,
        **config,
    )
    sleeps = project.root / "sleeps"
    proc = start_at_rest(project, sleeps)
    wait_until(
        lambda: all(project.agent_state(n) == "idle" for n in ("w-1", "w-2")),
        timeout=40,
        message="the agents never came up",
    )
    fell_asleep(sleeps, 0.0, "once the agents rested")
    return proc, sleeps


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfds are Linux >= 5.3")
def test_a_shell_killed_while_every_agent_rests_is_respawned(project: Project) -> None:
    proc, sleeps = two_resting_shells(project)
    agent = project.store.agent("w-1")
    assert agent is not None and agent.pid
    os.kill(agent.pid, signal.SIGKILL)
    wait_until(
        lambda: (
            (a := project.store.agent("w-1")) is not None
            and a.respawns >= 1
            and a.pid != agent.pid
            and a.state.value == "idle"
        ),
        timeout=30,
        message=f"the killed shell was never noticed: {project.store.agent('w-1')}",
    )
    # The tmux server killed while everything rests: its shells die with it.
    project.tmux.kill_server()
    wait_until(
        lambda: "tmux.restarted" in [e.kind for e in project.store.events()],
        timeout=30,
        message="the tmux server's death was never noticed",
    )
    assert proc.poll() is None


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfds are Linux >= 5.3")
def test_the_loop_asleep_at_rest_is_woken_by_commands_new_tasks_retries_and_a_wipe(
    project: Project,
) -> None:
    proc, sleeps = two_resting_shells(project, retry={"max_attempts": 2, "backoff": 6})
    # An operator command.
    assert project.cli("pause", "w-2").returncode == 0
    wait_until(lambda: project.agent_state("w-2") == "paused", message="pause never applied")
    agent = project.store.agent("w-2")
    assert agent is not None
    fell_asleep(sleeps, agent.state_since, "after the pause")
    # A new task.
    assert project.cli("add", "first", "--", "echo one >> effects.txt").returncode == 0
    project.wait_task("first", TaskState.DONE)
    fell_asleep(sleeps, project.store.attempts("first")[-1].finished_at or 0.0, "after a task")
    # A task that fails once: its retry is due 6 s later, and the loop sleeps until then.
    flaky = "test -e flaked || { touch flaked; exit 1; }"
    assert project.cli("add", "flaky", "--", flaky).returncode == 0
    project.wait_task("flaky", TaskState.DONE)
    failed, ok = project.store.attempts("flaky")
    assert (failed.outcome.value, ok.outcome.value) == ("failed", "ok")
    assert asleep(sleeps, failed.finished_at or 0.0, ok.started_at)
    fell_asleep(sleeps, ok.finished_at or 0.0, "after the retry")
    # The state dir wiped: nothing runs, so the supervisor stops with the reason.
    project.close_store()
    shutil.rmtree(project.state_dir)
    wait_until(lambda: proc.poll() is not None, timeout=30, message="the wipe was not noticed")
    assert proc.returncode == 3
    assert (project.root / "effects.txt").read_text() == "one\n"


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="pidfds are Linux >= 5.3")
def test_an_ai_agent_at_its_prompt_lets_the_loop_sleep_and_wakes_it_for_a_prompt(
    project: Project,
) -> None:
    project.write(
        f"""
agents:
  - {{name: ai, kind: codex, command: {json.dumps(fake("codex"))}}}
tasks: []
""",
        heartbeat=AT_REST_BEAT,
    )
    sleeps = project.root / "sleeps"
    start_at_rest(project, sleeps)
    wait_until(lambda: project.agent_state("ai") == "idle", timeout=40, message="never idle")
    agent = project.store.agent("ai")
    assert agent is not None
    fell_asleep(sleeps, agent.state_since, "beside an idle AI agent")
    (project.root / "more.yaml").write_text('- {id: p, prompt: "work 0.5"}\n')
    assert project.cli("add", "--file", "more.yaml").returncode == 0
    project.wait_task("p", TaskState.DONE)
    (attempt,) = project.store.attempts("p")
    assert attempt.outcome.value == "ok"
    fell_asleep(sleeps, attempt.finished_at or 0.0, "after the prompt")
