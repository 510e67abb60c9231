"""`overseer suggest`, `overseer apply N` and `overseer dismiss N`: next-action suggestions."""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shlex
import sqlite3
import sys
from typing import Any

from overseer.agents.answers import Refused, about, suggestion_command
from overseer.tui.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Project,
    command,
    resolve,
    submit,
    supervisor_alive,
)


def current(project: Project) -> list[dict[str, Any]]:
    """The ranked suggestions; recomputed from the store when no supervisor keeps them fresh."""
    store = project.store()
    if not supervisor_alive(project.state_dir):
        from overseer.agents.insights import Insights
        from overseer.agents.tmux import server_label

        config = project.config
        insights = Insights(
            store,
            project.state_dir,
            stall_timeout=config.stall_timeout if config else 300.0,
            tmux_label=server_label(config.name, project.state_dir) if config else None,
        )
        # A read-only or busy database still shows the last stored list.
        with contextlib.suppress(sqlite3.OperationalError):
            insights.refresh(supervisor_alive=False, events=False)
    return store.suggestions()


def pick(items: list[dict[str, Any]], which: str) -> dict[str, Any]:
    """Suggestion N (its 1-based rank) or the one with key `which`."""
    for item in items:
        if str(item.get("rank")) == which or item.get("key") == which:
            return item
    count = f"there are {len(items)}" if items else "there are none right now"
    raise CliError(
        f"no suggestion {which!r}: {count} (list them with `overseer suggest`)", EXIT_USAGE
    )


def target_text(item: dict[str, Any]) -> str:
    """'task build', 'agent w-1' or 'fleet group:codex'."""
    target = item.get("target")
    if isinstance(target, dict) and target:
        kind, name = next(iter(target.items()))
        return f"{kind} {name}"
    kind, _, name = str(item.get("key", "")).partition(":")
    return f"{kind} {name.partition(':')[0]}"


def command_line(item: dict[str, Any]) -> str | None:
    """The `overseer ...` command that applies a suggestion, or None when a person must act."""
    spec = item.get("apply")
    if not spec:
        return None
    if spec["verb"] == "lift":  # the breaker and budgets: `overseer resume [--budget SCOPE]`
        return shlex.join(
            ["overseer", "resume"] + (["--budget", spec["target"]] * bool(spec["target"]))
        )
    words = ["overseer", spec["verb"], spec["target"]]
    args = spec.get("args") or {}
    if spec["verb"] == "send":
        words.append(str(args.get("text", "")))
    elif args.get("reason"):
        words += ["--reason", str(args["reason"])]
    return shlex.join(words)


# -- suggest ----------------------------------------------------------------------------------


def cmd_suggest(args: argparse.Namespace) -> int:
    project = resolve(args)
    items = current(project)
    if args.json:
        print(json.dumps(items, indent=2))
        return EXIT_OK
    if not items:
        print("no suggestions: nothing needs a person right now")
        return EXIT_OK
    for item in items:
        rank = item["rank"]
        print(
            f"{rank:>2}. {item['action']:<14} {target_text(item):<24} "
            f"urgency {item['urgency']:.2f}  confidence {item['confidence']:.2f}"
        )
        print(f"    {item['reason']}")
        for line in item.get("evidence") or ():
            print(f"    · {line}")
        line = command_line(item)
        if line is None:
            print("    → needs a person: " + str(item.get("howto") or ""))
        else:
            ask = " (asks first)" if item.get("destructive") else ""
            print(f"    → overseer apply {rank}{ask}: {line}")
    return EXIT_OK


# -- apply ------------------------------------------------------------------------------------


def _confirm(question: str) -> bool:
    try:
        answer = input(f"{question} [y/N] ")
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes")


def cmd_apply(args: argparse.Namespace) -> int:
    project = resolve(args)
    item = pick(current(project), args.n)
    head = f"{item['rank']}. {item['action']} {target_text(item)}"
    line = command_line(item)
    if line is None:
        howto = str(item.get("howto") or "")
        if args.json:
            out = {"applied": False, "needs_person": True, "suggestion": item, "howto": howto}
            print(json.dumps(out, indent=2))
        else:
            print(f"{head}: {item['reason']}")
            print(f"This needs a person: {howto}")
        return EXIT_OK
    try:
        command = suggestion_command(item, project.store().agent(about(item) or ""))
    except Refused as exc:
        raise CliError(str(exc), EXIT_FAILED) from exc
    assert command is not None
    verb, target, payload = command
    ask = bool(item.get("destructive")) and not args.yes and sys.stdin.isatty()
    if ask and not _confirm(f"{head}: run `{line}`?"):
        print("not applied")
        return EXIT_FAILED
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer) if args.json else contextlib.nullcontext():
        code = submit(project, verb, target, payload)
    if args.json:
        out = {
            "applied": True,
            "suggestion": item,
            "command": line,
            "result": buffer.getvalue().strip(),
        }
        print(json.dumps(out, indent=2))
    return code


# -- dismiss ----------------------------------------------------------------------------------


def cmd_dismiss(args: argparse.Namespace) -> int:
    project = resolve(args)
    store = project.store()
    item = pick(current(project), args.n)
    store.dismiss_suggestion(str(item["key"]), str(item["evidence_hash"]))
    if args.json:
        print(json.dumps({"dismissed": True, "suggestion": item}, indent=2))
    else:
        print(
            f"dismissed {item['rank']}. {item['action']} {target_text(item)} "
            "(it comes back if its evidence changes)"
        )
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the suggest, apply and dismiss subcommands."""
    p = command(sub, "suggest", cmd_suggest, "next-action suggestions, most pressing first")
    p.add_argument("--json", action="store_true")

    p = command(sub, "apply", cmd_apply, "apply suggestion N (as numbered by `overseer suggest`)")
    p.add_argument("n", metavar="N", help="the suggestion's number, or its key")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask before destructive ones")
    p.add_argument("--json", action="store_true")

    p = command(sub, "dismiss", cmd_dismiss, "hide suggestion N until its evidence changes")
    p.add_argument("n", metavar="N", help="the suggestion's number, or its key")
    p.add_argument("--json", action="store_true")
