"""Crash context: a killed agent leaves `.overseer/crashes/<time>-<agent>/` with its screen,
log tail, the attempt's events and the command (private, secrets masked), bounded by
retention, removed by `overseer cleanup`, shown by `overseer explain`."""

from __future__ import annotations

import json
import os
import signal
import stat
import time
from pathlib import Path

from overseer.state.models import AttemptOutcome, TaskState
from tests.faults import start_supervisor
from tests.helpers import wait_until
from tests.project import Project

# Prints a line with a secret, then waits (for ever, unless it ran before: its retry ends).
TASK = (
    "n=$(cat count 2>/dev/null || echo 0); echo $((n+1)) > count; "
    "echo step-$n API_TOKEN=sk-abcdefghijklmnopqrstuvwx1234; [ $n -ge 1 ] || sleep 60"
)


def crash_dirs(project: Project) -> list[Path]:
    root = project.state_dir / "crashes"
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []


def started(project: Project, runs: int) -> None:
    """Wait until the task runs for the `runs`-th time and has printed its line."""
    wait_until(
        lambda: (
            (project.root / "count").exists()
            and (project.root / "count").read_text().strip() == str(runs)
            and project.task_state("t") == TaskState.RUNNING
        ),
        timeout=30,
        message=f"run {runs} never started",
    )
    wait_until(lambda: f"step-{runs - 1}" in (project.state_dir / "logs" / "w.log").read_text())


def kill_agent_mid_task(project: Project, runs: int) -> None:
    """Wait until the task has started `runs` times, then SIGKILL its agent's shell."""
    started(project, runs)
    agent = project.store.agent("w")
    assert agent is not None and agent.pid
    os.kill(agent.pid, signal.SIGKILL)


def kept(project: Project) -> list[Path]:
    return [Path(e.data["path"]) for e in project.store.events() if e.kind == "crash.kept"]


def test_a_killed_agent_leaves_its_crash_context(project: Project) -> None:
    project.write(
        f"agents:\n  - {{name: w, kind: shell}}\ntasks:\n  - {{id: t, run: {json.dumps(TASK)}}}\n",
        retry={"max_attempts": 3, "backoff": 0, "backoff_max": 0},
    )
    start_supervisor(project)
    kill_agent_mid_task(project, 1)
    project.wait_task("t", TaskState.DONE, timeout=40)
    assert project.store.attempts("t")[0].outcome == AttemptOutcome.LOST
    wait_until(lambda: crash_dirs(project), message="no crash context kept")
    # (A respawned shell seen dead for a moment may keep one more, of the agent alone.)
    (crash,) = [d for d in crash_dirs(project) if '"task": "t"' in (d / "context.json").read_text()]
    assert crash.name.endswith("-w")
    assert stat.S_IMODE(crash.stat().st_mode) == 0o700
    assert stat.S_IMODE(crash.parent.stat().st_mode) == 0o700
    files = {p.name: p for p in crash.iterdir()}
    assert set(files) == {"screen.txt", "tail.txt", "events.jsonl", "command.txt", "context.json"}
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files.values())
    # The screen (the pane's, or rebuilt from its log) and the log's tail show the task's line,
    # the secret masked everywhere.
    assert "step-0" in files["screen.txt"].read_text()
    assert "step-0 API_TOKEN=***" in files["tail.txt"].read_text()
    for p in files.values():
        assert "sk-abcdefghijklmnopqrstuvwx1234" not in p.read_text(), p.name
    assert "echo step-$n" in files["command.txt"].read_text()
    kinds = [json.loads(line)["kind"] for line in files["events.jsonl"].read_text().splitlines()]
    assert "task.started" in kinds or "task.claimed" in kinds, kinds
    assert "agent.died" in kinds, kinds
    context = json.loads(files["context.json"].read_text())
    assert (context["agent"], context["task"], context["attempt"]) == ("w", "t", 1)
    assert "agent died" in context["why"]
    assert kept(project)[0] == crash

    # `explain` shows the newest crash of a task and of an agent: its path and an excerpt.
    out = project.cli("explain", "t", check=True).stdout
    assert "last crash: task t attempt 1 on w" in out and str(crash) in out, out
    assert "step-0" in out
    out = project.cli("explain", "w", check=True).stdout
    assert "last crash: " in out and str(kept(project)[-1]) in out, out
    data = json.loads(project.cli("explain", "t", "--json", check=True).stdout)
    assert data["crash"]["path"] == str(crash) and data["crash"]["task"] == "t"


def test_crash_contexts_are_bounded_by_retention_and_removed_by_cleanup(
    project: Project,
) -> None:
    project.write(
        f"agents:\n  - {{name: w, kind: shell}}\ntasks:\n  - {{id: t, run: {json.dumps(TASK.replace('-ge 1', '-ge 3'))}}}\n",
        retry={"max_attempts": 5, "backoff": 0, "backoff_max": 0},
        retention={"days": 1, "crashes": 2},
    )
    proc = start_supervisor(project)
    # Three attempts lost by respawning their agent (a person's respawn: no respawn-loop
    # limit is reached, however fast they come).
    for runs in (1, 2, 3):
        started(project, runs)
        project.cli("respawn", "w", check=True)
        wait_until(
            lambda n=runs: any(
                e.kind == "crash.kept" and e.data.get("attempt") == n
                for e in project.store.events()
            ),
            timeout=20,
            message=f"attempt {runs}'s crash context not kept",
        )
    project.wait_task("t", TaskState.DONE, timeout=40)
    assert len(kept(project)) >= 3
    dirs = crash_dirs(project)
    assert dirs == sorted(kept(project))[-2:], (dirs, kept(project))  # the newest two
    contexts = [json.loads((d / "context.json").read_text()) for d in dirs]
    assert any(c["attempt"] == 3 and "respawned by operator" in c["why"] for c in contexts), (
        contexts
    )

    # Past `retention.days`: `overseer cleanup` removes it (here: once no supervisor runs).
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    old = time.time() - 2 * 86400
    os.utime(dirs[0], (old, old))
    out = project.cli("cleanup", "--json", check=True).stdout
    removed = [a for a in json.loads(out) if a["kind"] == "crash"]
    assert [a["target"] for a in removed] == [dirs[0].name], out
    assert crash_dirs(project) == [dirs[1]]
