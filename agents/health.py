"""Process facts from psutil: liveness, process trees, CPU and memory, stopping a task."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass

import psutil


@dataclass(frozen=True)
class TreeUsage:
    """CPU seconds and resident memory of a process and its descendants."""

    alive: bool
    cpu_seconds: float
    rss_bytes: int
    processes: int


def alive(pid: int | None) -> bool:
    """Whether `pid` names a running (not zombie) process."""
    if not pid:
        return False
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


def kill_descendants(pid: int, sig: int = signal.SIGKILL) -> int:
    """Send `sig` to every descendant of `pid` (not `pid` itself); return how many."""
    try:
        kids = psutil.Process(pid).children(recursive=True)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return 0
    n = 0
    for k in kids:
        try:
            k.send_signal(sig)
            n += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return n


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> int:
    """Send `sig` to a process group leader, its whole group and every descendant.

    Descendants are listed before the group is signalled: once the leader is gone they are
    re-parented and could no longer be found. Returns how many processes were signalled.
    """
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        procs = []
    signal_group(pid, sig)
    n = 0
    for p in procs:
        try:
            p.send_signal(sig)
            n += 1
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return n
