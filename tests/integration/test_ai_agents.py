"""Interactive AI agents in real tmux: fake CLIs (tests/fakes/fake_cli.py) driven end to end.

Each fake imitates its CLI's screens: spinner and elapsed counter while busy, the input box
that stays on screen, permission dialogs with numbered choices, rate-limit messages.
"""

from __future__ import annotations

import json

import pytest

from overseer.state.models import AttemptOutcome, TaskState
from tests.ai_runs import fake, run_one_prompt
from tests.helpers import wait_until
from tests.project import Project

STYLES = ["codex", "gemini", "claude", "aider"]


def agent_states(project: Project, name: str) -> list[str]:
    """The agent's states in the order the event log recorded them (repeats collapsed)."""
    seen: list[str] = []
    for ev in project.store.events(agent=name):
        if ev.kind.startswith("agent.") and ev.kind != "agent.died":
            state = ev.kind.split(".", 1)[1]
            if not seen or seen[-1] != state:
                seen.append(state)
    return seen


@pytest.mark.parametrize("style", STYLES)
def test_prompt_is_submitted_worked_on_and_done(project: Project, style: str) -> None:
    project.write(
        f"""
agents:
  - {{name: ai, kind: {style}, command: {json.dumps(fake(style))}}}
tasks:
  - {{id: first, prompt: "work 1.5"}}
  - {{id: second, prompt: "work 0.5", depends_on: [first]}}
""",
    )
    proc = project.cli("run", "--until-done", "--timeout", "90")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    for task in ("first", "second"):
        (attempt,) = project.store.attempts(task)
        assert attempt.outcome == AttemptOutcome.OK and attempt.result == "idle"
        assert attempt.exit_code is None
        assert "Done" in attempt.output_tail or "done" in attempt.output_tail.lower()
    states = agent_states(project, "ai")
    # starting -> idle -> busy -> idle -> busy -> idle, never a state out of order.
    assert states[:2] == ["starting", "idle"] and "busy" in states
    assert states[-1] == "idle"
    assert "unknown" not in states and "waiting" not in states


def test_a_cli_that_takes_a_quick_return_as_part_of_the_paste_starts_on_the_first_enter(
    project: Project,
) -> None:
    # Gemini CLI 0.61 takes an Enter read within 40 ms after a paste as a newline: an Enter
    # pressed right after the paste was lost every time, and only a resubmit started the turn.
    command = fake("gemini") + " --fast-return 40"
    project.write(
        f"""
agents:
  - {{name: ai, kind: gemini, command: {json.dumps(command)}}}
tasks:
  - {{id: first, prompt: "work 0.2"}}
  - {{id: second, prompt: "work 0.2", depends_on: [first]}}
  - {{id: third, prompt: "work 0.2", depends_on: [second]}}
""",
    )
    proc = project.cli("run", "--until-done", "--timeout", "90")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    for task in ("first", "second", "third"):
        (attempt,) = project.store.attempts(task)
        assert attempt.outcome == AttemptOutcome.OK
        kinds = [e.kind for e in project.store.events(task_id=task)]
        assert "task.resubmit" not in kinds and "task.enter-unseen" not in kinds, kinds


@pytest.mark.parametrize("style", ["codex", "gemini", "claude"])
def test_permission_dialog_is_waiting_and_answered(project: Project, style: str) -> None:
    project.write(
        f"""
agents:
  - {{name: ai, kind: {style}, command: {json.dumps(fake(style))}}}
tasks:
  - {{id: ask, prompt: "ask"}}
""",
    )
    project.start()
    wait_until(lambda: project.agent_state("ai") == "waiting", timeout=30, message="no dialog")
    agent = project.store.agent("ai")
    assert agent is not None and agent.prompt
    assert "?" in agent.prompt  # the dialog's question is the prompt shown in the agent's row
    r = project.cli("answer", "ai", "y")
    assert r.returncode == 0 and "chose 1" in r.stdout, r.stdout + r.stderr
    project.wait_task("ask", TaskState.DONE, timeout=30)
    assert "ran it" in project.store.attempts("ask")[0].output_tail


def test_answer_no_picks_the_refusal(project: Project) -> None:
    project.write(
        f"""
agents:
  - {{name: ai, kind: claude, command: {json.dumps(fake("claude"))}}}
tasks:
  - {{id: ask, prompt: "ask"}}
""",
    )
    project.start()
    wait_until(lambda: project.agent_state("ai") == "waiting", timeout=30, message="no dialog")
    r = project.cli("answer", "ai", "n")
    assert r.returncode == 0 and "chose 2" in r.stdout, r.stdout + r.stderr
    project.wait_task("ask", TaskState.DONE, timeout=30)
    assert "declined" in project.store.attempts("ask")[0].output_tail


def test_a_spinner_that_only_ticks_is_stalled(project: Project) -> None:
    proc, attempt = run_one_prompt(
        project, "ai", "codex", "hang", "hang", stall_timeout=3, on_stall="retry"
    )
    assert proc.returncode == 1, proc.stdout[-2000:] + proc.stderr
    assert attempt.outcome == AttemptOutcome.STALLED
    assert attempt.reason and "only spinners and counters changed" in attempt.reason
    assert "Interrupted" in attempt.output_tail  # Esc stopped the turn; the agent lives on
    assert "stalled" in agent_states(project, "ai")
    assert project.agent_state("ai") == "idle"


def test_a_screen_redrawn_in_pieces_is_no_progress(project: Project) -> None:
    # Each spinner frame erases the screen and draws it in three writes with pauses between:
    # a look in the middle of a redraw sees half a screen, which must not count as progress.
    proc, attempt = run_one_prompt(
        project, "ai", "gemini", "torn", "torn", timeout=45, stall_timeout=3, on_stall="retry"
    )
    assert attempt.outcome == AttemptOutcome.STALLED, (attempt, proc.stdout[-2000:])
    assert proc.returncode == 1
    assert "stalled" in agent_states(project, "ai")


def test_rate_limit_fails_the_turn_and_pauses_the_agent(project: Project) -> None:
    project.write(
        f"""
agents:
  - {{name: ai, kind: codex, command: {json.dumps(fake("codex"))}}}
tasks:
  - {{id: limited, prompt: "ratelimit", max_attempts: 1}}
  - {{id: later, prompt: "work 0.2"}}
""",
    )
    proc = project.cli("run", "--until-done", "--timeout", "90")
    assert proc.returncode == 1
    (attempt,) = project.store.attempts("limited")
    assert attempt.outcome == AttemptOutcome.FAILED and "rate-limit" in (attempt.reason or "")
    agent = project.store.agent("ai")
    assert (
        agent is not None
        and agent.state.value == "paused"
        and "usage limit" in (agent.reason or "")
    )
    assert project.task_state("later") == TaskState.READY  # nothing handed to a paused agent


def test_custom_kind_reads_patterns_from_the_config(project: Project) -> None:
    project.write(
        f"""
agents:
  - name: repl
    kind: custom
    command: {json.dumps(fake("codex"))}
    idle: ['^› ']
    busy: ['esc to interrupt']
    waiting: ['Would you like to run']
tasks:
  - {{id: t, prompt: "work 0.5"}}
""",
    )
    proc = project.cli("run", "--until-done", "--timeout", "90")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert project.store.attempts("t")[0].result == "idle"


def test_shell_and_ai_tasks_go_to_the_right_agents(project: Project) -> None:
    project.write(
        f"""
agents:
  - {{name: sh, kind: shell}}
  - {{name: ai, kind: gemini, command: {json.dumps(fake("gemini"))}}}
tasks:
  - {{id: cmd, run: "echo from-shell"}}
  - {{id: ask-ai, prompt: "work 0.3", agent: ai}}
""",
    )
    assert project.cli("run", "--until-done", "--timeout", "90").returncode == 0
    assert project.store.attempts("cmd")[0].agent == "sh"
    assert project.store.attempts("ask-ai")[0].agent == "ai"


def test_explain_a_live_agent_and_save_a_bundle(project: Project) -> None:
    project.write(
        f"""
agents:
  - {{name: ai, kind: gemini, command: {json.dumps(fake("gemini"))}}}
tasks: []
""",
    )
    project.start()
    wait_until(lambda: project.agent_state("ai") == "idle", timeout=30, message="not idle")
    r = project.cli("explain", "ai", "--save")
    assert r.returncode == 0, r.stderr
    assert "verdict:  idle" in r.stdout and "rule:     input-box" in r.stdout
    bundles = list((project.state_dir / "explain").glob("ai-*.tar.gz"))
    assert len(bundles) == 1
    import tarfile

    with tarfile.open(bundles[0]) as tar:
        names = tar.getnames()
    assert "overseer-explain/screen.ansi" in names and "overseer-explain/verdict.json" in names
