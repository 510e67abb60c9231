"""Crash reports: one line on the terminal, the traceback in a private log file."""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from overseer.state.paths import SUPERVISOR_LOG as SUPERVISOR_LOG
from overseer.state.paths import StatePaths
from overseer.state.redact import mask


def crash_dir(state_dir: Path | None) -> Path:
    """Where crash logs go: the state dir's logs/ if that dir exists, else $XDG_STATE_HOME/overseer.

    A crash before any state dir exists (no project yet) must not create `.overseer/` as a side
    effect, so it goes to the per-user state directory the XDG spec names for such logs.
    """
    if state_dir is not None and state_dir.is_dir():
        return StatePaths(state_dir).logs
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "overseer"


def write_crash_log(
    error: BaseException, state_dir: Path | None, argv: Sequence[str] = ()
) -> Path | None:
    """Write the traceback (secrets masked) to a new 0600 file; its path, or None if it cannot."""
    folder = crash_dir(state_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = (
        f"overseer crashed at {time.strftime('%Y-%m-%d %H:%M:%S %z')} (pid {os.getpid()}, "
        f"python {sys.version.split()[0]})\n"
        f"command: overseer {' '.join(argv)}\n\n" + "".join(traceback.format_exception(error))
    )
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = folder / f"crash-{stamp}-{os.getpid()}.log"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(mask(text))
    except OSError:
        return None
    return path


def crash_message(what: str, error: BaseException, log: Path | None) -> str:
    """One line: what crashed, with which error, and where its traceback is."""
    detail = " ".join(str(error).split())
    if len(detail) > 160:
        detail = detail[:159] + "…"
    head = f"{what} crashed ({type(error).__name__}{': ' + detail if detail else ''})"
    if log is None:
        return mask(f"{head}; no crash log could be written")
    return mask(f"{head}; the traceback is in {log} (please report it)")


def log_tail(path: Path, since: int = 0, lines: int = 5) -> list[str]:
    """The last `lines` non-empty lines a log gained after byte `since` (none if unreadable)."""
    try:
        with path.open("rb") as f:
            size = f.seek(0, os.SEEK_END)
            start = max(since, size - 16384)
            f.seek(start)
            data = f.read()
    except OSError:
        return []
    text = data.decode(errors="replace").splitlines()
    if start > since and text:
        text = text[1:]  # the first line read may be cut
    return [line.rstrip() for line in text if line.strip()][-lines:]
