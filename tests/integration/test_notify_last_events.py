"""The notify hook hears the last events: the failure that ends --until-done, a failure just
before `overseer down`, and results recovered at start-up."""

from __future__ import annotations

from pathlib import Path

from overseer.agents.runner import read_pid, read_rc
from overseer.state.models import TaskState
from tests.faults import start_supervisor
from tests.helpers import wait_until
from tests.project import Project

HOOK = 'echo "$OVERSEER_EVENT $OVERSEER_TASK" >> notified.txt'


def write(project: Project, tasks: str) -> None:
    project.write(
        "agents:\n  - {name: w, kind: shell}\ntasks:\n" + tasks,
        retry={"max_attempts": 1, "backoff": 0, "backoff_max": 0},
        notify={"command": HOOK, "events": ["task.failed"], "min_interval": 0},
    )


def notified(project: Project, line: str) -> bool:
    path: Path = project.root / "notified.txt"
    return path.exists() and line in path.read_text().splitlines()


def test_the_failure_that_ends_until_done_is_notified(project: Project) -> None:
    write(project, "  - {id: bad, run: 'exit 3'}\n")
    done = project.cli("run", "--until-done", "--timeout", "60", "-q")
    assert done.returncode == 1, done.stdout + done.stderr
    assert project.task_state("bad") == TaskState.FAILED
    wait_until(lambda: notified(project, "task.failed bad"), message="task.failed not notified")


def test_a_failure_just_before_down_is_notified(project: Project) -> None:
    write(project, "  - {id: bad, run: 'while [ ! -e go ]; do sleep 0.02; done; exit 3'}\n")
    start_supervisor(project)
    project.wait_task("bad", TaskState.RUNNING)
    (project.root / "go").touch()
    project.wait_task("bad", TaskState.FAILED)
    down = project.cli("down")
    assert down.returncode == 0, down.stdout + down.stderr
    wait_until(lambda: notified(project, "task.failed bad"), message="task.failed not notified")


def test_a_result_recovered_at_start_up_is_notified(project: Project) -> None:
    write(project, "  - {id: bad, run: 'while [ ! -e go ]; do sleep 0.02; done; exit 3'}\n")
    proc = start_supervisor(project)
    project.wait_task("bad", TaskState.RUNNING)
    pid_file = project.state_dir / "run" / "bad.1.pid"
    wait_until(lambda: read_pid(pid_file), message="the wrapper never started")
    project.kill9(proc)
    (project.root / "go").touch()  # the task fails while no supervisor runs
    wait_until(
        lambda: read_rc(project.state_dir / "run" / "bad.1.rc") is not None, message="no rc file"
    )
    done = project.cli("run", "--until-done", "--timeout", "60", "-q")
    assert done.returncode == 1, done.stdout + done.stderr
    assert any(e.kind == "task.recovered" for e in project.store.events(task_id="bad"))
    wait_until(lambda: notified(project, "task.failed bad"), message="task.failed not notified")
