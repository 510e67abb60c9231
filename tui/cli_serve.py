"""`overseer token` (API tokens for `overseer serve`) and `overseer serve` (the HTTP API)."""

from __future__ import annotations

import argparse
import ipaddress
import secrets
import sys
import time
from typing import Any

from overseer.state.store import token_digest
from overseer.tui.cli_common import EXIT_ENV, EXIT_FAILED, EXIT_OK, CliError, command, resolve

ROLES = ("viewer", "operator")  # a viewer reads; an operator may also send commands
DEFAULT_PORT = 8787


def cmd_token(args: argparse.Namespace) -> int:
    if args.action == "create" and not args.role:
        raise CliError("token create needs --role viewer or --role operator")
    if (args.action == "revoke") != bool(args.target):
        raise CliError("usage: overseer token revoke NAME (and no NAME for create or list)")
    project = resolve(args)
    store = project.store()
    if args.action == "create":
        name = args.name or f"{args.role}-{secrets.token_hex(3)}"
        if any(name == known for known, _, _ in store.tokens()):
            raise CliError(f"a token named {name!r} exists already (revoke it first)")
        token = secrets.token_urlsafe(32)
        store.add_token(name, args.role, token_digest(token))
        print(token)
        print(
            f"overseer: token {name!r} ({args.role}) created; it is shown only this once",
            file=sys.stderr,
        )
        return EXIT_OK
    if args.action == "list":
        for name, role, created in store.tokens():
            stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(created))
            print(f"{name:<24} {role:<9} {stamp}")
        return EXIT_OK
    if not store.revoke_token(args.target):
        raise CliError(f"no token named {args.target!r} (see `overseer token list`)", EXIT_FAILED)
    print(f"token {args.target!r} revoked")
    return EXIT_OK


def listen_address(text: str, allow_remote: bool) -> tuple[str, int, bool]:
    """HOST:PORT (or PORT) as a host, a port and whether the host is a loopback address (any
    other needs `allow_remote`)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        raise CliError(f"--listen takes ADDRESS:PORT (an IP address), not {text!r}") from None
    if not 0 <= number <= 65535:
        raise CliError(f"--listen: port {number} is out of range")
    if not loopback and not allow_remote:
        raise CliError(
            f"--listen {text}: not a loopback address; add --allow-remote to serve other "
            "machines (the API then crosses the network in clear text: put TLS in front)"
        )
    return host, number, loopback


def cmd_serve(args: argparse.Namespace) -> int:
    host, port, loopback = listen_address(args.listen, args.allow_remote)
    project = resolve(args)
    project.store().close()  # a clear error when there is no state yet
    try:
        import overseer.tui.serve as serve
    except ImportError as exc:
        raise CliError(
            f"overseer serve needs the serve extra (pip install 'overseer[serve]'): {exc}", EXIT_ENV
        ) from exc
    if not loopback:
        print(
            f"overseer: warning: serving on {host}, reachable from other machines; every "
            "request still needs a token, but nothing is encrypted",
            file=sys.stderr,
        )
    serve.run(project, host, port)
    return EXIT_OK


def register(sub: Any) -> None:
    """Add the token and serve subcommands."""
    p = command(
        sub,
        "token",
        cmd_token,
        "create, list or revoke the HTTP API's tokens",
        usage="overseer token create --role viewer|operator [--name N]\n"
        "       overseer token list\n       overseer token revoke NAME",
    )
    p.add_argument("action", choices=["create", "list", "revoke"])
    p.add_argument("target", nargs="?", metavar="NAME", help="revoke: the token to remove")
    p.add_argument("--role", choices=ROLES, help="create: viewer reads; operator also acts")
    p.add_argument("--name", metavar="N", help="create: its name (default: ROLE-xxxxxx)")

    p = command(sub, "serve", cmd_serve, "serve /metrics and the HTTP API (bearer tokens)")
    p.add_argument(
        "--listen",
        default=f"127.0.0.1:{DEFAULT_PORT}",
        metavar="ADDR:PORT",
        help=f"where to listen (default 127.0.0.1:{DEFAULT_PORT}; port 0: any free port)",
    )
    p.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --listen address"
    )
