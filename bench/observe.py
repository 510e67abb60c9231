"""Items 2, 3 and 8: output latency, supervisor CPU, and the two reference observers.

CPU is user+system time, in % of one core, over a window, of: the supervisor process (with
the tmux clients it runs and reaps), the tmux server, and the pipe-pane processes
(`sh -c cat >> log` and `cat`) that exist only because Overseer observes through logs. The
panes' own programs (shells, the workload) are not counted for anyone.
"""

from __future__ import annotations

import contextlib
import json
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from bench.common import (
    CLEANUP,
    REPO,
    CpuWindow,
    Fleet,
    Goal,
    PidSource,
    Result,
    Row,
    Scale,
    child_env,
    pipe_helpers,
    stop_process,
    summary,
    wait_for,
    writer_command,
)

SETTLE = 2.0  # seconds after start-up (or a change of load) before a window opens
MARK_RATE = 2.0  # marker lines per second per pane in the latency comparison
POLL_INTERVAL = 0.5


def ours_groups(fleet: Fleet) -> dict[str, PidSource]:
    """The processes whose CPU counts for Overseer."""
    pid = fleet.supervisor_pid
    server = fleet.server_pid()
    if pid is None or server is None:
        raise RuntimeError(f"{fleet.name}: supervisor or tmux server not running")
    return {
        "supervisor": lambda: [(pid, True)],
        "tmux_server": lambda: [(server, False)],
        "pipes": lambda: pipe_helpers(server),
    }


def cpu_over(groups: dict[str, PidSource], window: float) -> dict[str, float]:
    """CPU of some process groups over `window` seconds."""
    meter = CpuWindow(groups)
    meter.start()
    time.sleep(window)
    return meter.stop()


def latencies_ms(marks: list[Any], t0: float, t1: float) -> list[float]:
    """Latencies (ms) of the (seen, written) records whose seen time falls in [t0, t1]."""
    return [(seen - written) * 1000.0 for seen, written in marks if t0 <= seen <= t1]


def step_stats(probe: dict[str, Any], t0: float = 0.0, t1: float = math.inf) -> dict[str, Any]:
    """How long the supervisor's loop steps that ended in [t0, t1] took (ms)."""
    return summary([secs * 1000.0 for end, secs in probe.get("steps", []) if t0 <= end <= t1], 2)


def run_observer(kind: str, fleet: Fleet, window: float) -> dict[str, Any]:
    """Run a reference observer against the fleet's panes: its CPU and latency over a window."""
    out = fleet.root / f"observer-{kind}.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.observers", kind, "--label", fleet.label, "--out", str(out)]
        + (["--interval", str(POLL_INTERVAL)] if kind == "poll" else []),
        cwd=REPO,
        env=child_env(),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    CLEANUP.procs.append(proc)
    server = fleet.server_pid()
    try:
        time.sleep(SETTLE)

        def observer() -> list[tuple[int, bool]]:
            pids = [(proc.pid, True)]
            if kind == "control":  # the long-lived `tmux -C` client is not reaped until the end
                with contextlib.suppress(psutil.NoSuchProcess):
                    pids += [(c.pid, False) for c in psutil.Process(proc.pid).children()]
            return pids

        t0 = time.time()
        cpu = cpu_over(
            {"observer": observer, "tmux_server": lambda: [(server, False)] if server else []},
            window,
        )
        t1 = time.time()
    finally:
        stop_process(proc)
    marks = json.loads(out.read_text())["marks"] if out.exists() else []
    return {"cpu": cpu, "latency_ms": summary(latencies_ms(marks, t0, t1), 2)}


def idle_fleet(scale: Scale, tmp: Path, n: int, res: Result) -> None:
    """Idle CPU at n agents; on the comparison fleet also output latency and observers."""
    with Fleet(tmp / f"idle{n}", f"ovb-idle{n}", n) as fleet:
        t_start = time.monotonic()
        fleet.start(timeout=60 + n)
        startup = round(time.monotonic() - t_start, 2)
        time.sleep(SETTLE)
        cpu = cpu_over(ours_groups(fleet), scale.window)
        goal = {50: Goal("<=", 5.0), 200: Goal("<=", 20.0)}.get(n)
        detail: dict[str, Any] = {"startup_s": startup, "cpu": cpu}
        res.rows.append(
            Row(
                "3",
                f"CPU, {n} idle agents",
                cpu["total"],
                "% core",
                goal,
                f"supervisor {cpu['supervisor']}, tmux {cpu['tmux_server']}, pipes {cpu['pipes']}",
            )
        )
        if n == scale.obs_panes:
            detail["compare"] = compare(scale, fleet, res)
        elif scale.compare_idle and n == max(scale.idle_agents):
            probe = fleet.stop()
            detail["steps_ms"] = step_stats(probe)
            detail["compare_idle"] = compare_idle(scale, fleet, res)
        probe = fleet.stop()
        detail.setdefault("steps_ms", step_stats(probe))
        res.details[f"idle_{n}"] = detail


def compare(scale: Scale, fleet: Fleet, res: Result) -> dict[str, Any]:
    """Markers written in every pane: ours, then no observer, capture-pane polling, control."""
    n = fleet.agents
    duration = 4 * (scale.window + 3 * SETTLE) + 30
    fleet.add_tasks(
        [
            {"id": f"mark-{name}", "run": writer_command(name, MARK_RATE, duration, jitter=0.5)}
            for name in fleet.names
        ]
    )
    wait_for(lambda: fleet.count_agents("busy") == n, 60, "marker tasks did not start")
    time.sleep(SETTLE)
    t0 = time.time()
    ours_cpu = cpu_over(ours_groups(fleet), scale.window)
    t1 = time.time()
    probe = fleet.stop()
    ours = {
        "cpu": ours_cpu,
        "latency_ms": summary(latencies_ms(probe.get("marks", []), t0, t1), 2),
        "steps_ms": step_stats(probe, t0, t1),
    }
    fleet.close_pipes()
    time.sleep(0.5)
    server = fleet.server_pid()
    none = {
        "cpu": cpu_over({"tmux_server": lambda: [(server, False)] if server else []}, scale.window)
    }
    poll = run_observer("poll", fleet, scale.window)
    control = run_observer("control", fleet, scale.window)
    lat = ours["latency_ms"]
    res.rows.append(
        Row(
            "2",
            f"output latency p95, {n} panes x {MARK_RATE:g} lines/s",
            lat.get("p95"),
            "ms",
            Goal("<=", 20.0) if n >= 50 else None,
            f"median {lat.get('median')} ms, n={lat.get('n')}; pane write -> supervisor read",
        )
    )
    res.rows.append(
        Row(
            "8",
            f"CPU, ours, {n} panes x {MARK_RATE:g} lines/s",
            ours_cpu["total"],
            "% core",
            note=f"tmux server alone (no observer): {none['cpu']['total']}",
        )
    )
    for key, label, obs in (
        ("poll", f"capture-pane every {POLL_INTERVAL * 1000:g} ms", poll),
        ("control", "control mode %output", control),
    ):
        p95 = obs["latency_ms"].get("p95")
        cpu = obs["cpu"]["total"]
        res.rows.append(
            Row(
                "8",
                f"{label}: latency p95",
                p95,
                "ms",
                note=f"median {obs['latency_ms'].get('median')} ms; "
                + ratio_note(key, lat.get("p95"), p95),
            )
        )
        res.rows.append(
            Row("8", f"{label}: CPU", cpu, "% core", note=ratio_note(key, ours_cpu["total"], cpu))
        )
    return {
        "panes": n,
        "rate": MARK_RATE,
        "ours": ours,
        "none": none,
        "poll": poll,
        "control": control,
    }


def ratio_note(kind: str, ours: float | None, other: float | None) -> str:
    """'poll/ours = 20x' or 'ours/control = 1.5x'."""
    if not ours or not other:
        return ""
    if kind == "poll":
        return f"poll/ours = {other / ours:.1f}x"
    return f"ours/control = {ours / other:.1f}x"


def compare_idle(scale: Scale, fleet: Fleet, res: Result) -> dict[str, Any]:
    """CPU of the reference observers on the same idle panes (supervisor stopped, pipes closed)."""
    fleet.close_pipes()
    server = fleet.server_pid()
    none = {
        "cpu": cpu_over({"tmux_server": lambda: [(server, False)] if server else []}, scale.window)
    }
    poll = run_observer("poll", fleet, scale.window)
    control = run_observer("control", fleet, scale.window)
    n = fleet.agents
    ours = next((r.value for r in res.rows if r.name == f"CPU, {n} idle agents"), None)
    for key, label, obs in (
        ("poll", f"capture-pane every {POLL_INTERVAL * 1000:g} ms", poll),
        ("control", "control mode %output", control),
    ):
        cpu = obs["cpu"]["total"]
        res.rows.append(
            Row(
                "8", f"{label}: CPU, {n} idle panes", cpu, "% core", note=ratio_note(key, ours, cpu)
            )
        )
    return {"panes": n, "none": none, "poll": poll, "control": control}


def flood(scale: Scale, tmp: Path, res: Result) -> None:
    """n agents each printing `flood_rate` lines/s: CPU, and how far reading lags behind."""
    n, rate = scale.flood_agents, scale.flood_rate
    with Fleet(tmp / "flood", "ovb-flood", n) as fleet:
        fleet.start(timeout=60 + n)
        duration = 2 * scale.window + 4 * SETTLE + 20
        fleet.add_tasks(
            [
                {
                    "id": f"flood-{name}",
                    "run": writer_command(name, rate, duration, batch=5, pad=72, jitter=0.2),
                }
                for name in fleet.names
            ]
        )
        wait_for(lambda: fleet.count_agents("busy") == n, 60, "flood tasks did not start")
        time.sleep(SETTLE)
        t0 = time.time()
        cpu = cpu_over(ours_groups(fleet), scale.window)
        t1 = time.time()
        probe = fleet.stop()
        lags = latencies_ms(probe.get("marks", []), t0, t1)
        fleet.close_pipes()
        time.sleep(0.5)
        server = fleet.server_pid()
        none = cpu_over({"tmux_server": lambda: [(server, False)] if server else []}, scale.window)
    lag = summary(lags, 2)
    res.details["flood"] = {
        "agents": n,
        "lines_per_s": rate,
        "cpu": cpu,
        "lag_ms": lag,
        "tmux_alone": none,
        "steps_ms": step_stats(probe, t0, t1),
    }
    res.rows.append(
        Row(
            "3",
            f"CPU, {n} agents x {rate} lines/s",
            cpu["total"],
            "% core",
            note=f"tmux server alone under this flood: {none['total']}",
        )
    )
    res.rows.append(
        Row(
            "3",
            f"flood: read lag max ({n} x {rate} lines/s)",
            lag.get("max"),
            "ms",
            Goal("<=", 1000.0),
            f"p95 {lag.get('p95')} ms, n={lag.get('n')}",
        )
    )


def run(scale: Scale, tmp: Path) -> Result:
    """Items 2, 3 and 8."""
    res = Result()
    for n in scale.idle_agents:
        idle_fleet(scale, tmp, n, res)
    if scale.obs_panes not in scale.idle_agents:
        raise RuntimeError("obs_panes must be one of idle_agents")
    flood(scale, tmp, res)
    return res
