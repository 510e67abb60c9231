"""`overseer decompose`: fake AI CLIs in real tmux write task lists (good, with a cycle, none),
and Overseer checks, plans and adds them, or leaves a template for a person."""

from __future__ import annotations

import json
import stat
import subprocess

from overseer.state.models import TaskState
from tests.ai_runs import fake
from tests.helpers import wait_until
from tests.project import Project

SPEC = """\
# Release notes generator

Set the project up, build it, test the build, and write the docs.
"""


def start(project: Project, mode: str) -> None:
    """A supervisor with a fake Codex that answers `decompose` with `mode`, and a shell."""
    command = f"{fake('codex')} --decompose {mode}"
    project.write(
        f"""
agents:
  - {{name: ai, kind: codex, command: {json.dumps(command)}}}
  - {{name: w, kind: shell}}
tasks: []
"""
    )
    (project.root / "SPEC.md").write_text(SPEC)
    project.start()
    wait_until(lambda: project.agent_state("ai") == "idle", 60, message="the fake never idled")


def decompose(project: Project, *args: str) -> subprocess.CompletedProcess[str]:
    return project.cli("decompose", str(project.root / "SPEC.md"), "--agent", "ai", *args)


def test_a_good_list_is_planned_and_added_after_confirmation(project: Project) -> None:
    start(project, "good")
    r = decompose(project)  # no terminal to confirm on, no --yes: nothing is added
    assert r.returncode == 1 and "not added" in r.stderr, r.stderr
    assert project.store.task("build") is None
    listed = project.state_dir / "decompose" / "decompose.SPEC.1.yaml"
    assert listed.exists()
    # The agent was given the spec and the schema as a prompt task, run like any other.
    asked = project.store.task("decompose.SPEC.1")
    assert asked is not None and asked.state == TaskState.DONE
    assert "Release notes generator" in asked.command and "depends_on" in asked.command

    r = decompose(project, "--yes")
    assert r.returncode == 0, r.stdout + r.stderr
    # The plan: waves, critical path and speedup, from the list's estimates.
    assert "wave 1 (1 task)" in r.stdout and "wave 2 (2 tasks)" in r.stdout
    assert "critical path: setup -> build -> test (9.0 s)" in r.stdout
    assert "estimated speedup" in r.stdout
    for task in ("setup", "build", "docs", "test"):
        project.wait_task(task, TaskState.DONE)
    (attempt,) = project.store.attempts("test")
    assert attempt.outcome.value == "ok" and "test" in attempt.output_tail.splitlines()


def test_a_list_with_a_cycle_goes_back_once_then_a_template_is_written(
    project: Project,
) -> None:
    start(project, "cycle")
    r = decompose(project, "--yes")
    assert r.returncode == 1
    assert "dependency cycle: build -> test -> build" in r.stderr
    assert "asking the agent once more" in r.stderr
    # The second prompt carried the validator's messages.
    again = project.store.task("decompose.SPEC.1-2")
    assert again is not None and "dependency cycle: build -> test -> build" in again.command
    template = project.state_dir / "decompose" / "decompose.SPEC.1.template.yaml"
    assert f"a template to fill is at {template}" in r.stderr
    assert stat.S_IMODE(template.stat().st_mode) == 0o600
    text = template.read_text()
    # What went wrong, as comments above the schema to fill.
    assert "dependency cycle: build -> test -> build" in text
    head = text[: text.index("tasks:")]
    assert all(line.startswith("#") for line in head.splitlines())
    assert "depends_on:" in text and "overseer add --file" in text
    assert project.store.task("build") is None  # nothing invalid was added


def test_an_agent_that_fails_leaves_a_template(project: Project) -> None:
    start(project, "fail")
    r = decompose(project, "--yes", "--timeout", "60")
    assert r.returncode == 1
    assert "task decompose.SPEC.1 failed" in r.stderr, r.stderr
    assert project.store.task("decompose.SPEC.1-2") is None  # a failed agent is not asked again
    template = project.state_dir / "decompose" / "decompose.SPEC.1.template.yaml"
    assert template.exists() and "a template to fill is at" in r.stderr


def test_decompose_needs_an_ai_agent_a_spec_and_a_supervisor(project: Project) -> None:
    project.write("agents:\n  - {name: w, kind: shell}\ntasks: []\n")
    (project.root / "SPEC.md").write_text(SPEC)
    r = project.cli("decompose", "SPEC.md", "--agent", "w")
    assert r.returncode == 2 and "decompose needs an AI one" in r.stderr
    r = project.cli("decompose", "missing.md", "--agent", "w")
    assert r.returncode == 2 and "cannot read the spec" in r.stderr
    project.write(f"agents:\n  - {{name: ai, kind: codex, command: {json.dumps(fake('codex'))}}}\n")
    r = decompose(project, "--yes")
    assert r.returncode == 3 and "no supervisor runs" in r.stderr
    assert "Traceback" not in r.stderr
