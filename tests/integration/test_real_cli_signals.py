"""The real Claude Code, Gemini CLI and Codex, run by Overseer as agents with Overseer's own
signal injection, against the model API stand-in (marked realcli: skipped when not installed).

The CLI runs with a temporary HOME prepared as tests/fakes/real_cli.py does; the test checks
that its SessionStart and prompt hooks reach the agent's spool through the injected entry
point, and that the turn's end comes from its own hook.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.agents import hookrun
from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.paths import StatePaths
from tests.fakes.model_api import ModelAPI
from tests.fakes.real_cli import Run, processes_with_home
from tests.helpers import wait_until
from tests.integration.test_model_api import real_cli
from tests.project import Project


@pytest.fixture
def place() -> Iterator[Path]:
    """A root-owned private directory (Gemini takes a system settings file only from such)."""
    if os.geteuid() != 0:
        pytest.skip("Gemini reads hooks only from root-owned settings: needs root")
    path = Path("/run") / f"ovs-real-signals-{os.getpid()}"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def spooled(project: Project, agent: str) -> list[str]:
    spool = Path(hookrun.spool_path(str(StatePaths(project.state_dir).signals), agent))
    if not spool.exists():
        return []
    out = []
    for line in spool.read_text().splitlines():
        try:
            out.append(str(json.loads(line)["event"]))
        except ValueError:
            continue
    return out


@pytest.mark.realcli
@pytest.mark.parametrize(
    ("cli", "prompt_hook", "end_hook"),
    [
        ("claude", "UserPromptSubmit", "Stop"),
        ("gemini", "BeforeAgent", "AfterAgent"),
        ("codex", None, "notify"),  # the turn's start and end are in its rollout file
    ],
)
def test_the_real_cli_fires_overseers_injected_hooks_into_the_spool(
    place: Path, cli: str, prompt_hook: str | None, end_hook: str
) -> None:
    binary = real_cli(cli)
    with ModelAPI() as api:
        run = Run(cli, binary, place / "cli", api.url)
        run.argv()  # prepares HOME (onboarding, trust, API-key auth); Overseer adds the hooks
        env = {k: v for k, v in run.env().items() if k != "GEMINI_CLI_SYSTEM_SETTINGS_PATH"}
        command = shlex.quote(str(binary))
        if cli == "codex":  # the stand-in as its model provider; Overseer adds notify
            command = shlex.join([str(binary), *run.codex_args()[:-2]])
        project = Project(place / "project", name=f"real{cli}")
        project.root.mkdir()
        project.write(
            f"""
agents:
  - name: ai
    kind: {cli}
    command: {json.dumps(command)}
    cwd: {json.dumps(str(run.work))}
    env: {json.dumps(env)}
tasks:
  - {{id: hello, prompt: "hello there"}}
  - {{id: again, prompt: "and again"}}
  - {{id: third, prompt: "a third time"}}
""",
        )
        try:
            project.start()
            for task in ("hello", "again", "third"):
                project.wait_task(task, TaskState.DONE, timeout=120)
            events = spooled(project, "ai")
            (attempt,) = project.store.attempts("hello")
            assert attempt.outcome == AttemptOutcome.OK
            # The first Enter started the turn: it was pressed once the paste had landed (Gemini
            # took an Enter right after the paste as a newline, every time). A CLI starved of
            # CPU for longer than the gap may still take one as a newline now and then (the
            # resubmit then starts the turn): at most one of three prompts.
            messages = [e.message for e in project.store.events()]
            resubmits = [m for m in messages if "pressed Enter again" in m]
            assert len(resubmits) <= 1, messages
            if prompt_hook is not None:
                assert {"SessionStart", prompt_hook, end_hook} <= set(events), events
                assert attempt.reason == f"the turn ended ({end_hook})"
            else:
                assert end_hook in events, events
                assert attempt.reason in (
                    "the turn ended (task_complete)",  # the rollout told first
                    "the turn ended (agent-turn-complete)",  # the notify hook did
                )
            agent = project.store.agent("ai")
            assert agent is not None and agent.signals["degraded"] is None
            assert agent.signals["session_started"] is True
        finally:
            project.close()  # kills the private tmux server: the CLI goes with its pane
            if cli == "codex":  # its app-server daemon lives outside the pane
                for pid in processes_with_home(run.home):
                    with contextlib.suppress(OSError):
                        os.kill(pid, signal.SIGTERM)
            wait_until(
                lambda: not list(processes_with_home(run.home)),
                timeout=20,
                message="a process of the CLI outlived its tmux server",
            )
