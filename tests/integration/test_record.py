"""`overseer record`: real attempts in real tmux panes exported as asciicast v2, checked with
asciinema itself."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from overseer.agents.stream import to_text
from tests.project import Project

SECRET = "abcd1234secretvalue"
CONFIG = f"""\
agents:
  - {{name: w, kind: shell}}
tasks:
  - {{id: gap, run: 'echo first; sleep 2; echo second'}}
  - {{id: leak, run: 'echo API_TOKEN={SECRET}; echo after', depends_on: [gap]}}
"""


def cast(path: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def asciinema_cat(path: Path) -> str:
    """What asciinema prints of a cast: its output events, in order."""
    exe = shutil.which("asciinema")
    cmd = [exe, "cat", str(path)] if exe else [sys.executable, "-m", "asciinema", "cat", str(path)]
    # No terminal of ours for it to put in raw mode: its own session, no stdin.
    proc = subprocess.run(
        cmd,
        capture_output=True,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.decode("utf-8")


def first_at(events: list[list[Any]], text: str) -> float:
    return float(next(e[0] for e in events if text in e[2]))


@pytest.fixture
def ran(project: Project) -> Project:
    project.write(CONFIG)
    proc = project.cli("run", "--until-done", "--timeout", "60")
    assert proc.returncode == 0, proc.stderr
    return project


def test_an_attempt_exported_replays_its_output_with_its_timing(ran: Project) -> None:
    out = ran.root / "gap.cast"
    r = ran.cli("record", "gap", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    header, events = cast(out)
    assert header["version"] == 2 and (header["width"], header["height"]) == (200, 50)
    # asciinema reads it, and what it prints is the attempt's output (and only this attempt's).
    text = to_text(asciinema_cat(out).encode())
    attempt = ran.store.attempts("gap")[0]
    assert attempt.output_tail == "first\nsecond"
    assert attempt.output_tail in text
    assert "API_TOKEN" not in text  # the next attempt in the same log is not part of it
    assert "OVS:" not in text  # nor the wrapper's sentinel
    # The pause between the two lines is in the cast, as it happened.
    gap = first_at(events, "second") - first_at(events, "first")
    assert gap >= 1.0
    times = [e[0] for e in events]
    assert times == sorted(times)

    capped = ran.root / "capped.cast"
    assert ran.cli("record", "gap", "-o", str(capped), "--idle-limit", "0.5").returncode == 0
    _, events = cast(capped)
    assert first_at(events, "second") - first_at(events, "first") <= 0.5 + 1e-6

    fast = ran.root / "fast.cast"
    assert ran.cli("record", str(attempt.id), "-o", str(fast), "--speed", "4").returncode == 0
    _, events = cast(fast)
    assert first_at(events, "second") - first_at(events, "first") == pytest.approx(gap / 4, 1e-3)


def test_a_secret_in_the_output_is_masked_in_the_export(ran: Project) -> None:
    out = ran.root / "leak.cast"
    out.write_text("an older file, readable by all")
    out.chmod(0o644)
    assert ran.cli("record", "leak", "-o", str(out)).returncode == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert SECRET in (ran.state_dir / "logs" / "w.log").read_text()  # the pane showed it
    raw = out.read_text()
    assert SECRET not in raw
    text = to_text(asciinema_cat(out).encode())
    assert "API_TOKEN=***" in text and "after" in text and "first" not in text


def test_unknown_attempts_and_lost_logs_are_clear_errors(ran: Project) -> None:
    out = ran.root / "x.cast"
    r = ran.cli("record", "no-such-task", "-o", str(out))
    assert r.returncode == 2 and "no task or attempt 'no-such-task'" in r.stderr
    assert r.stderr.count("\n") == 1 and not out.exists()
    r = ran.cli("record", "gap", "-o", str(out), "--speed", "0")
    assert r.returncode == 2 and "not a positive number" in r.stderr
    (ran.state_dir / "logs" / "w.log").unlink()
    r = ran.cli("record", "gap", "-o", str(out))
    assert r.returncode == 3 and "the log of agent 'w' is gone" in r.stderr
    assert "Traceback" not in r.stderr and not out.exists()
