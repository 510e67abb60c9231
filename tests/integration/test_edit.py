"""Fixing a task rather than retrying it, config drift, and operator stops that are not the
agent's failures: a real supervisor, real tmux, real SQLite."""

from __future__ import annotations

import json
import shlex
import sys

from overseer.agents.runner import read_pid
from overseer.agents.tmux import TmuxServer
from overseer.state.models import AgentState, AttemptOutcome, TaskState
from tests.helpers import wait_until
from tests.project import ROOT, Project

ONE = "agents:\n  - {name: w, kind: shell}\n"


def test_edit_fixes_a_failed_task_and_a_running_attempt_keeps_its_command(
    project: Project,
) -> None:
    project.write(
        ONE
        + """tasks:
  - {id: typo, run: "mkae-no-such-command", max_attempts: 1, priority: 2}
  - {id: slow, run: "while [ ! -f go ]; do sleep 0.05; done; echo old-$OVERSEER_ATTEMPT; exit 3",
     max_attempts: 2, priority: 1}
""",
        max_parallel=1,
    )
    project.start()
    project.wait_task("typo", TaskState.FAILED)
    assert project.store.task("typo").exit_code == 127  # type: ignore[union-attr]
    r = project.cli("edit", "typo", "--", "echo", "fixed")
    assert r.returncode == 0, r.stderr
    assert "typo edited: command 'mkae-no-such-command' -> 'echo fixed'" in r.stdout
    assert "`overseer retry typo` runs it again" in r.stdout
    project.wait_task("slow", TaskState.RUNNING)
    r = project.cli("edit", "slow", "--", "echo new-$OVERSEER_ATTEMPT")
    assert r.returncode == 0, r.stderr
    assert "the running attempt keeps the old values" in r.stdout
    (project.root / "go").touch()
    project.wait_task("slow", TaskState.DONE)
    first = project.attempt_showing("slow", "old-1", 1)
    second = project.attempt_showing("slow", "new-2", 2)
    # (The tail may start with the echo of the typed line: compare the task's own last line.)
    assert (first.exit_code, first.output_tail.splitlines()[-1]) == (3, "old-1")
    assert (second.outcome, second.output_tail.splitlines()[-1]) == (AttemptOutcome.OK, "new-2")
    assert project.cli("retry", "typo").returncode == 0
    project.wait_task("typo", TaskState.DONE)
    assert project.attempt_showing("typo", "fixed", 2).output_tail.splitlines()[-1] == "fixed"
    kinds = [e.kind for e in project.store.events(task_id="slow")]
    assert "task.edited" in kinds


def test_edit_refuses_unknown_dependencies_and_cycles(project: Project) -> None:
    project.write(ONE + "tasks:\n  - {id: a, run: 'true'}\n  - {id: b, run: 'true'}\n")
    project.start()
    project.wait_task("b", TaskState.DONE)
    r = project.cli("edit", "a", "--depends-on", "nope")
    assert r.returncode == 1 and "a would depend on unknown task(s): nope" in r.stderr
    assert project.cli("edit", "a", "--depends-on", "b").returncode == 0
    r = project.cli("edit", "b", "--depends-on", "a")
    assert r.returncode == 1 and "dependency cycle" in r.stderr
    r = project.cli("edit", "nope", "--priority", "3")
    assert r.returncode == 1 and "no task with id 'nope'" in r.stderr
    r = project.cli("edit", "a")
    assert r.returncode == 2 and "nothing to change" in r.stderr


def test_add_of_an_existing_id_with_another_command_says_how_to_edit_it(
    project: Project,
) -> None:
    project.write(ONE + "tasks: []\n")
    project.start()
    assert project.cli("add", "t", "--", "echo one").returncode == 0
    same = project.cli("add", "t", "--", "echo one")
    assert same.returncode == 0 and "already present: t" in same.stdout
    other = project.cli("add", "t", "--", "echo two")
    assert other.returncode == 1
    assert "`overseer edit t -- COMMAND`" in other.stderr
    assert project.store.task("t").command == "echo one"  # type: ignore[union-attr]


def test_run_and_health_say_where_the_config_and_the_store_disagree(project: Project) -> None:
    project.write(ONE + "tasks:\n  - {id: a, run: 'echo one'}\n  - {id: b, run: 'echo b'}\n")
    assert project.cli("run", "--until-done", "-q").returncode == 0
    project.write(
        ONE + "tasks:\n  - {id: a, run: 'echo two'}\n  - {id: b, run: 'echo b', timeout: 30}\n"
    )
    r = project.cli("health", "--json")
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["config-sync"]["status"] == "warn"
    assert "2 task(s): a (command), b (timeout)" in checks["config-sync"]["detail"]
    r = project.cli("run", "--until-done", "-q")
    assert r.returncode == 0
    assert "overseer.yaml and the store disagree about 2 task(s): a (command), b (timeout)" in (
        r.stderr
    )
    assert project.store.task("a").command == "echo one"  # type: ignore[union-attr]
    r = project.cli("run", "--until-done", "-q", "--sync-config")
    assert r.returncode == 0, r.stderr
    assert "disagree" not in r.stderr
    task = project.store.task("a")
    assert task is not None and task.command == "echo two"
    assert project.store.task("b").timeout == 30.0  # type: ignore[union-attr]
    r = project.cli("health", "--json")
    checks = {c["name"]: c for c in json.loads(r.stdout)["checks"]}
    assert checks["config-sync"]["status"] == "ok"


def test_an_operators_interrupt_or_block_never_pauses_the_agent(project: Project) -> None:
    project.write(
        ONE
        + """tasks:
  - {id: first, run: "sleep 60", max_attempts: 1, priority: 3}
  - {id: second, run: "sleep 60", max_attempts: 1, priority: 2}
  - {id: third, run: "echo still working", priority: 1}
""",
        pause_after=1,
        max_parallel=1,
    )
    project.start()
    run = project.state_dir / "run"
    # Ctrl-C before the wrapper started would only clear the typed line.
    wait_until(lambda: read_pid(run / "first.1.pid"), message="first never started")
    assert project.cli("interrupt", "w").returncode == 0
    project.wait_task("first", TaskState.FAILED)
    wait_until(lambda: read_pid(run / "second.1.pid"), message="second never started")
    assert project.cli("block", "second", "--reason", "not now").returncode == 0
    project.wait_task("second", TaskState.BLOCKED)
    project.wait_task("third", TaskState.DONE)
    agent = project.store.agent("w")
    assert agent is not None and agent.state != AgentState.PAUSED
    assert agent.consecutive_failures == 0
    assert not [e for e in project.store.events(agent="w") if e.kind == "agent.paused"]


def test_up_offers_the_configs_version_before_the_dashboard_opens(
    project: Project, tmux_server: TmuxServer
) -> None:
    project.write(ONE + "tasks:\n  - {id: a, run: 'echo one'}\n")
    assert project.cli("run", "--until-done", "-q").returncode == 0
    project.write(ONE + "tasks:\n  - {id: a, run: 'echo two'}\n")
    cmd = (
        f"cd {shlex.quote(str(project.root))} && PYTHONPATH={shlex.quote(str(ROOT))} "
        f"{shlex.quote(sys.executable)} -m overseer.tui.cli up -c overseer.yaml; echo UP-EXITED $?; "
        "sleep 300"
    )
    pane = tmux_server.spawn_window(
        "ui",
        cmd,
        str(project.root),
        {"TERM": "xterm-256color"},
        project.root / "ui.log",
        width=160,
        height=45,
    ).pane_id
    wait_until(
        lambda: "give them overseer.yaml's version now? [y/N]" in tmux_server.capture(pane),
        timeout=60,
        message="up did not ask",
    )
    assert "disagree about 1 task(s): a (command)" in tmux_server.capture(pane)
    tmux_server.send_text(pane, "y")
    wait_until(lambda: "Overseer" in tmux_server.capture(pane), timeout=60, message="no dashboard")
    assert project.store.task("a").command == "echo two"  # type: ignore[union-attr]
    tmux_server.send_keys(pane, "q")
    wait_until(
        lambda: "UP-EXITED 0" in tmux_server.capture(pane), timeout=30, message="q did not quit"
    )
