"""The dashboard in a real terminal: `overseer up` in a tmux pane, keys in, screen out."""

from __future__ import annotations

import shlex
import sys

from overseer.agents.lock import is_held
from overseer.agents.tmux import TmuxServer
from overseer.state.models import TaskState
from overseer.state.store import Store
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
        f"{shlex.quote(sys.executable)} -m overseer.tui.cli up -c overseer.yaml; echo DASHBOARD-EXITED $?; sleep 300"
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


def terminal(tmux_server: TmuxServer, project: Project, command: str) -> str:
    """Run `command` (then print its exit status and linger) in a terminal: a pane of its own."""
    line = (
        f"cd {shlex.quote(str(project.root))} && PYTHONPATH={shlex.quote(str(ROOT))} "
        f"{command}; echo EXITED $?; sleep 300"
    )
    return tmux_server.spawn_window(
        "terminal",
        line,
        str(project.root),
        {"TERM": "xterm-256color"},
        project.root / "terminal.log",
        width=160,
        height=45,
    ).pane_id


def test_up_reports_a_supervisor_that_dies_at_start(
    project: Project, tmux_server: TmuxServer
) -> None:
    """No tmux on the supervisor's PATH: `up` says why, with the supervisor's exit status."""
    project.write("agents:\n  - {name: w, kind: shell}\ntasks: []\n")
    python = shlex.quote(sys.executable)
    pane = terminal(
        tmux_server, project, f"PATH=/nonexistent {python} -m overseer.tui.cli up -c overseer.yaml"
    )
    wait_until(
        lambda: "EXITED" in screen(tmux_server, pane),
        timeout=60,
        message="`overseer up` did not exit",
    )
    shown = screen(tmux_server, pane)
    assert "EXITED 3" in shown, shown
    assert "the supervisor exited with status 3 before its first heartbeat" in shown
    assert "tmux is not installed" in shown and "supervisor started" not in shown
    assert not is_held(project.state_dir)


def test_a_dashboard_crash_prints_one_line_naming_its_log(
    project: Project, tmux_server: TmuxServer
) -> None:
    project.write("agents:\n  - {name: w, kind: shell}\ntasks: []\n")
    Store(project.state_dir / "state.db").close()
    code = (
        "import sys, overseer.tui.screens.main as m; "
        "m.MainScreen.action_retry = lambda self: 1 / 0; "
        "from overseer.tui.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    python = shlex.quote(sys.executable)
    pane = terminal(tmux_server, project, f"{python} -c {shlex.quote(code)} tui -c overseer.yaml")
    wait_until(lambda: "Overseer" in screen(tmux_server, pane), timeout=60, message="no dashboard")
    tmux_server.send_keys(pane, "r")
    wait_until(lambda: "EXITED" in screen(tmux_server, pane), timeout=30, message="no exit")
    shown = screen(tmux_server, pane)
    assert "EXITED 70" in shown, shown
    assert "overseer: the dashboard crashed (ZeroDivisionError: division by zero)" in shown
    assert "Traceback" not in shown
    (log,) = (project.state_dir / "logs").glob("crash-*.log")
    assert str(log) in shown.replace("\n", "")
    assert "ZeroDivisionError" in log.read_text() and "Traceback" in log.read_text()


def test_attach_inside_tmux_without_a_popup_client_attaches_in_the_pane(
    project: Project, tmux_server: TmuxServer
) -> None:
    """The dashboard runs inside tmux, in a session no client shows: display-popup fails with
    "no current client", so the agent's pane opens nested in the dashboard's pane instead."""
    project.write(
        "agents:\n  - {name: w, kind: shell}\n"
        "tasks:\n  - {id: mark, run: 'echo ATTACH-MARK-42; sleep 300'}\n"
    )
    python = shlex.quote(sys.executable)
    pane = terminal(tmux_server, project, f"{python} -m overseer.tui.cli up -c overseer.yaml")
    wait_until(
        lambda: "running" in screen(tmux_server, pane) and "mark" in screen(tmux_server, pane),
        timeout=60,
        message="the dashboard never showed the running task",
    )
    assert tmux_server.run("list-clients").stdout.strip() == ""  # nobody looks at this server
    tmux_server.send_keys(pane, "a")  # the queue has focus: the agent running `mark`
    wait_until(
        lambda: "ATTACH-MARK-42" in screen(tmux_server, pane),
        timeout=30,
        message="the agent's pane was not attached",
    )
    assert "no current client" not in screen(tmux_server, pane)
    project.tmux.run("detach-client", "-s", "=overseer")
    wait_until(
        lambda: "attached in this pane" in screen(tmux_server, pane),
        timeout=30,
        message="the dashboard did not come back saying why there was no popup",
    )
    toast = " ".join(screen(tmux_server, pane).replace("▌", " ").split())
    assert "not in a popup: tmux display-popup: no current client" in toast
    tmux_server.send_keys(pane, "q")
    wait_until(lambda: "EXITED 0" in screen(tmux_server, pane), timeout=30, message="no exit")


def test_triage_at_80x24_in_a_real_terminal(project: Project, tmux_server: TmuxServer) -> None:
    """At 80x24 the waiting prompt is readable in full, tab reaches the events, y answers."""
    prompt = "Ship release 2.4.1 to all three production regions now? [y/N] "
    project.write(
        f"""
agents:
  - {{name: w, kind: shell}}
  - {{name: v, kind: shell}}
tasks:
  - {{id: ask, run: 'read -r -p "{prompt}" a; [ "$a" = y ] && echo shipped'}}
  - {{id: broken, run: 'exit 7', max_attempts: 1}}
""",
    )
    # The terminal's own size, not a COLUMNS/LINES the test runner's environment may carry.
    cmd = (
        f"cd {shlex.quote(str(project.root))} && env -u COLUMNS -u LINES "
        f"PYTHONPATH={shlex.quote(str(ROOT))} {shlex.quote(sys.executable)} -m overseer.tui.cli up "
        "-c overseer.yaml; echo EXITED $?; sleep 300"
    )
    env = {"TERM": "xterm-256color"}
    pane = tmux_server.spawn_window(
        "small", cmd, str(project.root), env, project.root / "ui.log", width=80, height=24
    ).pane_id
    size = tmux_server.run("display", "-p", "-t", pane, "#{pane_width}x#{pane_height}")
    assert size.stdout.strip() == "80x24"

    def flat() -> str:
        return " ".join(screen(tmux_server, pane).split())

    wait_until(
        lambda: f"w waits at: {prompt.strip()}" in flat(),
        timeout=60,
        message="the waiting prompt was not shown in full at 80x24",
    )
    wait_until(lambda: "tab Panels" in flat(), timeout=20, message="the footer has no tab key")
    tmux_server.send_keys(pane, "Tab", "Tab", "Tab")  # typed at once: suggestions, detail, events
    wait_until(
        lambda: "Events" in flat() and "Suggestions" in flat() and "Queue" not in flat(),
        timeout=20,
        message="tab did not bring the events panel",
    )
    tmux_server.send_keys(pane, "Tab", "Tab")  # agents, then the queue with `ask` selected
    wait_until(
        lambda: "Queue" in flat() and "Events" not in flat(),
        timeout=20,
        message="tab did not come back to the queue",
    )
    tmux_server.send_keys(pane, "/")
    wait_until(lambda: "filter: words" in flat(), timeout=20, message="/ opened no filter")
    tmux_server.send_keys(pane, "ask", "Enter")
    wait_until(lambda: "Queue 1/2" in flat(), timeout=20, message="the filter did not apply")
    tmux_server.send_keys(pane, "y")
    project.wait_task("ask", TaskState.DONE, timeout=30)
    tmux_server.send_keys(pane, "q")
    wait_until(lambda: "EXITED 0" in flat(), timeout=30, message="q did not quit")
