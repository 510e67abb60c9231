"""`overseer suggest/apply/dismiss` without a supervisor: offline ranking, confirmation, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from overseer.agents.answers import suggestion_command
from overseer.state import queue
from overseer.state.config import load_config
from overseer.state.models import AgentState, AttemptOutcome, TaskState
from overseer.state.store import Store
from overseer.tui import cli, cli_insights
from overseer.tui.commands import send


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A config and a state dir where task `db` failed twice with exit 2 (no tmux needed)."""
    config = tmp_path / "overseer.yaml"
    config.write_text("name: unit\nagents: [{name: w}]\ntasks: []\n")
    store = Store(tmp_path / ".overseer" / "state.db")
    store.upsert_tasks([{"id": "db", "command": "migrate", "max_attempts": 2}])
    for _ in range(2):
        claim = queue.claim(store, "w", 30)
        assert claim is not None
        queue.finish(
            store, "db", claim.attempt.number, AttemptOutcome.FAILED, exit_code=2,
            delay=lambda n: 0.0,
        )  # fmt: skip
    store.close()
    return config


def run(config: Path, *args: str) -> int:
    return cli.main([args[0], "-c", str(config), *args[1:]])


def test_suggest_ranks_offline_and_prints_how_to_apply(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(project, "suggest") == 0
    out = capsys.readouterr().out
    assert " 1. block          task db" in out
    assert "· attempt 2 of 2: exit 2" in out
    assert "→ overseer apply 1 (asks first): overseer block db --reason" in out
    assert run(project, "suggest", "--json") == 0
    (item,) = json.loads(capsys.readouterr().out)
    assert item["key"] == "task:db:block" and item["rank"] == 1


def test_a_destructive_suggestion_asks_on_a_terminal(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    asked: list[str] = []

    def answer(text: str) -> str:
        asked.append(text)
        return "n"

    monkeypatch.setattr("builtins.input", answer)
    assert run(project, "apply", "1") == 1
    assert "not applied" in capsys.readouterr().out
    assert asked and "overseer block db" in asked[0]
    store = Store(project.parent / ".overseer" / "state.db")
    assert store.task("db").state == TaskState.FAILED  # type: ignore[union-attr]
    asked.clear()
    assert run(project, "apply", "task:db:block", "--yes") == 0  # by key, no question
    assert not asked
    task = store.task("db")
    assert task is not None and task.state == TaskState.BLOCKED
    assert task.blocked_reason == "same failure on all 2 attempts: exit 2"


def test_dismiss_and_unknown_numbers(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(project, "dismiss", "1") == 0
    assert "dismissed 1. block task db" in capsys.readouterr().out
    assert run(project, "suggest") == 0
    assert "no suggestions" in capsys.readouterr().out
    assert run(project, "apply", "1") == 2
    assert "no suggestion '1': there are none right now" in capsys.readouterr().err


def waiting_answer(project: Path) -> Store:
    """Agent w waits at a [y/N] prompt; the stored suggestions say to answer it."""
    store = Store(project.parent / ".overseer" / "state.db")
    store.upsert_agent("w", "shell")
    store.update_agent("w", state=AgentState.WAITING, prompt="Deploy to staging? [y/N]")
    assert run(project, "suggest") == 0
    items = [s for s in store.suggestions() if s["action"] == "answer"]
    assert items and items[0]["apply"]["verb"] == "send"
    store.set_suggestions(items)
    return store


@pytest.mark.parametrize(
    ("state", "prompt"),
    [(AgentState.WAITING, "Password for deploy@staging:"), (AgentState.BUSY, None)],
)
def test_apply_refuses_an_answer_the_agent_no_longer_waits_for(
    project: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    state: AgentState,
    prompt: str | None,
) -> None:
    store = waiting_answer(project)
    capsys.readouterr()
    store.update_agent("w", state=state, prompt=prompt)  # after the list was computed
    # The list a running supervisor stored (it is not recomputed here).
    monkeypatch.setattr(cli_insights, "current", lambda p: p.store().suggestions())
    assert run(project, "apply", "1", "--yes") == 1
    assert "no longer waiting at that prompt; nothing typed" in capsys.readouterr().err
    assert store.conn.execute("SELECT COUNT(*) FROM commands").fetchone()[0] == 0


def test_an_answer_is_checked_again_when_it_is_applied(project: Path) -> None:
    """What a suggestion queued is refused if the agent stopped waiting before it was applied."""
    store = waiting_answer(project)
    item = store.suggestions()[0]
    command = suggestion_command(item, store.agent("w"))
    assert command is not None
    verb, target, args = command
    assert args["expect_prompt"] == "Deploy to staging? [y/N]"
    store.update_agent("w", state=AgentState.WAITING, prompt="Password for deploy@staging:")
    outcome = send(project.parent / ".overseer", load_config(project), verb, target, args)
    assert outcome.status == "rejected"
    assert "no longer waiting at that prompt; nothing typed" in outcome.result
    store.update_agent("w", state=AgentState.WAITING, prompt="Password:")
    args["expect_prompt"] = "Password:"  # even one written for the secret prompt itself
    outcome = send(project.parent / ".overseer", load_config(project), verb, target, args)
    assert outcome.status == "rejected" and "asks for a secret" in outcome.result
