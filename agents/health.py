"""Process facts from psutil: liveness, process trees, CPU and memory, stopping a task."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import psutil

TERM_GRACE = 3.0  # SIGTERM, then SIGKILL after this
KILL_WAIT = 1.0  # after SIGKILL: still alive after this long counts as a survivor
LATE_ROUNDS = 3  # how often the processes of an attempt are listed again while ending them


@dataclass(frozen=True)
class TreeUsage:
    """CPU seconds and resident memory of a process and its descendants."""

    alive: bool
    cpu_seconds: float
    rss_bytes: int
    processes: int


class ExitWatch:
    """One pidfd per named process (the agents' shells): readable the moment it exits.

    Linux >= 5.3 (`os.pidfd_open`); elsewhere nothing is armed and callers keep polling.
    A process seen to exit is not watched again (its pidfd would stay readable).
    """

    def __init__(self) -> None:
        self._fds: dict[str, tuple[int, int]] = {}  # name -> (pid, pidfd)
        self._gone: dict[str, int] = {}  # name -> the pid seen to exit

    def arm(self, name: str, pid: int | None) -> bool:
        """Watch `pid` under `name` (replacing what was watched); whether it is watched."""
        held = self._fds.get(name)
        if held is not None and held[0] == pid:
            return True
        self.disarm(name)
        if not pid or self._gone.get(name) == pid or not hasattr(os, "pidfd_open"):
            return False
        try:
            self._fds[name] = (pid, os.pidfd_open(pid))
        except OSError:
            return False  # gone already, or no pidfds here
        return True

    def disarm(self, name: str) -> None:
        """Stop watching `name`."""
        held = self._fds.pop(name, None)
        if held is not None:
            with contextlib.suppress(OSError):
                os.close(held[1])

    def fds(self) -> list[int]:
        """The pidfds, for a select() that should wake on an exit."""
        return [fd for _, fd in self._fds.values()]

    def exited(self) -> set[str]:
        """The names whose process has exited since the last call (then no longer watched)."""
        if not self._fds:
            return set()
        ready = set(select.select(self.fds(), [], [], 0)[0])
        names = {name for name, (_, fd) in self._fds.items() if fd in ready}
        for name in names:
            self._gone[name] = self._fds[name][0]
            self.disarm(name)
        return names

    def close(self) -> None:
        """Close every pidfd."""
        for name in list(self._fds):
            self.disarm(name)


def alive(pid: int | None) -> bool:
    """Whether `pid` names a running (not zombie) process.

    On Linux one read of /proc/<pid>/stat (asked of every agent every second: psutil would
    read it twice and build an object).
    """
    if not pid:
        return False
    if _PROC_STAT:
        stat = _read_all(f"/proc/{pid}/stat")
        end = stat.rfind(b")")
        return end > 0 and stat[end + 2 : end + 3] not in (b"Z", b"X", b"")
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def has_children(pid: int | None) -> bool:
    """Whether a live process has any live child (a shell running a job)."""
    if not pid:
        return False
    try:
        kids = psutil.Process(pid).children()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
    return any(k.status() != psutil.STATUS_ZOMBIE for k in kids if k.is_running())


def tree_usage(pid: int | None) -> TreeUsage:
    """Summed CPU time and RSS of a process tree (zeros when it is gone)."""
    if not pid:
        return TreeUsage(False, 0.0, 0, 0)
    if _PROC_CHILDREN:
        return _proc_tree(pid)
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return TreeUsage(False, 0.0, 0, 0)
    cpu = 0.0
    rss = 0
    n = 0
    for p in procs:
        try:
            with p.oneshot():
                t = p.cpu_times()
                cpu += t.user + t.system
                rss += p.memory_info().rss
                n += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return TreeUsage(True, cpu, rss, n)


def wrapper_alive(pid: int | None, script_marker: str) -> bool:
    """Whether `pid` is still the wrapper we started (its command line names the script)."""
    if not pid:
        return False
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        return any(script_marker in part for part in p.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False


def signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a whole process group; False when the group is gone."""
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


@dataclass(frozen=True)
class Ended:
    """What ending the processes of one attempt did."""

    killed: int = 0  # processes of the attempt that were ended (SIGTERM or SIGKILL)
    survivors: tuple[str, ...] = ()  # "pid N (name)" of those still alive after SIGKILL

    def note(self) -> str:
        """A clause for the attempt's reason ('' when nothing was left)."""
        parts = []
        if self.killed:
            parts.append(f"{self.killed} leftover process{'es' if self.killed > 1 else ''} killed")
        if self.survivors:
            parts.append(f"{len(self.survivors)} survived SIGKILL: {', '.join(self.survivors)}")
        return "; ".join(parts)


def marked(mark: str) -> set[int]:
    """Pids of the live processes whose environment holds the entry `mark` (`NAME=value`).

    A process's environment is the one it was started with: it passes through fork,
    setsid and exec unless a process deliberately clears it. One read of
    /proc/<pid>/environ per process (~15 us); elsewhere psutil's environ().
    """
    name, _, value = mark.partition("=")
    if not _PROC_ENVIRON:
        found = set()
        for p in psutil.process_iter():
            try:
                if p.environ().get(name) == value:
                    found.add(p.pid)
            except psutil.Error:
                continue
        return found
    needle = b"\0" + mark.encode() + b"\0"
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and needle in b"\0" + _read_all(f"/proc/{entry}/environ"):
            found.add(int(entry))
    return found


def _read_all(path: str) -> bytes:
    """A whole file through raw reads (half the cost of open().read() on /proc files)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    chunks = []
    try:
        while chunk := os.read(fd, 32768):
            chunks.append(chunk)
    except OSError:
        return b""
    finally:
        os.close(fd)
    return b"".join(chunks)


def descendants(pid: int) -> list[int]:
    """Pids of every live descendant of `pid` (not `pid` itself)."""
    if not _PROC_CHILDREN:
        try:
            return [k.pid for k in psutil.Process(pid).children(recursive=True)]
        except psutil.Error:
            return []
    out: list[int] = []
    stack, seen = _proc_children(pid), {pid}
    while stack:
        kid = stack.pop()
        if kid not in seen:
            seen.add(kid)
            out.append(kid)
            stack.extend(_proc_children(kid))
    return out


def attempt_processes(
    mark: str, leader: int | None = None, spare: Collection[int] = ()
) -> list[psutil.Process]:
    """Every live process of one attempt, but those in `spare`.

    That is each process whose environment carries the attempt's `mark` (found wherever it
    went: a double-forked, setsid daemon included), their descendants, and, when `leader`
    (its wrapper, known to be alive) is given, the wrapper and its descendants. The
    supervisor, pid 1 and zombies are never included.
    """
    roots = marked(mark)
    if leader:
        roots.add(leader)
    pids = set(roots)
    for root in roots:
        pids.update(descendants(root))
    pids -= {1, os.getpid(), *spare}
    procs = []
    for pid in sorted(pids):
        try:
            p = psutil.Process(pid)
            if p.status() != psutil.STATUS_ZOMBIE:
                procs.append(p)
        except psutil.Error:
            continue
    return procs


def signal_processes(procs: Sequence[psutil.Process], sig: int, group: int | None = None) -> int:
    """SIGCONT, then `sig`, to each process that is still the one listed; return how many.

    A stopped process (Ctrl-Z, `kill -TSTP`) only acts on SIGTERM once continued. With
    `group`, that whole process group is signalled at once (reaching a child forked a moment
    ago) and the listed processes inside it are not signalled twice.
    """
    n = 0
    if group:
        if sig != signal.SIGKILL:
            signal_group(group, signal.SIGCONT)
        signal_group(group, sig)
    for p in procs:
        try:
            if not p.is_running():  # gone, or its pid now names another process
                continue
            if group and os.getpgid(p.pid) == group:
                continue
            if sig != signal.SIGKILL:
                p.send_signal(signal.SIGCONT)
            p.send_signal(sig)
            n += 1
        except (psutil.Error, ProcessLookupError):
            continue
    return n


def _gone(p: psutil.Process) -> bool:
    try:
        return not p.is_running() or p.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


def wait_gone(procs: Sequence[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process is gone or `timeout` passed; return those still alive."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if not _gone(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.02)
        alive = [p for p in alive if not _gone(p)]
    return alive


def end_processes(
    procs: Sequence[psutil.Process],
    grace: float,
    find: Callable[[], Sequence[psutil.Process]] | None = None,
) -> Ended:
    """SIGCONT and SIGTERM to every process, SIGKILL to those alive after `grace`.

    `find` lists the processes again afterwards: children forked meanwhile get SIGKILL
    too (a few rounds). Waits only as long as something lives; says how many were ended
    and which survived.
    """
    signal_processes(procs, signal.SIGTERM)
    seen = {p.pid: p for p in procs}
    doomed = wait_gone(procs, grace)
    for _ in range(LATE_ROUNDS):
        signal_processes(doomed, signal.SIGKILL)
        doomed = [p for p in find() if p.pid not in seen] if find else []
        if not doomed:
            break
        seen.update((p.pid, p) for p in doomed)
    signal_processes(doomed, signal.SIGKILL)
    left = wait_gone(list(seen.values()), KILL_WAIT)
    return Ended(len(seen), describe(left))


def describe(procs: Sequence[psutil.Process]) -> tuple[str, ...]:
    """'pid N (name)' for each process (the name left out when it cannot be read)."""
    out = []
    for p in procs:
        try:
            out.append(f"pid {p.pid} ({p.name()})")
        except psutil.Error:
            out.append(f"pid {p.pid}")
    return tuple(out)


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
# Linux lists each thread's children in /proc/<pid>/task/<tid>/children: walking only the
# agents' own trees costs ~40 us a process, whatever else runs on the machine.
_PROC_CHILDREN = os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
_PROC_ENVIRON = os.path.exists(f"/proc/{os.getpid()}/environ")
_PROC_STAT = os.path.exists(f"/proc/{os.getpid()}/stat")


_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _proc_stat(pid: int) -> tuple[float, int] | None:
    """(user+system CPU seconds, RSS bytes) of one process from /proc/<pid>/stat."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            data = fh.read()
        # The command name may hold spaces and parentheses: fields follow the last ')'.
        fields = data[data.rfind(b")") + 2 :].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS, int(fields[21]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _proc_tree(root: int) -> TreeUsage:
    """tree_usage from /proc, walking only this tree."""
    found = _proc_walk(root)
    if not found:
        return TreeUsage(False, 0.0, 0, 0)
    cpu = sum(c for c, _ in found.values())
    return TreeUsage(True, cpu, sum(r for _, r in found.values()), len(found))


def _proc_walk(root: int) -> dict[int, tuple[float, int]]:
    """Each process of the tree (the root first) with its CPU seconds and RSS; {} when gone."""
    if (first := _proc_stat(root)) is None:
        return {}
    found = {root: first}
    stack = _proc_children(root)
    while stack:
        pid = stack.pop()
        if pid in found or (st := _proc_stat(pid)) is None:
            continue
        found[pid] = st
        stack.extend(_proc_children(pid))
    return found


def _proc_children(pid: int) -> list[int]:
    """Child pids of a process, from all of its threads."""
    kids: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return kids
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as fh:
                kids.extend(int(k) for k in fh.read().split())
        except (OSError, ValueError):
            continue
    return kids


class TreeSampler:
    """tree_cpu for a loop that asks every second: each tree is walked anew only every
    `rewalk` seconds, and between walks only the processes the last walk found are read.

    A walk reads every thread's children file: a busy AI CLI's tree (node and Codex's own
    binary, some 40 threads) cost ~45 reads a second, against one read a process between
    walks. A process started since the last walk counts from the next one; one that ended
    (or a root not walked yet) makes a walk at once.
    """

    def __init__(self, rewalk: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.rewalk = rewalk
        self.clock = clock
        self.trees: dict[int, tuple[float, tuple[int, ...]]] = {}  # root -> (walked, pids)

    def cpu(self, roots: set[int]) -> dict[int, float]:
        """User+system CPU seconds of each root's tree (the root included; gone: absent)."""
        if not _PROC_CHILDREN:
            return tree_cpu(roots)
        now = self.clock()
        out: dict[int, float] = {}
        trees: dict[int, tuple[float, tuple[int, ...]]] = {}
        for root in roots:
            known = self.trees.get(root)
            if known is not None and now - known[0] < self.rewalk:
                stats = [_proc_stat(pid) for pid in known[1]]
                if all(st is not None for st in stats):
                    out[root] = sum(st[0] for st in stats if st is not None)
                    trees[root] = known
                    continue
            found = _proc_walk(root)
            if found:
                out[root] = sum(c for c, _ in found.values())
                trees[root] = (now, tuple(found))
        self.trees = trees  # roots nobody asks about any more are forgotten
        return out


def tree_cpu(roots: set[int]) -> dict[int, float]:
    """User+system CPU seconds of each root's process tree (the root included; gone: absent).

    psutil's children(recursive=True) reads the whole process table on every call: once per
    busy agent per sweep that was 5 ms an agent (50 busy agents: 270 ms of every second).
    tree_usage walks /proc/<pid>/task/*/children instead, where Linux has it.
    """
    out: dict[int, float] = {}
    for root in roots:
        usage = tree_usage(root)
        if usage.alive:
            out[root] = usage.cpu_seconds
    return out
