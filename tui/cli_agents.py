"""`overseer explain` and `overseer answer`: reading and answering interactive agents."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overseer.state.paths import StatePaths

if TYPE_CHECKING:
    from overseer.agents.crashes import Crash
from overseer.tui.cli_common import (
    EXIT_ENV,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    command,
    resolve,
    submit,
)


def cmd_explain(args: argparse.Namespace) -> int:
    from overseer.agents.explain import explain_screen, save_bundle

    if args.screen:
        if not args.kind:
            raise CliError(
                "--screen needs --kind KIND (shell, claude, codex, gemini, aider, custom)"
            )
        spec = None
        if args.kind == "custom":
            project = resolve(args)
            config = project.need_config()
            spec = next((a for a in config.agents if a.kind == "custom"), None)
        try:
            text = Path(args.screen).read_text(encoding="utf-8", errors="replace")
            result = explain_screen(args.kind, text, spec)
        except OSError as exc:
            raise CliError(f"cannot read {args.screen}: {exc.strerror}", EXIT_USAGE) from exc
        print(json.dumps(result.to_json(), indent=2) if args.json else result.text())
        return EXIT_OK
    if not args.agent:
        raise CliError(
            "usage: overseer explain AGENT|TASK [--save] | --kind KIND --screen FILE [--json]"
        )
    from overseer.agents.crashes import describe, newest
    from overseer.state.pool import scaled

    project = resolve(args)
    store = project.store()
    config = scaled(project.need_config(), store)  # agents `overseer scale` added too
    paths = StatePaths(project.state_dir)
    spec = next((s for n, s in config.agent_instances() if n == args.agent), None)
    if spec is None:
        if store.task(args.agent) is not None:
            return explain_task(args, newest(paths, task=args.agent))
        names = ", ".join(n for n, _ in config.agent_instances())
        raise CliError(f"no agent or task named {args.agent!r} (agents: {names})")
    crash: Crash | None = newest(paths, agent=args.agent)
    row = store.agent(args.agent)
    from overseer.agents.tmux import TmuxError, TmuxServer, server_label

    raw = ""
    if row is not None and row.pane_id:
        try:
            raw = TmuxServer(server_label(config.name, project.state_dir)).capture(
                row.pane_id, escapes=True
            )
        except TmuxError as exc:
            if crash is None:
                raise CliError(f"cannot read {args.agent}'s pane: {exc}", EXIT_ENV) from exc
    if not raw:
        if crash is not None:  # what it looked like when it died is what there is
            return explain_task(args, crash)
        raise CliError(
            f"{args.agent} has no live pane to read (start the supervisor first)", EXIT_ENV
        )
    result = explain_screen(spec.kind, raw, spec)
    recorded: dict[str, Any] = {}
    if row is not None:
        recorded = {
            "state": row.state.value,
            "prompt": row.prompt,
            "reason": row.reason,
            "task": row.task_id,
            "state_since": row.state_since,
            "source": row.state_source,
            "cli_version": row.cli_version,
            "version_note": row.version_note,
            "signals": row.signals,
        }
    if args.json:
        print(
            json.dumps(
                {
                    **result.to_json(),
                    "agent": args.agent,
                    "supervisor_recorded": recorded,
                    "crash": crash_json(crash),
                },
                indent=2,
            )
        )
    else:
        print(result.text())
        if recorded:
            print(
                f"recorded: {recorded['state']} (by the supervisor, from "
                f"{recorded['source'] or 'its own bookkeeping'})"
                + (f", prompt: {recorded['prompt']}" if recorded.get("prompt") else "")
            )
            signals = recorded["signals"] or {}
            if signals.get("degraded"):
                print(f"signals:  degraded: using the screen ({signals['degraded']})")
            elif signals.get("arrived"):
                print(f"signals:  {', '.join(sorted(signals['arrived']))}")
            if recorded["version_note"]:
                print(f"version:  {recorded['version_note']}")
        if crash is not None:
            print(describe(crash))
    if args.save:
        events = [
            {"ts": e.ts, "kind": e.kind, "message": e.message}
            for e in store.events(agent=args.agent)[-50:]
        ]
        path = (
            StatePaths(project.state_dir).explain
            / f"{args.agent}-{time.strftime('%Y%m%d-%H%M%S')}.tar.gz"
        )
        save_bundle(
            path,
            result,
            raw,
            {"agent": args.agent, "recorded": recorded, "events": events, "agent_kind": spec.kind},
        )
        print(f"saved {path}")
    return EXIT_OK


def explain_task(args: argparse.Namespace, crash: Crash | None) -> int:
    """`explain TASK` (or an agent without a pane): the newest crash context kept of it."""
    from overseer.agents.crashes import describe

    if args.json:
        print(json.dumps({"name": args.agent, "crash": crash_json(crash)}, indent=2))
    elif crash is None:
        print(
            f"{args.agent}: no crash context kept (an agent that died or a lost attempt keeps one)"
        )
    else:
        print(describe(crash))
    return EXIT_OK


def crash_json(crash: Crash | None) -> dict[str, Any] | None:
    """A crash context as `explain --json` prints it."""
    if crash is None:
        return None
    return {"path": str(crash.path), **crash.context, "excerpt": crash.excerpt}


def cmd_hook(args: argparse.Namespace) -> int:
    from overseer.agents import hookrun

    try:
        spool_dir = str(StatePaths(resolve(args).state_dir).signals)
    except Exception as exc:  # a hook never breaks the CLI that runs it: exit 0 regardless
        print(f"overseer hook: {exc}", file=sys.stderr)
        print("{}")
        return EXIT_OK
    return hookrun.main([spool_dir, args.agent, args.event, *args.payload])


def cmd_answer(args: argparse.Namespace) -> int:
    return submit(resolve(args), "answer", args.agent, {"answer": args.answer})


def register(sub: Any) -> None:
    """Add `explain` and `answer`."""
    p = command(
        sub,
        "explain",
        cmd_explain,
        "an agent's screen, the verdict and the rule behind it; a task's or agent's last crash",
    )
    p.add_argument("agent", nargs="?", metavar="AGENT|TASK")
    p.add_argument("--kind", help="with --screen: the agent kind the screen comes from")
    p.add_argument("--screen", metavar="FILE", help="a saved screen (capture-pane -p -e text)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--save", action="store_true", help="write a bundle for a bug report")
    p = command(
        sub, "answer", cmd_answer, "answer the prompt an agent waits at (y, n or a choice number)"
    )
    p.add_argument("agent")
    p.add_argument("answer")
    p = command(
        sub,
        "hook",
        cmd_hook,
        "record a CLI hook's call for an agent (payload on stdin or as a JSON argument)",
    )
    p.add_argument("agent")
    p.add_argument("event")
    p.add_argument("payload", nargs="*", help="a JSON payload (Codex's notify passes it so)")
