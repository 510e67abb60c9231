"""A supervisor restart never kills healthy work, whatever changed while it was down."""

from __future__ import annotations

import json
import shlex
import sys
import time

import pytest

from overseer.state.models import AttemptOutcome, TaskState
from tests.fakes import FAKE_CLI
from tests.faults import Figures, restart_after_downtime, shrink_campaign
from tests.helpers import wait_until
from tests.project import Project


def report(fig: Figures) -> None:
    """Print the figures (visible with -s) and fail on any broken promise."""
    print(f"\n{fig.name}: " + ", ".join(f"{k}={v}" for k, v in fig.values.items()))
    assert not fig.violations, fig.violations


@pytest.mark.parametrize("how", ["kill9", "down"])
def test_downtime_longer_than_stall_timeout_keeps_healthy_work(project: Project, how: str) -> None:
    # stall_timeout 6 s, 10 s without a supervisor: a printing task keeps running, a task at
    # a [y/N] prompt stays waiting, and the silent one is still called stalled.
    report(restart_after_downtime(project, how=how, stall_timeout=6.0, downtime=10.0))


def test_agent_count_shrunk_while_down_runs_nothing_twice_and_closes_old_panes(
    project: Project,
) -> None:
    fig = shrink_campaign(project, before=3, task_seconds=5.0, tasks=6)
    report(fig)
    assert fig["attempts in flight at the kill"] == 3
    assert fig["unconfigured panes closed"] == 3


def test_an_ai_agent_at_a_dialog_is_still_waiting_after_a_long_downtime(project: Project) -> None:
    # The screen, rebuilt from capture-pane at re-adoption, says the agent waits for a
    # person: stall_timeout never applies to it, however long the supervisor was down.
    cli = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_CLI))} --style claude"
    project.write(
        f"""
agents:
  - {{name: ai, kind: claude, command: {json.dumps(cli)}}}
tasks:
  - {{id: ask, prompt: "ask"}}
""",
        stall_timeout=4,
        on_stall="retry",
    )
    proc = project.start()
    wait_until(lambda: project.agent_state("ai") == "waiting", timeout=30, message="no dialog")
    project.kill9(proc)
    time.sleep(8)  # the fault: twice stall_timeout without a supervisor
    project.start()
    restarted = time.time()
    wait_until(lambda: time.time() >= restarted + 6, timeout=10)
    assert project.agent_state("ai") == "waiting"
    assert [a.outcome for a in project.store.attempts("ask")] == [AttemptOutcome.RUNNING]
    r = project.cli("answer", "ai", "y")
    assert r.returncode == 0, r.stdout + r.stderr
    project.wait_task("ask", TaskState.DONE, timeout=30)
