"""Follow JSON-lines files a CLI writes (rollouts, session files, analytics logs) and return
each new complete line once, reading only the bytes added since the last poll."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MAX_LINE = 8 << 20  # a longer line is skipped, not buffered (Codex tool outputs reach ~1 MB)
READ_CHUNK = 1 << 20  # bytes read per file per poll at most: a burst is spread over polls
MTIME_SLACK = 0.05  # the kernel's file clock lags time.time() by a tick: a file written
# just after `since` may carry an mtime a few ms before it
COLD_AGE = 2 * 86400.0  # a directory unchanged this long (years of old Codex sessions) ...
COLD_EVERY = 5.0  # ... is looked at only this often: a file appearing there shows this late


@dataclass
class _Followed:
    """One file being followed: where it was read up to and its unfinished last line."""

    ino: tuple[int, int]  # (st_dev, st_ino): a replaced file starts over
    offset: int
    partial: bytearray = field(default_factory=bytearray)
    skipping: bool = False  # inside a line longer than MAX_LINE: drop bytes up to its newline


class Tailer:
    """New JSON lines of files and of files appearing below directories, since a moment."""

    def __init__(self, paths: Sequence[Path], since: float) -> None:
        self.paths = tuple(Path(p) for p in paths)
        self.since = since
        self.skipped_lines = 0  # bad JSON or over-long lines dropped so far
        self._files: dict[Path, _Followed] = {}
        self._old: set[Path] = set()  # files below a directory not written since `since`
        # directory -> (st_mtime_ns, when listed, when looked at)
        self._dirs: dict[Path, tuple[int, float, float]] = {}
        self._children: dict[Path, set[Path]] = {}  # directory -> its subdirectories

    def poll(self) -> list[tuple[Path, dict[str, Any], float]]:
        """Each new complete JSON object line: (file, record, the time it was read)."""
        for root in self.paths:
            if root.is_dir():
                self._scan(root)
            elif root not in self._files and root.is_file():
                self._first_sight(root, explicit=True)
        out: list[tuple[Path, dict[str, Any], float]] = []
        for path in list(self._files):
            out.extend(self._read(path))
        return out

    def watched(self) -> list[Path]:
        """The directories whose changes can bring new lines (for an inotify watcher)."""
        dirs: list[Path] = []
        for root in self.paths:
            if root.is_dir():
                below = [root]
                for d in below:
                    below.extend(sorted(self._children.get(d, ())))
                dirs.extend(below)
                continue
            parent = root.parent
            while not parent.is_dir() and parent != parent.parent:
                parent = parent.parent  # not created yet: watch where it will appear
            dirs.append(parent)
        return list(dict.fromkeys(dirs))

    # -- finding files --------------------------------------------------------------------

    def _scan(self, top: Path) -> None:
        """Find files new below a directory, listing only directories that changed."""
        now = time.time()
        stack = [top]
        while stack:
            d = stack.pop()
            known = self._dirs.get(d)
            # A stat per directory per poll adds up over years of sessions: one long unchanged
            # is looked at every COLD_EVERY seconds only (its subdirectories still are).
            if known is None or known[0] / 1e9 > now - COLD_AGE or now - known[2] >= COLD_EVERY:
                try:
                    mtime = d.stat().st_mtime_ns
                except OSError:
                    self._forget(d)
                    continue
                # An mtime within a second of the last listing may hide a later change in the
                # same clock tick: list such a directory again.
                if known is None or known[0] != mtime or mtime / 1e9 >= known[1] - 1.0:
                    self._dirs[d] = (mtime, now, now)
                    self._list(d)
                else:
                    self._dirs[d] = (mtime, known[1], now)
            stack.extend(self._children.get(d, ()))

    def _list(self, d: Path) -> None:
        """Note a directory's subdirectories and start following its new files."""
        children = self._children.setdefault(d, set())
        try:
            entries = list(os.scandir(d))
        except OSError:
            return
        for e in entries:
            p = Path(e.path)
            try:
                if e.is_dir(follow_symlinks=False):
                    children.add(p)
                elif e.is_file() and p not in self._files and p not in self._old:
                    self._first_sight(p, explicit=False)
            except OSError:
                continue

    def _forget(self, d: Path) -> None:
        """Drop a directory that went away, and what was known below it."""
        self._dirs.pop(d, None)
        for child in self._children.pop(d, set()):
            self._forget(child)

    def _first_sight(self, path: Path, explicit: bool) -> None:
        """Start following a file: from its start if written since `since`, else its end."""
        try:
            st = path.stat()
        except OSError:
            return
        new = st.st_mtime >= self.since - MTIME_SLACK
        if not new and not explicit:
            self._old.add(path)  # someone else's older file: never followed
            return
        self._files[path] = _Followed((st.st_dev, st.st_ino), 0 if new else st.st_size)

    # -- reading --------------------------------------------------------------------------

    def _read(self, path: Path) -> list[tuple[Path, dict[str, Any], float]]:
        """The complete lines added to one file since the last read."""
        f = self._files[path]
        try:
            with path.open("rb") as fh:
                st = os.fstat(fh.fileno())
                if (st.st_dev, st.st_ino) != f.ino or st.st_size < f.offset:
                    # Replaced or truncated: the new content starts at 0.
                    f.ino, f.offset, f.skipping = (st.st_dev, st.st_ino), 0, False
                    f.partial.clear()
                if st.st_size == f.offset:
                    return []
                fh.seek(f.offset)
                data = fh.read(min(st.st_size - f.offset, READ_CHUNK))
        except FileNotFoundError:
            return []  # gone for now; a file at the same path later is a replacement
        except OSError as e:
            log.warning("cannot read %s: %s", path, e)
            return []
        f.offset += len(data)
        at = time.time()
        out: list[tuple[Path, dict[str, Any], float]] = []
        lines = data.split(b"\n")
        for n, chunk in enumerate(lines):
            last = n == len(lines) - 1
            if f.skipping:
                if not last:
                    f.skipping = False  # the over-long line ended here
                continue
            if last:
                f.partial += chunk
                if len(f.partial) > MAX_LINE:
                    self._skip(path, f)
                continue
            line = bytes(f.partial + chunk) if f.partial else chunk
            f.partial.clear()
            if len(line) > MAX_LINE:
                self._skip(path, f, ended=True)
                continue
            record = _record(line)
            if record is None:
                if line.strip():
                    self.skipped_lines += 1
                continue
            out.append((path, record, at))
        return out

    def _skip(self, path: Path, f: _Followed, ended: bool = False) -> None:
        """Drop a line longer than MAX_LINE (and the rest of it, if it has not ended)."""
        log.warning("skipped a line over %d bytes in %s", MAX_LINE, path)
        self.skipped_lines += 1
        f.partial.clear()
        f.skipping = not ended


def _record(line: bytes) -> dict[str, Any] | None:
    """A JSON object line, or None for anything else."""
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
