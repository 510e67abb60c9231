"""The dashboard in a real terminal: `overseer up` in a tmux pane, keys in, screen out."""

from __future__ import annotations

import shlex
import sys

from agents.lock import is_held
from agents.tmux import TmuxServer
from state.models import TaskState
from tests.helpers import wait_until
from tests.project import ROOT, Project


def screen(term: TmuxServer, pane: str) -> str:
    return term.capture(pane)


def test_overseer_up_in_a_real_terminal(project: Project, tmux_server: TmuxServer) -> None:
    project.write(
        """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: ask, run: 'read -r -p "Ship it? [y/N] " a; [ "$a" = y ] && echo shipped'}
""",
    )
    cmd = (
        f"cd {shlex.quote(str(project.root))} && PYTHONPATH={shlex.quote(str(ROOT))} "
        f"{shlex.quote(sys.executable)} -m tui.cli up -c overseer.yaml; echo DASHBOARD-EXITED $?; sleep 300"
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
        lambda: "waiting" in screen(tmux_server, pane) and "Ship it?" in screen(tmux_server, pane),
        timeout=60,
        message="dashboard never showed the waiting agent",
    )
    assert is_held(project.state_dir), "overseer up started a supervisor"
    first_pid = project.store.supervisor().pid
    # The queue has focus and its first row is the waiting task: y answers its agent.
    tmux_server.send_keys(pane, "y")
    project.wait_task("ask", TaskState.DONE, timeout=30)
    wait_until(
        lambda: "✓ done" in screen(tmux_server, pane),
        timeout=30,
        message="the dashboard did not show the task done",
    )
    tmux_server.send_keys(pane, "q")
    wait_until(
        lambda: "DASHBOARD-EXITED 0" in screen(tmux_server, pane),
        timeout=30,
        message="q did not quit",
    )
    assert is_held(project.state_dir), "quitting the dashboard must not stop the supervisor"
    # A second `overseer up` (in another window) attaches to the same supervisor.
    pane = tmux_server.spawn_window(
        "ui2",
        cmd,
        str(project.root),
        {"TERM": "xterm-256color"},
        project.root / "ui2.log",
        width=160,
        height=45,
    ).pane_id
    wait_until(
        lambda: "Overseer" in screen(tmux_server, pane) and "✓ done" in screen(tmux_server, pane),
        timeout=60,
        message="second dashboard did not open",
    )
    assert project.store.supervisor().pid == first_pid
    tmux_server.send_keys(pane, "Q")
    wait_until(
        lambda: "Quit and stop" in screen(tmux_server, pane), timeout=20, message="no confirm"
    )
    tmux_server.send_keys(pane, "y")
    wait_until(
        lambda: not is_held(project.state_dir), timeout=30, message="supervisor still running"
    )
