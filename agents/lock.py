"""One writer per state dir: a lock that names its holder and that deleting a file cannot free.

Three layers, because the state dir can be deleted under a running supervisor (`git clean
-fdx`): a flock(2) on `<state_dir>/supervisor.lock` that names its holder and its role; an
abstract unix socket named after the state dir's path, which lives in the kernel only (Linux:
no file anywhere, gone when the process dies); and, for a supervisor, an owner record on its
private tmux server (`@overseer-owner`: pid and start time), checked before adopting panes.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from overseer.agents.tmux import TmuxError, TmuxServer
from overseer.state.errors import EXIT_USAGE, OverseerError
from overseer.state.paths import StatePaths
from overseer.state.statedir import open_private

SUPERVISOR = "supervisor"  # the role of `overseer run`; others ("apply", "cleanup") are short
APPLY_WAIT = 30.0  # how long a start waits for a short holder (an offline command) to finish
HANDOVER_WAIT = 2.0  # a holder that just exited may keep the kernel lock for an instant
OWNER_OPTION = "@overseer-owner"


@dataclass(frozen=True)
class Holder:
    """Who holds the lock, as its file says."""

    pid: int | None
    role: str


class LockHeld(OverseerError):
    """Another process holds the supervisor lock of this state dir."""

    status = EXIT_USAGE

    def __init__(
        self, path: Path, pid: int | None, role: str = SUPERVISOR, detail: str | None = None
    ) -> None:
        self.path = path
        self.pid = pid
        self.role = role
        who = f"pid {pid}" if pid else "another process"
        if detail is not None:
            text = detail
        elif role == SUPERVISOR:
            text = (
                f"a supervisor ({who}) is already running for {path.parent}; "
                "use `overseer status` to watch it or `overseer down` to stop it"
            )
        else:
            text = (
                f"an `overseer` command ({who}, {role}) is still applying operator commands "
                f"offline in {path.parent}; try again when it has finished"
            )
        super().__init__(text)


def _kernel_name(state_dir: Path) -> bytes:
    digest = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:40]
    return b"\0overseer-" + digest.encode()


class SupervisorLock:
    """The writer lock of one state dir (see the module docstring); released at process death."""

    def __init__(self, state_dir: Path, role: str = SUPERVISOR, wait: float = APPLY_WAIT) -> None:
        self.path = StatePaths(state_dir).lock
        self.state_dir = state_dir
        self.role = role
        self.wait = wait
        self.fd: int | None = None
        self.sock: socket.socket | None = None

    def acquire(self) -> None:
        """Take the lock, waiting a while for a short holder; raise LockHeld naming the holder."""
        deadline = time.monotonic() + self.wait
        handover = time.monotonic() + HANDOVER_WAIT
        while True:
            fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                who = read_holder(self.path)
                now = time.monotonic()
                if who is not None and _alive(who.pid):
                    if who.role == SUPERVISOR or now >= deadline:
                        raise LockHeld(self.path, who.pid, who.role) from None
                elif now >= handover:  # a holder the file does not name (yet): a prober
                    raise LockHeld(self.path, who.pid if who else None) from None
                time.sleep(0.05)
                continue
            if not _same_file(fd, self.path):
                os.close(fd)  # deleted or replaced between open and flock: take the new one
                continue
            try:
                self.sock = _bind_kernel_lock(self.state_dir)
            except BlockingIOError:
                os.close(fd)
                if time.monotonic() >= handover:
                    raise LockHeld(
                        self.path,
                        None,
                        detail=(
                            f"another Overseer process still works on {self.state_dir}, "
                            "although its supervisor.lock is gone: the state dir was removed "
                            "or replaced while it ran"
                        ),
                    ) from None
                time.sleep(0.05)
                continue
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {self.role}\n".encode())
            self.fd = fd
            return

    def release(self) -> None:
        """Give the lock up (the kernel lock first: the next holder binds it after its flock)."""
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if self.fd is not None:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None

    def identity(self) -> tuple[int, int] | None:
        """(device, inode) of the lock file this process holds."""
        if self.fd is None:
            return None
        st = os.fstat(self.fd)
        return st.st_dev, st.st_ino

    def __enter__(self) -> SupervisorLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _bind_kernel_lock(state_dir: Path) -> socket.socket | None:
    """Bind the state dir's abstract socket (never listened on); BlockingIOError when taken.

    Linux only; elsewhere None (the flock and the tmux owner record remain).
    """
    if not sys.platform.startswith("linux"):
        return None
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)  # close-on-exec, as Python makes it
    try:
        sock.bind(_kernel_name(state_dir))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise BlockingIOError(exc.errno, "taken") from exc
        return None  # no abstract namespace here: the other layers stand
    return sock


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_holder(path: Path) -> Holder | None:
    """The pid and role written by the lock's holder, if readable."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        words = os.read(fd, 256).decode("ascii", "replace").split()
    finally:
        os.close(fd)
    if not words or not words[0].isdigit():
        return None
    return Holder(int(words[0]), words[1] if len(words) > 1 else SUPERVISOR)


def holder(path: Path) -> int | None:
    """The pid written by the lock's holder, if readable."""
    who = read_holder(path)
    return who.pid if who else None


def is_held(state_dir: Path) -> bool:
    """Whether a live process holds the lock of `state_dir` (a supervisor or an offline command)."""
    try:
        fd = os.open(StatePaths(state_dir).lock, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return False  # none, or a planted link: nobody holds a lock through that
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def supervisor_running(state_dir: Path) -> bool:
    """Whether a supervisor (not a short offline command) holds the lock of `state_dir`."""
    if not is_held(state_dir):
        return False
    who = read_holder(StatePaths(state_dir).lock)
    return who is None or who.role == SUPERVISOR


# -- the owner record on the tmux server ----------------------------------------------------


@dataclass(frozen=True)
class Owner:
    """The live supervisor a tmux server's owner record names."""

    pid: int
    note: str  # why it still runs when its state dir is gone ("" while all is well)


def _start_time(pid: int) -> float | None:
    try:
        return float(psutil.Process(pid).create_time())
    except psutil.Error:
        return None


def tmux_owner(server: TmuxServer) -> Owner | None:
    """The live supervisor recorded as the owner of `server` (a dead or reused pid is none)."""
    try:
        proc = server.run("show-options", "-sqv", OWNER_OPTION, check=False)
    except TmuxError:
        return None
    words = proc.stdout.strip().split(" ", 2) if proc.returncode == 0 else []
    if len(words) < 2 or not words[0].isdigit():
        return None
    pid = int(words[0])
    started = _start_time(pid)
    try:
        recorded = float(words[1])
    except ValueError:
        return None
    if started is None or abs(started - recorded) > 1.0:
        return None
    return Owner(pid, words[2] if len(words) > 2 else "")


def set_tmux_owner(server: TmuxServer, note: str = "") -> None:
    """Record this process as the owner of `server` (lives as long as the server)."""
    started = _start_time(os.getpid()) or 0.0
    value = f"{os.getpid()} {started:.3f}" + (f" {note}" if note else "")
    server.run("set-option", "-s", OWNER_OPTION, value)


def clear_tmux_owner(server: TmuxServer) -> None:
    """Drop the owner record if it names this process."""
    owner = tmux_owner(server)
    if owner is not None and owner.pid == os.getpid():
        with contextlib.suppress(TmuxError):
            server.run("set-option", "-su", OWNER_OPTION, check=False)
