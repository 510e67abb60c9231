"""`overseer add --file` keeps what a tasks file says: prompt tasks, their agent, their route."""

from __future__ import annotations

from pathlib import Path

import pytest

from overseer.state.store import Store
from overseer.tui import cli


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "overseer.yaml"
    path.write_text(
        "name: unit\nagents:\n  - {name: w, kind: shell}\n  - {name: c, kind: codex}\n"
        "tasks: [{id: first, run: 'true'}]\n"
    )
    Store(tmp_path / ".overseer" / "state.db").close()
    return path


def add_file(config: Path, text: str) -> int:
    tasks = config.parent / "more.yaml"
    tasks.write_text(text)
    return cli.main(["add", "-c", str(config), "--file", str(tasks)])


def test_a_prompt_task_from_a_file_keeps_its_prompt_and_agent(config: Path) -> None:
    text = (
        "- {id: review, prompt: 'Review the diff', agent: c, priority: 2}\n"
        "- {id: build, run: 'make', depends_on: [review]}\n"
    )
    assert add_file(config, text) == 0
    store = Store(config.parent / ".overseer" / "state.db")
    review, build = store.task("review"), store.task("build")
    assert review is not None and build is not None
    assert (review.kind, review.agent, review.command) == ("prompt", "c", "Review the diff")
    assert review.priority == 2
    assert (build.kind, build.agent, build.command) == ("run", None, "make")


def test_a_task_no_agent_can_take_is_refused(
    config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert add_file(config, "- {id: p, prompt: 'hi', agent: w}\n") == 2
    err = capsys.readouterr().err
    assert "has a 'prompt' but no AI agent can take it" in err and "more.yaml:1" in err
    store = Store(config.parent / ".overseer" / "state.db")
    assert store.task("p") is None  # nothing was added
