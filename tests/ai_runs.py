"""Runs of fake AI CLIs under Overseer, shared by the integration tests."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from typing import Any

from overseer.state.models import Attempt
from tests.fakes import FAKE_CLI
from tests.project import Project


def fake(style: str) -> str:
    """The command line of the fake AI CLI drawn in `style` (codex, gemini, claude, aider)."""
    return f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_CLI))} --style {style}"


def run_one_prompt(
    project: Project,
    agent: str,
    style: str,
    task: str,
    prompt: str,
    *,
    timeout: int = 90,
    **top: Any,
) -> tuple[subprocess.CompletedProcess[str], Attempt]:
    """One fake agent of kind `style`, one prompt task tried once, `overseer run --until-done`;
    the run and the task's only attempt."""
    project.write(
        f"""
agents:
  - {{name: {agent}, kind: {style}, command: {json.dumps(fake(style))}}}
tasks:
  - {{id: {task}, prompt: {json.dumps(prompt)}, max_attempts: 1}}
""",
        **top,
    )
    proc = project.cli("run", "--until-done", "--timeout", str(timeout))
    (attempt,) = project.store.attempts(task)
    return proc, attempt
