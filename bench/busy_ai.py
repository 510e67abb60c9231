"""`python -m bench --only busy-ai`: Overseer's CPU while real AI CLIs are busy (issue 17).

N real Gemini CLI and Codex CLI agents (from OVERSEER_CLI_PREFIX or PATH) each take a prompt
`work S` that the local model API stand-in (tests/fakes/model_api.py) answers only after S
seconds: the CLI shows its spinner and timer all that time. Once every agent is busy, the CPU
of Overseer's own processes (supervisor, tmux server, pipe-pane helpers; user + system) is
measured over a window, in % of one core. The CLIs are the workload and count for nothing.

Each CLI runs with a temporary HOME prepared as tests/fakes/real_cli.py does (onboarding,
API-key auth, no updates), so nothing of the user's own configuration is read or written.
Gemini takes its hooks only from a root-owned settings file under a private parent: run as
root, the projects live under /run; otherwise Gemini's signals are degraded (the row says so).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import time
from pathlib import Path
from typing import Any

from bench.common import CpuWindow, Fleet, Goal, Result, Row, Scale, wait_for
from bench.observe import ours_groups
from tests.fakes.model_api import ModelAPI
from tests.fakes.real_cli import Run, find_cli, processes_with_home

# (label, agents per CLI, goal in % of a core)
SETS: tuple[tuple[str, dict[str, int], float], ...] = (
    ("4 busy Gemini agents", {"gemini": 4}, 10.0),
    ("4 busy Codex agents", {"codex": 4}, 10.0),
    ("20 busy AI agents (10 Gemini, 10 Codex)", {"gemini": 10, "codex": 10}, 50.0),
)
START_TIMEOUT = 300.0  # real CLIs on a loaded machine take a while to show their input box
WORK = 3600  # seconds the stand-in keeps each turn going (the fleet is closed long before)


def place(tmp: Path) -> tuple[Path, bool]:
    """Where the projects go: under /run when root (Gemini's hooks need it), else tmp."""
    if os.geteuid() == 0 and Path("/run").is_dir():
        root = Path("/run") / f"ovs-bench-busy-{os.getpid()}"
        root.mkdir(mode=0o700, exist_ok=True)
        return root, True
    tmp.mkdir(parents=True, exist_ok=True)
    return tmp, False


def agents_of(cli: str, count: int, runs: dict[str, Run]) -> list[dict[str, Any]]:
    """The config's agents of one CLI, sharing the prepared HOME of its Run."""
    run = runs[cli]
    binary = find_cli(cli)
    assert binary is not None
    command = shlex.quote(str(binary))
    if cli == "codex":  # the stand-in as its model provider; Overseer adds notify
        command = shlex.join([str(binary), *run.codex_args()[:-2]])
    env = {k: v for k, v in run.env().items() if k != "GEMINI_CLI_SYSTEM_SETTINGS_PATH"}
    return [
        {"name": f"{cli}-{i}", "kind": cli, "command": command, "cwd": str(run.work), "env": env}
        for i in range(1, count + 1)
    ]


def measure(
    root: Path, label: str, counts: dict[str, int], api: ModelAPI, window: float
) -> dict[str, Any]:
    """Start the fleet, give every agent a long `work` prompt, measure while all are busy."""
    root.mkdir(parents=True, exist_ok=True)
    root.chmod(0o755)
    runs = {}
    for cli in counts:
        run = Run(cli, find_cli(cli) or Path(cli), root / f"cli-{cli}", api.url)
        run.argv()  # prepares HOME (onboarding, API-key auth); Overseer adds the hooks
        runs[cli] = run
    agents = [a for cli, n in counts.items() for a in agents_of(cli, n, runs)]
    # Busy until the fleet is closed (the stand-in answers after WORK s): one task per agent.
    tasks = [{"id": f"t-{a['name']}", "prompt": f"work {WORK}", "agent": a["name"]} for a in agents]
    name = "busy-" + "-".join(f"{c}{n}" for c, n in counts.items())
    fleet = Fleet(root / "project", name, len(agents))
    doc = json.loads(fleet.config_path.read_text())
    doc.update(agents=agents, tasks=tasks, stall_timeout=600, max_parallel=len(agents))
    fleet.config_path.write_text(json.dumps(doc, indent=1))
    try:
        fleet.start(timeout=START_TIMEOUT)
        wait_for(
            lambda: fleet.count_agents("busy") == len(agents),
            START_TIMEOUT,
            f"{label}: not every agent became busy",
            interval=0.5,
        )
        time.sleep(3.0)  # past the first redraws of the turn
        meter = CpuWindow(ours_groups(fleet))
        meter.start()
        time.sleep(window)
        cpu = meter.stop()
        busy = fleet.count_agents("busy")
        signals = [
            json.loads(r[0] or "{}")
            for r in fleet.store.conn.execute("SELECT signals FROM agents").fetchall()
        ]
        degraded = sum(1 for s in signals if s.get("degraded"))
        return {"cpu": cpu, "busy_at_end": busy, "agents": len(agents), "degraded": degraded}
    finally:
        fleet.close()
        for run in runs.values():  # Codex's app-server daemon lives outside the panes
            for pid in processes_with_home(run.home):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGTERM)


def run(scale: Scale, tmp: Path) -> Result:
    """Overseer's CPU for each set of busy real AI agents, beside its goal."""
    missing = [cli for cli in ("gemini", "codex") if find_cli(cli) is None]
    if missing:
        why = (
            f"{' and '.join(missing)} not installed (looked under OVERSEER_CLI_PREFIX="
            f"{os.environ.get('OVERSEER_CLI_PREFIX', '')!r} and on PATH); install with "
            "npm install --prefix DIR @google/gemini-cli @openai/codex, set OVERSEER_CLI_PREFIX=DIR"
        )
        return Result(rows=[Row("17", "busy AI agents", None, "%", status="SKIP", note=why)])
    base, private = place(tmp)
    window = scale.window
    rows, details = [], {}
    try:
        with ModelAPI() as api:
            for n, (label, counts, goal) in enumerate(SETS):
                try:
                    got = measure(base / f"set{n}", label, counts, api, window)
                except Exception as exc:  # one set that did not come up must not hide the others
                    why = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                    rows.append(
                        Row("17", f"{label}: did not run", None, "", status="ERROR", note=why)
                    )
                    continue
                cpu = got["cpu"]
                note = (
                    f"supervisor {cpu['supervisor']}, tmux {cpu['tmux_server']}, "
                    f"pipes {cpu['pipes']} over {cpu['window_s']} s; "
                    f"{got['busy_at_end']}/{got['agents']} busy at the end"
                )
                if got["degraded"]:
                    note += f"; signals degraded in {got['degraded']}"
                if not private:
                    note += " (not root: Gemini's hooks refused)"
                rows.append(
                    Row(
                        "17",
                        f"{label}: Overseer CPU",
                        cpu["total"],
                        "% core",
                        Goal("<=", goal),
                        note,
                    )
                )
                details[label] = got
    finally:
        if private:
            shutil.rmtree(base, ignore_errors=True)
    return Result(rows=rows, details=details)
