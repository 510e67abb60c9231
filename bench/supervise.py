"""`Supervisor.run()` (what `overseer run -q` runs) with a probe that timestamps its work.

The probe wraps two functions and nothing else:
- `LogStream.read_new`: when the loop reads bytes holding bench markers (OVB|id|time|), it
  records (read time, written time) — "a byte written in a pane -> seen by the supervisor";
- `state.queue.finish`: after the transaction commits it records (task, attempt, time) —
  "process end -> attempt recorded in the store".
It also records how long each `step()` takes. The records are written as JSON at exit.
Usage: python -m bench.supervise --config FILE --state-dir DIR --probe OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.common import MARK_RE
from overseer.agents import stream
from overseer.agents.supervisor import Supervisor
from overseer.state import queue
from overseer.state.config import load_config


class Probe:
    """In-process timestamps of the supervisor's reads, records and loop steps."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []  # (seen, written)
        self.finished: list[tuple[str, int, float]] = []  # (task, attempt, committed)
        self.steps: list[tuple[float, float]] = []  # (start, seconds)

    def install(self, sup: Supervisor) -> None:
        """Wrap the read path, the finishing transaction and the loop step."""
        marks, finished, steps = self.marks, self.finished, self.steps
        read_new = stream.LogStream.read_new

        def probed_read(self: stream.LogStream, max_bytes: int = 4 << 20) -> bytes:
            data = read_new(self, max_bytes)
            if data and b"OVB|" in data:
                seen = time.time()
                marks.extend((seen, float(m.group(2))) for m in MARK_RE.finditer(data))
            return data

        finish = queue.finish

        def probed_finish(*args: Any, **kwargs: Any) -> Any:
            result = finish(*args, **kwargs)
            finished.append((str(args[1]), int(args[2]), time.time()))
            return result

        step = sup.step

        def probed_step() -> None:
            t0 = time.perf_counter()
            step()
            steps.append((time.time(), time.perf_counter() - t0))

        stream.LogStream.read_new = probed_read  # type: ignore[method-assign]
        queue.finish = probed_finish
        sup.step = probed_step  # type: ignore[method-assign]

    def dump(self, path: Path) -> None:
        """Write the records as JSON (atomically)."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "marks": self.marks,
                    "finished": self.finished,
                    "steps": self.steps,
                }
            )
        )
        tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    """Run the supervisor in the foreground until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.supervise")
    parser.add_argument("--config", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--probe", required=True)
    args = parser.parse_args(argv)
    sup = Supervisor(load_config(args.config), Path(args.state_dir))
    probe = Probe()
    probe.install(sup)
    try:
        return sup.run()
    finally:
        probe.dump(Path(args.probe))


if __name__ == "__main__":
    sys.exit(main())
