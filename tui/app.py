"""The Overseer dashboard: a client of the store that writes operator commands."""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import BindingType
from textual.notifications import SeverityLevel
from textual.screen import Screen

# Imported before the app runs, never first in a worker or a handler: libtmux reads
# sys.stdout.encoding when it is imported, and Textual's print capture has no encoding.
from overseer.agents.lock import is_held
from overseer.agents.tmux import TmuxError, TmuxServer, server_label, tmux_version
from overseer.state import hosts
from overseer.state.config import Config, UserConfig, effective_keymap
from overseer.state.errors import OverseerError
from overseer.state.models import Agent, host_of
from overseer.state.store import DB_NAME, project_store
from overseer.tui import actions
from overseer.tui.commands import Outcome, send
from overseer.tui.gcpolicy import GcPolicy
from overseer.tui.remote import host_elsewhere, ssh_attach
from overseer.tui.screens.main import MainScreen
from overseer.tui.snapshot import Clock, SnapshotReader, Usage
from overseer.tui.themes import DEFAULT_THEME, load_themes, theme_dirs
from overseer.tui.widgets.format import literal

ScreenSource = Callable[[str, "str | None"], "str | None"]
POPUP_TMUX = (3, 2)  # display-popup came with tmux 3.2


class OverseerApp(App[None]):
    """One project's dashboard."""

    CSS_PATH = "styles/app.tcss"
    TITLE = "Overseer"
    ENABLE_COMMAND_PALETTE = True
    BINDINGS: ClassVar[list[BindingType]] = []

    def __init__(
        self,
        config: Config | None,
        state_dir: Path,
        *,
        project: str | None = None,
        theme: str | None = None,
        clock: Clock | None = None,
        usage: Usage | None = None,
        live: bool = True,
        screen_source: ScreenSource | None = None,
        supervisor_alive: Callable[[], bool] | None = None,
        extra_theme_dirs: list[Path] | None = None,
        user: UserConfig | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        self.state_dir = Path(state_dir)
        self.host_id = hosts.host_id(self.state_dir)  # whose panes are on this machine
        self.project = project or (config.name if config else self.state_dir.parent.name)
        self.clock = clock
        self.usage = usage
        self.live = live
        self.screen_source = screen_source
        self.supervisor_alive_fn = supervisor_alive
        self.snapshots = 0  # snapshots shown so far
        self.theme_errors: list[str] = []
        dirs = theme_dirs(config.base_dir if config else None) + (extra_theme_dirs or [])
        loaded = load_themes(dirs)
        self.theme_errors = loaded.errors
        for t in loaded.themes.values():
            self.register_theme(t)
        self.theme_names = list(loaded.themes)
        wanted = (
            theme
            or (config.theme if config else None)
            or (user.theme if user else None)
            or DEFAULT_THEME
        )
        if wanted not in loaded.themes:
            known = ", ".join(self.theme_names) or "none"
            self.theme_errors.append(
                f"unknown theme {wanted!r} (known: {known}); using {DEFAULT_THEME}"
            )
            wanted = DEFAULT_THEME if DEFAULT_THEME in loaded.themes else "textual-dark"
        self.theme = wanted
        # The user's keymap with the project's on top (a key bound twice is a ConfigError).
        self.keymap = effective_keymap(user, config)
        self.gc_policy = GcPolicy()
        self.crash: tuple[Exception, Path | None] | None = None  # what ended the app, its log

    def _handle_exception(self, error: Exception) -> None:
        """A bug in a handler: keep the traceback in a crash log, not on the user's terminal."""
        from overseer.tui.crash import write_crash_log

        if self.crash is None:
            log = write_crash_log(error, self.state_dir, ["tui"])
            self.crash = (error, log)
        super()._handle_exception(error)
        if self.crash[1] is not None:
            # The caller prints one line naming the log; Textual would print the traceback.
            self._exit_renderables.clear()

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = True,
    ) -> None:
        """A notification shown as plain text: messages carry data (prompts, ids, reasons)."""
        # `[y/N]` in a prompt would be read as markup and vanish, and `[/]` would crash.
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=False)

    # -- start -----------------------------------------------------------------------

    def get_default_screen(self) -> Screen[Any]:
        return MainScreen(services=self)  # this app provides everything Services declares

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        for err in self.theme_errors:
            self.notify(err, title="theme", severity="warning", timeout=8)
        self.set_interval(30.0, self.gc_policy.tick)

    def on_unmount(self) -> None:
        self.gc_policy.release()

    def shown(self) -> None:
        """A snapshot is on screen; after the first, freeze what it built (see tui.gcpolicy)."""
        self.snapshots += 1
        if self.snapshots == 1 and self.gc_policy.frozen_at is None:
            self.call_after_refresh(self.gc_policy.settle)

    # -- data ------------------------------------------------------------------------

    def make_reader(self) -> SnapshotReader:
        """A store reader for a worker thread (its own connection)."""
        cfg = self.config
        kw: dict[str, Any] = {}
        if self.clock is not None:
            kw["clock"] = self.clock
        return SnapshotReader(
            self.state_dir / DB_NAME,
            project=self.project,
            warn=cfg.heartbeat.warn if cfg else 30.0,
            alert=cfg.heartbeat.alert if cfg else 90.0,
            usage=self.usage,
            supervisor_alive=self.supervisor_alive_fn or (lambda: is_held(self.state_dir)),
            **kw,
        )

    @property
    def tmux_label(self) -> str | None:
        return server_label(self.config.name, self.state_dir) if self.config else None

    def screen_of(self, agent: str, pane_id: str | None) -> str | None:
        """The live screen of one pane (capture-pane), for the pane on view only."""
        if self.screen_source is not None:
            return self.screen_source(agent, pane_id)
        label = self.tmux_label
        if not label or not pane_id or host_of(agent) not in (None, self.host_id):
            return None  # another host's pane ids name panes of its own tmux server
        try:
            return TmuxServer(label).capture(pane_id, escapes=True)
        except TmuxError:
            return None

    def agent_row(self, name: str) -> Agent | None:
        """One agent's stored row as it is now (an answer is checked against it)."""
        store = project_store(self.state_dir)
        try:
            return store.agent(name)
        finally:
            store.close()

    def send_command(self, verb: str, target: str, args: dict[str, Any]) -> Outcome:
        """Write one operator command and wait for its result (worker thread)."""
        return send(self.state_dir, self.config, verb, target, args, wait=10.0)

    # -- actions that need the app ---------------------------------------------------

    def attach(self, agent: str) -> None:
        """Hand the terminal to the agent's pane; come back on detach."""
        store = project_store(self.state_dir)
        try:
            host = host_elsewhere(store, self.state_dir, agent)
            command = ssh_attach(store, self.config, host, agent) if host else None
        except OverseerError as exc:
            self.notify(str(exc), severity="error", timeout=10)
            return
        finally:
            store.close()
        if command is not None:  # on another host: over ssh, in this terminal
            with self.suspend():
                subprocess.run(command, check=False)
            return
        label = self.tmux_label
        if label is None:
            self.notify("no config: cannot find the tmux server", severity="error")
            return
        base = ["tmux", "-L", label]
        target = f"=overseer:={agent}"
        try:
            subprocess.run(
                [*base, "select-window", "-t", target], check=True, capture_output=True, timeout=5
            )
        except (OSError, subprocess.SubprocessError) as exc:
            self.notify(f"cannot select {agent}'s window: {exc}", severity="error")
            return
        attach = [*base, "attach-session", "-t", "=overseer"]
        env = None
        note = None
        if os.environ.get("TMUX"):
            why = self.popup(attach)
            if why is None:
                return
            # Nested in the user's tmux (which refuses that while $TMUX is set): its prefix
            # reaches the inner client when pressed twice.
            env = {k: v for k, v in os.environ.items() if k != "TMUX"}
            attach += [";", "display-message", "nested in your tmux: detach with Ctrl-b Ctrl-b d"]
            note = f"attached in this pane, not in a popup: {why}"
        with self.suspend():
            subprocess.run(attach, check=False, env=env)
        if note:
            self.notify(note, severity="warning", timeout=10)

    def popup(self, attach: list[str]) -> str | None:
        """Run `attach` in a popup of the user's own tmux; None when it ran, else why it did not."""
        try:
            version = tmux_version()
        except TmuxError as exc:
            return str(exc)
        if version < POPUP_TMUX:
            return "popups need tmux 3.2, this is {}.{}".format(*version)
        inner = "env -u TMUX " + shlex.join(attach)
        try:
            proc = subprocess.run(
                ["tmux", "display-popup", "-E", "-w", "90%", "-h", "90%", inner],
                capture_output=True,
                text=True,
                timeout=None,
            )
        except OSError as exc:
            return str(exc)
        if proc.returncode != 0:  # e.g. "no current client": this pane is in no attached session
            said = " ".join((proc.stderr or proc.stdout).split())
            return f"tmux display-popup: {said or f'exit status {proc.returncode}'}"
        return None

    def dismiss(self, key: str, evidence_hash: str) -> None:
        """Hide a suggestion until its evidence changes (a store write: call it in a worker)."""
        store = project_store(self.state_dir)
        try:
            store.dismiss_suggestion(key, evidence_hash)
        finally:
            store.close()

    def stop_supervisor(self) -> None:
        """Write the shutdown command, maybe applied here (a store write: call it in a worker)."""
        if self.config is not None:
            send(self.state_dir, self.config, "shutdown", "supervisor", {}, wait=0)

    def cycle_theme(self) -> str:
        """Switch to the next theme (screens restyle when the theme changes); its name."""
        names = self.theme_names or [self.theme]
        nxt = names[(names.index(self.theme) + 1) % len(names)] if self.theme in names else names[0]
        self.theme = nxt
        return nxt

    def action_cycle_theme(self) -> None:
        self.notify(f"theme: {self.cycle_theme()}", timeout=2)

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for a in actions.ACTIONS:
            if a.id == "attach_enter":
                continue
            name = f"action_{a.action.split('(')[0]}"
            method = getattr(screen, name, None) or getattr(self, name, None)
            if method is None:
                continue
            key = actions.key_label(self.keymap.get(a.id, a.key))
            # The palette reads titles as markup: "Filter [/]" would be a closing tag.
            title, text = literal(f"{a.description} [{key}]"), literal(a.help)
            if "(" in a.action:
                arg = a.action.split("(", 1)[1].rstrip(")").strip("'\"")
                yield SystemCommand(title, text, lambda m=method, x=arg: m(x))
            else:
                yield SystemCommand(title, text, method)
