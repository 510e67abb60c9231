"""CPU and memory of an agent's process tree, as the dashboard samples them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from overseer.agents.health import TreeSampler, tree_cpu, tree_usage
from overseer.tui.snapshot import ProcessUsage
from tests.helpers import wait_until

SPIN = "import time\nend = time.time() + 60\nwhile time.time() < end: pass\n"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_spinning_grandchild_counts_and_samples_are_spaced() -> None:
    # A shell whose child burns CPU: the figures must include the grandchild.
    parent = subprocess.Popen(
        ["sh", "-c", f'{sys.executable} -c "$0"; exit 0', SPIN], start_new_session=True
    )
    try:
        wait_until(lambda: tree_usage(parent.pid).processes >= 2, timeout=20, message="no child")
        first = tree_usage(parent.pid)
        assert first.alive and first.rss_bytes > 1_000_000
        wait_until(
            lambda: tree_cpu({parent.pid})[parent.pid] > first.cpu_seconds + 0.2,
            timeout=30,
            message="the spinning child's CPU time did not show in its parent's tree",
        )
        clock = Clock()
        usage = ProcessUsage(clock=clock, every=1.0)
        assert usage(parent.pid)[0] is None  # no CPU percent before a second sample
        cpu_before = tree_usage(parent.pid).cpu_seconds
        wait_until(
            lambda: tree_usage(parent.pid).cpu_seconds > cpu_before + 0.2,
            timeout=30,
            message="no CPU time went by",
        )
        clock.now += 0.5  # within the window: the cached figures, no new sample
        assert usage(parent.pid)[0] is None
        clock.now += 0.6
        cpu, rss = usage(parent.pid)
        assert cpu is not None and cpu > 0 and rss is not None and rss > 1_000_000
    finally:
        subprocess.run(["pkill", "-KILL", "-s", str(parent.pid)], check=False)
        parent.wait(timeout=10)
    clock.now += 5
    assert usage(parent.pid) == (None, None)
    assert tree_usage(parent.pid).alive is False
    assert tree_cpu({parent.pid}) == {}


def test_no_pid_has_no_figures() -> None:
    assert ProcessUsage()(None) == (None, None)
    assert tree_usage(None).alive is False


def test_samples_of_pids_nobody_asks_about_are_forgotten() -> None:
    import os

    clock = Clock()
    usage = ProcessUsage(clock=clock, every=1.0)
    me = os.getpid()
    usage(me)
    usage(os.getppid())
    assert set(usage.samples) == {me, os.getppid()}
    for _ in range(3):  # only `me` is asked about from now on
        clock.now += 30
        usage(me)
    assert set(usage.samples) == {me}


def test_a_sampler_reads_the_known_tree_between_walks_and_walks_when_one_ended() -> None:
    # A shell with one sleeping child, then a second child: the sampler counts the second
    # only from its next walk; a child that ended makes it walk at once.
    clock = Clock()
    sampler = TreeSampler(rewalk=5.0, clock=clock)
    parent = subprocess.Popen(
        ["sh", "-c", "sleep 60 & read line; sleep 61 & read line; wait"],
        stdin=subprocess.PIPE,
        start_new_session=True,
    )
    assert parent.stdin is not None
    try:
        wait_until(lambda: tree_usage(parent.pid).processes == 2, timeout=20, message="no child")
        assert parent.pid in sampler.cpu({parent.pid})
        assert len(sampler.trees[parent.pid][1]) == 2  # walked: the shell and its sleep
        parent.stdin.write(b"go\n")
        parent.stdin.flush()
        wait_until(lambda: tree_usage(parent.pid).processes == 3, timeout=20, message="no 2nd")
        clock.now += 1.0
        assert parent.pid in sampler.cpu({parent.pid})
        assert len(sampler.trees[parent.pid][1]) == 2  # between walks: the known two only
        clock.now += 5.0
        sampler.cpu({parent.pid})
        assert len(sampler.trees[parent.pid][1]) == 3  # the next walk found the second
        child = sampler.trees[parent.pid][1][1]
        os.kill(child, signal.SIGKILL)
        parent.stdin.write(b"go\n")  # the shell reaps it (`wait`)
        parent.stdin.flush()
        wait_until(lambda: tree_usage(parent.pid).processes == 2, timeout=20, message="alive")
        clock.now += 1.0
        sampler.cpu({parent.pid})  # one it knew has ended: walked again at once
        pids = sampler.trees[parent.pid][1]
        assert len(pids) == 2 and child not in pids
        assert sampler.cpu(set()) == {} and sampler.trees == {}  # not asked about: forgotten
    finally:
        subprocess.run(["pkill", "-KILL", "-s", str(parent.pid)], check=False)
        parent.wait(timeout=10)
