"""The command-line contract: every subcommand, with and without a running supervisor."""

from __future__ import annotations

import json
import os

from overseer.state.models import TaskState
from tests.helpers import wait_until
from tests.project import Project

ONE_AGENT = """
agents:
  - {name: w, kind: shell}
"""


def test_status_json_contract(project: Project) -> None:
    project.write(
        ONE_AGENT
        + "tasks:\n  - {id: a, run: 'exit 0'}\n  - {id: b, run: 'true', depends_on: [a]}\n"
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 0
    out = project.cli("status", "--json", check=True)
    data = json.loads(out.stdout)
    assert set(data) >= {"supervisor", "agents", "tasks", "suggestions"}
    assert set(data["supervisor"]) == {"pid", "alive", "heartbeat_age_s"}
    assert data["supervisor"]["alive"] is False
    (agent,) = data["agents"]
    assert {"name", "state", "task", "pane", "pid", "heartbeat_age_s", "last_output_at"} <= set(
        agent
    )
    assert agent["name"] == "w" and agent["pane"].startswith("%")
    task = data["tasks"][0]
    assert {
        "id",
        "state",
        "attempts",
        "max_attempts",
        "agent",
        "exit_code",
        "started_at",
        "finished_at",
        "lease_expires_at",
        "retry_at",
        "blocked_reason",
    } <= set(task)
    assert [(t["id"], t["state"], t["exit_code"]) for t in data["tasks"]] == [
        ("a", "done", 0),
        ("b", "done", 0),
    ]
    assert isinstance(task["started_at"], float) and task["finished_at"] >= task["started_at"]
    assert data["suggestions"] == []
    human = project.cli("status", check=True).stdout
    assert "supervisor: not running" in human and "done" in human


def test_operator_commands_without_a_supervisor(project: Project) -> None:
    project.write(ONE_AGENT + "tasks:\n  - {id: a, run: 'exit 4', max_attempts: 1}\n")
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    assert project.task_state("a") == TaskState.FAILED
    r = project.cli("block", "a", "--reason", "flaky network")
    assert r.returncode == 0, r.stderr
    task = project.store.task("a")
    assert (
        task is not None
        and task.state == TaskState.BLOCKED
        and task.blocked_reason == "flaky network"
    )
    assert project.cli("unblock", "a").returncode == 0
    assert project.task_state("a") == TaskState.READY
    r = project.cli("unblock", "a")
    assert r.returncode == 1 and "not blocked" in r.stderr
    r = project.cli("retry", "nope")
    assert r.returncode == 1 and "no task with id 'nope'" in r.stderr


def test_add_retry_and_send_with_a_running_supervisor(project: Project) -> None:
    project.write(ONE_AGENT + "tasks: []\n")
    project.start()
    wait_until(lambda: project.agent_state("w") == "idle", timeout=30, message="agent not idle")
    r = project.cli("add", "hello", "--", "echo", "hello world", ">", "not-a-redirect")
    assert r.returncode == 0, r.stderr
    project.wait_task("hello", TaskState.DONE)
    project.attempt_showing("hello", "hello world > not-a-redirect")
    r = project.cli("add", "later", "--depends-on", "missing-task", "--", "true")
    assert r.returncode == 1 and "unknown task" in r.stderr
    r = project.cli("add", "bad id", "--", "true")
    assert r.returncode == 2 and "letters, digits" in r.stderr
    tasks_file = project.root / "more.yaml"
    tasks_file.write_text(
        "- {id: f1, run: 'echo one'}\n- {id: f2, run: 'echo two', depends_on: [f1]}\n"
    )
    assert project.cli("add", "--file", str(tasks_file)).returncode == 0
    project.wait_task("f2", TaskState.DONE)
    assert project.cli("retry", "f2").returncode == 0
    wait_until(lambda: len(project.store.attempts("f2")) == 2, message="retry did not run again")
    project.wait_task("f2", TaskState.DONE)
    # send types a line (Enter included) into the idle shell.
    assert project.cli("send", "w", "echo typed-by-operator > typed.txt").returncode == 0
    wait_until(lambda: (project.root / "typed.txt").exists(), message="send did not type")
    r = project.cli("send", "nobody", "x")
    assert r.returncode == 1 and "no agent named" in r.stderr


def test_block_and_release_a_running_task(project: Project) -> None:
    project.write(
        "agents:\n  - {name: w, kind: shell, count: 2}\ntasks:\n"
        "  - {id: long1, run: 'echo go; sleep 60'}\n  - {id: long2, run: 'echo go; sleep 60'}\n"
    )
    project.start()
    project.wait_task("long1", TaskState.RUNNING)
    project.wait_task("long2", TaskState.RUNNING)
    r = project.cli("block", "long1", "--reason", "wrong branch")
    assert r.returncode == 0, r.stderr
    project.wait_task("long1", TaskState.BLOCKED)
    t = project.store.task("long1")
    assert t is not None and t.blocked_reason == "wrong branch"
    assert project.cli("release", "long2").returncode == 0
    wait_until(
        lambda: len(project.store.attempts("long2")) >= 2,
        timeout=30,
        message="released task was not claimed again",
    )
    first = project.store.attempts("long2")[0]
    assert first.outcome.value == "released"


def test_interrupt_sends_ctrl_c(project: Project) -> None:
    project.write(ONE_AGENT + "tasks:\n  - {id: s, run: 'echo go; sleep 60', max_attempts: 1}\n")
    project.start()
    project.wait_task("s", TaskState.RUNNING)
    wait_until(lambda: "go" in (project.store.agent("w").last_line or ""), message="no output")  # type: ignore[union-attr]
    assert project.cli("interrupt", "w").returncode == 0
    project.wait_task("s", TaskState.FAILED)
    assert project.store.task("s").exit_code == 130  # type: ignore[union-attr]


def test_down_stops_the_supervisor_and_kill_agents_ends_tmux(project: Project) -> None:
    project.write(ONE_AGENT + "tasks: []\n")
    proc = project.start()
    r = project.cli("down")
    assert r.returncode == 0 and "stopped" in r.stdout
    proc.wait(timeout=20)
    assert project.tmux.alive(), "down without --kill-agents keeps the agents"
    r = project.cli("down", "--kill-agents")
    assert r.returncode == 0
    wait_until(lambda: not project.tmux.alive(), message="tmux server still up")


def test_events_since_and_json(project: Project) -> None:
    project.write(ONE_AGENT + "tasks:\n  - {id: a, run: 'true'}\n")
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 0
    lines = [json.loads(x) for x in project.cli("events", "--json", check=True).stdout.splitlines()]
    assert lines and {"id", "ts", "kind", "task", "agent", "message"} <= set(lines[0])
    ids = [x["id"] for x in lines]
    assert ids == sorted(ids)
    mid = ids[len(ids) // 2]
    later = [
        json.loads(x)
        for x in project.cli("events", "--json", "--since", str(mid)).stdout.splitlines()
    ]
    assert [x["id"] for x in later] == [i for i in ids if i > mid]
    assert any(x["kind"] == "task.done" and x["task"] == "a" for x in lines)


def test_plan_needs_no_tmux(project: Project) -> None:
    project.write(
        ONE_AGENT
        + "tasks:\n  - {id: a, run: 'true', estimate: 2}\n  - {id: b, run: 'true', depends_on: [a], estimate: 3}\n"
        + "  - {id: c, run: 'true', estimate: 4}\n",
        max_parallel=2,
    )
    env_path = os.environ.get("PATH", "")
    r = project.cli("plan", check=True)
    assert "a -> b" in r.stdout and "speedup" in r.stdout, r.stdout
    assert env_path  # plan ran without starting tmux:
    assert not project.tmux.alive()


def test_bad_usage_and_bad_config_exit_2(project: Project) -> None:
    project.config.write_text("name: t\nmax_paralel: 3\nagents: [{name: w}]\n")
    r = project.cli("run", "--until-done")
    assert r.returncode == 2
    assert "overseer.yaml:2:1" in r.stderr and "max_parallel" in r.stderr
    assert "Traceback" not in r.stderr
    r = project.cli("status", "--bogus-flag")
    assert r.returncode == 2


def test_second_supervisor_is_refused_naming_the_first(project: Project) -> None:
    project.write(ONE_AGENT + "tasks: []\n")
    proc = project.start()
    r = project.cli("run", timeout=60)
    assert r.returncode == 2
    assert f"pid {proc.pid}" in r.stderr and "already running" in r.stderr


def test_missing_tmux_is_a_clear_error(project: Project) -> None:
    project.write(ONE_AGENT + "tasks: []\n")
    env = project.env()
    env["PATH"] = "/nonexistent"
    import subprocess
    import sys

    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "overseer.tui.cli",
            "run",
            "-c",
            str(project.config),
            "--until-done",
        ],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 3, r.stderr
    assert "tmux is not installed" in r.stderr and "Traceback" not in r.stderr
