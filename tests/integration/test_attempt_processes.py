"""Every process of an attempt ends with it: daemons that left its tree, stopped groups."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.agents import health, runner
from overseer.state.models import AttemptOutcome, TaskState
from tests.faults import daemon_lines, verdict_lines, worker_pid
from tests.helpers import wait_until
from tests.integration.test_ops import expire_leases
from tests.project import Project


def daemon_task(**keys: object) -> str:
    """A task whose first attempt starts a worker (daemon_lines) and waits; the retry
    records whether that worker was still alive when it began."""
    extra = "".join(f", {k}: {v}" for k, v in keys.items())
    run = (
        f'if [ "$OVERSEER_ATTEMPT" = 1 ]; then {daemon_lines("worker")}; sleep 60; '
        f"else {verdict_lines('worker', 'verdict.txt')}; fi"
    )
    return (
        "agents:\n  - {name: w, kind: shell}\ntasks:\n"
        f"  - {{id: d, run: {json.dumps(run)}, max_attempts: 2{extra}}}\n"
    )


@pytest.fixture
def workers() -> Iterator[list[int]]:
    """Pids of workers a test started; any still alive at the end (a failed test) are killed."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if health.wrapper_alive(pid, "worker.beat"):  # still that worker, not a reused pid
            os.kill(pid, signal.SIGKILL)


def wait_worker(project: Project, workers: list[int]) -> int:
    """The worker's pid once it runs (it has written its heartbeat)."""
    pid = wait_until(
        lambda: (project.root / "worker.beat").exists() and worker_pid(project.root, "worker"),
        timeout=30,
        message="the worker never started",
    )
    workers.append(pid)
    return pid


@pytest.mark.parametrize("end", ["timeout", "release", "kill-server"])
def test_a_daemon_the_task_started_is_gone_before_the_retry_starts(
    project: Project, workers: list[int], end: str
) -> None:
    # The worker is double-forked into a session of its own and ignores SIGHUP and
    # SIGTERM: neither the task's process group, nor its tree, nor its terminal reach it.
    project.write(
        daemon_task(**({"timeout": 3} if end == "timeout" else {})),
        retry={"max_attempts": 2, "backoff": 0, "backoff_max": 0},
    )
    project.start()
    pid = wait_worker(project, workers)
    if end == "release":
        assert project.cli("release", "d").returncode == 0
    elif end == "kill-server":
        project.tmux.kill_server()
    project.wait_task("d", TaskState.DONE, timeout=60)
    assert (project.root / "verdict.txt").read_text().strip() == "gone"
    assert not health.alive(pid)
    first = project.store.attempts("d")[0]
    want = {
        "timeout": AttemptOutcome.TIMEOUT,
        "release": AttemptOutcome.RELEASED,
        "kill-server": AttemptOutcome.INTERRUPTED,  # a tmux death is not charged to the task
    }[end]
    assert first.outcome == want, first
    assert first.reason and "leftover process" in first.reason, first.reason


@pytest.mark.parametrize("how", ["recover", "cleanup", "release"])
def test_offline_settlement_ends_a_daemon_the_task_started(
    project: Project, workers: list[int], how: str
) -> None:
    # No supervisor runs: `overseer recover`, `overseer cleanup` and a release applied by
    # the command line itself settle the attempt, and must end its worker first.
    project.write(daemon_task(), retry={"max_attempts": 2, "backoff": 0, "backoff_max": 0})
    proc = project.start()
    pid = wait_worker(project, workers)
    project.kill9(proc)
    if how == "release":
        r = project.cli("release", "d")  # the tmux server and the task still run
    else:
        project.tmux.kill_server()  # the task is hung up; its worker ignores that
        if how == "cleanup":
            expire_leases(project)
        r = project.cli(how)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not health.alive(pid), r.stdout
    first = project.store.attempts("d")[0]
    want = AttemptOutcome.RELEASED if how == "release" else AttemptOutcome.LOST
    assert first.outcome == want, first
    assert first.reason and "leftover process" in first.reason, first.reason


def test_a_task_that_stopped_itself_times_out_as_timeout(project: Project) -> None:
    # `kill -TSTP 0` (what Ctrl-Z does) stops the wrapper too: SIGTERM alone would wait
    # for a SIGCONT that never comes, and the attempt would end `lost` much later.
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: stopped, run: 'echo stopping; kill -TSTP 0; sleep 30', timeout: 2, max_attempts: 1, priority: 1}
  - {id: after, run: 'echo still usable'}
""",
    )
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    (attempt,) = project.store.attempts("stopped")
    assert attempt.outcome == AttemptOutcome.TIMEOUT, attempt
    assert attempt.exit_code == 143 and attempt.signal == 15
    assert attempt.reason == "timed out after 2s"
    assert project.task_state("after") == TaskState.DONE  # the agent works on


def test_marked_processes_are_found_wherever_they_went_and_ended(tmp_path: Path) -> None:
    # No tmux: a shell carrying one attempt's marker starts a stopped process and a
    # double-forked, setsid worker that ignores SIGTERM; another attempt's process runs
    # beside them. All of the first are found and ended; the other is left alone.
    mark, other = runner.attempt_mark("a" * 24), runner.attempt_mark("b" * 24)
    script = f"{daemon_lines('worker')}; sleep 60 & kill -STOP $!; echo $! > stopped.pid; wait"
    env = dict(os.environ)
    shell = subprocess.Popen(
        ["sh", "-c", script],
        cwd=tmp_path,
        env={**env, **dict([mark.split("=", 1)])},
        start_new_session=True,
    )
    bystander = subprocess.Popen(["sleep", "60"], env={**env, **dict([other.split("=", 1)])})
    try:
        wait_until(lambda: worker_pid(tmp_path, "worker"), message="the worker never started")
        wait_until(lambda: (tmp_path / "stopped.pid").exists(), message="nothing stopped")
        worker = worker_pid(tmp_path, "worker")
        stopped = int((tmp_path / "stopped.pid").read_text())
        found = {p.pid for p in health.attempt_processes(mark)}
        assert {shell.pid, worker, stopped} <= found
        assert bystander.pid not in found and os.getpid() not in found
        # Listed again while they are ended: the worker forks a `sleep` ten times a second.
        ended = health.end_processes(
            health.attempt_processes(mark), 0.5, find=lambda: health.attempt_processes(mark)
        )
        assert ended.killed >= 3 and ended.survivors == ()
        assert not any(health.alive(p) for p in (shell.pid, worker, stopped))
        assert health.attempt_processes(mark) == []
        assert bystander.poll() is None
    finally:
        for pid in (worker_pid(tmp_path, "worker"), bystander.pid):
            if pid and health.alive(pid):
                os.kill(pid, signal.SIGKILL)
        shell.kill()
        shell.wait()
        bystander.wait()
