"""`overseer health`, `overseer cleanup` and `overseer recover`: operating a project.

The logic lives in agents/maintenance.py; this module parses, prints and sets exit codes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from overseer.state.config import Config, ConfigError
from overseer.tui.cli_common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    CliError,
    command,
    resolve,
    version,
)

MARK = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}


def _resolve_leniently(args: argparse.Namespace) -> tuple[Config | None, Path, str | None]:
    """Config, state dir and the config's error: health reports a bad config, not exits on it."""
    try:
        project = resolve(args, stored=False)
        return project.config, project.state_dir, None
    except ConfigError as exc:
        base = Path(args.config).absolute().parent if args.config else Path.cwd()
        state_dir = Path(args.state_dir).absolute() if args.state_dir else base / ".overseer"
        return None, state_dir, str(exc)


def cmd_health(args: argparse.Namespace) -> int:
    from overseer.agents.maintenance import failed, health

    config, state_dir, error = _resolve_leniently(args)
    checks = health(state_dir, config, config_error=error)
    bad = failed(checks)
    if args.json:
        data = {"ok": not bad, "version": version(), "checks": [c.as_json() for c in checks]}
        print(json.dumps(data, indent=2))
    else:
        print(f"overseer {version()}")
        for c in checks:
            print(f"{MARK.get(c.status, c.status)}  {c.name:<15} {c.detail}")
    return EXIT_FAILED if bad else EXIT_OK


def cmd_cleanup(args: argparse.Namespace) -> int:
    from overseer.agents.maintenance import cleanup

    project = resolve(args)
    config = project.need_config()
    actions = cleanup(project.state_dir, config, dry_run=args.dry_run, force=args.force)
    if args.json:
        print(json.dumps([a.as_json() for a in actions], indent=2))
        return EXIT_OK
    if not actions:
        print("nothing to clean up")
    for a in actions:
        if a.skipped:
            print(f"kept       {a.detail}: {a.skipped}")
        else:
            print(f"{'removed   ' if a.done else 'would go  '} {a.detail}")
    return EXIT_OK


def cmd_recover(args: argparse.Namespace) -> int:
    from overseer.agents.lock import LockHeld
    from overseer.agents.maintenance import recover

    project = resolve(args)
    config = project.need_config()
    try:
        changes = recover(config, project.state_dir)
    except LockHeld as exc:
        raise CliError(
            f"{exc}; a running supervisor reconciles the store with tmux every second by itself",
            EXIT_USAGE,
        ) from exc
    if not changes:
        print("nothing to recover: the store and tmux agree")
    for line in changes:
        print(line)
    return EXIT_OK


def cmd_db(args: argparse.Namespace) -> int:
    """`overseer db init`: create the store's schema, or migrate it to this Overseer's."""
    from overseer.state.backend import is_url, mask_url, store_location
    from overseer.state.pgstore import PgStore
    from overseer.state.store import open_store

    project = resolve(args, stored=False)
    where = store_location(project.state_dir)
    if args.roles and not is_url(where):
        raise CliError("--roles needs a PostgreSQL store (--store URL): SQLite has no roles")
    store = open_store(where, state_dir=project.state_dir, init=True)
    try:
        version = store.schema_version()
        roles = store.grant_roles() if args.roles and isinstance(store, PgStore) else []
    finally:
        store.close()
    print(f"store {mask_url(where)}: schema version {version} ({store.backend})")
    if roles:
        print(f"roles: {', '.join(roles)} (GRANT one to a login role)")
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the health, cleanup, recover and db subcommands."""
    p = command(sub, "db", cmd_db, "create or migrate the store's schema (SQLite or PostgreSQL)")
    p.add_argument("action", choices=["init"], help="init: create the schema, or migrate it")
    p.add_argument(
        "--roles",
        action="store_true",
        help="PostgreSQL: also make the overseer_viewer, overseer_operator and "
        "overseer_supervisor roles and grant them this database",
    )
    p = command(sub, "health", cmd_health, "check tmux, the store, the supervisor, disk and logs")
    p.add_argument("--json", action="store_true")

    p = command(
        sub, "cleanup", cmd_cleanup, "remove unused windows, stale leases, old logs and files"
    )
    p.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    p.add_argument(
        "--force", action="store_true", help="also stop busy strays and remove in-use logs"
    )
    p.add_argument("--json", action="store_true")

    p = command(sub, "recover", cmd_recover, "reconcile the store with tmux now, as start-up does")
