"""Trusting the state dir: no links, nothing of another user's, and an origin it was made at.

A state dir can arrive with a clone or a copy of a project. Overseer never follows a link in
it, never writes a file that belongs to someone else, and runs nothing from a store that was
made on another machine, by another user or at another path until the user says so
(`--trust-state`). The rules live here, apart from the store, so every writer uses them.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import socket
import stat
from pathlib import Path

from overseer.state.errors import EXIT_ENV, OverseerError
from overseer.state.paths import GITIGNORE, OWN_SUBDIRS

_IGNORE_TEXT = "# Overseer's state: private to this machine and user, never committed\n*\n"


class StoreError(OverseerError):
    """A store problem a person can act on (unreadable, corrupt, newer schema)."""

    status = EXIT_ENV


class UnsafeStateDir(StoreError):
    """A state dir Overseer will not use: a link, another user's file, or a foreign origin."""


def _what(st: os.stat_result) -> str | None:
    """Why an entry (lstat result) cannot be trusted, or None."""
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if st.st_uid != os.geteuid():
        return f"belongs to uid {st.st_uid}, not to you (uid {os.geteuid()})"
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return "is neither a file nor a directory"
    return None


def _refuse(path: Path, why: str) -> UnsafeStateDir:
    target = ""
    if why == "is a symbolic link":
        with contextlib.suppress(OSError):
            target = f" (to {os.readlink(path)})"
    return UnsafeStateDir(
        f"refusing the state dir: {path} {why}{target}. Overseer never follows a link or "
        "writes another user's file in its state dir; remove it (or the whole state dir, if "
        "it came with a clone or a copy of the project) and try again"
    )


def check_path(path: Path) -> os.stat_result | None:
    """lstat `path` and refuse a link or another user's entry; None when it does not exist."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    why = _what(st)
    if why is not None:
        raise _refuse(path, why)
    return st


def check_tree(state_dir: Path) -> None:
    """Refuse a state dir that is, or holds, a link or another user's entry.

    The state dir's entries and those of Overseer's own subdirectories are checked (one
    lstat each); nothing is followed, so nothing outside is ever touched.
    """
    if check_path(state_dir) is None:
        return
    for entry in _entries(state_dir):
        path = Path(entry.path)
        why = _what(entry.stat(follow_symlinks=False))
        if why is not None:
            raise _refuse(path, why)
        if entry.name in OWN_SUBDIRS and entry.is_dir(follow_symlinks=False):
            for sub in _entries(path):
                why = _what(sub.stat(follow_symlinks=False))
                if why is not None:
                    raise _refuse(Path(sub.path), why)


def _entries(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except FileNotFoundError:
        return []


def open_private(path: Path, flags: int) -> int:
    """os.open for a file of the state dir: never through a link, only a file of this user,
    created 0600 and made 0600 whatever the umask was."""
    try:
        fd = os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        st = check_path(path)  # a link or a foreign file says so clearly
        if st is not None and not stat.S_ISREG(st.st_mode):
            raise _refuse(path, "is not a regular file") from exc
        raise
    st = os.fstat(fd)
    why = _what(st) or (None if stat.S_ISREG(st.st_mode) else "is not a regular file")
    if why is not None:
        os.close(fd)
        raise _refuse(path, why)
    if stat.S_IMODE(st.st_mode) != 0o600:
        os.fchmod(fd, 0o600)
    return fd


def write_private(path: Path, text: str) -> None:
    """Write a whole private file of the state dir (see open_private)."""
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def ensure_gitignore(directory: Path) -> None:
    """Give a directory of Overseer's its own `.gitignore` (`*`), so git never commits it."""
    path = directory / GITIGNORE
    if check_path(path) is None:
        write_private(path, _IGNORE_TEXT)


# -- origin -------------------------------------------------------------------------------


@functools.cache
def machine_id() -> str:
    """This machine's stable id (systemd's machine-id), else its host name."""
    for path in ("/etc/machine-id", "/var/lib/dbus/machine-id"):
        try:
            text = Path(path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            continue
        if text:
            return text
    return "host:" + socket.gethostname()


def command_origin() -> str:
    """Who writes an operator command: `uid@machine`."""
    return f"{os.geteuid()}@{machine_id()}"


def origin_record(state_dir: Path) -> str:
    """The origin a new store records: machine, user and the state dir's real path."""
    return json.dumps(
        {
            "host": machine_id(),
            "hostname": socket.gethostname(),
            "uid": os.geteuid(),
            "path": str(Path(state_dir).resolve()),
        },
        sort_keys=True,
    )


def foreign(recorded: str | None, state_dir: Path) -> str | None:
    """Why a store with this origin record is not this user's own here, or None.

    Foreign means: no origin recorded (made by an older Overseer, or by hand), another
    machine, another user, or another path (the state dir was moved or copied).
    """
    try:
        origin = json.loads(recorded) if recorded else None
    except ValueError:
        origin = None
    if not isinstance(origin, dict):
        return "it records no origin (made by an older Overseer, or not by Overseer)"
    if origin.get("host") != machine_id():
        return f"it was made on another machine ({origin.get('hostname') or 'unknown'})"
    if origin.get("uid") != os.geteuid():
        return f"it was made by another user (uid {origin.get('uid')})"
    here = str(Path(state_dir).resolve())
    if origin.get("path") != here:
        return f"it was made at {origin.get('path')} and moved or copied here"
    return None
