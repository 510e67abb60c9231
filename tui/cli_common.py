"""What every `overseer` subcommand shares: the project it works on, the exit statuses, the
errors it raises and how they are reported, and submitting an operator command.

tui/cli.py builds the parser and runs main(); the subcommand modules (cli_*.py) import this
module, never cli.py, so the command line has no import cycle.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.metadata
import os
import shutil
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overseer.state.backend import STORE_ENV, ServerError, is_url, mask_url, store_location
from overseer.state.config import Config, ConfigError, demo_config, load_config, load_config_text
from overseer.state.errors import EXIT_CRASH as EXIT_CRASH
from overseer.state.errors import EXIT_ENV as EXIT_ENV
from overseer.state.errors import EXIT_FAILED as EXIT_FAILED
from overseer.state.errors import EXIT_OK as EXIT_OK
from overseer.state.errors import EXIT_USAGE as EXIT_USAGE
from overseer.state.errors import OverseerError
from overseer.state.models import Event
from overseer.state.paths import StatePaths
from overseer.state.store import (
    DEMO_CONFIG,
    Store,
    StoreError,
    explain,
    project_store,
    store_exists,
)
from overseer.tui.commands import COMMAND_WAIT, send, wait_for


class CliError(OverseerError):
    """A problem the command line finds itself: one clear message, with its exit status."""

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Project:
    """Where a command's config and state live."""

    config: Config | None
    state_dir: Path

    def need_config(self) -> Config:
        """The config, or a clear error when there is none."""
        if self.config is None:
            raise CliError(
                "no config: pass -c FILE, create ./overseer.yaml, or use --demo", EXIT_USAGE
            )
        return self.config

    def store(self, create: bool = False) -> Store:
        """The project's store (it must exist unless `create`)."""
        if not create and not store_exists(self.state_dir):
            owner = orphan_owner(self)
            raise CliError(
                f"no Overseer state at {self.state_dir} (start one with `overseer run`"
                + (" --demo" if self.config is not None and self.config.path is None else "")
                + ")"
                + (f"; but {owner}" if owner else ""),
                EXIT_USAGE,
            )
        return project_store(self.state_dir)


def resolve(args: argparse.Namespace, stored: bool = True) -> Project:
    """Find the config and state dir from -c, --state-dir and --demo.

    With `stored`, a broken config file falls back (with a warning) to the config a running
    supervisor started with: commands that talk to it keep working. The store's location is
    settled here too (see use_store).
    """
    use_store(getattr(args, "store", None))
    project = _resolve(args, stored)
    if project.config is not None and project.config.store:
        use_store(None, project.config.store)
    return project


def use_store(flag: str | None, configured: str | None = None) -> None:
    """Name the store for this command and the processes it starts ($OVERSEER_STORE): --store,
    else $OVERSEER_STORE, else the config's `store:`; none of them: SQLite in the state dir."""
    where = flag or os.environ.get(STORE_ENV) or configured
    if not where:
        return
    if not is_url(where):
        source = "--store" if flag else STORE_ENV if os.environ.get(STORE_ENV) else "store:"
        raise CliError(
            f"{source} must be a postgresql:// URL, got {mask_url(where)!r} (leave it out for "
            "SQLite in the state dir)",
            EXIT_USAGE,
        )
    os.environ[STORE_ENV] = where


def _resolve(args: argparse.Namespace, stored: bool) -> Project:
    config: Config | None = None
    if getattr(args, "demo", False):
        config = demo_config()
        state_dir = Path(args.state_dir or Path.cwd() / ".overseer")
        return Project(config, state_dir.absolute())
    path = Path(args.config) if args.config else Path("overseer.yaml")
    if args.config or path.exists():
        state_dir = Path(args.state_dir) if args.state_dir else path.absolute().parent / ".overseer"
        try:
            config = load_config(path)
        except ConfigError as exc:
            if not stored:
                raise
            config = running_config(state_dir.absolute(), path, exc)
        return Project(config, state_dir.absolute())
    state_dir = Path(args.state_dir or Path.cwd() / ".overseer").absolute()
    if store_exists(state_dir):
        recorded = recorded_config(state_dir)
        if recorded == DEMO_CONFIG:
            config = demo_config()
        elif recorded and Path(recorded).exists():
            try:
                config = load_config(recorded)
            except ConfigError as exc:
                if not stored:
                    raise
                config = running_config(state_dir, Path(recorded), exc)
    return Project(config, state_dir)


def recorded_config(state_dir: Path) -> str | None:
    """The config a supervisor of this store last ran with (None: none, or a database not yet
    made by `overseer db init`: the command that needs it says so, and `db init` needs none)."""
    try:
        store = project_store(state_dir)
    except ServerError:
        raise  # what the server said (unreachable, refused) is the command's answer too
    except StoreError:
        if isinstance(store_location(state_dir), str):
            return None  # no schema yet, or another version's
        raise
    try:
        return store.meta_get("config")
    finally:
        store.close()


def running_config(state_dir: Path, path: Path, error: ConfigError) -> Config:
    """The config a running supervisor started with, when the file on disk is invalid."""
    if not store_exists(state_dir) or not supervisor_alive(state_dir):
        raise error
    store = project_store(state_dir)
    try:
        text, pid = store.meta_get("config_text"), store.supervisor().pid
    finally:
        store.close()
    if not text:
        raise error
    config = load_config_text(text, str(path), path.absolute().parent)
    print(
        f"overseer: warning: the config file is invalid: {error}\n"
        f"overseer: warning: using the config the running supervisor (pid {pid}) started with",
        file=sys.stderr,
    )
    return dataclasses.replace(config, path=path.absolute())


def supervisor_alive(state_dir: Path) -> bool:
    """Whether a supervisor (not a short offline command) holds this state dir's lock now."""
    from overseer.agents.lock import supervisor_running

    return supervisor_running(state_dir)


def orphan_owner(project: Project) -> str | None:
    """What a supervisor still recorded on the project's tmux server says, when its lock is
    gone (its state dir was removed under it); None when there is none."""
    if project.config is None:
        return None
    from overseer.agents.guard import orphan_message
    from overseer.agents.lock import tmux_owner
    from overseer.agents.tmux import TmuxError, TmuxServer, server_label

    try:
        owner = tmux_owner(TmuxServer(server_label(project.config.name, project.state_dir)))
    except TmuxError:
        return None
    return orphan_message(owner.pid, owner.note) if owner else None


def check_drift(project: Project, sync: bool, ask: bool = False) -> None:
    """Say which tasks overseer.yaml and the store disagree about; `sync` applies the config's,
    `ask` asks whether to on a terminal (No unless answered yes)."""
    from overseer.state.drift import describe, drift, sync_edits

    config = project.config
    if config is None or not store_exists(project.state_dir):
        return
    store = project.store()
    try:
        drifts = drift(store, config)
    finally:
        store.close()
    if not drifts:
        return
    name = config.path.name if config.path else "the demo config"
    said = (
        f"overseer: {name} and the store disagree about {len(drifts)} task(s): {describe(drifts)}"
    )
    if not sync and ask and sys.stdin.isatty():
        print(said, file=sys.stderr)
        try:
            answer = input(f"overseer: give them {name}'s version now? [y/N] ")
        except EOFError:
            answer = ""
        sync = answer.strip().lower() in ("y", "yes")
    if sync:
        ids = ",".join(d.task_id for d in drifts)
        submit(project, "edit", ids, {"tasks": sync_edits(drifts)})
        return
    print(
        f"{said}; the store's version runs. `--sync-config` applies the config's version "
        "(or `overseer edit TASK -- COMMAND` one by one)",
        file=sys.stderr,
    )


def reset_demo(project: Project) -> None:
    """Forget the demo's state (store, logs, run files) and end its agents: a fresh replay."""
    from overseer.agents.tmux import TmuxServer, server_label

    config = project.need_config()
    if config.path is not None or (
        store_exists(project.state_dir) and project.store().meta_get("config") != DEMO_CONFIG
    ):
        raise CliError(
            f"--reset replays the demo only; {project.state_dir} holds another project's state"
        )
    if supervisor_alive(project.state_dir):
        store = project.store()
        store.enqueue_command("shutdown", "supervisor", {"kill_agents": True})
        if not wait_for(lambda: not supervisor_alive(project.state_dir), COMMAND_WAIT):
            raise CliError("the demo's supervisor did not stop; try `overseer down`", EXIT_FAILED)
    TmuxServer(server_label(config.name, project.state_dir)).kill_server()
    paths = StatePaths(project.state_dir)
    for path in (*paths.db_files, paths.supervisor_log, paths.notify_log):
        path.unlink(missing_ok=True)
    for sub in (paths.logs, paths.run, paths.crashes):
        shutil.rmtree(sub, ignore_errors=True)
    print(f"overseer: the demo starts afresh in {project.state_dir}", file=sys.stderr)


def submit(project: Project, verb: str, target: str, args: dict[str, Any]) -> int:
    """Queue an operator command; a running supervisor applies it, otherwise apply it here."""
    project.store().close()  # a clear error when there is no state yet
    outcome = send(project.state_dir, project.config, verb, target, args)
    if outcome.status == "rejected":
        raise CliError(f"{verb} {target}: {outcome.result}", EXIT_FAILED)
    print(outcome.result)
    return EXIT_OK


def common(p: argparse.ArgumentParser, demo: bool = True) -> None:
    """The options of every command that works on a project: -c, --state-dir and --demo."""
    p.add_argument("-c", "--config", metavar="FILE", help="config file (default ./overseer.yaml)")
    p.add_argument(
        "--state-dir", metavar="DIR", help="state dir (default .overseer beside the config)"
    )
    p.add_argument(
        "--store",
        metavar="URL",
        help="a postgresql:// database for the store (default: $OVERSEER_STORE, the config's "
        "store:, else SQLite in the state dir)",
    )
    if demo:
        p.add_argument("--demo", action="store_true", help="use the embedded demo config")


def version() -> str:
    """This Overseer's version (from the installed package's metadata)."""
    try:
        return importlib.metadata.version("overseer")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def command(
    sub: Any,
    name: str,
    func: Callable[[argparse.Namespace], int],
    help: str,
    *,
    project: bool = True,
    **kw: Any,
) -> argparse.ArgumentParser:
    """Add the subcommand `name` that runs `func`; with `project`, the options of `common`."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help, **kw)
    if project:
        common(p)
    p.set_defaults(func=func)
    return p


def start_options(p: argparse.ArgumentParser, sync_help: str) -> None:
    """The options of the commands that start a supervisor (run, up)."""
    p.add_argument(
        "--trust-state",
        action="store_true",
        help="use a state dir made on another machine, by another user or at another path",
    )
    p.add_argument("--sync-config", action="store_true", help=sync_help)
    p.add_argument(
        "--reset", action="store_true", help="with --demo: forget the demo's state and replay it"
    )
    p.add_argument(
        "--host-id",
        metavar="NAME",
        help="this machine's name among the hosts sharing a PostgreSQL store (default: "
        "$OVERSEER_HOST_ID, the last one used here, else the hostname)",
    )


def report(error: OverseerError | sqlite3.Error) -> int:
    """Print an error a person can act on as one line; the exit status it ends the command with."""
    if isinstance(error, OverseerError):
        print(f"overseer: {error}", file=sys.stderr)
        return error.status
    print(f"overseer: {explain(error)}", file=sys.stderr)  # locked, full or corrupt once opened
    return EXIT_ENV


def status_json(project: Project, store: Store | None = None) -> dict[str, Any]:
    """The contract of `overseer status --json` (read through `store` if given, else a store
    opened for the call, which a long-lived reader such as `overseer serve` must not do)."""
    from overseer.agents.tmux import server_label
    from overseer.agents.usage import stored, total
    from overseer.state.hosts import BEAT_WITHIN
    from overseer.state.queue import task_json

    store = store or project.store()
    now = time.time()
    sup = store.supervisor()
    last = store.last_attempts()
    tries = store.tries_used()
    told = store.attempts_with_usage()
    alive = supervisor_alive(project.state_dir)
    label = server_label(project.config.name, project.state_dir) if project.config else None
    return {
        "project": project.config.name if project.config else None,
        "tmux": {"label": label, "attach": f"tmux -L {label} attach" if label else None},
        "state_dir": str(project.state_dir),
        "store": mask_url(store.location),
        "supervisor": {
            "pid": sup.pid,
            "alive": alive,
            "heartbeat_age_s": (now - sup.heartbeat_at) if (alive and sup.heartbeat_at) else None,
        },
        # Every host whose supervisor used this store (several share a PostgreSQL one).
        "hosts": [
            {
                "name": h.name,
                "pid": h.pid,
                "alive": h.stopped_at is None and h.beats(now, BEAT_WITHIN),
                "heartbeat_age_s": (now - h.heartbeat_at) if h.heartbeat_at else None,
                "stopped_at": h.stopped_at,
                "tmux_label": h.tmux_label,
            }
            for h in store.hosts()
        ],
        "agents": [
            {
                "name": a.name,
                "kind": a.kind,
                "state": a.state.value,
                "task": a.task_id,
                "pane": a.pane_id,
                "pid": a.pid,
                "heartbeat_age_s": (now - a.heartbeat_at) if a.heartbeat_at else None,
                "last_output_at": a.last_output_at,
                "state_since": a.state_since,
                "reason": a.reason,
                "prompt": a.prompt,
                "last_line": a.last_line,
                "usage": stored(a.usage),
                "state_source": a.state_source,
                "cli_version": a.cli_version,
                "version_note": a.version_note,
                "signals": a.signals,
            }
            for a in store.agents()
        ],
        "tasks": [
            {
                **task_json(t),
                "tries": tries.get(t.id, 0),
                "reason": last[t.id].reason if t.id in last else None,
                # Tokens and cost an AI CLI told: the task's total and each attempt's share.
                "usage": stored(total(a.usage for a in told.get(t.id, []) if a.usage)),
                "usage_by_attempt": [
                    {"number": a.number, "agent": a.agent, "usage": stored(a.usage)}
                    for a in told.get(t.id, [])
                ],
            }
            for t in store.tasks()
        ],
        "counts": store.task_counts(),
        "suggestions": store.suggestions(),
        **holds_json(store),
    }


def holds_json(store: Store) -> dict[str, Any]:
    """The circuit breaker's state and the budgets with what each did (`status --json`)."""
    from overseer.state.budgets import breaker_state, budgets

    return {"breaker": breaker_state(store), "budgets": [b.as_json() for b in budgets(store)]}


def event_json(ev: Event) -> dict[str, Any]:
    """One event as `events --json` and the API's event stream write it."""
    return {
        "id": ev.id,
        "ts": ev.ts,
        "kind": ev.kind,
        "task": ev.task_id,
        "agent": ev.agent,
        "message": ev.message,
        "data": ev.data,
    }
