"""`overseer up` (supervisor in the background + dashboard) and `overseer tui` (dashboard only)."""

from __future__ import annotations

import argparse
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from state.config import load_user_config
from state.statedir import check_tree, open_private
from state.store import DB_NAME, Store, ensure_private_dir
from tui.cli import (
    EXIT_ENV,
    EXIT_OK,
    CliError,
    Project,
    check_drift,
    reset_demo,
    resolve,
    supervisor_alive,
)

START_WAIT = 20.0


def start_supervisor(project: Project, demo: bool, trust_state: bool = False) -> int | None:
    """Start `overseer run` detached (it outlives the dashboard); return its pid, or None if one
    runs. Two `overseer up` at once take turns, so the second attaches to the first's."""
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
    log_path = project.state_dir / "supervisor.log"
    cmd = [sys.executable, "-m", "tui.cli", "run", "-q", "--state-dir", str(project.state_dir)]
    if demo:
        cmd.append("--demo")
    elif project.config is not None and project.config.path is not None:
        cmd += ["-c", str(project.config.path)]
    if trust_state:
        cmd.append("--trust-state")
    fd = open_private(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
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
    deadline = time.monotonic() + START_WAIT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            if supervisor_alive(project.state_dir):
                return None  # one started by hand at the same moment won: attach to it
            tail = log_path.read_text(errors="replace").splitlines()[-5:]
            raise CliError(
                f"the supervisor exited with status {proc.returncode}:\n  " + "\n  ".join(tail),
                proc.returncode if proc.returncode in (2, 3) else EXIT_ENV,
            )
        if supervisor_alive(project.state_dir) and (project.state_dir / DB_NAME).exists():
            beat = Store(project.state_dir / DB_NAME).supervisor()
            if beat.pid == proc.pid and beat.heartbeat_at:
                return proc.pid
        time.sleep(0.05)
    raise CliError(
        f"the supervisor did not start within {START_WAIT:.0f}s; see {log_path}", EXIT_ENV
    )


def run_dashboard(project: Project, theme: str | None) -> int:
    from tui.app import OverseerApp

    if not (project.state_dir / DB_NAME).exists():
        raise CliError(f"no Overseer state at {project.state_dir}; start with `overseer up`")
    app = OverseerApp(project.config, project.state_dir, theme=theme, user=load_user_config())
    app.run()
    return EXIT_OK


def cmd_up(args: argparse.Namespace) -> int:
    project = resolve(args)
    project.need_config()
    if args.reset:
        reset_demo(project)
    check_drift(project, sync=args.sync_config, ask=True)
    pid = start_supervisor(project, demo=bool(args.demo), trust_state=args.trust_state)
    if pid is not None:
        print(
            f"supervisor started (pid {pid}); log: {project.state_dir / 'supervisor.log'}",
            file=sys.stderr,
        )
    return run_dashboard(project, args.theme)


def cmd_tui(args: argparse.Namespace) -> int:
    return run_dashboard(resolve(args), args.theme)


def register(sub: Any, common: Callable[..., None]) -> None:
    """Add `up` and `tui` to the command line."""
    p = sub.add_parser("up", help="start the supervisor if needed, then open the dashboard")
    common(p)
    p.add_argument(
        "--theme", metavar="NAME", help="colour theme (dark, light, high-contrast, yours)"
    )
    p.add_argument(
        "--trust-state",
        action="store_true",
        help="use a state dir made on another machine, by another user or at another path",
    )
    p.add_argument(
        "--sync-config",
        action="store_true",
        help="first give tasks changed in the config the config's version without asking",
    )
    p.add_argument(
        "--reset", action="store_true", help="with --demo: forget the demo's state and replay it"
    )
    p.set_defaults(func=cmd_up)
    p = sub.add_parser("tui", help="open the dashboard on an existing state dir")
    common(p)
    p.add_argument("--theme", metavar="NAME")
    p.set_defaults(func=cmd_tui)


__all__ = ["register", "start_supervisor", "Path"]
