"""Item 6: throughput against the ideal with 1, 2, 4, 8 agents on tasks of `sleep 0.5`.

The fleet starts with no work; once every agent is idle, all tasks are queued in one operator
command. Makespan = last attempt committed - first attempt claimed (both from the store).
Ideal = ceil(tasks / agents) x task length. Efficiency = ideal / makespan (1.0 is perfect).
For scale, the same tasks also run as plain `bash -c "sleep 0.5"` processes from n threads
(no tmux, no Overseer): what this machine reaches at that moment, noise included.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from bench.common import Fleet, Goal, Result, Row, Scale, wait_for


def level(scale: Scale, tmp: Path, n: int) -> dict[str, Any]:
    """Run the tasks on n agents; return makespan and efficiency."""
    count = scale.scale_tasks[n]
    secs = scale.task_seconds
    with Fleet(tmp / f"scale{n}", f"ovb-scale{n}", n, max_parallel=n) as fleet:
        fleet.start(timeout=60 + n)
        fleet.add_tasks([{"id": f"job{i:03d}", "run": f"sleep {secs:g}"} for i in range(count)])
        budget = 60 + 4 * count * secs / n
        wait_for(
            lambda: fleet.count_tasks("done", "failed") == count,
            budget,
            f"scale{n}: tasks did not finish",
            interval=0.1,
        )
        attempts = fleet.store.attempts()
        fleet.stop()
    first = min(a.started_at for a in attempts)
    last = max(a.finished_at or 0.0 for a in attempts)
    makespan = last - first
    ideal = math.ceil(count / n) * secs
    per_task = [(a.finished_at - a.started_at - secs) * 1000.0 for a in attempts if a.finished_at]
    return {
        "agents": n,
        "tasks": count,
        "task_s": secs,
        "makespan_s": round(makespan, 3),
        "ideal_s": ideal,
        "efficiency": round(ideal / makespan, 4),
        "tasks_per_s": round(count / makespan, 2),
        "overhead_per_task_ms": round(sum(per_task) / len(per_task), 1) if per_task else None,
        "attempts": len(attempts),
    }


def bare(scale: Scale, n: int) -> dict[str, Any]:
    """The same tasks as plain processes from n threads: the machine's own efficiency."""
    count = scale.scale_tasks[n]
    secs = scale.task_seconds
    todo = list(range(count))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not todo:
                    return
                todo.pop()
            subprocess.run(["bash", "-c", f"sleep {secs:g}"], check=False)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    makespan = time.perf_counter() - t0
    ideal = math.ceil(count / n) * secs
    return {"makespan_s": round(makespan, 3), "efficiency": round(ideal / makespan, 4)}


def run(scale: Scale, tmp: Path) -> Result:
    """Item 6 at each agent count."""
    res = Result()
    for n in scale.scale_agents:
        d = level(scale, tmp, n)
        d["plain_processes"] = bare(scale, n)
        res.details[f"agents_{n}"] = d
        res.rows.append(
            Row(
                "6",
                f"throughput / ideal, {n} agent{'s' if n > 1 else ''}",
                d["efficiency"],
                "ratio",
                Goal(">=", 0.95) if n >= 8 else None,
                f"{d['tasks']} x sleep {d['task_s']:g}: {d['makespan_s']:.2f} s "
                f"(ideal {d['ideal_s']:g} s); plain processes: "
                f"{d['plain_processes']['efficiency']:.3f}",
            )
        )
    return res
