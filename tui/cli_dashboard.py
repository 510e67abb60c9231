"""`overseer up` (supervisor in the background + dashboard) and `overseer tui` (dashboard only)."""

from __future__ import annotations

import argparse
import fcntl
import itertools
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from overseer.state import hosts
from overseer.state.config import load_user_config
from overseer.state.statedir import check_tree, open_private
from overseer.state.store import ensure_private_dir, project_store, store_exists
from overseer.tui.cli_common import (
    EXIT_CRASH,
    EXIT_ENV,
    EXIT_OK,
    CliError,
    Project,
    check_drift,
    command,
    reset_demo,
    resolve,
    start_options,
    supervisor_alive,
)
from overseer.tui.crash import SUPERVISOR_LOG, crash_message, log_tail

START_WAIT = 60.0  # seconds to wait for a new supervisor's first loop heartbeat
SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


def need_terminal(hint: str) -> None:
    """Refuse to draw the dashboard without a terminal (it would write escape codes and hang)."""
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError(f"the dashboard needs a terminal (stdin and stdout are not one); {hint}")


def start_supervisor(project: Project, demo: bool, trust_state: bool = False) -> int | None:
    """Start `overseer run` detached (it outlives the dashboard); its pid, or None if one runs.

    Two `overseer up` at once take turns, so the second attaches to the first's. Returns once
    the new supervisor's loop has beaten; if it dies first, raises CliError with what it wrote
    to its log and its exit status.
    """
    check_tree(project.state_dir)
    ensure_private_dir(project.state_dir)
    turn = open_private(project.state_dir / "up.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(turn, fcntl.LOCK_EX)  # released when closed, or when this process dies
        if supervisor_alive(project.state_dir):
            return None
        return _start(project, demo, trust_state)
    finally:
        os.close(turn)


def _start(project: Project, demo: bool, trust_state: bool) -> int | None:
    log_path = project.state_dir / SUPERVISOR_LOG
    cmd = [
        sys.executable,
        "-m",
        "overseer.tui.cli",
        "run",
        "-q",
        "--state-dir",
        str(project.state_dir),
    ]
    if demo:
        cmd.append("--demo")
    elif project.config is not None and project.config.path is not None:
        cmd += ["-c", str(project.config.path)]
    if trust_state:
        cmd.append("--trust-state")
    since = last_event_id(project.state_dir)
    fd = open_private(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        offset = os.fstat(fd).st_size  # what this run writes starts here
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=os.getcwd(),
        )
    finally:
        os.close(fd)
    spin = sys.stderr.isatty()
    deadline = time.monotonic() + START_WAIT
    try:
        for frame in itertools.cycle(SPINNER):
            if proc.poll() is not None:
                if supervisor_alive(project.state_dir):
                    return None  # one started by hand at the same moment won: attach to it
                code = proc.returncode
                said = log_tail(log_path, since=offset) or ["(it wrote nothing)"]
                raise CliError(
                    f"the supervisor exited with status {code} before its first heartbeat:\n  "
                    + "\n  ".join(said)
                    + f"\n(log: {log_path})",
                    code if code > 0 else EXIT_ENV,
                )
            if first_beat(project.state_dir, proc.pid, since):
                return proc.pid
            if time.monotonic() >= deadline:
                print(
                    f"overseer: the supervisor (pid {proc.pid}) is still starting after "
                    f"{START_WAIT:.0f}s; opening the dashboard anyway (log: {log_path})",
                    file=sys.stderr,
                )
                return proc.pid
            if spin:
                sys.stderr.write(f"\r{frame} starting the supervisor (pid {proc.pid})…")
                sys.stderr.flush()
            time.sleep(0.08)
    finally:
        if spin:
            sys.stderr.write("\r\x1b[K")
            sys.stderr.flush()
    raise AssertionError("unreachable")


def last_event_id(state_dir: Path) -> int:
    """The id of the store's newest event (0 without a store)."""
    if not store_exists(state_dir):
        return 0
    store = project_store(state_dir)
    try:
        return store.last_event_id()
    finally:
        store.close()


def first_beat(state_dir: Path, pid: int, since: int) -> bool:
    """Whether supervisor `pid` finished starting: its loop beat after its start event.

    The supervisor also records a heartbeat as it begins, before tmux is even looked for, so a
    heartbeat alone does not prove it got going. `since`: the newest event id before it started.
    """
    if not supervisor_alive(state_dir) or not store_exists(state_dir):
        return False
    store = project_store(state_dir)
    try:
        beat = store.supervisor()
        if beat.pid != pid or not beat.heartbeat_at:
            return False
        started = store.last_event_at("supervisor.start", after=since)
        return started is not None and beat.heartbeat_at >= started
    finally:
        store.close()


def run_dashboard(project: Project, theme: str | None) -> int:
    from overseer.tui.app import OverseerApp

    if not store_exists(project.state_dir):
        raise CliError(f"no Overseer state at {project.state_dir}; start with `overseer up`")
    user = load_user_config()  # a broken user config says so, terminal or not
    need_terminal("watch from a script with `overseer status --json` or `overseer events -f`")
    app = OverseerApp(project.config, project.state_dir, theme=theme, user=user)
    app.run()
    if app.crash is not None:
        error, log = app.crash
        raise CliError(crash_message("the dashboard", error, log), EXIT_CRASH)
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    project = resolve(args)
    project.need_config()
    check_tree(project.state_dir)  # a state dir that cannot be trusted says so first
    load_user_config()
    need_terminal("`overseer run` runs the supervisor without one")
    if args.reset:
        reset_demo(project)
    check_drift(project, sync=args.sync_config, ask=True)
    if args.host_id:  # the detached `overseer run` takes it from there
        os.environ[hosts.ENV] = hosts.check_host_id(args.host_id)
    pid = start_supervisor(project, demo=bool(args.demo), trust_state=args.trust_state)
    if pid is not None:
        print(
            f"supervisor started (pid {pid}); log: {project.state_dir / SUPERVISOR_LOG}",
            file=sys.stderr,
        )
    return run_dashboard(project, args.theme)


def cmd_tui(args: argparse.Namespace) -> int:
    return run_dashboard(resolve(args), args.theme)


def register(sub: Any) -> None:
    """Add `up` and `tui` to the command line."""
    p = command(sub, "up", cmd_up, "start the supervisor if needed, then open the dashboard")
    p.add_argument(
        "--theme", metavar="NAME", help="colour theme (dark, light, high-contrast, yours)"
    )
    start_options(
        p, sync_help="first give tasks changed in the config the config's version without asking"
    )
    p = command(sub, "tui", cmd_tui, "open the dashboard on an existing state dir")
    p.add_argument("--theme", metavar="NAME")


__all__ = ["register", "start_supervisor", "Path"]
