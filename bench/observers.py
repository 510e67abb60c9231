"""The two reference observers the supervisor is compared with, each run as its own process.

- `poll`: what most tools do — every INTERVAL seconds, one `tmux capture-pane -p` per pane;
  a marker counts as seen when the capture that first shows it returns.
- `control`: the limit — one control-mode client (`tmux -C attach`) reading `%output`
  notifications; a marker counts as seen when its `%output` line is read.
Both record (seen, written) pairs of bench markers and write them as JSON on SIGTERM.
Usage: python -m bench.observers poll|control --label L --out FILE [--interval 0.5]
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType

from bench.common import child_env, parse_markers
from overseer.agents.tmux import TmuxServer


class Stop(Exception):
    """Raised by the SIGTERM handler to end the observer's loop."""


def _on_term(signum: int, frame: FrameType | None) -> None:
    raise Stop


def poll(label: str, interval: float, samples: list[tuple[float, float]]) -> None:
    """Capture every pane every `interval` seconds until stopped."""
    tmux = TmuxServer(label)
    panes = [p.pane_id for p in tmux.list_panes()]
    seen: set[str] = set()
    due = time.monotonic()
    while True:
        for pane in panes:
            text = tmux.capture(pane)
            now = time.time()
            for ident, written in parse_markers(text.encode()):
                if ident not in seen:
                    seen.add(ident)
                    samples.append((now, written))
        due += interval
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        else:
            due = time.monotonic()  # a round took longer than the interval: start at once


def control(label: str, samples: list[tuple[float, float]]) -> None:
    """Read %output notifications of a control-mode client until stopped."""
    tmux = TmuxServer(label)
    argv = [tmux.binary, "-L", label, "-f", "/dev/null", "-C", "attach", "-t", tmux.SESSION]
    proc = subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=child_env(), bufsize=0
    )
    assert proc.stdout is not None and proc.stdin is not None
    try:
        for line in iter(proc.stdout.readline, b""):
            if line.startswith(b"%output ") and b"OVB|" in line:
                now = time.time()
                samples.extend((now, written) for _, written in parse_markers(line))
    finally:
        proc.stdin.close()  # the client detaches when its input ends
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def main(argv: list[str] | None = None) -> int:
    """Run one observer until SIGTERM, then write its samples."""
    parser = argparse.ArgumentParser(prog="python -m bench.observers")
    parser.add_argument("kind", choices=["poll", "control"])
    parser.add_argument("--label", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    samples: list[tuple[float, float]] = []
    signal.signal(signal.SIGTERM, _on_term)
    try:
        if args.kind == "poll":
            poll(args.label, args.interval, samples)
        else:
            control(args.label, samples)
    except Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        Path(args.out).write_text(json.dumps({"marks": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
