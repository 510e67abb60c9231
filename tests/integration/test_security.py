"""Private by construction: file modes under .overseer, the tmux socket, no network listener."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import psutil

from overseer.state.models import TaskState
from tests.faults import start_supervisor
from tests.helpers import wait_until
from tests.project import Project


def test_every_file_and_directory_under_the_state_dir_is_private(project: Project) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell, count: 2}
tasks:
  - {id: a, run: 'echo hello', verify: 'true'}
  - {id: b, run: 'echo world; exit 3', max_attempts: 1}
  - {id: c, run: 'sleep 60'}
"""
    )
    # A permissive umask must not leak into anything Overseer writes.
    start_supervisor(project, umask=0o022)
    project.wait_task("a", TaskState.DONE)
    project.wait_task("b", TaskState.FAILED)
    project.wait_task("c", TaskState.RUNNING)
    state = project.state_dir
    names = {p.name for p in state.rglob("*")}
    # The files this check is about are all there (WAL files exist while the store is open).
    for expected in (
        "state.db",
        "state.db-wal",
        "state.db-shm",
        "supervisor.lock",
        "w-1.log",
        "a.1.sh",
        "a.1.cmd",
        "a.1.rc",
        "a.1.pid",
        "b.1.rc",
    ):
        assert expected in names, f"{expected} missing from {sorted(names)}"
    loose = []
    for path in [state, *state.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        if path.is_dir() and mode != 0o700 or not path.is_dir() and mode & 0o077:
            loose.append(f"{path.relative_to(state.parent)} {mode:o}")
        if path.lstat().st_uid != os.getuid():
            loose.append(f"{path} owned by uid {path.lstat().st_uid}")
    assert not loose, loose


def test_tmux_socket_lives_in_a_directory_only_its_owner_can_enter(project: Project) -> None:
    project.write("agents:\n  - {name: w, kind: shell}\ntasks: []\n")
    project.start()
    wait_until(lambda: project.agent_state("w") == "idle", timeout=30, message="no agent")
    socket = Path(project.tmux.run("display-message", "-p", "#{socket_path}").stdout.strip())
    assert socket.exists() and stat.S_ISSOCK(socket.stat().st_mode)
    parent = socket.parent.stat()
    assert parent.st_uid == os.getuid()
    assert stat.S_IMODE(parent.st_mode) & 0o077 == 0, oct(parent.st_mode)
    assert stat.S_IMODE(socket.stat().st_mode) & 0o007 == 0


def test_no_network_listener(project: Project) -> None:
    project.write(
        "agents:\n  - {name: w, kind: shell, count: 2}\ntasks:\n  - {id: a, run: 'true'}\n"
    )
    proc = project.start()
    project.wait_task("a", TaskState.DONE)
    server_pid = project.tmux.server_pid()
    assert server_pid is not None
    for pid in (proc.pid, server_pid):
        conns = psutil.Process(pid).net_connections(kind="inet")
        assert conns == [], (pid, conns)
