"""A pane workload: print timestamped markers (OVB|id|time|) at a steady rate, then exit.

Run in a pane as: python writer.py IDENT RATE DURATION [--batch=N] [--pad=N] [--jitter=F]
[--dots=1]. RATE is lines per second; every write is one batch of --batch lines whose first
line carries a marker stamped just before the write. --jitter spreads the gaps between
writes (0.5: each gap is 0.5x to 1.5x the mean) so that many panes do not write in step.
--dots prints one '.' per write with no newline and no marker (a progress indicator).
"""

from __future__ import annotations

import os
import random
import sys
import time


def main(argv: list[str]) -> int:
    """Write until DURATION seconds have passed."""
    pos = [a for a in argv if not a.startswith("--")]
    opts = dict(a[2:].split("=", 1) for a in argv if a.startswith("--"))
    ident, rate, duration = pos[0], float(pos[1]), float(pos[2])
    batch = max(1, int(float(opts.get("batch", "1"))))
    pad = int(float(opts.get("pad", "0")))
    jitter = float(opts.get("jitter", "0"))
    dots = opts.get("dots", "0") not in ("0", "")
    period = batch / rate
    filler = b"".join(b"x" * pad + b"\n" for _ in range(batch - 1))
    rng = random.Random(ident)
    start = time.time()
    due = start  # the first write goes out at once
    seq = 0
    while due - start <= duration:
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        if dots:
            os.write(1, b".")
        else:
            seq += 1
            head = f"OVB|{ident}.{seq}|{time.time():.6f}|".encode()
            os.write(1, head + b"x" * max(0, pad - len(head)) + b"\n" + filler)
        due += period * (1.0 + jitter * (2.0 * rng.random() - 1.0))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
