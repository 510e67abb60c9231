"""Item 1: exit-code latency — a task's process ends -> its attempt is committed in the store.

Each task sleeps, then as its last act writes bash's $EPOCHREALTIME (no fork) into a file
and exits. The probe in bench.supervise stamps the moment the finishing transaction
(`queue.finish`) has committed. Latency = committed - written. Agents stay busy: every
agent has several tasks queued, of staggered lengths.

The supervisor's step probe (bench.supervise --steps) splits each exit into the steps of
STEPS, from the task's last write to the next task typed into the freed pane.
"""

from __future__ import annotations

import random
import shlex
from pathlib import Path
from typing import Any

from bench.common import Fleet, Goal, Result, Row, Scale, summary, wait_for

# (name, from, to): the timestamps of bench.supervise.StepProbe, plus `exit` (the task's own
# stamp) and `wrapper` (the wrapper's stamp just before it writes the rc file).
STEPS = (
    ("task exit -> wrapper reports (rc file, sentinel)", "exit", "wrapper"),
    ("report -> watcher thread wakes (rc file; or tmux, pipe-pane, log)", "wrapper", "woke"),
    ("watcher wakes -> loop told (events read, hand-over)", "woke", "handed"),
    ("loop told -> loop reads the rc file (or the log)", "handed", "read"),
    ("read -> record begins (log read, output tail)", "read", "sql0"),
    ("SQLite: the attempt's end and agent state, to the commit", "sql0", "sql1"),
    ("total: exit -> durable record", "exit", "sql1"),
    ("after: agent state written", "sql1", "rec1"),
    ("after: next task claimed and typed", "rec1", "claim1"),
)


def read_stamp(path: Path) -> float | None:
    """A bash $EPOCHREALTIME written to a file (any locale's decimal mark), or None."""
    try:
        return float(path.read_text().strip().replace(",", "."))
    except (OSError, ValueError):
        return None


def step_costs(exits: list[dict[str, Any]], stamps: Path, wstamps: Path) -> dict[str, Any]:
    """Median/p95 (ms) of each step of STEPS over the probed exits."""
    values: dict[str, list[float]] = {name: [] for name, _, _ in STEPS}
    for e in exits:
        at = dict(e)
        at["exit"] = read_stamp(stamps / f"{e['task']}.{e['attempt']}")
        at["wrapper"] = read_stamp(wstamps / f"{e['task']}.{e['attempt']}.w")
        for name, a, b in STEPS:
            t0, t1 = at.get(a), at.get(b)
            # A read that raced ahead of its own wake-up (an earlier batch's) has no wake-up.
            if t0 and t1 and t1 >= t0:
                values[name].append((t1 - t0) * 1000.0)
    out = {name: summary(v, 3) for name, v in values.items()}
    out["via"] = {way: sum(1 for e in exits if e.get("via") == way) for way in ("rc", "log")}
    return out


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
    with Fleet(root, f"ovb-exit{n}", n, tasks, steps=True, max_parallel=n) as fleet:
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
        written = read_stamp(stamps / f"{task_id}.{number}")
        if written is None:
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
        "steps_ms": step_costs(probe.get("exits", []), stamps, root / "wstamps"),
        # The loop thread's CPU per exit: in records, in claims (typing included), in all.
        "loop_cpu_ms_per_exit": {
            k: round(v * 1000.0 / max(1, len(committed)), 3)
            for k, v in probe.get("loop_cpu_s", {}).items()
        },
    }


def run(scale: Scale, tmp: Path) -> Result:
    """Item 1 at each agent count."""
    res = Result()
    for n in scale.exit_agents:
        detail = level(scale, tmp, n)
        res.details[f"agents_{n}"] = detail
        lat = detail["latency_ms"]
        agents = f"{n} busy agent{'s' if n > 1 else ''}"
        res.rows.append(
            Row(
                "1",
                f"exit code -> store p95, {agents}",
                lat.get("p95"),
                "ms",
                Goal("<=", 10.0) if n >= 50 else None,
                f"median {lat.get('median')} ms, max {lat.get('max')} ms, n={lat.get('n')}",
            )
        )
        if n >= 50:
            res.rows.append(
                Row(
                    "1",
                    f"exit code -> store median, {agents}",
                    lat.get("median"),
                    "ms",
                    Goal("<=", 2.0),
                )
            )
    # The steps of one exit, at the largest fleet: where the time goes.
    n = max(scale.exit_agents)
    cpu = res.details[f"agents_{n}"]["loop_cpu_ms_per_exit"]
    res.rows.append(
        Row(
            "1",
            f"  loop CPU per exit, {n} agents",
            cpu.get("step"),
            "ms",
            None,
            f"of which recording {cpu.get('record')} ms, claiming and typing the next "
            f"{cpu.get('claim')} ms (the loop thread alone)",
        )
    )
    steps = dict(res.details[f"agents_{n}"]["steps_ms"])
    via = steps.pop("via", {})
    for name, cost in steps.items():
        if name.startswith("report"):
            name += f" [rc {via.get('rc', 0)}, log {via.get('log', 0)}]"
        res.rows.append(
            Row(
                "1",
                f"  step: {name}",
                cost.get("median"),
                "ms",
                None,
                f"median at {n} agents; p95 {cost.get('p95')} ms, n={cost.get('n')}",
            )
        )
    return res
