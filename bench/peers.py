"""`python -m bench --peers`: Overseer beside supervisord on the same workload, with ratios.

The workload is the one supervisord is built for: N programs that run a short while and exit,
over and over. Each run sleeps 0.3-1.1 s, writes bash's $EPOCHREALTIME (no fork) as its last act
and exits 3.
- supervisord (the `supervisor` package from PyPI, `pip install -e '.[bench]'`) runs them as N
  programs with autorestart; each run appends its stamp to its program's file, and supervisord
  logs each exit ("exited: NAME (exit status 3 ...)", millisecond times): the k-th exit logged
  for a program pairs with its k-th stamp, latency = logged - stamp. That is the moment
  supervisord has reaped and handled the exit (in memory; its log is not synced to disk).
- Overseer runs the same runs as tasks on N shell agents, always busy; latency = the commit of
  the attempt's result in SQLite (durable) - stamp, from the supervisor's probe.
CPU counts each tool's own processes (user + system): supervisord's process; Overseer's
supervisor, its tmux server and the pipe-pane helpers. The programs and agents' shells are the
workload and count for neither. Idle: N programs / agents that do nothing, over a window.

ccmanager (npm) runs AI CLI sessions, not exiting programs: it is compared on its own ground,
4 busy and 4 idle Gemini CLI agents (bench/ccmanager.py), or the row says exactly why not.
"""

from __future__ import annotations

import random
import re
import shlex
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench import ccmanager
from bench.common import (
    CLEANUP,
    BenchError,
    CpuWindow,
    Fleet,
    Result,
    Row,
    Scale,
    cpu_seconds,
    stop_process,
    summary,
    wait_for,
)
from bench.observe import ours_groups

PROGRAMS = 50
LO, HI = 0.3, 1.1  # seconds a run sleeps before it stamps and exits


def run_line(stamp: str, rng: random.Random | None = None, append: bool = False) -> str:
    """One run: sleep, stamp the exit time, exit 3 (a fixed sleep when `rng` is given)."""
    sleep = f"{rng.uniform(LO, HI):.3f}" if rng else "0.$((RANDOM % 9 + 3))"
    to = ">>" if append else ">"
    return f"sleep {sleep}; printf '%s\\n' \"$EPOCHREALTIME\" {to} {stamp}; exit 3"


def supervisord_conf(root: Path, n: int, idle: bool) -> Path:
    """A supervisord config for n programs (and the listener) under root."""
    stamps = root / "stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    lines = [
        "[supervisord]",
        "nodaemon=true",
        f"logfile={root / 'supervisord.log'}",
        f"pidfile={root / 'supervisord.pid'}",
        f"childlogdir={root}",
        "",
        "[unix_http_server]",
        f"file={root / 'supervisor.sock'}",
        "",
        "[rpcinterface:supervisor]",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "",
    ]
    # A script file: supervisord %-formats its command lines.
    script = root / "run.sh"
    script.write_text(
        "exec sleep 100000\n"
        if idle
        else run_line(shlex.quote(str(stamps)) + '/"$1"', append=True) + "\n"
    )
    for i in range(n):
        name = f"p{i:03d}"
        lines += [
            f"[program:{name}]",
            f"command=bash {script} {name}",
            "autorestart=true",
            "startsecs=0",
            "startretries=100000",
            "exitcodes=0",
            f"stdout_logfile={root / name}.log",
            "redirect_stderr=true",
            "",
        ]
    conf = root / "supervisord.conf"
    conf.write_text("\n".join(lines))
    return conf


EXITED = re.compile(r"^(\S+ \S+),(\d{3}) \S+ exited: (\S+) \(exit status")


def logged_exits(log: Path) -> dict[str, list[float]]:
    """Program -> epoch times of its exits, in order, from supervisord's log."""
    out: dict[str, list[float]] = {}
    for line in log.read_text(errors="replace").splitlines():
        m = EXITED.match(line)
        if m:
            at = time.mktime(time.strptime(m[1], "%Y-%m-%d %H:%M:%S")) + int(m[2]) / 1000.0
            out.setdefault(m[3], []).append(at)
    return out


def supervisord(root: Path, n: int, window: float, idle: bool) -> dict[str, Any]:
    """Run supervisord on n programs for `window` seconds: latencies, CPU, exits."""
    exe = shutil.which("supervisord")
    if exe is None:
        raise RuntimeError("supervisord is not installed: pip install -e '.[bench]'")
    conf = supervisord_conf(root, n, idle)
    proc = subprocess.Popen(
        [exe, "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    CLEANUP.procs.append(proc)
    log = root / "supervisord.log"
    try:
        wait_for(lambda: log.exists() and b"spawned" in log.read_bytes(), 60, "no program ran")
        time.sleep(3.0)  # every program has started
        before = cpu_seconds(proc.pid, False) or 0.0
        t0, m0 = time.time(), time.monotonic()
        time.sleep(window)
        used = (cpu_seconds(proc.pid, False) or 0.0) - before
        t1, wall = time.time(), time.monotonic() - m0
    finally:
        stop_process(proc)
    values = []
    for name, exits in logged_exits(log).items():
        try:
            stamps = (root / "stamps" / name).read_text().split()
        except OSError:
            continue
        for at, stamp in zip(exits, stamps, strict=False):
            if t0 <= at <= t1:
                values.append((at - float(stamp.replace(",", "."))) * 1000.0)
    return {
        "latency_ms": summary(values, 2),
        "cpu_pct": round(100.0 * used / wall, 2),
        "exits": len(values),
        "cpu_ms_per_exit": round(used * 1000.0 / len(values), 2) if values else None,
    }


def overseer(root: Path, n: int, window: float, idle: bool) -> dict[str, Any]:
    """Run Overseer on n shell agents; as many runs as fill `window`: latencies, CPU, exits."""
    rng = random.Random(n)
    stamps = root / "stamps"
    stamps.mkdir(parents=True, exist_ok=True)
    count = 0 if idle else int(window * n / ((LO + HI) / 2)) + n
    stamp = shlex.quote(str(stamps)) + '/"$OVERSEER_TASK.$OVERSEER_ATTEMPT"'
    tasks = [{"id": f"t{i:05d}", "run": run_line(stamp, rng)} for i in range(count)]
    with Fleet(root, f"ovb-peer{n}{'i' if idle else 'b'}", n, max_parallel=n) as fleet:
        fleet.start(timeout=60 + n)
        time.sleep(3.0)  # the agents settle at their prompts
        meter = CpuWindow(ours_groups(fleet))
        meter.start()
        if idle:
            time.sleep(window)
        else:
            fleet.add_tasks(tasks)  # the window covers every run, from its claim to its record
            wait_for(
                lambda: fleet.count_tasks("done", "failed") == count,
                120 + window * 4,
                "the runs did not finish",
                interval=0.2,
            )
        cpu = meter.stop()
        probe = fleet.stop()
    latencies: list[float] = []
    for task_id, number, at in probe.get("finished", []):
        try:
            written = float((stamps / f"{task_id}.{number}").read_text().strip().replace(",", "."))
        except (OSError, ValueError):
            continue
        latencies.append((at - written) * 1000.0)
    used_ms = cpu["total"] / 100.0 * cpu["window_s"] * 1000.0
    return {
        "latency_ms": summary(latencies, 2),
        "cpu_pct": cpu["total"],
        "cpu": cpu,
        "exits": len(latencies),
        "cpu_ms_per_exit": round(used_ms / len(latencies), 2) if latencies else None,
    }


def ratio(ours: float | None, theirs: float | None) -> str:
    """'N.Nx worse' / 'N.Nx better' of ours against a peer (lower is better)."""
    if ours is None or theirs is None or theirs <= 0 or ours <= 0:
        return "no ratio"
    r = ours / theirs
    return f"{r:.1f}x worse" if r >= 1 else f"{1 / r:.1f}x better"


def run(scale: Scale, tmp: Path) -> Result:
    """The peer comparison: exit latency, CPU per exit, idle CPU; ccmanager said why not."""
    res = Result()
    window = max(8.0, scale.window * 3)
    busy_s = supervisord(tmp / "supervisord-busy", PROGRAMS, window, idle=False)
    busy_o = overseer(tmp / "overseer-busy", PROGRAMS, window, idle=False)
    idle_s = supervisord(tmp / "supervisord-idle", PROGRAMS, window, idle=True)
    idle_o = overseer(tmp / "overseer-idle", PROGRAMS, window, idle=True)
    res.details.update(
        supervisord_busy=busy_s, overseer_busy=busy_o, supervisord_idle=idle_s,
        overseer_idle=idle_o, programs=PROGRAMS, window_s=window,
    )  # fmt: skip
    for what, key, unit in (
        ("median", "median", "ms"),
        ("p95", "p95", "ms"),
    ):
        ours, theirs = busy_o["latency_ms"].get(key), busy_s["latency_ms"].get(key)
        res.rows.append(
            Row(
                "peers",
                f"exit code recorded, {what}, {PROGRAMS} programs",
                ours,
                unit,
                None,
                f"supervisord {theirs} ms: {ratio(ours, theirs)}",
            )
        )
    ours, theirs = busy_o["cpu_ms_per_exit"], busy_s["cpu_ms_per_exit"]
    res.rows.append(
        Row(
            "peers",
            f"CPU ms per exit, {PROGRAMS} programs",
            ours,
            "ms",
            None,
            f"supervisord {theirs} ms: {ratio(ours, theirs)}",
        )
    )
    ours, theirs = idle_o["cpu_pct"], idle_s["cpu_pct"]
    res.rows.append(
        Row(
            "peers",
            f"idle CPU, {PROGRAMS} agents / programs",
            ours,
            "% core",
            None,
            f"supervisord {theirs} %: {ratio(ours, theirs)}",
        )
    )
    try:
        ccm = ccmanager.compare(tmp / "ccmanager", window)
    except (ccmanager.Unavailable, BenchError) as exc:
        res.rows.append(Row("peers", "ccmanager", None, "", None, f"not run: {exc}", status="SKIP"))
        return res
    res.details["ccmanager"] = ccm
    for cli in ccmanager.CLIS:
        got = ccm[cli.name]
        if "missing" in got:
            res.rows.append(Row("peers", f"ccmanager, {cli.label}", None, "", None,
                                f"not run: {got['missing']}", status="SKIP"))  # fmt: skip
            continue
        for what in ("busy", "idle"):
            ours, theirs = got[f"overseer_{what}"]["cpu_pct"], got[f"ccmanager_{what}"]["cpu_pct"]
            res.rows.append(
                Row(
                    "peers",
                    f"{ccmanager.AGENTS} {what} {cli.label} agents, CPU (headless)",
                    ours,
                    "% core",
                    None,
                    f"ccmanager {theirs} %: {ratio(ours, theirs)}; Overseer's {cli.label} signals "
                    f"live in {got[f'overseer_{what}']['signals_live']}/{ccmanager.AGENTS}",
                )
            )
    return res
