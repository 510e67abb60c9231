"""`overseer scale`: a group grows with staggered starts, shrinks without killing a busy agent
(unless --force), and keeps its size across a supervisor restart until the config changes."""

from __future__ import annotations

import signal

from overseer.state.models import AttemptOutcome, TaskState
from tests.faults import start_supervisor
from tests.helpers import wait_until
from tests.project import Project


def windows(project: Project) -> list[str]:
    return sorted(p.window for p in project.tmux.list_panes() if not p.dead)


def idle(project: Project, names: list[str]) -> bool:
    return all(project.agent_state(n) == "idle" for n in names)


def test_scale_up_staggered_and_kept_across_a_restart(project: Project) -> None:
    project.write("agents:\n  - {name: w, kind: shell, count: 2, stagger: 1}\ntasks: []\n")
    proc = start_supervisor(project)
    wait_until(lambda: idle(project, ["w-1", "w-2"]), timeout=30, message="agents not idle")

    out = project.cli("scale", "w", "4", check=True)
    assert "w: 4 agent(s)" in out.stdout, out.stdout
    wait_until(
        lambda: idle(project, ["w-1", "w-2", "w-3", "w-4"]),
        timeout=30,
        message="the new agents never came up",
    )
    assert windows(project) == ["w-1", "w-2", "w-3", "w-4"]
    starts = [e for e in project.store.events() if e.kind == "agent.scaled-up"]
    assert [e.agent for e in starts] == ["w-3", "w-4"]
    # The recorded starts are spaced by the group's stagger (an order of stored times).
    assert starts[1].ts - starts[0].ts >= 1.0, [e.ts for e in starts]

    # A task goes to the new agents as to any other.
    project.cli("add", "t1", "--", "echo from $OVERSEER_AGENT", check=True)
    project.wait_task("t1", TaskState.DONE)

    # A restart keeps the scaled size: the panes are re-adopted, nothing is retired.
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    proc = start_supervisor(project)
    wait_until(lambda: any(e.kind == "pool.kept" for e in project.store.events()), timeout=10)
    wait_until(lambda: idle(project, ["w-1", "w-2", "w-3", "w-4"]), timeout=30)
    assert windows(project) == ["w-1", "w-2", "w-3", "w-4"]
    assert not [e for e in project.store.events() if e.kind == "agent.retired"]

    # Until the config changes the count: then the config's size applies again.
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    project.write("agents:\n  - {name: w, kind: shell, count: 3, stagger: 1}\ntasks: []\n")
    start_supervisor(project)
    wait_until(lambda: windows(project) == ["w-1", "w-2", "w-3"], timeout=30)
    wait_until(  # w-4's window closes, then its row goes
        lambda: sorted(a.name for a in project.store.agents()) == ["w-1", "w-2", "w-3"]
    )
    assert any(e.kind == "pool.reset" for e in project.store.events())


def test_scale_down_never_kills_a_busy_agent_without_force(project: Project) -> None:
    gate = project.root / "go"
    project.write("agents:\n  - {name: w, kind: shell, count: 3, stagger: 0}\ntasks: []\n")
    start_supervisor(project)
    # Every agent idle first: the two tasks then go to the first two, in the agents' order.
    wait_until(lambda: idle(project, ["w-1", "w-2", "w-3"]), timeout=30)
    for task_id in ("a", "b"):
        command = f"while [ ! -f {gate} ]; do sleep 0.1; done; echo {task_id} ok"
        project.cli("add", task_id, "--", command, check=True)
    project.wait_task("a", TaskState.RUNNING)
    project.wait_task("b", TaskState.RUNNING)
    busy = sorted(a.claimed_by or "" for a in map(project.store.task, ["a", "b"]) if a)
    assert busy == ["w-1", "w-2"], busy

    # 3 -> 1: the idle w-3 goes now; of the busy two the highest number goes at its end.
    out = project.cli("scale", "w", "1", check=True)
    assert "w-2 busy: removed when its task ends" in out.stdout, out.stdout
    wait_until(lambda: windows(project) == ["w-1", "w-2"], timeout=10)
    assert project.task_state("b") == TaskState.RUNNING  # not killed

    gate.write_text("")
    project.wait_task("a", TaskState.DONE)
    project.wait_task("b", TaskState.DONE)
    assert [a.outcome for a in project.store.attempts("b")] == [AttemptOutcome.OK]
    wait_until(lambda: windows(project) == ["w-1"], timeout=10, message="w-2 left open")
    wait_until(lambda: [a.name for a in project.store.agents()] == ["w-1"])

    # --force: the busy agent goes now, its task released (no try used).
    gate.unlink()
    project.cli("add", "c", "--", f"while [ ! -f {gate} ]; do sleep 0.1; done", check=True)
    project.wait_task("c", TaskState.RUNNING)
    out = project.cli("scale", "w-1", "0", "--force", check=True)  # an agent names its group
    assert "stopping w-1" in out.stdout, out.stdout
    wait_until(
        lambda: [a.outcome for a in project.store.attempts("c")] == [AttemptOutcome.RELEASED],
        timeout=20,
        message="the forced scale-down did not stop the busy agent's attempt",
    )
    wait_until(lambda: windows(project) == [], timeout=20, message="busy agent not removed")
    project.wait_task("c", TaskState.READY)  # back in the queue, no try used


def test_scale_refuses_bad_input(project: Project) -> None:
    project.write("agents:\n  - {name: w, kind: shell}\ntasks: []\n")
    start_supervisor(project)
    bad = project.cli("scale", "nope", "2")
    assert bad.returncode == 2 and "no agent group or agent named 'nope'" in bad.stderr
    bad = project.cli("scale", "w", "two")
    assert bad.returncode == 2 and "size must be N, +N or -N" in bad.stderr
    bad = project.cli("scale", "w", "1001")
    assert bad.returncode == 2 and "0 to 1000 agents" in bad.stderr
    bad = project.cli("scale", "w", "-5")  # relative: checked against the size it has
    assert bad.returncode == 1 and "0 to 1000 agents, not -4" in bad.stderr
