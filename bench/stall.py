"""Item 4: stall detection — how long past `stall_timeout` a silent task is flagged, and
whether slow but live tasks are ever flagged.

Half the tasks print one line, stamping $EPOCHREALTIME just before it, then stay silent; the
delay is the `agent.stalled` event's time minus (that stamp + stall_timeout). The other half
print every 0.7 x stall_timeout for 4 x stall_timeout (alternately whole lines and bare
progress dots) and end with exit 0: any `agent.stalled` event for them is a false positive.
The fleet uses on_stall: block, so each silent task is stopped once, when it is flagged.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from bench.common import Fleet, Goal, Result, Row, Scale, summary, wait_for, writer_command

LIVE_GAP = 0.7  # live tasks print every LIVE_GAP x stall_timeout


def silent_line(stamp_dir: Path) -> str:
    """Print one stamped line, then stay silent for ten minutes."""
    target = shlex.quote(str(stamp_dir)) + '/"$OVERSEER_TASK"'
    return (
        f"t=$EPOCHREALTIME; printf '%s\\n' \"$t\" > {target}; "
        "printf 'quiet from %s\\n' \"$t\"; sleep 600"
    )


def run(scale: Scale, tmp: Path) -> Result:
    """Item 4."""
    timeout = scale.stall_timeout
    root = tmp / "stall"
    stamps = root / "stamps"
    stamps.mkdir(parents=True)
    silent: list[str] = []
    live: list[str] = []
    tasks: list[dict[str, object]] = []
    for i in range(scale.stall_agents * scale.stall_rounds):
        tid = f"s{i:03d}"
        if i % 2 == 0:
            silent.append(tid)
            tasks.append({"id": tid, "run": silent_line(stamps)})
        else:
            live.append(tid)
            dots = 1.0 if (i // 2) % 2 else 0.0
            run = writer_command(tid, 1.0 / (LIVE_GAP * timeout), 4 * timeout, dots=dots)
            tasks.append({"id": tid, "run": run})
    n = scale.stall_agents
    with Fleet(
        root, "ovb-stall", n, tasks, max_parallel=n, stall_timeout=timeout, on_stall="block"
    ) as fleet:
        fleet.start(timeout=60 + n)
        budget = 60 + scale.stall_rounds * 6 * timeout
        wait_for(
            lambda: fleet.count_tasks("done", "blocked", "failed") == len(tasks),
            budget,
            "stall tasks did not finish",
            interval=0.2,
        )
        events = [e for e in fleet.store.events() if e.kind == "agent.stalled"]
        states = {t.id: t.state.value for t in fleet.store.tasks()}
    flagged = {e.task_id: e.ts for e in reversed(events) if e.task_id}  # first event per task
    delays: list[float] = []
    for tid in silent:
        if tid not in flagged:
            continue
        try:
            quiet_from = float((stamps / tid).read_text().strip().replace(",", "."))
        except (OSError, ValueError):
            continue
        delays.append((flagged[tid] - (quiet_from + timeout)) * 1000.0)
    false_pos = sorted(t for t in live if t in flagged)
    missed = sorted(t for t in silent if t not in flagged)
    stat = summary(delays, 1)
    res = Result()
    res.details = {
        "stall_timeout_s": timeout,
        "silent_tasks": len(silent),
        "live_tasks": len(live),
        "live_gap_s": LIVE_GAP * timeout,
        "delay_past_timeout_ms": stat,
        "false_positives": false_pos,
        "missed": missed,
        "task_states": {s: list(states.values()).count(s) for s in set(states.values())},
    }
    res.rows.append(
        Row(
            "4",
            f"stall flagged past stall_timeout ({timeout:g} s), p95",
            stat.get("p95"),
            "ms",
            Goal("<=", 1000.0),
            f"median {stat.get('median')} ms, max {stat.get('max')} ms, n={stat.get('n')}",
        )
    )
    res.rows.append(
        Row(
            "4",
            "false stalls on slow but live tasks",
            float(len(false_pos)),
            "count",
            Goal("<=", 0),
            f"{len(live)} tasks printing every {LIVE_GAP * timeout:g} s (lines or dots)",
        )
    )
    res.rows.append(
        Row(
            "4",
            "silent tasks never flagged",
            float(len(missed)),
            "count",
            Goal("<=", 0),
            f"of {len(silent)}",
        )
    )
    return res
