"""The CLIs' own signals end to end, in real tmux: fake Claude Code and Gemini CLI agents
(tests/fakes/fake_cli.py) run the hooks Overseer injects, and the supervisor reads their
states from them; the screen still catches what no hook reports."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from overseer.agents import hookrun
from overseer.state.models import AttemptOutcome, TaskState
from overseer.state.paths import StatePaths
from tests.ai_runs import fake, run_one_prompt
from tests.helpers import wait_until
from tests.project import Project


def sources(project: Project, name: str) -> list[str]:
    """The sources of the agent's state changes, as the event log recorded them."""
    return [
        str(ev.data.get("source"))
        for ev in project.store.events(agent=name)
        if ev.kind.startswith("agent.") and ev.data.get("source")
    ]


@pytest.fixture
def root_project() -> Iterator[Project]:
    """A project in a root-owned, private place: where Gemini accepts a system settings file."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (looked for 'tmux' on PATH)")
    if os.geteuid() != 0:
        pytest.skip("Gemini reads hooks only from root-owned settings: needs root")
    place = Path("/run") / f"ovs-signals-{os.getpid()}"
    place.mkdir(mode=0o700)
    proj = Project(place, name="sig")
    try:
        yield proj
    finally:
        proj.close()
        shutil.rmtree(place, ignore_errors=True)


def test_a_fleet_of_claude_and_gemini_agents_reads_its_states_from_their_hooks(
    root_project: Project,
) -> None:
    project = root_project
    project.write(
        f"""
agents:
  - {{name: cl, kind: claude, command: {json.dumps(fake("claude"))}}}
  - {{name: ge, kind: gemini, command: {json.dumps(fake("gemini"))}}}
tasks:
  - {{id: c1, prompt: "work 1", agent: cl}}
  - {{id: c2, prompt: "ask", agent: cl, depends_on: [c1]}}
  - {{id: g1, prompt: "work 1", agent: ge}}
  - {{id: g2, prompt: "ask", agent: ge, depends_on: [g1]}}
""",
    )
    project.start()
    for name, hook in (("cl", "hook PermissionRequest"), ("ge", "hook Notification")):
        wait_until(
            lambda n=name: project.agent_state(n) == "waiting",  # type: ignore[misc]
            timeout=40,
            message=f"{name} never waited",
        )
        agent = project.store.agent(name)
        assert agent is not None and agent.state_source == hook, agent
        r = project.cli("answer", name, "y")
        assert r.returncode == 0, r.stdout + r.stderr
    for task in ("c1", "c2", "g1", "g2"):
        project.wait_task(task, TaskState.DONE, timeout=40)
    ends = {"cl": "the turn ended (Stop)", "ge": "the turn ended (AfterAgent)"}
    for task in ("c1", "c2", "g1", "g2"):
        (attempt,) = project.store.attempts(task)
        assert attempt.outcome == AttemptOutcome.OK
        assert attempt.reason == ends[attempt.agent or ""], attempt
    assert {"hook PermissionRequest", "hook Stop"} <= set(sources(project, "cl"))
    assert {"hook Notification", "hook AfterAgent"} <= set(sources(project, "ge"))
    for name, first in (("cl", "UserPromptSubmit"), ("ge", "BeforeAgent")):
        agent = project.store.agent(name)
        assert agent is not None and agent.signals["injected"] is True
        assert {"SessionStart", first} <= set(agent.signals["arrived"])
    health = project.cli("health")
    assert "agent cl" in health.stdout and "signals arrived: " in health.stdout, health.stdout
    assert "signals degraded" not in health.stdout


def test_an_esc_interrupt_fires_no_hook_and_the_screen_catches_it(project: Project) -> None:
    project.write(
        f"""
agents:
  - {{name: cl, kind: claude, command: {json.dumps(fake("claude"))}}}
tasks:
  - {{id: long, prompt: "hang", max_attempts: 1}}
""",
    )
    project.start()
    wait_until(
        lambda: (
            (a := project.store.agent("cl")) is not None
            and a.state_source == "hook UserPromptSubmit"
        ),
        timeout=30,
        message="the prompt hook never decided the state",
    )
    agent = project.store.agent("cl")
    assert agent is not None and agent.pane_id
    project.tmux.send_keys(agent.pane_id, "Escape")
    project.wait_task("long", TaskState.DONE, timeout=30)
    (attempt,) = project.store.attempts("long")
    assert attempt.reason == "the agent returned to its prompt"
    assert "Interrupted" in attempt.output_tail
    wait_until(lambda: project.agent_state("cl") == "idle", timeout=10, message="not idle")
    agent = project.store.agent("cl")
    assert agent is not None and (agent.state_source or "").startswith("screen ")


def test_a_stale_busy_signal_with_a_spinning_screen_stalls(project: Project) -> None:
    proc, attempt = run_one_prompt(
        project, "cl", "claude", "hang", "hang", stall_timeout=4, on_stall="retry"
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr
    assert attempt.outcome == AttemptOutcome.STALLED
    assert attempt.reason and "no signal, no file growth and no progress on screen" in (
        attempt.reason
    )
    agent = project.store.agent("cl")  # its hooks did arrive: the busy event went stale
    assert agent is not None and "UserPromptSubmit" in agent.signals["arrived"]


def test_gemini_under_a_writable_directory_runs_on_its_screen_and_health_says_so(
    project: Project,
) -> None:
    project.write(
        f"""
agents:
  - {{name: ge, kind: gemini, command: {json.dumps(fake("gemini"))}}}
tasks:
  - {{id: g1, prompt: "work 0.5"}}
""",
    )
    proc = project.cli("run", "--until-done", "--timeout", "60")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    (attempt,) = project.store.attempts("g1")
    assert attempt.outcome == AttemptOutcome.OK
    assert attempt.reason == "the agent returned to its prompt"  # the screen's settle
    agent = project.store.agent("ge")
    assert agent is not None and "writable by group or others" in agent.signals["degraded"]
    assert agent.signals["arrived"] == {}
    health = project.cli("health")
    assert "signals degraded: using the screen" in health.stdout, health.stdout


def test_overseer_hook_appends_to_the_spool_and_never_fails(project: Project) -> None:
    project.write("agents:\n  - {name: w, kind: shell}\n")
    r = project.cli("hook", "ai", "notify", '{"type": "agent-turn-complete"}')
    assert (r.returncode, r.stdout) == (0, "{}\n") and r.stderr.startswith("overseer hook: ")
    project.cli("run", "--timeout", "1")  # makes the state dir and its signals directory
    r = project.cli("hook", "ai", "notify", '{"type": "agent-turn-complete"}')
    assert (r.returncode, r.stdout, r.stderr) == (0, "{}\n", "")
    spool = Path(hookrun.spool_path(str(StatePaths(project.state_dir).signals), "ai"))
    (line,) = [json.loads(t) for t in spool.read_text().splitlines()]
    assert line["event"] == "notify" and line["payload"] == {"type": "agent-turn-complete"}


def test_a_rate_limit_reported_by_its_hook_fails_the_turn_and_pauses_the_agent(
    project: Project,
) -> None:
    project.write(
        f"""
agents:
  - {{name: cl, kind: claude, command: {json.dumps(fake("claude"))}}}
tasks:
  - {{id: limited, prompt: "ratelimit", max_attempts: 1}}
""",
    )
    proc = project.cli("run", "--until-done", "--timeout", "60")
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr
    (attempt,) = project.store.attempts("limited")
    assert attempt.outcome == AttemptOutcome.FAILED
    assert (attempt.reason or "").startswith("StopFailure: rate_limit: API Error"), attempt.reason
    agent = project.store.agent("cl")
    assert agent is not None and agent.state.value == "paused"
    assert "hook StopFailure" in sources(project, "cl")
