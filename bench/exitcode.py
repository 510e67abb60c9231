"""Item 1: exit-code latency — a task's process ends -> its attempt is committed in the store.

Each task sleeps, then as its last act writes bash's $EPOCHREALTIME (no fork) into a file
and exits. The probe in bench.supervise stamps the moment the finishing transaction
(`queue.finish`) has committed. Latency = committed - written. Agents stay busy: every
agent has several tasks queued, of staggered lengths.
"""

from __future__ import annotations

import random
import shlex
from pathlib import Path
from typing import Any

from bench.common import Fleet, Goal, Result, Row, Scale, summary, wait_for


def task_line(sleep_s: float, stamp_dir: Path) -> str:
    """sleep, then stamp the exit time (the last thing the task does)."""
    target = shlex.quote(str(stamp_dir)) + '/"$OVERSEER_TASK.$OVERSEER_ATTEMPT"'
    return f"sleep {sleep_s:.3f}; printf '%s\\n' \"$EPOCHREALTIME\" > {target}"


def level(scale: Scale, tmp: Path, n: int) -> dict[str, Any]:
    """Run enough tasks on n agents and measure every finish."""
    rng = random.Random(n)
    count = max(scale.exit_samples, n * scale.exit_rounds)
    root = tmp / f"exit{n}"
    stamps = root / "stamps"
    stamps.mkdir(parents=True)
    lo, hi = (0.1, 0.3) if n == 1 else (0.3, 1.2)
    if scale.name == "smoke":
        lo, hi = 0.05, 0.1
    tasks = [
        {"id": f"t{i:04d}", "run": task_line(rng.uniform(lo, hi), stamps)} for i in range(count)
    ]
    with Fleet(root, f"ovb-exit{n}", n, tasks, max_parallel=n) as fleet:
        fleet.start(timeout=60 + n)
        budget = 60 + count * hi / n * 3
        wait_for(
            lambda: fleet.count_tasks("done", "failed") == count,
            budget,
            f"exit{n}: tasks did not finish",
            interval=0.2,
        )
        probe = fleet.stop()
        stored = {
            (a.task_id, a.number): a.finished_at for a in fleet.store.attempts() if a.finished_at
        }
    committed: list[float] = []
    stamped: list[float] = []
    for task_id, number, at in probe.get("finished", []):
        path = stamps / f"{task_id}.{number}"
        try:
            written = float(path.read_text().strip().replace(",", "."))
        except (OSError, ValueError):
            continue
        committed.append((at - written) * 1000.0)
        finished_at = stored.get((task_id, number))
        if finished_at:
            stamped.append((finished_at - written) * 1000.0)
    return {
        "agents": n,
        "tasks": count,
        "latency_ms": summary(committed, 2),
        "finished_at_minus_exit_ms": summary(stamped, 2),
    }


def run(scale: Scale, tmp: Path) -> Result:
    """Item 1 at each agent count."""
    res = Result()
    for n in scale.exit_agents:
        detail = level(scale, tmp, n)
        res.details[f"agents_{n}"] = detail
        lat = detail["latency_ms"]
        res.rows.append(
            Row(
                "1",
                f"exit code -> store p95, {n} busy agent{'s' if n > 1 else ''}",
                lat.get("p95"),
                "ms",
                Goal("<=", 50.0) if n >= 50 else None,
                f"median {lat.get('median')} ms, max {lat.get('max')} ms, n={lat.get('n')}",
            )
        )
    return res
