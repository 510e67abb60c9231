"""The CLIs' own signals on the supervisor's side: the hook entry point installed in the state
dir, each agent's spool of hook calls, and the files its CLI writes (tailed), as `Signal`s.

A hook call is one JSON line `{"at", "agent", "event", "payload"}` appended by
agents/hookrun.py to run/signals/<agent>.jsonl; the supervisor reads each spool from where it
was when it started (inotify wakes it, the sweep is the safety net) and hands every line, made
a `Signal` by the agent's `CliSignals`, to the agent's driver.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from overseer.agents import hookrun
from overseer.agents.clis import CLIS
from overseer.agents.signals import Signal
from overseer.agents.tailer import Tailer
from overseer.state.paths import StatePaths
from overseer.state.statedir import check_path, write_private
from overseer.state.store import ensure_private_dir

HOOK_FILE = "hook.py"
MAX_READ = 4 << 20  # bytes of one file read per pass (the rest waits for the next)
ROTATE = 8 << 20  # a spool read to its end past this size starts anew
RETIRED_GRACE = 10.0  # a rotated spool is still read this long (a hook may have it open)


def install_hook(paths: StatePaths) -> Path:
    """Create the private signals directory and (re)write the hook entry point in it."""
    ensure_private_dir(paths.signals)
    for old in [*paths.signals.glob("*.jsonl"), *paths.signals.glob("*.old")]:
        # A new supervisor reads each spool from its end: what an earlier one left is spent.
        check_path(old)
        old.unlink(missing_ok=True)
    target = paths.signals / HOOK_FILE
    write_private(target, Path(hookrun.__file__).read_text(encoding="utf-8"))
    return target


def hook_command(paths: StatePaths, agent: str) -> tuple[str, ...]:
    """The argv a CLI runs as a hook of `agent` (the event name is appended).

    -I ignores the environment and the user's site, -S skips site-packages: the entry point
    is standard library only, so Python starts in a few ms.
    """
    return (sys.executable, "-I", "-S", str(paths.signals / HOOK_FILE), str(paths.signals), agent)


def spool(paths: StatePaths, agent: str) -> Path:
    """Where the hook calls of `agent` are appended."""
    return Path(hookrun.spool_path(str(paths.signals), agent))


class JsonLines:
    """New complete JSON-object lines of one append-only file (a partial last line waits)."""

    def __init__(self, path: Path, from_start: bool = False) -> None:
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.partial = b""
        if not from_start:
            try:
                st = os.stat(path)
            except OSError:
                return
            self.offset, self.inode = st.st_size, st.st_ino

    def read(self) -> list[dict[str, Any]]:
        """The objects appended since the last read (bad JSON is skipped)."""
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except OSError:
            return []
        try:
            st = os.fstat(fd)
            if st.st_ino != self.inode or st.st_size < self.offset:
                # A new or truncated file: read it from its start.
                self.offset, self.inode, self.partial = 0, st.st_ino, b""
            if st.st_size == self.offset:
                return []
            data = os.pread(fd, min(MAX_READ, st.st_size - self.offset), self.offset)
        finally:
            os.close(fd)
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        records = []
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records


class Inbox:
    """One agent's signals: its hook spool and the files its CLI writes."""

    def __init__(self, paths: StatePaths, agent: str, kind: str) -> None:
        self.kind = kind
        self.spool = JsonLines(spool(paths, agent))
        self.retired: tuple[JsonLines, float] | None = None  # a rotated spool, until when
        self.tailers: list[Tailer] = []
        self.tailed: set[Path] = set()
        self.since = time.time()
        self.keep: Callable[[Signal], bool] | None = None  # the agent's own signals only

    def follow(self, files: Sequence[Path]) -> None:
        """Tail these files (or directories) too: those written since the CLI started."""
        new = [Path(f) for f in files if Path(f) not in self.tailed]
        if new:
            self.tailed.update(new)
            self.tailers.append(Tailer(new, self.since))

    def reset(self, tail: Sequence[Path], since: float, work_dir: Path | None = None) -> None:
        """A new process of the CLI (started at `since` in `work_dir`): tail what its
        injection names, keeping only its own signals."""
        self.tailers, self.tailed, self.since = [], set(), since
        cli = CLIS.get(self.kind)
        self.keep = cli.owner(work_dir, since) if cli is not None else None
        self.follow(tail)

    def spool_records(self) -> list[dict[str, Any]]:
        """New hook calls; a big spool read to its end is renamed aside and begun afresh."""
        records = []
        if self.retired is not None:
            old, until = self.retired
            records += old.read()
            if time.time() >= until:
                old.path.unlink(missing_ok=True)
                self.retired = None
        records += self.spool.read()
        path = self.spool.path
        if self.spool.offset >= ROTATE and not self.spool.partial and self.retired is None:
            aside = path.with_suffix(".old")
            try:
                if os.stat(path).st_size == self.spool.offset:
                    os.replace(path, aside)
                    self.spool.path = aside  # a hook that opened it before still writes there
                    self.retired = (self.spool, time.time() + RETIRED_GRACE)
                    self.spool = JsonLines(path, from_start=True)
            except OSError:
                pass
        return records

    def read(self) -> tuple[list[Signal], bool]:
        """New signals, oldest first, and whether a tailed file grew at all."""
        cli = CLIS.get(self.kind)
        signals: list[Signal] = []
        for record in self.spool_records():
            payload = record.get("payload")
            if cli is None or not isinstance(payload, dict):
                continue
            at = record.get("at")
            sig = cli.hook(
                str(record.get("event", "")),
                payload,
                float(at) if isinstance(at, int | float) else 0.0,
            )
            if sig is not None:
                signals.append(sig)
        grew = False
        for tailer in self.tailers:
            for path, record, at in tailer.poll():
                grew = True
                sig = cli.line(path, record, at) if cli is not None else None
                if sig is not None:
                    signals.append(sig)
        if self.keep is not None:
            signals = [sig for sig in signals if self.keep(sig)]
        return signals, grew
