"""An attempt's output as it happened: its bytes in its agent's log with the times the
supervisor read them (agents/timing.py), as frames to replay or an asciicast v2 file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from overseer.agents.runner import SENTINEL_RE
from overseer.agents.timing import read_times
from overseer.state.errors import EXIT_ENV, EXIT_USAGE, OverseerError
from overseer.state.models import Attempt
from overseer.state.paths import StatePaths
from overseer.state.redact import mask
from overseer.state.store import Store

__all__ = ["PANE_SIZE", "Frame", "Recording", "RecordError", "find_attempt", "recording"]

PANE_SIZE = (200, 50)  # the size Overseer opens panes at (TmuxServer.spawn_window)


class RecordError(OverseerError):
    """An attempt that cannot be replayed: unknown (exit 2) or its log gone (exit 3)."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Frame:
    """Output shown at `at` seconds after the attempt began (secrets masked)."""

    at: float
    text: str


@dataclass(frozen=True)
class Recording:
    """One attempt's output with its timing."""

    attempt: Attempt
    frames: list[Frame]
    timed: bool  # False: the times were not kept (an older state dir): one frame at 0

    @property
    def duration(self) -> float:
        """Seconds from the attempt's start to its last output."""
        return self.frames[-1].at if self.frames else 0.0

    def paced(self, speed: float = 1.0, idle_limit: float | None = None) -> list[Frame]:
        """The frames with pauses capped at `idle_limit` seconds, then played `speed` times
        as fast (as asciinema's own options do)."""
        out: list[Frame] = []
        last, at = 0.0, 0.0
        for frame in self.frames:
            gap = frame.at - last
            last = frame.at
            at += min(gap, idle_limit) if idle_limit is not None else gap
            out.append(Frame(at / speed, frame.text))
        return out

    def asciicast(
        self, size: tuple[int, int], speed: float = 1.0, idle_limit: float | None = None
    ) -> str:
        """The recording as asciicast v2 (a header line, then one event line per frame)."""
        a = self.attempt
        header = {
            "version": 2,
            "width": size[0],
            "height": size[1],
            "timestamp": int(a.started_at),
            "title": f"{a.task_id} attempt {a.number} on {a.agent}",
            "env": {"TERM": "xterm-256color"},
        }
        lines = [json.dumps(header)]
        lines += [json.dumps([round(f.at, 6), "o", f.text]) for f in self.paced(speed, idle_limit)]
        return "\n".join(lines) + "\n"


def find_attempt(store: Store, ref: str) -> Attempt:
    """The attempt `ref` names: a task's latest attempt, or an attempt by its id."""
    if store.task(ref) is not None:
        attempts = store.attempts(ref)
        if not attempts:
            raise RecordError(f"task {ref!r} has not run yet: no attempt to record")
        return max(attempts, key=lambda a: a.number)
    attempt = store.attempt(int(ref)) if ref.isdigit() else None
    if attempt is None:
        raise RecordError(f"no task or attempt {ref!r} (see `overseer status`)")
    return attempt


def _span(store: Store, attempt: Attempt, size: int) -> int:
    """Where the attempt's output ends in its log at the latest: where the agent's next
    attempt began, else the log's end."""
    stop = size
    for other in store.attempts():
        later = other.agent == attempt.agent and other.started_at > attempt.started_at
        if later and attempt.log_offset <= other.log_offset < stop:
            stop = other.log_offset
    return stop


def _until_end(data: bytes, attempt: Attempt, reads: list[tuple[int, float]]) -> bytes:
    """The attempt's output in `data` (its log from where it began): up to its wrapper's
    sentinel, which carries its nonce; without one (its shell died first), up to the last
    read by the time it finished. The finish time alone would cut short: an exit is
    recorded from the rc file, before tmux has relayed the last output into the log."""
    if attempt.nonce:
        mark = data.find(b"\x1eOVS:" + attempt.nonce.encode() + b":")
        if mark >= 0:
            end = data.find(b"\x1e", mark + 1)
            return data[: end + 1 if end >= 0 else len(data)]
    if attempt.finished_at is not None:
        read = [end for end, at in reads if at <= attempt.finished_at]
        if read and 0 < read[-1] < len(data):
            return data[: read[-1]]
    return data


def recording(state_dir: Path, store: Store, attempt: Attempt) -> Recording:
    """Read an attempt's output and its times from the state dir."""
    paths = StatePaths(state_dir)
    log = paths.log(attempt.agent)
    try:
        fd = os.open(log, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise RecordError(
            f"the log of agent {attempt.agent!r} is gone ({log}: {exc.strerror}); "
            "`overseer cleanup` deletes logs past `retention`",
            EXIT_ENV,
        ) from exc
    try:
        size = os.fstat(fd).st_size
        start = attempt.log_offset
        if size < start:
            raise RecordError(
                f"the log of agent {attempt.agent!r} no longer holds attempt {attempt.id} "
                f"({log} was replaced since)",
                EXIT_ENV,
            )
        times = read_times(paths.times(attempt.agent))
        stop = _span(store, attempt, size)
        data = os.pread(fd, stop - start, start)
        data = _until_end(data, attempt, [(end - start, at) for end, at in times])
    finally:
        os.close(fd)
    timed = bool(times) and times[-1][0] > start
    return Recording(attempt, _frames(data, start, times, attempt.started_at), timed)


def _frames(data: bytes, start: int, times: list[tuple[int, float]], began: float) -> list[Frame]:
    """Cut `data` (the log from `start`) where the index says reads ended; each frame ends at a
    line end (the rest waits for the next), so a secret is masked in its whole line."""
    frames: list[Frame] = []
    held = b""
    at = 0.0
    pos = 0
    cuts = [(end - start, t) for end, t in times if end > start]
    cuts.append((len(data), cuts[-1][1] if cuts else began))
    for end, t in cuts:
        if pos >= len(data):
            break
        end = min(end, len(data))
        held += data[pos:end]
        pos = end
        at = max(at, t - began)
        cut = max(held.rfind(b"\n"), held.rfind(b"\r"))
        if cut >= 0:
            frames.append(Frame(at, _text(held[: cut + 1])))
            held = held[cut + 1 :]
    if held:
        frames.append(Frame(at, _text(held)))
    return frames


def _text(data: bytes) -> str:
    # The wrapper's sentinel is Overseer's, not the task's (output_tail drops it too).
    return mask(SENTINEL_RE.sub(b"", data).decode("utf-8", errors="replace"))
