"""`overseer decompose SPEC.md --agent NAME`: an AI agent turns a written spec into tasks.

The agent gets the spec as a prompt task (run by the supervisor like any other) and writes a
task list to a file in the state dir; the list is checked with the config's validator, shown
as a plan and added after confirmation. An invalid list goes back to the agent once with the
validator's messages; when it fails again, or the agent fails, a template is written for a
person to fill. The prompt, the check and the template live in agents/decompose.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from overseer.state.config import Config, ConfigError, TaskSpec, task_row, task_spec_from_mapping
from overseer.state.models import TaskState
from overseer.tui.cli_common import (
    EXIT_ENV,
    EXIT_FAILED,
    CliError,
    Project,
    command,
    resolve,
    submit,
    supervisor_alive,
)
from overseer.tui.commands import send

ENDED = (TaskState.DONE, TaskState.FAILED, TaskState.BLOCKED)
TRIES = 2  # the first list, and one more with the validator's messages


def _say(text: str) -> None:
    print(f"overseer: {text}", file=sys.stderr)


def _agent(config: Config, name: str) -> str:
    """A description of the AI agent `name` (a configured name or instance), or a clear error."""
    for spec in config.agents:
        if name == spec.name or name in spec.instance_names():
            if not spec.takes_prompts:
                raise CliError(f"agent {name!r} is a {spec.kind} agent: decompose needs an AI one")
            return f"{name} ({spec.kind})"
    known = ", ".join(s.name for s in config.agents if s.takes_prompts) or "none configured"
    raise CliError(f"no AI agent {name!r} in the config (AI agents: {known})")


def _free_id(project: Project, base: str) -> str:
    store = project.store()
    try:
        n = 1
        while store.task(f"{base}.{n}") is not None:
            n += 1
        return f"{base}.{n}"
    finally:
        store.close()


def _run_agent(project: Project, agent: str, task_id: str, text: str, timeout: float) -> str:
    """Queue the prompt task for `agent` and wait for its end; '' if done, else why not."""
    spec = task_spec_from_mapping(
        {"id": task_id, "prompt": text, "agent": agent, "timeout": timeout, "max_attempts": 1}
    )
    outcome = send(
        project.state_dir, project.config, "add", task_id, {"tasks": [task_row(spec, 1)]}
    )
    if outcome.status != "applied":
        raise CliError(f"could not queue {task_id}: {outcome.result}", EXIT_FAILED)
    _say(f"{agent} works on the spec as task {task_id} (`overseer status` shows it)")
    deadline = time.monotonic() + timeout + 60
    store = project.store()
    try:
        while time.monotonic() < deadline:
            task = store.task(task_id)
            if task is not None and task.state in ENDED:
                if task.state == TaskState.DONE:
                    return ""
                attempts = store.attempts(task_id)
                reason = attempts[-1].reason if attempts else None
                return f"task {task_id} {task.state.value}" + (f": {reason}" if reason else "")
            time.sleep(0.2)
    finally:
        store.close()
    return f"task {task_id} did not end within {timeout + 60:g} s"


def _confirm(args: argparse.Namespace, listed: Path) -> bool:
    if args.yes:
        return True
    if not sys.stdin.isatty():
        _say(
            f"not added: no terminal to confirm on; `overseer add --file {listed}` adds them, "
            "or run decompose again with --yes"
        )
        return False
    try:
        answer = input("overseer: add these tasks? [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def _show(project: Project, config: Config, specs: list[TaskSpec]) -> None:
    from overseer.state.plan import format_plan, make_plan

    store = project.store()
    try:
        history = store.median_durations()
    finally:
        store.close()
    for spec in specs:
        deps = f" (after {', '.join(spec.depends_on)})" if spec.depends_on else ""
        print(f"  {spec.id}: {spec.text.splitlines()[0] if spec.text else ''}{deps}")
    print(format_plan(make_plan(specs, config.max_parallel, history=history)))


def _write_private(path: Path, text: str) -> None:
    from overseer.state.statedir import write_private

    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    write_private(path, text)


def cmd_decompose(args: argparse.Namespace) -> int:
    from overseer.agents.decompose import check_list, prompt, slug, template
    from overseer.state.paths import StatePaths

    project = resolve(args)
    config = project.need_config()
    spec_path = Path(args.spec)
    try:
        spec = spec_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read the spec {spec_path}: {exc}") from None
    agents = _agent(config, args.agent)
    if not supervisor_alive(project.state_dir):
        raise CliError(
            "no supervisor runs to give the spec to the agent: start one (`overseer up` or "
            "`overseer run`), then decompose again",
            EXIT_ENV,
        )
    folder = StatePaths(project.state_dir).decompose
    base = _free_id(project, f"decompose.{slug(spec_path)}")
    errors: str | None = None
    for n in range(1, TRIES + 1):
        task_id = base if n == 1 else f"{base}-{n}"
        out = folder / f"{task_id}.yaml"
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        out.unlink(missing_ok=True)
        failed = _run_agent(
            project, args.agent, task_id, prompt(spec, out, agents, errors), args.timeout
        )
        if failed:
            errors = failed
            break
        try:
            store = project.store()
            try:
                queued = [t.id for t in store.tasks()]
            finally:
                store.close()
            specs = check_list(out, config, queued)
        except ConfigError as exc:
            errors = str(exc)
            _say(
                f"the list is invalid: {errors}"
                + ("; asking the agent once more" if n < TRIES else "")
            )
            continue
        _say(f"{len(specs)} tasks in {out}:")
        _show(project, config, specs)
        if not _confirm(args, out):
            return EXIT_FAILED
        default = config.retry.max_attempts
        rows = [task_row(t, t.max_attempts or default) for t in specs]
        return submit(project, "add", ",".join(t.id for t in specs), {"tasks": rows})
    filled = folder / f"{base}.template.yaml"
    _write_private(filled, template(spec_path, errors or "no list"))
    _say(
        f"no valid task list from {args.agent} ({(errors or '').splitlines()[0]}); a template "
        f"to fill is at {filled}, then `overseer add --file {filled}`"
    )
    return EXIT_FAILED


def register(sub: Any) -> None:
    """Add `decompose` to the command line."""
    p = command(sub, "decompose", cmd_decompose, "an AI agent turns a written spec into tasks")
    p.add_argument("spec", metavar="SPEC.md", help="the written spec")
    p.add_argument("--agent", required=True, metavar="NAME", help="the AI agent that splits it")
    p.add_argument("--yes", action="store_true", help="add the tasks without asking")
    p.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        metavar="S",
        help="seconds the agent gets for each list (default 900)",
    )
