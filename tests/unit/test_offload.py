"""The offload thread: jobs in order, off the caller's thread; failures settled on the caller's."""

from __future__ import annotations

import threading

import pytest

from overseer.agents.offload import Offload
from tests.helpers import wait_until


def test_jobs_run_in_order_off_the_loop_and_failures_come_back_to_it() -> None:
    woken = threading.Event()
    off = Offload(woken.set)
    gate = threading.Event()
    ran: list[tuple[int, str]] = []
    failed: list[tuple[str, str]] = []

    def job(n: int) -> None:
        gate.wait(30)
        ran.append((n, threading.current_thread().name))
        if n == 2:
            raise OSError("disk full")

    for n in range(4):
        off.submit(
            lambda n=n: job(n),
            lambda exc: failed.append((str(exc), threading.current_thread().name)),
        )
    assert not off.idle() and ran == []  # the caller did not wait for them
    gate.set()
    wait_until(off.idle, message="the jobs did not run")
    assert ran == [(n, "offload") for n in range(4)]
    assert woken.is_set() and failed == []  # a failure waits for the loop to settle it
    off.settle()
    assert failed == [("disk full", threading.current_thread().name)]
    off.close()


def test_close_runs_what_is_queued_first_and_then_refuses_more() -> None:
    off = Offload(lambda: None)
    gate = threading.Event()
    ran: list[int] = []
    off.submit(lambda: gate.wait(30) and None, lambda exc: None)
    for n in range(3):
        off.submit(lambda n=n: ran.append(n), lambda exc: None)
    threading.Timer(0.2, gate.set).start()
    off.close()
    assert ran == [0, 1, 2]
    with pytest.raises(RuntimeError):
        off.submit(lambda: None, lambda exc: None)


def test_jobs_held_for_a_transaction_start_only_if_it_commits() -> None:
    off = Offload(lambda: None)
    ran: list[str] = []
    with off.hold():
        off.submit(lambda: ran.append("typed"), lambda exc: None)
        assert off.idle()  # held: not queued while the claim's transaction is open
    wait_until(lambda: ran == ["typed"], message="the held job did not run")
    with pytest.raises(RuntimeError), off.hold():
        off.submit(lambda: ran.append("rolled back"), lambda exc: None)
        raise RuntimeError("the commit failed")
    off.close()
    assert ran == ["typed"]  # the claim never committed: its line is never typed
