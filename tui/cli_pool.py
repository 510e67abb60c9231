"""`overseer scale`: grow or shrink an agent group at run time (agents/scaling.py applies it)."""

from __future__ import annotations

import argparse
import re
from typing import Any

from overseer.state import pool
from overseer.tui.cli_common import CliError, command, resolve, submit

SIZE = re.compile(r"^[+-]?[0-9]{1,6}$")


SHARED_STORE = (
    "scale: not on a store several hosts share (PostgreSQL) yet; change `count:` in the "
    "config and restart that host's supervisor"
)


def cmd_scale(args: argparse.Namespace) -> int:
    project = resolve(args)
    config = project.need_config()
    if not SIZE.match(args.size):
        raise CliError(f"scale: size must be N, +N or -N, got {args.size!r}")
    store = project.store()
    try:
        if not store.local:
            raise CliError(SHARED_STORE)
        pool.group(pool.scaled(config, store), args.group)
        if args.size[0] not in "+-":
            pool.target_size(0, args.size)
    except ValueError as exc:
        raise CliError(f"scale: {exc}") from None
    finally:
        store.close()
    return submit(project, "scale", args.group, {"size": args.size, "force": args.force})


def register(sub: Any) -> None:
    """Add `scale`."""
    p = command(
        sub,
        "scale",
        cmd_scale,
        "grow or shrink an agent group at run time (new agents start staggered)",
    )
    p.add_argument("group", help="an agent group (an agents: entry's name) or one of its agents")
    p.add_argument("size", help="the new size N, or +N / -N (use -- before a negative one)")
    p.add_argument(
        "--force",
        action="store_true",
        help="also remove busy agents now (their tasks are released, no try used)",
    )
