"""Settling attempts that no agent runtime watches: one implementation for the supervisor
(an attempt stopped without its runtime), `overseer cleanup` and `overseer recover`."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from overseer.agents import health, runner
from overseer.agents.runner import Dispatch, Status
from overseer.state import queue
from overseer.state.models import AttemptOutcome, Task
from overseer.state.store import Store

HANGUP_STATUS = 128 + signal.SIGHUP  # what a task reports when its terminal disappears
HUNG_UP = f"the task was hung up: status {HANGUP_STATUS}"


def hung_up(status: Status | None) -> bool:
    """Whether a reported status is the hang-up of a task whose terminal went away."""
    return status is not None and status.rc == HANGUP_STATUS


def loss_reason(why: str, note: str = "", hangup: bool = False) -> str:
    """The reason a loss is recorded with: why, what was ended of it, and a hang-up."""
    reason = f"{why}; {note}" if note else why
    return f"{reason} ({HUNG_UP})" if hangup else reason


@dataclass(frozen=True)
class Settlement:
    """How an attempt without a runtime ends: its outcome and what the record says."""

    outcome: AttemptOutcome
    exit_code: int | None
    signal: int | None
    reason: str
    detail: str  # one line for the operator (`overseer cleanup` lists it)


def settle_orphan(
    d: Dispatch,
    task: Task,
    *,
    why: str,
    shell_gone: Callable[[], bool],
    end: bool = True,
) -> Settlement:
    """Judge an attempt no runtime watches from its files, ending what is left of it.

    A hang-up status while its shell is gone is the agent dying, not a result. Unless
    `end` is False (a dry run), a lost attempt's leftover processes (a daemon it started
    included) are ended first: nothing of it may run beside its retry.
    """
    status = runner.read_rc(d.rc_path)
    pid = runner.read_pid(d.pid_path)
    hangup = False
    if hung_up(status) and shell_gone():
        status, hangup = None, True
    note = ""
    if status is None and pid is not None and end:
        note = d.end(health.TERM_GRACE).note()
        status = runner.read_rc(d.rc_path)  # unless it finished just before
        if hung_up(status):
            status, hangup = None, True
    if status is not None:
        outcome, code, sig, reason = runner.judge(status, task.verify)
        return Settlement(
            outcome, code, sig, reason or "", f"finished with exit {code} (from its rc file)"
        )
    if pid is None:
        return Settlement(
            AttemptOutcome.RELEASED,
            None,
            None,
            f"{why}, before the task started",
            "never started: requeued without using a try",
        )
    reason = loss_reason(why, note, hangup)
    detail = "ended without a status: recorded lost" + (f" ({note})" if note else "")
    return Settlement(AttemptOutcome.LOST, None, None, reason, detail)


def stop_orphan(d: Dispatch, grace: float) -> tuple[Status | None, str]:
    """Stop an attempt no runtime watches (SIGTERM, SIGKILL after `grace`, then whatever is
    left); return its status, if it reported one, and a note of what had to be ended."""
    began = time.time()
    if d.stop(signal.SIGTERM):
        deadline = time.time() + grace
        while time.time() < deadline and runner.read_rc(d.rc_path) is None:
            time.sleep(0.05)
        if runner.read_rc(d.rc_path) is None:
            d.stop(signal.SIGKILL)
            deadline = time.time() + 2.0
            while time.time() < deadline and runner.read_rc(d.rc_path) is None:
                time.sleep(0.05)
    status = runner.read_rc(d.rc_path)
    # Whatever is left (a daemon the task started, a wrapper that never reported).
    return status, d.end(max(0.0, began + grace - time.time())).note()


def record(
    store: Store,
    task: Task,
    s: Settlement,
    *,
    delay: Callable[[int], float],
    block_reason: str | None = None,
) -> None:
    """Write a settlement as the end of the task's latest attempt."""
    queue.finish(
        store,
        task.id,
        task.attempts,
        s.outcome,
        exit_code=s.exit_code,
        signal=s.signal,
        reason=s.reason,
        delay=delay,
        block_reason=block_reason,
    )
