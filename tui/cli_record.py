"""`overseer record`: an attempt's output, with its timing, as an asciicast v2 file.

The reading lives in agents/record.py; this module parses, finds the pane's size and writes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from overseer.tui.cli_common import EXIT_OK, EXIT_USAGE, CliError, Project, command, resolve


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive number")
    return value


def pane_size(project: Project, agent: str) -> tuple[int, int]:
    """The agent's pane size as tmux shows it now, else the size Overseer opens panes at."""
    from overseer.agents.record import PANE_SIZE
    from overseer.agents.tmux import TmuxError, TmuxServer, server_label

    if project.config is None:
        return PANE_SIZE
    try:
        tmux = TmuxServer(server_label(project.config.name, project.state_dir))
        for pane in tmux.list_panes() if tmux.alive() else []:
            if pane.window == agent and pane.width > 0 and pane.height > 0:
                return pane.width, pane.height
    except TmuxError:
        pass
    return PANE_SIZE


def write_export(path: Path, text: str) -> None:
    """Write a file only its owner reads (0600 whatever the umask or an older file's mode),
    never through a link planted at its name."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}", EXIT_USAGE) from exc
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", closefd=False) as f:
            f.write(text)
    finally:
        os.close(fd)


def cmd_record(args: argparse.Namespace) -> int:
    from overseer.agents.record import find_attempt, recording

    project = resolve(args)
    store = project.store()
    try:
        attempt = find_attempt(store, args.ref)
        rec = recording(project.state_dir, store, attempt)
    finally:
        store.close()
    size = pane_size(project, attempt.agent)
    write_export(Path(args.output), rec.asciicast(size, args.speed, args.idle_limit))
    note = "" if rec.timed else " (no output times were kept for it: one frame)"
    print(
        f"overseer: attempt {attempt.id} ({attempt.task_id} #{attempt.number} on "
        f"{attempt.agent}), {len(rec.frames)} frames over {rec.duration:.1f} s, "
        f"{size[0]}x{size[1]} -> {args.output}{note}",
        file=sys.stderr,
    )
    return EXIT_OK


def register(sub: Any) -> None:
    """Add `record` to the command line."""
    p = command(sub, "record", cmd_record, "an attempt's output with its timing, as asciicast v2")
    p.add_argument("ref", metavar="ATTEMPT|TASK", help="an attempt id, or a task (its latest)")
    p.add_argument("-o", "--output", required=True, metavar="FILE", help="the .cast file (0600)")
    p.add_argument("--speed", type=_positive, default=1.0, metavar="X", help="play X times as fast")
    p.add_argument("--idle-limit", type=_positive, metavar="S", help="cap every pause at S seconds")
