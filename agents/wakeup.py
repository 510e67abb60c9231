"""Waking the supervisor's loop from other threads and from signal handlers: a self-pipe."""

from __future__ import annotations

import contextlib
import os
import select
import signal
from collections.abc import Callable, Iterator, Sequence
from types import FrameType


class Wakeup:
    """A non-blocking pipe the loop waits on; one byte written to it ends the wait.

    A signal handler must never take a lock: it runs in the main thread between two
    bytecodes, possibly while that thread holds the very lock (a threading.Event's), and
    would wait for itself forever. Here nothing takes a lock: threads write a byte, and for
    signals the interpreter's C handler writes one itself (signal.set_wakeup_fd), while the
    Python handler only sets a flag.
    """

    def __init__(self) -> None:
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)

    def set(self) -> None:
        """Wake the loop (from any thread); a full pipe means it is awake already."""
        if self._w < 0:
            return
        with contextlib.suppress(BlockingIOError):
            os.write(self._w, b"\0")

    def wait(self, timeout: float, also: Sequence[int] = ()) -> bool:
        """Wait until woken, one of `also` is readable, or `timeout` seconds pass; True when
        woken or readable. Clears the wake-ups."""
        if self._r < 0:
            return False
        ready = select.select([self._r, *also], [], [], max(0.0, timeout))[0]
        if not ready:
            return False
        if self._r not in ready:
            return True
        with contextlib.suppress(BlockingIOError):
            while os.read(self._r, 4096):
                pass
        return True

    @contextlib.contextmanager
    def catching(
        self, signums: tuple[int, ...], handler: Callable[[int, FrameType | None], None]
    ) -> Iterator[None]:
        """Install `handler` for `signums` with this pipe as the wakeup fd; restore on exit."""
        old_fd = signal.set_wakeup_fd(self._w, warn_on_full_buffer=False)
        old = {s: signal.signal(s, handler) for s in signums}
        try:
            yield
        finally:
            for s, h in old.items():
                signal.signal(s, h)
            signal.set_wakeup_fd(old_fd)

    def close(self) -> None:
        """Close the pipe; later set() and wait() do nothing."""
        for fd in (self._r, self._w):
            if fd >= 0:
                os.close(fd)
        self._r = self._w = -1
