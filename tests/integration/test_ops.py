"""`overseer health`, `overseer cleanup` and `overseer recover` on real projects."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from typing import Any

import pytest

from overseer.agents.recovery import HUNG_UP
from overseer.agents.runner import read_pid, read_rc
from overseer.state.models import AttemptOutcome, TaskState
from tests.helpers import wait_until
from tests.project import Project

TWO = "agents:\n  - {name: w, kind: shell, count: 2}\n"


def health(project: Project) -> tuple[int, dict[str, dict[str, Any]]]:
    r = project.cli("health", "--json")
    assert "Traceback" not in r.stderr, r.stderr
    data = json.loads(r.stdout)
    assert data["ok"] == (r.returncode == 0)
    return r.returncode, {c["name"]: c for c in data["checks"]}


def expire_leases(project: Project) -> None:
    """Make every running task's lease run out (as if 30 s had passed)."""
    conn = sqlite3.connect(str(project.state_dir / "state.db"), timeout=10)
    with conn:
        conn.execute(
            "UPDATE tasks SET lease_expires_at=? WHERE state='running'", (time.time() - 5,)
        )
    conn.close()


def test_health_of_a_running_project(project: Project) -> None:
    project.write(TWO + "tasks:\n  - {id: a, run: 'echo hi'}\n")
    project.start()
    project.wait_task("a", TaskState.DONE)
    code, checks = health(project)
    assert code == 0, checks
    assert list(checks) == [
        "config",
        "tmux",
        "store",
        "config-sync",
        "supervisor",
        "tmux-server",
        "leases",
        "panes",
        "disk",
        "logs",
        "agent-commands",
    ]
    assert checks["store"]["detail"].startswith("integrity ok, schema")
    assert checks["config-sync"]["status"] == "ok"
    assert checks["supervisor"]["status"] == "ok" and "heartbeat" in checks["supervisor"]["detail"]
    assert checks["tmux"]["status"] in ("ok", "warn")
    if checks["tmux"]["status"] == "warn":
        assert "3.6" in checks["tmux"]["detail"]
    human = project.cli("health")
    assert human.returncode == 0 and "integrity ok" in human.stdout


def test_health_fails_on_a_bad_config_and_a_missing_agent_command(project: Project) -> None:
    project.config.write_text("name: t\nmax_paralel: 3\n")
    r = project.cli("health")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "FAIL  config" in r.stdout and "max_parallel" in r.stdout
    project.write(
        "agents:\n  - {name: w, kind: shell, command: 'exec no-such-agent-cli --flag'}\ntasks: []\n"
    )
    code, checks = health(project)
    assert code == 1
    assert checks["agent-commands"]["status"] == "fail"
    assert "no-such-agent-cli" in checks["agent-commands"]["detail"]


def test_health_sees_stale_leases_and_stray_windows_and_cleanup_removes_them(
    project: Project,
) -> None:
    project.write(
        TWO
        + "tasks:\n"
        + "  - {id: done-before, run: 'true'}\n"
        + "  - {id: left, run: 'echo x >> left.txt; sleep 60', max_attempts: 2}\n"
    )
    proc = project.start()
    project.wait_task("left", TaskState.RUNNING)
    project.wait_task("done-before", TaskState.DONE)
    wait_until(lambda: (project.root / "left.txt").exists(), message="left never started")
    project.kill9(proc)
    # What a crash and time leave behind: a stale lease whose wrapper is gone, a window
    # nobody owns, an old log of a removed agent and old run files.
    holder = project.store.task("left").claimed_by  # type: ignore[union-attr]
    pane = project.store.agent(holder).pane_id  # type: ignore[union-attr]
    pid = int(project.tmux.run("display-message", "-p", "-t", pane, "#{pane_pid}").stdout)
    os.kill(pid, 9)  # the agent's shell dies; its task is hung up
    expire_leases(project)
    project.tmux.run("new-window", "-d", "-n", "stray", "sleep 600")
    project.tmux.run("new-window", "-d", "-n", "stray-idle")  # just a shell
    old = time.time() - 30 * 86400
    gone_log = project.state_dir / "logs" / "removed-agent.log"
    gone_log.write_text("old\n")
    os.utime(gone_log, (old, old))
    gone_times = project.state_dir / "logs" / "times" / "removed-agent.times"
    gone_times.write_bytes(b"")
    # The supervisor kept the times of each agent's output (overseer record replays them).
    ran = project.store.attempts("done-before")[0].agent
    kept_times = project.state_dir / "logs" / "times" / f"{ran}.times"
    assert kept_times.stat().st_size > 0
    for f in (project.state_dir / "run").glob("done-before.1.*"):
        os.utime(f, (old, old))

    code, checks = health(project)
    assert checks["leases"]["status"] == "warn" and "left" in checks["leases"]["detail"]
    assert checks["panes"]["status"] == "warn" and "stray" in checks["panes"]["detail"]
    assert checks["logs"]["status"] == "warn" and "removed-agent.log" in checks["logs"]["detail"]

    dry = project.cli("cleanup", "--dry-run", "--json")
    planned = json.loads(dry.stdout)
    assert all(not a["done"] for a in planned)
    assert project.tmux.window_pane("stray") is not None  # the dry run changed nothing
    assert gone_log.exists()

    r = project.cli("cleanup", "--json")
    assert r.returncode == 0, r.stderr
    acts = {(a["kind"], a["target"]): a for a in json.loads(r.stdout)}
    assert acts[("window", "stray-idle")]["done"]
    assert acts[("window", "stray")]["skipped"]  # a program runs in it: needs --force
    assert acts[("lease", "left")]["done"]
    assert acts[("log", "removed-agent.log")]["done"]
    assert acts[("run-files", "done-before attempt 1")]["done"]
    assert not gone_log.exists()
    assert not gone_times.exists() and kept_times.exists()  # times go with their log
    assert not list((project.state_dir / "run").glob("done-before.1.*"))
    assert project.tmux.window_pane("stray-idle") is None
    # The lost attempt went back to the queue (the task had tries left).
    attempts = project.store.attempts("left")
    assert attempts[0].outcome == AttemptOutcome.LOST and attempts[0].exit_code is None
    assert project.task_state("left") == TaskState.READY

    assert project.cli("cleanup", "--force").returncode == 0
    assert project.tmux.window_pane("stray") is None
    code, checks = health(project)
    assert checks["leases"]["status"] == "ok"
    assert checks["logs"]["status"] == "ok"


def test_recover_settles_what_happened_while_no_supervisor_ran(project: Project) -> None:
    project.write(
        TWO
        + "tasks:\n"
        + "  - {id: quick, run: 'while [ ! -f go ]; do sleep 0.1; done; exit 4', max_attempts: 1}\n"
        + "  - {id: slow, run: 'sleep 60'}\n"
    )
    proc = project.start()
    project.wait_task("quick", TaskState.RUNNING)
    project.wait_task("slow", TaskState.RUNNING)
    # RUNNING is set at the claim; the tmux death below must hit a task that really started
    # (its wrapper wrote its pid), or "released: never started" is the right answer.
    wait_until(
        lambda: read_pid(project.state_dir / "run" / "slow.1.pid") is not None,
        message="slow's wrapper never started",
    )
    project.kill9(proc)
    (project.root / "go").touch()  # quick finishes while no supervisor runs
    wait_until(
        lambda: read_rc(project.state_dir / "run" / "quick.1.rc") is not None,
        message="quick never ended",
    )
    r = project.cli("recover")
    assert r.returncode == 0, r.stderr
    assert "quick attempt 1 finished while the supervisor was down" in r.stdout
    assert "slow attempt 1 still running" in r.stdout
    task = project.store.task("quick")
    assert task is not None and task.state == TaskState.FAILED and task.exit_code == 4
    assert project.task_state("slow") == TaskState.RUNNING  # re-adopted, not lost
    assert project.store.task_counts()["ready"] == 0  # recover dispatches nothing
    again = project.cli("recover")
    assert again.returncode == 0 and "quick" not in again.stdout

    # The tmux server dies while no supervisor runs: recover records the loss and respawns.
    project.tmux.kill_server()
    r = project.cli("recover")
    assert r.returncode == 0, r.stderr
    slow = project.store.attempts("slow")[0]
    assert slow.outcome == AttemptOutcome.LOST and slow.exit_code is None, (slow, r.stdout)
    assert project.tmux.alive() and project.tmux.window_pane("w-1") is not None

    # With a supervisor running, recover refuses and says why.
    project.start()
    r = project.cli("recover")
    assert r.returncode == 2 and "already running" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("verb", ["cleanup", "recover"])
def test_cleanup_and_recover_settle_a_hung_up_attempt_alike(project: Project, verb: str) -> None:
    """One settlement: a task hung up by its shell's death is lost, and the record says so."""
    project.write(TWO + "tasks:\n  - {id: left, run: 'sleep 60', max_attempts: 2}\n")
    proc = project.start()
    project.wait_task("left", TaskState.RUNNING)
    run = project.state_dir / "run"
    wait_until(lambda: read_pid(run / "left.1.pid") is not None, message="left never started")
    project.kill9(proc)
    holder = project.store.task("left").claimed_by  # type: ignore[union-attr]
    pane = project.store.agent(holder).pane_id  # type: ignore[union-attr]
    pid = int(project.tmux.run("display-message", "-p", "-t", pane, "#{pane_pid}").stdout)
    os.kill(pid, 9)  # the agent's shell dies; its task is hung up
    wait_until(lambda: read_rc(run / "left.1.rc") is not None, message="left was not hung up")
    expire_leases(project)
    r = project.cli(verb)
    assert r.returncode == 0, r.stderr
    (attempt,) = project.store.attempts("left")
    assert attempt.outcome == AttemptOutcome.LOST and attempt.exit_code is None, r.stdout
    assert attempt.reason is not None and HUNG_UP in attempt.reason, attempt.reason
    assert project.task_state("left") == TaskState.READY
