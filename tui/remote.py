"""Agents of other hosts (several share a PostgreSQL store): which they are, and how to reach
their panes: `ssh -t DEST tmux -L LABEL attach -t PANE`, with DEST from the config's `hosts:`."""

from __future__ import annotations

from pathlib import Path

from overseer.state import hosts
from overseer.state.config import Config
from overseer.state.errors import OverseerError
from overseer.state.models import host_of
from overseer.state.store import Store


def host_elsewhere(store: Store, state_dir: Path, agent: str) -> str | None:
    """The agent's host when it is not this one (None: here, or a store of one host)."""
    where = host_of(agent)
    if store.local or where is None:
        return None
    return None if where == hosts.host_id(state_dir) else where


def ssh_attach(store: Store, config: Config | None, host: str, agent: str) -> list[str]:
    """The command that attaches this terminal to `agent`'s pane on `host`, or why it cannot."""
    row = store.agent(agent)
    label = next((h.tmux_label for h in store.hosts() if h.name == host), None)
    dest = config.hosts.get(host) if config is not None else None
    if dest is None:
        raise OverseerError(
            f"{agent} runs on host {host}, and the config says not how to reach it: add "
            f"`hosts: {{{host}: {{ssh: user@address}}}}` to overseer.yaml"
        )
    if row is None or not row.pane_id or not label:
        raise OverseerError(f"{agent} on host {host} has no pane on record (is it running?)")
    return ["ssh", "-t", dest, "tmux", "-L", label, "attach-session", "-t", row.pane_id]
