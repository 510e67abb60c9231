"""When each agent's output arrived: an index of (log offset, time) beside its pane log.

The supervisor notes every read of a log (LogStream.read_new): the bytes before `end` had
arrived by `time`. Reads less than GAP apart extend the last entry instead of adding one, so
an index grows by at most 1/GAP entries (16 bytes each) a second while output flows, and not
at all while it does not. `overseer record` replays an attempt's bytes at these times.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

from overseer.state.statedir import UnsafeStateDir, open_private

__all__ = ["GAP", "TimingIndex", "read_times"]

log = logging.getLogger(__name__)

ENTRY = struct.Struct("<Qd")  # end offset in the log, arrival time (epoch seconds)
_END = struct.Struct("<Q")
GAP = 0.02  # reads closer than this share one entry: a replay shows them at most this early


class TimingIndex:
    """The append-only (offset, time) index of one log, written as the supervisor reads it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._pos = 0  # where the next entry goes
        self._end = 0  # the bytes before this offset are indexed
        self._time = 0.0  # the last entry's time
        self._broken = False  # could not be opened or written: supervision goes on without it

    def note(self, end: int, now: float, log_size: int) -> None:
        """The log's bytes before `end` (of `log_size`) have been read by `now`."""
        if self._broken or (end <= self._end and self._fd is not None):
            return
        try:
            if self._fd is None:
                self._open(log_size)
                if end <= self._end:
                    return
            assert self._fd is not None
            if self._pos and now - self._time < GAP:
                os.pwrite(self._fd, _END.pack(end), self._pos - ENTRY.size)
            else:
                os.pwrite(self._fd, ENTRY.pack(end, now), self._pos)
                self._pos += ENTRY.size
                self._time = now
            self._end = end
        except (OSError, UnsafeStateDir) as exc:  # a link planted there is never followed
            self._broken = True
            log.warning("timing index %s: %s; output times are not kept", self.path, exc)

    def reset(self) -> None:
        """The log was replaced or truncated: the old times no longer fit it."""
        self._pos, self._end, self._time = 0, 0, 0.0
        if self._fd is not None and not self._broken:
            try:
                os.ftruncate(self._fd, 0)
            except OSError:
                self._broken = True

    def _open(self, log_size: int) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._fd = open_private(self.path, os.O_RDWR | os.O_CREAT)
        size = os.fstat(self._fd).st_size
        self._pos = size - size % ENTRY.size  # a torn last entry (a crash mid-write) is dropped
        if self._pos:
            self._end, self._time = ENTRY.unpack(
                os.pread(self._fd, ENTRY.size, self._pos - ENTRY.size)
            )
        if self._end > log_size:  # an index left by an older log of the same name
            self.reset()

    def close(self) -> None:
        """Close the file (the index stays on disk)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __del__(self) -> None:
        self.close()


def read_times(path: Path) -> list[tuple[int, float]]:
    """The entries of an index, (end offset, time) with offsets increasing; [] when it is gone."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    entries: list[tuple[int, float]] = []
    for end, at in ENTRY.iter_unpack(data[: len(data) - len(data) % ENTRY.size]):
        if entries and end <= entries[-1][0]:
            continue
        entries.append((end, at))
    return entries
