"""A written spec turned into tasks by an AI agent: the prompt it gets, the check of the list
it writes (the config's own validator), and the template a person fills when it cannot."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from overseer.state.config import Config, ConfigError, TaskSpec, load_tasks_file

__all__ = ["SCHEMA", "check_list", "prompt", "slug", "template"]

# What a task list may hold: the keys of `tasks:` in overseer.yaml (state/config.py).
SCHEMA = """\
tasks:                      # a YAML list of tasks, in the order they should run
  - id: short-name          # letters, digits, '.', '_', '-'; unique
    run: "shell command"    # for a shell agent; or instead:
    # prompt: "what to do"  # for an AI agent (then agent: NAME picks which)
    depends_on: [other-id]  # ids of this list (or tasks already queued) that must finish first
    estimate: 60            # optional: expected seconds (for the plan)
    timeout: 900            # optional: seconds before it is stopped
    verify: "test command"  # optional: must pass after a zero exit
    priority: 0             # optional: higher runs first"""


def slug(path: Path) -> str:
    """A task id part from a spec's file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", path.stem).strip("-.") or "spec"


def prompt(spec: str, out: Path, agents: str, errors: str | None = None) -> str:
    """What the AI agent is asked: the spec, the schema, where to write the list."""
    parts = [
        "Break the specification below into a list of tasks for Overseer, a supervisor that "
        "runs them on these agents: " + agents + ".",
        "Each task is one step a single agent can do on its own; say with depends_on which "
        "steps need others first, so independent steps can run in parallel.",
        f"The task schema (YAML):\n{SCHEMA}",
        f"Write the task list to: {out}",
        "Write only that file, as YAML in that schema; do not run the tasks.",
    ]
    if errors:
        parts.append(
            "Your last list was refused by Overseer's validator with these messages; "
            f"write a corrected list to the same file:\n{errors}"
        )
    parts.append(f"The specification:\n{spec}")
    return "\n\n".join(parts)


def check_list(path: Path, config: Config, queued: Iterable[str]) -> list[TaskSpec]:
    """The tasks of the list at `path`, checked as `overseer add --file` checks them (ids,
    schema, an agent for each, cycles), and every dependency in the list or already queued."""
    if not path.exists():
        raise ConfigError("the agent wrote no task list", str(path))
    specs = load_tasks_file(path, base_dir=config.base_dir, agents=config.agents)
    if not specs:
        raise ConfigError("the task list is empty", str(path))
    known = {s.id for s in specs} | set(queued)
    for spec in specs:
        missing = [d for d in spec.depends_on if d not in known]
        if missing:
            raise ConfigError(
                f"task {spec.id!r} depends on unknown task(s): {', '.join(missing)}", str(path)
            )
    return specs


def template(spec_path: Path, why: str) -> str:
    """A task list for a person to fill: the schema, what went wrong, the spec's name."""
    comment = "\n".join(f"# {line}" for line in why.splitlines())
    return (
        f"# Tasks for {spec_path}: no valid list came from the agent:\n{comment}\n"
        "# Fill this in, then: overseer add --file THIS-FILE\n"
        f"{SCHEMA}\n"
    )
