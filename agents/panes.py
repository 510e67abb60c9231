"""Starting an agent's pane: its program, working directory and environment."""

from __future__ import annotations

import shlex
from pathlib import Path

from overseer.agents import worktree
from overseer.agents.drivers.base import AgentRuntime, Host
from overseer.agents.tmux import PaneInfo, TmuxError
from overseer.state.models import AgentState


def launch(host: Host, rt: AgentRuntime) -> tuple[str, str, dict[str, str]]:
    """Command, cwd and environment of an agent's pane."""
    env = {**rt.spec.env, **rt.driver.launch_env(), "OVERSEER_AGENT_NAME": rt.name}
    cwd = agent_cwd(host, rt)
    command, added = rt.driver.launch(rt, rt.spec.command or rt.driver.command(rt), cwd)
    env.update(added)
    # tmux puts its socket in every pane's TMUX (and the pane in TMUX_PANE): a task
    # would reach Overseer's own server with a bare `tmux kill-server`. The pane's
    # program starts without them (env then sh execs it, as tmux itself would).
    command = f"exec env -u TMUX -u TMUX_PANE /bin/sh -c {shlex.quote(command)}"
    return command, cwd, env


def agent_cwd(host: Host, rt: AgentRuntime) -> str:
    """Where the agent works: its own git worktree (`worktree: true`) or its cwd."""
    cwd = rt.spec.cwd or str(host.config.base_dir)
    if not rt.spec.worktree:
        return cwd
    repo = worktree.repo_root(Path(cwd))
    return str(worktree.ensure_worktree(repo, rt.name, host.paths.worktrees))


def spawn(host: Host, rt: AgentRuntime, pane: PaneInfo | None = None) -> None:
    """Start (or respawn, in `pane`) the agent's pane."""
    command, cwd, env = launch(host, rt)
    log_path = host.paths.log(rt.name)
    rt.stream.seek(rt.stream.size())
    rt.driver.spawned(rt)
    info = None
    if pane is not None:
        try:
            info = host.tmux.respawn(pane.pane_id, command, cwd, env, log_path)
        except TmuxError:
            # A killed pane is listed (dead) for a moment after its process ended; seen in
            # that moment (an agent's death wakes the loop at once), it is gone by now, and
            # the agent gets a new window instead.
            if host.tmux.window_pane(rt.name) is not None:
                raise
    if info is None:
        info = host.tmux.spawn_window(rt.name, command, cwd, env, log_path)
    rt.pane_id, rt.pid = info.pane_id, info.pid
    host.set_state(rt, AgentState.STARTING, "pane started")
