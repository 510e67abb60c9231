"""A worker thread for the blocking half of starting an attempt (its files on disk, its line
typed into tmux), so the supervisor's loop records exits meanwhile."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("overseer.supervisor")

Job = Callable[[], None]
Failed = Callable[[BaseException], None]


class Offload:
    """Runs jobs one at a time, in the order given, on a thread of its own; a job's failure
    is handed back to be settled on the loop's thread (settle), which `wake` calls to it."""

    def __init__(self, wake: Callable[[], None]) -> None:
        self._wake = wake
        self._cond = threading.Condition()
        self._jobs: deque[tuple[Job, Failed]] = deque()
        self._failures: list[tuple[Failed, BaseException]] = []
        self._busy = False
        self._stopped = False
        self._thread: threading.Thread | None = None
        self._held: list[tuple[Job, Failed]] | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Jobs submitted inside are queued only when the block ends without an exception
        (after the transaction that claimed their attempt committed), dropped otherwise."""
        held: list[tuple[Job, Failed]] = []
        self._held = held
        try:
            yield
        finally:
            self._held = None
        for job, failed in held:
            self.submit(job, failed)

    def submit(self, job: Job, failed: Failed) -> None:
        """Queue a job; `failed(exc)` runs at the loop's next settle() if it raises."""
        if self._held is not None:
            self._held.append((job, failed))
            return
        with self._cond:
            if self._stopped:
                raise RuntimeError("the offload thread has stopped")
            self._jobs.append((job, failed))
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="offload", daemon=True)
                self._thread.start()
            self._cond.notify()

    def settle(self) -> None:
        """Run the failure handlers of jobs that failed (on the caller's thread: the loop's)."""
        with self._cond:
            failures, self._failures = self._failures, []
        for failed, exc in failures:
            failed(exc)

    def idle(self) -> bool:
        """Whether every job queued so far has run."""
        with self._cond:
            return not self._jobs and not self._busy

    def close(self, timeout: float = 30.0, *, settle: bool = True) -> None:
        """Run what is queued, stop the thread, then settle the failures (unless not to)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout)
        if settle:
            self.settle()

    def _serve(self) -> None:
        while True:
            with self._cond:
                while not self._jobs and not self._stopped:
                    self._cond.wait()
                if not self._jobs:
                    return  # stopped, and everything queued has run
                job, failed = self._jobs.popleft()
                self._busy = True
            try:
                job()
            except BaseException as exc:  # handed to the loop, which decides what it means
                with self._cond:
                    self._failures.append((failed, exc))
                self._wake()
            finally:
                with self._cond:
                    self._busy = False
