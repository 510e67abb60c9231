"""The `overseer` command line: the supervisor, status, operator commands, plan and events."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import signal
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

import yaml

from overseer.state.backend import STORE_ENV, StoreUnreachable, is_url
from overseer.state.config import load_tasks_file, task_row
from overseer.state.errors import OverseerError
from overseer.state.queue import LEASE_S
from overseer.state.store import Store, StoreError, store_exists
from overseer.tui import (
    cli_agents,
    cli_completion,
    cli_dashboard,
    cli_decompose,
    cli_insights,
    cli_ops,
    cli_pool,
    cli_record,
    cli_report,
    cli_serve,
)
from overseer.tui.cli_common import (
    EXIT_CRASH,
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    Project,
    check_drift,
    command,
    event_json,
    orphan_owner,
    report,
    reset_demo,
    resolve,
    start_options,
    status_json,
    submit,
    supervisor_alive,
    version,
)
from overseer.tui.cli_help import SHORT_USAGE, add_examples
from overseer.tui.commands import COMMAND_WAIT, wait_for
from overseer.tui.durations import countdown, duration


class Parser(argparse.ArgumentParser):
    """argparse that exits 2 with a one-line hint instead of a usage dump on errors."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"overseer: error: {message}\n")


# -- run / down -----------------------------------------------------------------------


DB_RETRY_MAX = 30.0  # seconds between tries to reach a lost database, at most


def cmd_run(args: argparse.Namespace) -> int:
    from overseer.agents.supervisor import Supervisor

    project = resolve(args, stored=False)
    config = project.need_config()
    if getattr(args, "reset", False):
        reset_demo(project)
    if not store_exists(project.state_dir):
        # Its state dir was removed under a supervisor that still runs: create nothing here.
        owner = orphan_owner(project)
        if owner:
            raise CliError(owner, EXIT_USAGE)
    check_drift(project, sync=args.sync_config)
    deadline = time.time() + args.timeout if args.timeout else None
    pause, reached = 1.0, False
    while True:
        sup: Supervisor | None = None
        try:
            sup = Supervisor(
                config,
                project.state_dir,
                trust_state=args.trust_state,
                host_id=args.host_id,
                lease_s=args.lease,
            )
            reached = True  # from here on a lost database is waited for, not a wrong URL
            printer = EventPrinter(sup.store, quiet=args.quiet)
            left = max(0.1, deadline - time.time()) if deadline is not None else None
            code = sup.run(until_done=args.until_done, timeout=left, on_step=printer.flush)
            printer.flush()
            break
        except StoreError as exc:
            # The database went away: the agents run on in tmux; wait for it, then start
            # again as a restart does (re-adopt the panes, read the rc files written meanwhile).
            lost = exc if isinstance(exc, StoreUnreachable) else exc.__cause__
            if not reached or not isinstance(lost, StoreUnreachable):
                raise
            if sup is not None and sup.stop_requested:
                raise
            if deadline is not None and time.time() >= deadline:
                raise
            print(
                f"overseer: {lost}; the agents keep running; trying again in {pause:g}s",
                file=sys.stderr,
                flush=True,
            )
            time.sleep(pause)  # a signal meanwhile ends the command (the agents live on)
            pause = min(pause * 2, DB_RETRY_MAX)
    if args.until_done or args.timeout:
        counts = sup.store.task_counts()
        summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
        print(f"overseer: {summary or 'no tasks'}", file=sys.stderr)
        if sup.server is not None and sup.server.alive():
            print(
                f"overseer: the agents keep running (tmux -L {sup.server.label} attach); "
                "`overseer down --kill-agents` ends them",
                file=sys.stderr,
            )
    return code


class EventPrinter:
    """Prints events appended since the last call (the foreground supervisor's log)."""

    def __init__(self, store: Store, quiet: bool = False) -> None:
        self.store = store
        self.quiet = quiet
        self.last = store.last_event_id()

    def flush(self) -> None:
        if self.quiet:
            return
        for ev in self.store.events(since=self.last, limit=500):
            self.last = ev.id
            print(format_event(ev.ts, ev.kind, ev.message), flush=True)


def format_event(ts: float, kind: str, message: str) -> str:
    """One event as a log line."""
    stamp = time.strftime("%H:%M:%S", time.localtime(ts)) + f".{int(ts * 1000) % 1000:03d}"
    return f"{stamp}  {kind:<18} {message}"


def cmd_down(args: argparse.Namespace) -> int:
    project = resolve(args)
    if supervisor_alive(project.state_dir):
        store = project.store()
        pid = store.supervisor().pid
        store.enqueue_command("shutdown", "supervisor", {"kill_agents": args.kill_agents})
        if not wait_for(lambda: not supervisor_alive(project.state_dir), COMMAND_WAIT):
            if pid:
                os.kill(pid, signal.SIGTERM)
            if not wait_for(lambda: not supervisor_alive(project.state_dir), COMMAND_WAIT):
                raise CliError(f"the supervisor (pid {pid}) did not stop", EXIT_FAILED)
        print(f"supervisor {pid} stopped" + (" with its agents" if args.kill_agents else ""))
        return EXIT_OK
    stopped = stop_orphan(project)
    if args.kill_agents:
        from overseer.agents.tmux import TmuxServer, server_label

        config = project.need_config()
        server = TmuxServer(server_label(config.name, project.state_dir))
        was = server.alive()
        server.kill_server()
        print(
            ("" if stopped else "no supervisor running; ")
            + ("agents ended" if was else "no agents running")
        )
        return EXIT_OK
    if not stopped:
        print("no supervisor running")
    return EXIT_OK


def stop_orphan(project: Project) -> bool:
    """Stop a supervisor that still owns the project's tmux server although its state dir (and
    so its lock) was removed; True if there was one."""
    if project.config is None:
        return False
    from overseer.agents.lock import tmux_owner
    from overseer.agents.tmux import TmuxError, TmuxServer, server_label

    try:
        server = TmuxServer(server_label(project.config.name, project.state_dir))
    except TmuxError:
        return False
    owner = tmux_owner(server)
    if owner is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.kill(owner.pid, signal.SIGTERM)
    if not wait_for(lambda: tmux_owner(server) is None, COMMAND_WAIT):
        raise CliError(f"the supervisor (pid {owner.pid}) did not stop", EXIT_FAILED)
    print(f"supervisor {owner.pid} stopped (its state dir had been removed)")
    return True


# -- operator commands ----------------------------------------------------------------


def cmd_task_verb(args: argparse.Namespace) -> int:
    project = resolve(args)
    payload = {"reason": args.reason} if args.reason else {}
    return submit(project, args.verb, args.task, payload)


def cmd_agent_verb(args: argparse.Namespace) -> int:
    project = resolve(args)
    if args.verb == "resume" and (args.agent is None or args.budget is not None):
        if args.agent is not None:
            raise CliError("use either `resume AGENT` or `resume --budget SCOPE`, not both")
        # The circuit breaker and the budgets that hold (or the one named): agents/budget.py.
        return submit(project, "lift", args.budget or "", {})
    payload: dict[str, Any] = {}
    if args.verb == "send":
        payload = {"text": args.text, "enter": not args.no_enter}
    return submit(project, args.verb, args.agent, payload)


def cmd_add(args: argparse.Namespace) -> int:
    from overseer.state.config import task_spec_from_mapping

    project = resolve(args)
    if args.file:
        if args.id or args.command:
            raise CliError("use either `add ID -- COMMAND` or `add --file FILE`, not both")
        specs = load_tasks_file(args.file, agents=project.config.agents if project.config else ())
    else:
        words = list(args.command)
        if not args.id or not words:
            raise CliError(
                "usage: overseer add ID -- COMMAND... (or overseer add --file tasks.yaml)"
            )
        command = words[0] if len(words) == 1 else shlex.join(words)
        mapping: dict[str, object] = {"id": args.id, "run": command}
        if args.depends_on:
            mapping["depends_on"] = args.depends_on
        if args.budget:
            mapping["budget"] = budget_option(args.budget)
        for key in ("timeout", "verify", "priority", "max_attempts"):
            if getattr(args, key) is not None:
                mapping[key] = getattr(args, key)
        if args.host:
            mapping["hosts"] = args.host
        specs = [task_spec_from_mapping(mapping)]
    config = project.config
    default_attempts = config.retry.max_attempts if config else 3
    payload = [task_row(t, t.max_attempts or default_attempts) for t in specs]
    return submit(project, "add", ",".join(t.id for t in specs), {"tasks": payload})


def budget_option(text: str) -> dict[str, object]:
    """`--budget wall=600,tokens=100000,on_exceed=stop` as a mapping (checked as config is)."""
    out: dict[str, object] = {}
    for part in text.split(","):
        key, eq, value = part.partition("=")
        if not eq or not key.strip():
            raise CliError(
                f"--budget takes KEY=VALUE pairs separated by commas, e.g. "
                f"wall=600,on_exceed=stop; got {part!r}"
            )
        try:
            out[key.strip()] = yaml.safe_load(value.strip())
        except yaml.YAMLError:
            out[key.strip()] = value.strip()
    return out


def cmd_edit(args: argparse.Namespace) -> int:
    project = resolve(args)
    fields: dict[str, Any] = {}
    words = list(args.command)
    if words:
        fields["command"] = words[0] if len(words) == 1 else shlex.join(words)
    if args.timeout is not None:
        if args.timeout < 0:
            raise CliError("--timeout takes seconds > 0 (0: no timeout)")
        fields["timeout"] = args.timeout
    if args.verify is not None:
        fields["verify"] = args.verify or None
    if args.priority is not None:
        fields["priority"] = args.priority
    if args.depends_on is not None:
        fields["depends_on"] = [
            d.strip() for v in args.depends_on for d in v.split(",") if d.strip()
        ]
    if not fields:
        raise CliError(
            "nothing to change: give -- COMMAND, --timeout, --verify, --priority or --depends-on"
        )
    return submit(project, "edit", args.task, {"tasks": {args.task: fields}})


# -- read-only commands -----------------------------------------------------------------


def cmd_attach(args: argparse.Namespace) -> int:
    from overseer.agents.tmux import server_label
    from overseer.tui.remote import host_elsewhere, ssh_attach

    project = resolve(args)
    store = project.store()
    try:
        host = host_elsewhere(store, project.state_dir, args.agent)
        if host is not None:
            cmd = ssh_attach(store, project.config, host, args.agent)
        else:
            if store.agent(args.agent) is None:
                raise CliError(f"no agent named {args.agent!r}")
            label = server_label(project.need_config().name, project.state_dir)
            cmd = ["tmux", "-L", label, "attach-session", "-t", f"=overseer:={args.agent}"]
    finally:
        store.close()
    if args.print:
        print(shlex.join(cmd))
        return EXIT_OK
    os.execvp(cmd[0], cmd)


def cmd_status(args: argparse.Namespace) -> int:
    from overseer.agents.usage import usage_text
    from overseer.state.models import Usage

    project = resolve(args)
    data = status_json(project)
    if args.json:
        print(json.dumps(data, indent=2))
        return EXIT_OK
    sup = data["supervisor"]
    beat = sup["heartbeat_age_s"]
    print(
        f"supervisor: {'running pid ' + str(sup['pid']) if sup['alive'] else 'not running'}"
        + (f", heartbeat {beat:.1f}s ago" if beat is not None else "")
    )
    counts = ", ".join(f"{n} {s}" for s, n in data["counts"].items() if n)
    print(f"tasks: {counts or 'none'}")
    if is_url(data["store"]):
        print(f"store: {data['store']}")
    if is_url(data["store"]) and data["hosts"]:  # each host sharing it, and its supervisor
        shown = []
        for h in data["hosts"]:
            age = h["heartbeat_age_s"]
            when = "stopped" if h["stopped_at"] else "gone" if not h["alive"] else "up"
            shown.append(f"{h['name']} {when}" + (f" ({age:.0f}s)" if age is not None else ""))
        print(f"hosts: {', '.join(shown)}")
    if data["tmux"]["attach"]:
        print(f"agents: {data['tmux']['attach']}")
    if data["breaker"].get("open"):
        print(f"held: {data['breaker'].get('reason') or 'circuit breaker open'}")
    for b in data["budgets"]:
        if b["holding"]:
            print(f"held: budget of {b['scope']} spent ({b['reason']}): `overseer resume`")
    print()
    print(f"{'AGENT':<16} {'STATE':<9} {'TASK':<20} {'BEAT':>6}  {'TOKENS COST':<19} LAST LINE")
    for a in data["agents"]:
        age = a["heartbeat_age_s"]
        extra = a["prompt"] or a["reason"] or a["last_line"] or ""
        told = usage_text(Usage(**a["usage"])) if a["usage"] else "-"
        if a["version_note"]:
            extra = f"[{a['version_note']}] {extra}"
        print(
            f"{a['name']:<16} {a['state']:<9} {a['task'] or '-':<20} "
            f"{(f'{age:.0f}s' if age is not None else '-'):>6}  {told:<19} {extra[:60]}"
        )
    print()
    print(
        f"{'TASK':<20} {'STATE':<8} {'TRY':>5} {'EXIT':>4} {'STARTED':>8} {'TIME':>6} "
        f"{'LEASE':>6} {'RETRY':>6}  {'AGENT':<12} NOTE"
    )
    now = time.time()
    for t in data["tasks"]:
        note = t["blocked_reason"] or (t["reason"] if t["state"] != "done" else "") or ""
        if t["state"] == "pending":
            note = "waits for " + ", ".join(t["depends_on"])
        code = "-" if t["exit_code"] is None else str(t["exit_code"])
        started = t["started_at"]
        end = now if t["state"] == "running" else t["finished_at"]
        spent = duration(end - started) if started and end and end >= started else ""
        stamp = time.strftime("%H:%M:%S", time.localtime(started)) if started else ""
        running = t["state"] == "running" and t["lease_expires_at"]
        lease = countdown(t["lease_expires_at"] - now) if running else ""
        retry = countdown(t["retry_at"] - now) if t["retry_at"] and t["state"] == "ready" else ""
        print(
            f"{t['id']:<20} {t['state']:<8} {str(t['tries']) + '/' + str(t['max_attempts']):>5} "
            f"{code:>4} {stamp:>8} {spent:>6} {lease:>6} {retry:>6}  {t['agent'] or '-':<12} "
            f"{note}"
        )
    return EXIT_OK


def cmd_events(args: argparse.Namespace) -> int:
    project = resolve(args)
    store = project.store()
    since = args.since or 0
    while True:
        for ev in store.events(since=since, limit=1000):
            since = ev.id
            if args.json:
                print(json.dumps(event_json(ev)), flush=True)
            else:
                print(f"{ev.id:>6}  " + format_event(ev.ts, ev.kind, ev.message), flush=True)
        if not args.follow:
            return EXIT_OK
        time.sleep(0.2)


def cmd_plan(args: argparse.Namespace) -> int:
    from overseer.state.plan import format_plan, make_plan

    project = resolve(args, stored=False)
    config = project.need_config()
    history: dict[str, float] = {}
    if store_exists(project.state_dir):
        history = project.store().median_durations()
    plan = make_plan(config.tasks, config.max_parallel, history=history)
    if args.json:
        print(json.dumps(plan.__dict__, indent=2, default=list))
    else:
        print(format_plan(plan))
    return EXIT_OK


# -- parser ---------------------------------------------------------------------------


# The operator commands on one task or one agent: verb, what it acts on, help.
OPERATOR_VERBS = (
    ("retry", "task", "make a task ready again now"),
    ("block", "task", "park a task (stops it when running)"),
    ("unblock", "task", "return a blocked task to the queue"),
    ("release", "task", "free a task's claim (stops the attempt)"),
    ("send", "agent", "type a line into an agent's pane (Enter included)"),
    ("interrupt", "agent", "send Ctrl-C to an agent"),
    ("pause", "agent", "stop giving an agent tasks"),
    (
        "resume",
        "agent",
        "give a paused agent tasks again; without AGENT: lift the circuit "
        "breaker and budget pauses",
    ),
    ("respawn", "agent", "restart an agent's pane"),
)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="overseer", description="Supervise fleets of command-line agents in tmux.")
    parser.add_argument("--version", action="version", version=f"overseer {version()}")
    sub = parser.add_subparsers(dest="cmd", parser_class=Parser, metavar="COMMAND")

    p = command(sub, "run", cmd_run, "run the supervisor in the foreground")
    p.add_argument("--until-done", action="store_true", help="return when no task can progress")
    p.add_argument("--timeout", type=float, metavar="S", help="stop after S seconds")
    p.add_argument("-q", "--quiet", action="store_true", help="do not print events")
    p.add_argument(
        "--lease",
        type=float,
        default=LEASE_S,
        metavar="S",
        help=f"how long a claim lives unrenewed; with several hosts, how long a silent host "
        f"keeps its tasks (default {LEASE_S:g})",
    )
    start_options(
        p,
        sync_help="give tasks whose command, timeout, verify, priority or dependencies changed in "
        "the config the config's version (else the store's runs, with a warning)",
    )

    p = command(
        sub,
        "attach",
        cmd_attach,
        "attach this terminal to an agent's pane (ssh for another host's)",
    )
    p.add_argument("agent", help="the agent (HOST/AGENT on a store several hosts share)")
    p.add_argument("--print", action="store_true", help="print the command instead of running it")

    p = command(sub, "status", cmd_status, "agents, tasks and the supervisor")
    p.add_argument("--json", action="store_true")

    p = command(
        sub,
        "add",
        cmd_add,
        "add tasks: add ID -- COMMAND..., or add --file tasks.yaml",
        usage="overseer add ID [options] -- COMMAND...\n       overseer add --file tasks.yaml",
    )
    p.add_argument("id", nargs="?", help="the new task's id")
    p.add_argument("--file", metavar="FILE", help="a YAML list of tasks (the schema of tasks:)")
    p.add_argument("--depends-on", action="append", metavar="ID", help="may be repeated")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds before it is stopped")
    p.add_argument("--verify", metavar="CMD", help="must pass after a zero exit")
    p.add_argument("--priority", type=int, metavar="N", help="higher runs first")
    p.add_argument("--max-attempts", type=int, metavar="N", help="its retry budget")
    p.add_argument(
        "--host",
        action="append",
        metavar="NAME",
        help="only the supervisor of this host runs it (repeat for several)",
    )
    p.add_argument(
        "--budget",
        metavar="KEY=VALUE,...",
        help="what it may spend: wall=SECONDS, tokens=N, cost_usd=X, on_exceed=warn|pause|stop",
    )

    p = command(
        sub,
        "edit",
        cmd_edit,
        "change a task's command, timeout, verify, priority or dependencies",
        usage="overseer edit TASK [options] [-- COMMAND...]",
    )
    p.add_argument("task")
    p.add_argument("--timeout", type=float, metavar="S", help="seconds (0: no timeout)")
    p.add_argument("--verify", metavar="CMD", help="check after a zero exit ('': none)")
    p.add_argument("--priority", type=int, metavar="N")
    p.add_argument(
        "--depends-on",
        action="append",
        metavar="ID",
        help="the new dependencies (repeat, or a,b; '' for none); they replace the old ones",
    )

    for verb, what, text in OPERATOR_VERBS:
        p = command(sub, verb, cmd_task_verb if what == "task" else cmd_agent_verb, text)
        p.add_argument(what, nargs="?" if verb == "resume" else None)
        p.set_defaults(verb=verb)
        if verb == "resume":
            p.add_argument(
                "--budget",
                metavar="SCOPE",
                help="lift only this budget: project, group:NAME or task:ID",
            )
        if what == "task":
            p.add_argument("--reason", metavar="TEXT")
        elif verb == "send":
            p.add_argument("text")
            p.add_argument("--no-enter", action="store_true")

    p = command(sub, "down", cmd_down, "stop the supervisor (agents keep running)")
    p.add_argument("--kill-agents", action="store_true", help="also end the tmux server")

    p = command(sub, "plan", cmd_plan, "dependency waves, critical path, speedup (no tmux)")
    p.add_argument("--json", action="store_true")

    p = command(sub, "events", cmd_events, "the event log")
    p.add_argument("--follow", "-f", action="store_true")
    p.add_argument("--since", type=int, metavar="ID")
    p.add_argument("--json", action="store_true")
    for module in EXTENSIONS:
        module.register(sub)
    add_examples(sub)
    parser.set_defaults(parser=parser)  # for `overseer completion`, which reads it
    return parser


# Modules that add their own subcommands: each has `register(sub)`.
EXTENSIONS = (
    cli_dashboard,
    cli_insights,
    cli_agents,
    cli_ops,
    cli_record,
    cli_decompose,
    cli_pool,
    cli_serve,
    cli_report,
    cli_completion,
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `overseer` console script."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if argv and argv[0] in ("add", "edit") and "--" in argv:
        # Everything after the first "--" is the task's command, taken verbatim.
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1 :]
    args = parser.parse_args(argv)
    if args.cmd is None:
        print(SHORT_USAGE, file=sys.stderr)
        return EXIT_USAGE
    if args.cmd in ("add", "edit"):
        args.command = command
    store_env = os.environ.get(STORE_ENV)  # a command names its store there; restored after
    try:
        code = int(args.func(args))
    except (OverseerError, sqlite3.Error) as exc:  # config, store, tmux, ... the CLI's own
        code = report(exc)
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = EXIT_OK
    except Exception as exc:  # a bug: one line here, the traceback in a private log
        code = report_crash(exc, args, argv)
    finally:
        if store_env is None:
            os.environ.pop(STORE_ENV, None)
        else:
            os.environ[STORE_ENV] = store_env
    return code


def report_crash(error: Exception, args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Log an unexpected error's traceback, print one line that names the log; EXIT_CRASH."""
    import traceback

    from overseer.tui.crash import crash_message, write_crash_log

    log = write_crash_log(error, state_dir_of(args), argv)
    if log is None:  # nowhere to write it: the traceback is better on the terminal than lost
        traceback.print_exception(error, file=sys.stderr)
    print(f"overseer: {crash_message(f'overseer {args.cmd}', error, log)}", file=sys.stderr)
    return EXIT_CRASH


def state_dir_of(args: argparse.Namespace) -> Path:
    """The state dir a command's arguments name, found without reading any file (as resolve)."""
    if getattr(args, "state_dir", None):
        return Path(args.state_dir).absolute()
    if getattr(args, "config", None) and not getattr(args, "demo", False):
        return Path(args.config).absolute().parent / ".overseer"
    return Path.cwd() / ".overseer"


if __name__ == "__main__":
    sys.exit(main())
