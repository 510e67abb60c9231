"""The fault campaign, long version: break Overseer on purpose and print what happened.

    python -m bench.faults                       # 20 kill cycles on 200 tasks, 30-minute soak
    python -m bench.faults --cycles 5 --tasks 60 --soak-minutes 1 --flood-mb 50   # quicker

Scenarios (tests/faults.py, shared with the test suite, which runs them small):
  kill9   kill -9 of the supervisor at random moments during a run (some during start-up)
  tmux    the tmux server killed under running tasks (kill-server, then SIGKILL)
  leftovers  tasks that leave a daemon behind (double-forked, setsid, ignoring SIGHUP and
          SIGTERM) ended by timeout, stall, release, pane and tmux deaths; tasks that stop
          themselves (kill -TSTP 0) and time out; the cost of finding an attempt's processes
  hell    a 1 MB line, binary, escapes, progress bars, wide characters, a big flood
  soak    20 agents churning short tasks; RSS and open descriptors over time
  wipe    the state dir removed under a running supervisor (git clean -fdx), tasks in flight
  plant   links and other users' files planted in the state dir, a copied state.db
  deps    a chain of 5,000 dependent tasks; a supervisor holding 4,999 pending on a failed one
  restart the supervisor down longer than stall_timeout (kill -9, then `overseer down`)
          while a task prints, one waits at a [y/N] prompt and one is silent
  shrink  kill -9 with 3 agents busy, restart with the config cut to 1 agent
  tmux-task  a task kills Overseer's tmux server on every try, beside innocent tasks
Every scenario checks its promises and lists any it saw broken; the exit status is 1 then.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from overseer.agents.tmux import tmux_version
from tests.faults import (
    Figures,
    dependency_scale,
    kill9_campaign,
    leftover_campaign,
    output_from_hell,
    planted_links,
    restart_after_downtime,
    shrink_campaign,
    soak,
    task_kills_tmux,
    tmux_kill_campaign,
    wiped_state_dir,
)
from tests.project import Project

SCENARIOS = (
    "kill9",
    "tmux",
    "leftovers",
    "hell",
    "soak",
    "wipe",
    "plant",
    "deps",
    "restart",
    "shrink",
    "tmux-task",
)


def log(line: str) -> None:
    print(line, flush=True)


def run_in_project(name: str, scenario: Callable[[Project], Figures]) -> Figures:
    """Run one scenario in a fresh project directory; always end its tmux server."""
    root = Path(tempfile.mkdtemp(prefix=f"ovs-faults-{name}-"))
    project = Project(root, name=name)
    t0 = time.time()
    try:
        fig = scenario(project)
    except AssertionError as exc:  # a wait_until deadline: the scenario could not finish
        fig = Figures(name)
        fig.violations.append(f"did not finish: {exc}")
    finally:
        project.close()
    fig["scenario time (s)"] = round(time.time() - t0, 1)
    shutil.rmtree(root, ignore_errors=True)
    return fig


def show(fig: Figures) -> None:
    log(f"\n== {fig.name}")
    for key, value in fig.values.items():
        if key == "series":
            log("   time (s)   RSS (MB)   fds   tasks done   db (MB)")
            for t, rss, fds, done, db in value:
                log(f"   {t:8.1f}   {rss:8.1f}   {fds:3d}   {done:10d}   {db:7.1f}")
        else:
            log(f"   {key}: {value}")
    log("   promises kept" if not fig.violations else "   BROKEN:")
    for v in fig.violations:
        log(f"     - {v}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.faults", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--cycles", type=int, default=20, help="kill -9 cycles (default 20)")
    parser.add_argument("--tasks", type=int, default=200, help="tasks in the kill -9 run")
    parser.add_argument("--agents", type=int, default=6, help="agents in the kill -9 run")
    parser.add_argument("--tmux-kills", type=int, default=3, help="tmux deaths per mode")
    parser.add_argument("--leftover-rounds", type=int, default=3, help="rounds of every way")
    parser.add_argument("--flood-mb", type=int, default=200, help="size of the output flood")
    parser.add_argument("--soak-minutes", type=float, default=30.0, help="length of the soak")
    parser.add_argument("--soak-agents", type=int, default=20)
    parser.add_argument("--wipes", type=int, default=3, help="state dir wipes (default 3)")
    parser.add_argument("--deps", type=int, default=5000, help="tasks in the dependency run")
    parser.add_argument("--downtime", type=float, default=40.0, help="restart: seconds down")
    parser.add_argument("--stall-timeout", type=float, default=8.0, help="restart: stall_timeout")
    parser.add_argument("--only", choices=SCENARIOS, action="append", help="run only these")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    args = parser.parse_args(argv)
    chosen = args.only or list(SCENARIOS)

    log(
        f"fault campaign on {platform.node()}: Python {platform.python_version()}, "
        f"tmux {'.'.join(map(str, tmux_version()))}, {platform.machine()}, "
        f"{_cpus()} CPU(s); started {time.strftime('%Y-%m-%d %H:%M:%S')}"
    )
    results: list[Figures] = []
    if "kill9" in chosen:
        log(f"\nkill -9: {args.cycles} cycles, {args.tasks} tasks, {args.agents} agents")
        results.append(
            run_in_project(
                "kill9",
                lambda p: kill9_campaign(
                    p,
                    tasks=args.tasks,
                    cycles=args.cycles,
                    agents=args.agents,
                    seed=args.seed,
                    log=log,
                ),
            )
        )
        show(results[-1])
    if "tmux" in chosen:
        for mode in ("kill-server", "sigkill"):
            log(f"\ntmux server killed by {mode}, {args.tmux_kills} time(s)")
            # At most 3 restarts a minute keep an agent out of the respawn-loop cap.
            results.append(
                run_in_project(
                    "tmux",
                    lambda p, m=mode: tmux_kill_campaign(
                        p, kills=args.tmux_kills, agents=4, mode=m, spacing=22.0, log=log
                    ),
                )
            )
            show(results[-1])
    if "leftovers" in chosen:
        log(f"\ndaemons left behind, {args.leftover_rounds} round(s) of every way to end")
        results.append(
            run_in_project(
                "leftovers",
                lambda p: leftover_campaign(p, rounds=args.leftover_rounds, agents=4, log=log),
            )
        )
        show(results[-1])
    if "hell" in chosen:
        log(f"\noutput from hell with a {args.flood_mb} MB flood")
        results.append(
            run_in_project("hell", lambda p: output_from_hell(p, flood_mb=args.flood_mb, log=log))
        )
        show(results[-1])
    if "soak" in chosen:
        seconds = args.soak_minutes * 60
        log(f"\nsoak: {args.soak_agents} agents for {args.soak_minutes:g} min")
        results.append(
            run_in_project(
                "soak",
                lambda p: soak(
                    p,
                    seconds=seconds,
                    agents=args.soak_agents,
                    batch=200,
                    every=max(5.0, seconds / 30),
                    log=log,
                ),
            )
        )
        show(results[-1])

    if "wipe" in chosen:
        log(f"\nstate dir wiped under a running supervisor, {args.wipes} time(s)")
        for _ in range(args.wipes):
            results.append(
                run_in_project("wipe", lambda p: wiped_state_dir(p, agents=4, queued=8, log=log))
            )
            show(results[-1])
    if "plant" in chosen:
        log("\nlinks and foreign files planted in the state dir")
        results.append(run_in_project("plant", lambda p: planted_links(p, log=log)))
        show(results[-1])
    if "deps" in chosen:
        log(f"\ndependencies: a chain of {args.deps}, then {args.deps - 1} pending on a failure")
        results.append(
            run_in_project("deps", lambda p: dependency_scale(p, tasks=args.deps, log=log))
        )
        show(results[-1])
    if "restart" in chosen:
        for how in ("kill9", "down"):
            log(
                f"\nsupervisor stopped by {how}, down {args.downtime:g}s "
                f"(stall_timeout {args.stall_timeout:g}s)"
            )
            results.append(
                run_in_project(
                    "restart",
                    lambda p, h=how: restart_after_downtime(
                        p,
                        how=h,
                        stall_timeout=args.stall_timeout,
                        downtime=args.downtime,
                        log=log,
                    ),
                )
            )
            show(results[-1])
    if "shrink" in chosen:
        log("\nagent count 3 -> 1 while the supervisor was down (kill -9)")
        results.append(
            run_in_project(
                "shrink", lambda p: shrink_campaign(p, before=3, task_seconds=8.0, tasks=9, log=log)
            )
        )
        show(results[-1])
    if "tmux-task" in chosen:
        log("\na task kills the tmux server on every try, 8 innocent tasks beside it")
        results.append(
            run_in_project(
                "tmuxtask",
                lambda p: task_kills_tmux(p, innocents=8, agents=4, task_seconds=3.0, log=log),
            )
        )
        show(results[-1])

    broken = [f for f in results if f.violations]
    log(f"\n{len(results) - len(broken)}/{len(results)} scenarios kept every promise")
    if args.json:
        data: list[dict[str, Any]] = [
            {"name": f.name, "values": f.values, "violations": f.violations} for f in results
        ]
        Path(args.json).write_text(json.dumps(data, indent=2))
    return 1 if broken else 0


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


if __name__ == "__main__":
    sys.exit(main())
