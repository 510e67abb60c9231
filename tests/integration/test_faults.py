"""The fault campaign, short version: the supervisor, tmux, panes and output under attack.

The long version (20+ kill cycles on 200 tasks, a 200 MB flood, a 30-minute soak) is
`python -m bench.faults`; both run the scenarios in tests/faults.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from overseer.state.models import AgentState, AttemptOutcome, TaskState
from tests.faults import (
    Figures,
    kill9_campaign,
    leftover_campaign,
    output_from_hell,
    planted_links,
    soak,
    tmux_kill_campaign,
    wiped_state_dir,
)
from tests.helpers import wait_until
from tests.project import Project


def report(fig: Figures) -> None:
    """Print the figures (visible with -s) and fail on any broken promise."""
    print(f"\n{fig.name}: " + ", ".join(f"{k}={v}" for k, v in fig.values.items() if k != "series"))
    assert not fig.violations, fig.violations


def test_kill_minus_nine_at_random_moments_including_start_up(project: Project) -> None:
    # tests/integration/test_crash_recovery.py kills with tasks in flight; this one also kills
    # while the supervisor is still adopting panes and reading rc files.
    fig = kill9_campaign(project, tasks=24, cycles=3, agents=4, seed=3)
    report(fig)
    assert fig["lost"] == 0
    assert fig["kills during start-up"] >= 1 and fig["kills with tasks in flight"] >= 2


@pytest.mark.parametrize("mode", ["kill-server", "sigkill"])
def test_tmux_server_killed_mid_run(project: Project, mode: str) -> None:
    fig = tmux_kill_campaign(project, kills=1, agents=3, mode=mode)
    report(fig)
    assert fig["attempts in flight at the kills"] == 3
    assert fig["how those ended"] == {"interrupted": 3}  # no try used
    events = [e.kind for e in project.store.events()]
    assert "tmux.down" in events and "tmux.restarted" in events


def test_daemons_and_stopped_groups_end_with_their_attempt(project: Project) -> None:
    # Every way an attempt ends without its exit: the worker it left behind is gone before
    # the retry starts; a task that stopped itself is recorded as timed out.
    fig = leftover_campaign(project, rounds=1, agents=2, scan_processes=50)
    report(fig)
    assert fig["workers started"] == 10
    assert fig["retries that ran beside their worker"] == 0


def pane_of(project: Project, agent: str) -> str:
    a = project.store.agent(agent)
    assert a is not None and a.pane_id
    return a.pane_id


@pytest.mark.parametrize("how", ["kill-pane", "kill-window"])
def test_killed_pane_or_window_requeues_and_respawns(project: Project, how: str) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell, count: 2}
tasks:
  - {id: long, run: 'echo run >> runs.txt; n=$(wc -l < runs.txt); [ $n -ge 2 ] || sleep 60'}
""",
        retry={"max_attempts": 3, "backoff": 0, "backoff_max": 0},
    )
    project.start()
    project.wait_task("long", TaskState.RUNNING)
    wait_until(lambda: (project.root / "runs.txt").exists(), message="task never started")
    holder = project.store.task("long").claimed_by  # type: ignore[union-attr]
    assert holder is not None
    pane = pane_of(project, holder)
    project.tmux.run(how, "-t", pane)
    project.wait_task("long", TaskState.DONE, timeout=40)
    first = project.store.attempts("long")[0]
    assert first.outcome == AttemptOutcome.LOST and first.exit_code is None
    assert first.reason and "pane gone" in first.reason
    wait_until(
        lambda: project.agent_state(holder) == "idle", timeout=30, message="agent not respawned"
    )
    agent = project.store.agent(holder)
    assert agent is not None and agent.respawns == 1 and agent.pane_id != pane


def test_pane_killed_again_and_again_ends_dead_with_a_reason(project: Project) -> None:
    project.write("agents:\n  - {name: w, kind: shell}\ntasks: []\n")
    project.start()
    for n in range(4):
        wait_until(
            lambda: project.agent_state("w") in ("idle", "dead"),
            timeout=30,
            message=f"agent not back after kill {n}",
        )
        if project.agent_state("w") == "dead":
            break
        project.tmux.run("kill-pane", "-t", pane_of(project, "w"))
        wait_until(
            lambda n=n: (
                (a := project.store.agent("w")) is not None
                and (a.respawns > n or a.state == AgentState.DEAD)
            ),
            timeout=30,
            message="kill not noticed",
        )
    wait_until(lambda: project.agent_state("w") == "dead", timeout=30, message="never dead")
    agent = project.store.agent("w")
    assert agent is not None and agent.reason and "respawn loop" in agent.reason
    assert "pane gone" in agent.reason


def test_output_from_hell(project: Project) -> None:
    fig = output_from_hell(project, flood_mb=50)
    report(fig)
    assert fig["supervisor RSS peak (MB)"] < 300


def test_soak_keeps_descriptors_and_memory_flat(project: Project) -> None:
    fig = soak(project, seconds=10, agents=10, batch=60, every=1.0)
    report(fig)
    assert fig["tasks done"] > 20


def test_two_supervisors_started_at_once_one_wins(project: Project) -> None:
    project.write("agents:\n  - {name: w, kind: shell}\ntasks: []\n")
    cmd = [sys.executable, "-m", "overseer.tui.cli", "run", "-c", str(project.config), "-q"]
    procs = [
        subprocess.Popen(
            cmd,
            cwd=project.root,
            env=project.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        for _ in range(2)
    ]
    project.procs.extend(procs)
    loser = wait_until(
        lambda: next((p for p in procs if p.poll() is not None), None),
        timeout=60,
        message="neither supervisor gave way",
    )
    winner = next(p for p in procs if p is not loser)
    _, err = loser.communicate(timeout=10)
    assert loser.returncode == 2, err
    assert f"pid {winner.pid}" in err and "already running" in err
    assert "Traceback" not in err
    assert winner.poll() is None


def test_state_dir_wiped_under_a_running_supervisor(project: Project) -> None:
    # `git clean -fdx` with two tasks in flight and four queued: the supervisor stops
    # dispatching, keeps any other supervisor out until its tasks have ended, then stops.
    fig = wiped_state_dir(project, agents=2, queued=4)
    report(fig)
    assert fig["attempts in flight at the wipe"] == 2
    assert fig["tasks started after the wipe"] == 0


def test_links_and_foreign_files_planted_in_the_state_dir_are_refused(project: Project) -> None:
    fig = planted_links(project)
    report(fig)
