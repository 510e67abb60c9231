"""Issue 13: the cost of one hook call — what a CLI waits for each time it runs Overseer's
injected hook (agents/hookrun.py as `python -I -S hook.py ...`), against `overseer hook`.

Each call is a fresh process fed a recorded-size payload on stdin; wall time from spawn to
exit, run one after another (as a CLI runs its hooks).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import REPO, Goal, Result, Row, Scale, summary
from overseer.agents import ingest
from overseer.state.paths import StatePaths

PAYLOAD = json.dumps(
    {
        "session_id": "8f0c2a1e-3d4b-4c5d-9e6f-0a1b2c3d4e5f",
        "transcript_path": "/home/u/.claude/projects/-work/8f0c2a1e.jsonl",
        "cwd": "/work",
        "hook_event_name": "PreToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "make test", "description": "Run the tests"},
    }
)


def timed(argv: list[str], n: int, env: dict[str, str] | None = None) -> list[float]:
    """Milliseconds of n runs of argv, payload on stdin."""
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        subprocess.run(argv, input=PAYLOAD, text=True, capture_output=True, check=True, env=env)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def run(scale: Scale, tmp: Path) -> Result:
    """Time the injected entry point and the `overseer hook` subcommand."""
    n = 10 if scale.name == "smoke" else 60
    paths = StatePaths(tmp / "hooks" / ".overseer")
    ingest.install_hook(paths)
    entry = timed([*ingest.hook_command(paths, "a"), "PreToolUse"], n)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "overseer.tui.cli", "hook", "--state-dir", str(paths.root)]
    sub = timed([*cli, "a", "PreToolUse"], max(3, n // 6), env)
    spooled = len(ingest.spool(paths, "a").read_text().splitlines())
    bare = timed([sys.executable, "-I", "-S", "-c", "pass"], n)
    s_entry, s_cli, s_bare = summary(entry, 1), summary(sub, 1), summary(bare, 1)
    rows = [
        Row("13", "hook entry point per call (median)", s_entry["median"], "ms", Goal("<=", 50)),
        Row("13", "hook entry point per call (p95)", s_entry["p95"], "ms"),
        Row("13", "python -I -S doing nothing (median)", s_bare["median"], "ms"),
        Row("13", "`overseer hook` per call (median)", s_cli["median"], "ms"),
    ]
    details = {"entry_ms": s_entry, "cli_ms": s_cli, "bare_ms": s_bare, "lines": spooled}
    return Result(rows, details)
