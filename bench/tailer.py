"""`python -m bench.tailer [--years N] [--files-per-day N]`: what following a Codex sessions
directory costs (agents/tailer.py).

A heavy user's `~/.codex/sessions/YYYY/MM/DD/` holds one rollout per session for years. An
agent's Tailer must find its own new rollout there at every poll while ignoring all the old
ones. Printed: the first poll (listing everything), a poll with nothing new, a poll that
finds a new day directory and rollout, a poll reading 100 new lines, and the read rate of one
big rollout. Everything happens in a temporary directory.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from overseer.agents.tailer import Tailer

LINE = json.dumps({"timestamp": "2026-12-01T14:40:57.102Z", "type": "event_msg", "payload": {}})


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """The median wall time of fn in milliseconds, and its last result."""
    times = []
    out: object = None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), out


def old_sessions(root: Path, years: int, per_day: int) -> int:
    """Fill root with years of day directories holding per_day rollouts, each file and
    directory last changed on its own day; the number of rollouts."""
    n = 0
    stamps: dict[Path, float] = {}
    for y in range(2025 - years, 2025):
        for m in range(1, 13):
            for d in range(1, 29):
                then = datetime.datetime(y, m, d, 12, tzinfo=datetime.UTC).timestamp()
                day = root / f"{y}" / f"{m:02d}" / f"{d:02d}"
                day.mkdir(parents=True)
                for k in range(per_day):
                    f = day / f"rollout-{y}-{m:02d}-{d:02d}T00-00-{k:02d}-x.jsonl"
                    f.write_text(LINE + "\n")
                    os.utime(f, (then, then))
                    n += 1
                for where in (day, day.parent, day.parent.parent):
                    stamps[where] = then  # a directory changes when its last entry came
    for where, then in stamps.items():
        os.utime(where, (then, then))
    return n


def main(argv: list[str] | None = None) -> int:
    """Build the directory, time the polls, print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.tailer", description=__doc__)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--files-per-day", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ovs-bench-tailer-") as tmp:
        root = Path(tmp) / "sessions"
        files = old_sessions(root, args.years, args.files_per_day)
        dirs = sum(1 for _ in root.rglob("*") if _.is_dir())
        t = Tailer([root], since=time.time())
        first, _ = timed(t.poll)
        idle, _ = timed(t.poll, repeat=20)
        day = root / "2026" / "12" / "01"
        day.mkdir(parents=True)
        rollout = day / "rollout-2026-12-01T14-40-54-new.jsonl"
        rollout.write_text(LINE + "\n")
        found, got = timed(t.poll)
        assert isinstance(got, list) and len(got) == 1, got

        def hundred() -> object:
            with rollout.open("a") as f:
                f.write((LINE + "\n") * 100)
            return t.poll()

        lines100, _ = timed(hundred, repeat=20)
        big = Path(tmp) / "big.jsonl"
        big.write_text((LINE + "\n") * 200_000)
        size = big.stat().st_size
        tb = Tailer([big], since=time.time() - 10)
        start = time.perf_counter()
        n = 0
        while n < 200_000:
            n += len(tb.poll())
        rate = size / (time.perf_counter() - start) / 1e6
    print(f"sessions dir: {files} old rollouts in {dirs} directories")
    print(f"first poll (lists everything)          {first:8.1f} ms")
    print(f"poll, nothing new (median of 20)       {idle:8.2f} ms")
    print(f"poll finding a new day dir and rollout {found:8.2f} ms")
    print(f"poll reading 100 new lines (median)    {lines100:8.2f} ms")
    print(f"reading one {size / 1e6:.0f} MB rollout                 {rate:8.1f} MB/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
