"""Run the real AI coding CLIs (Claude Code, Gemini CLI, Codex) in a private tmux server,
with HOME in a temporary directory, hooks recording every payload, against ModelAPI.

Nothing of the user's own configuration is read or written: each run gets a fresh HOME
with the onboarding and trust answers prepared (see SIGNALS-MEASURED.md), the hooks go in
per-process settings, and the model API is the local stand-in (tests/fakes/model_api.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

API_KEY = "sk-test-0000000000000000000000000000000000000000"  # any key: the stand-in ignores it

CLAUDE_HOOKS = (
    "SessionStart",
    "UserPromptSubmit",
    "PreToolUse",
    "PermissionRequest",
    "PostToolUse",
    "PostToolUseFailure",
    "Notification",
    "Stop",
    "StopFailure",
    "SessionEnd",
)
GEMINI_HOOKS = (
    "SessionStart",
    "BeforeAgent",
    "AfterAgent",
    "BeforeModel",
    "AfterModel",
    "BeforeTool",
    "AfterTool",
    "Notification",
    "SessionEnd",
)
PACKAGES = {
    "claude": "@anthropic-ai/claude-code",
    "gemini": "@google/gemini-cli",
    "codex": "@openai/codex",
}

# A hook: append {"at": epoch seconds, "hook": EVENT, "payload": <stdin JSON>} to FILE, print {}.
# Raw newlines in JSON are only layout (inside strings they are escaped), so tr keeps it one line.
HOOK_SCRIPT = """#!/bin/sh
at=$(date +%s.%N)
payload=$(tr -d '\\n')
printf '{"at": %s, "hook": "%s", "payload": %s}\\n' "$at" "$1" "${payload:-null}" >> "$2"
echo '{}'
"""
# The status line: the same record for each JSON Claude sends it, and one short line to show.
STATUS_SCRIPT = """#!/bin/sh
at=$(date +%s.%N)
payload=$(tr -d '\\n')
printf '{"at": %s, "hook": "statusLine", "payload": %s}\\n' "$at" "${payload:-null}" >> "$1"
echo status
"""
# Codex's notify: the payload is its last argument, not stdin.
NOTIFY_SCRIPT = """#!/bin/sh
for last; do :; done
printf '{"at": %s, "hook": "notify", "payload": %s}\\n' "$(date +%s.%N)" "$last" >> "$1"
"""


def find_cli(name: str) -> Path | None:
    """The CLI's executable: under $OVERSEER_CLI_PREFIX (an npm --prefix) first, then PATH."""
    prefix = os.environ.get("OVERSEER_CLI_PREFIX")
    if prefix:
        for sub in ("node_modules/.bin", "bin", "."):
            path = Path(prefix) / sub / name
            if path.is_file() and os.access(path, os.X_OK):
                return path
    found = shutil.which(name)
    return Path(found) if found else None


def cli_version(binary: Path) -> str:
    """The first word that looks like a version in `CLI --version`."""
    out = subprocess.run(
        [str(binary), "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HOME": "/nonexistent"},
    ).stdout
    for word in out.replace("(", " ").split():
        if word[:1].isdigit() and "." in word:
            return word
    return out.strip()


def read_records(path: Path) -> list[dict[str, Any]]:
    """The hook records appended so far (a half-written last line is left for later)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


@dataclass
class Run:
    """One real CLI in a private tmux server, with its temporary HOME and hook records."""

    cli: str
    binary: Path
    root: Path  # temporary: home/, work/, signals/
    api_url: str
    label: str = field(default_factory=lambda: f"ovs-real-{uuid.uuid4().hex[:10]}")
    width: int = 110
    height: int = 35
    gemini_layer: str = "system"  # where Gemini's hooks go: "system" (env path) or "user" (HOME)

    def __post_init__(self) -> None:
        self.home = self.root / "home"
        self.work = self.root / "work"
        self.signals = self.root / "signals"
        for d in (self.home, self.work, self.signals):
            d.mkdir(parents=True, exist_ok=True)
            d.chmod(0o755)
        self.records = self.signals / "hooks.jsonl"
        self.hook = self._script("hook.sh", HOOK_SCRIPT)

    def _script(self, name: str, body: str) -> Path:
        path = self.signals / name
        path.write_text(body)
        path.chmod(0o755)
        return path

    # -- per CLI: environment, settings, command line -------------------------------------

    def env(self) -> dict[str, str]:
        """The environment: temp HOME, dummy key, the stand-in's URL, no updates."""
        env = {
            "HOME": str(self.home),
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "TERM": "xterm-256color",
            "LANG": os.environ.get("LANG", "C.UTF-8"),
            "SHELL": "/bin/bash",
            "USER": os.environ.get("USER", "root"),
            # The tmux server inherits the tests' environment: with CI=true (CI runs) Gemini
            # CLI draws no input box and exits ("No input provided via stdin").
            "CI": "false",
        }
        if self.cli == "claude":
            env.update(
                ANTHROPIC_BASE_URL=self.api_url,
                ANTHROPIC_API_KEY=API_KEY,
                DISABLE_AUTOUPDATER="1",
                CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            )
        elif self.cli == "gemini":
            env.update(
                GOOGLE_GEMINI_BASE_URL=self.api_url,
                GEMINI_API_KEY=API_KEY,
                GEMINI_CLI_TRUST_WORKSPACE="true",
            )
            if self.gemini_layer == "system":
                env["GEMINI_CLI_SYSTEM_SETTINGS_PATH"] = str(
                    self.signals / "gemini-system-settings.json"
                )
        elif self.cli == "codex":
            env.update(OPENAI_API_KEY=API_KEY)
        return env

    def claude_settings(self) -> Path:
        """A --settings file with a recording command hook for each event and a status line."""
        status = self._script("status.sh", STATUS_SCRIPT)
        hooks = {
            event: [
                {
                    "matcher": "*",
                    "hooks": [
                        {"type": "command", "command": f"{self.hook} {event} {self.records}"}
                    ],
                }
            ]
            for event in CLAUDE_HOOKS
        }
        path = self.signals / "claude-settings.json"
        path.write_text(
            json.dumps(
                {
                    "hooks": hooks,
                    "statusLine": {"type": "command", "command": f"{status} {self.records}"},
                    # Claude Code 2.1.3xx defaults to "auto" mode, which decides permission
                    # prompts itself: ask, as 2.1.197 did, so the dialog can be tested.
                    "permissions": {"defaultMode": "default"},
                },
                indent=1,
            )
        )
        return path

    def prepare_claude(self) -> None:
        """~/.claude.json: onboarding done, the custom key approved, the folder trusted."""
        (self.home / ".claude.json").write_text(
            json.dumps(
                {
                    "hasCompletedOnboarding": True,
                    "theme": "dark",
                    "customApiKeyResponses": {"approved": [API_KEY[-20:]], "rejected": []},
                    "projects": {str(self.work): {"hasTrustDialogAccepted": True}},
                }
            )
        )

    def gemini_hooks(self) -> dict[str, Any]:
        """Gemini's hooks setting: a recording command hook for each event."""
        return {
            event: [
                {
                    "matcher": "*",
                    "hooks": [
                        {"type": "command", "command": f"{self.hook} {event} {self.records}"}
                    ],
                }
            ]
            for event in GEMINI_HOOKS
        }

    def prepare_gemini(self) -> None:
        """~/.gemini/settings.json: API-key auth, no update nags; the hooks in the chosen layer."""
        gem = self.home / ".gemini"
        gem.mkdir(exist_ok=True)
        user: dict[str, Any] = {
            "security": {"auth": {"selectedType": "gemini-api-key"}},
            "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
            "privacy": {"usageStatisticsEnabled": False},
        }
        if self.gemini_layer == "system":
            system = self.signals / "gemini-system-settings.json"
            system.write_text(json.dumps({"hooks": self.gemini_hooks()}, indent=1))
        else:
            user["hooks"] = self.gemini_hooks()
        (gem / "settings.json").write_text(json.dumps(user, indent=1))

    def codex_args(self) -> list[str]:
        """-c overrides: the stand-in as model provider, notify, approval on request."""
        notify = self._script("notify.sh", NOTIFY_SCRIPT)
        provider = (
            f'{{name="mock",base_url="{self.api_url}/v1",wire_api="responses",'
            'env_key="OPENAI_API_KEY",request_max_retries=0,stream_max_retries=0}'
        )
        return [
            "-c",
            "model_provider=mock",
            "-c",
            f"model_providers.mock={provider}",
            "-c",
            "model=mock-model",
            "-c",
            "approval_policy=on-request",
            "-c",
            f'notify=["{notify}","{self.records}"]',
        ]

    def prepare_codex(self) -> None:
        """~/.codex exists (no trust answer needed: Codex asks only inside a git repository)."""
        (self.home / ".codex").mkdir(exist_ok=True)

    def argv(self, extra: list[str] | None = None) -> list[str]:
        """The command line for this CLI."""
        extra = list(extra or [])
        if self.cli == "claude":
            self.prepare_claude()
            return [str(self.binary), "--settings", str(self.claude_settings()), *extra]
        if self.cli == "gemini":
            self.prepare_gemini()
            return [str(self.binary), *extra]
        self.prepare_codex()
        return [str(self.binary), *self.codex_args(), *extra]

    # -- tmux -------------------------------------------------------------------------------

    def tmux(self, *args: str, check: bool = True) -> str:
        """Run a tmux command on the private server."""
        out = subprocess.run(
            ["tmux", "-L", self.label, *args],
            capture_output=True,
            text=True,
            timeout=20,
            check=check,
        )
        return out.stdout

    def start(self, extra: list[str] | None = None, env: dict[str, str] | None = None) -> Run:
        """Start the CLI in a new detached session of the private tmux server."""
        full = {**self.env(), **(env or {})}
        argv = self.argv(extra)
        env_args = [a for k, v in full.items() for a in ("-e", f"{k}={v}")]
        self.tmux(
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-s",
            "cli",
            "-x",
            str(self.width),
            "-y",
            str(self.height),
            "-c",
            str(self.work),
            *env_args,
            *argv,
        )
        self.tmux("set-option", "-g", "remain-on-exit", "on")
        return self

    def screen(self, escapes: bool = False) -> str:
        """The visible screen (with SGR escapes when asked)."""
        return self.tmux("capture-pane", "-p", *(["-e"] if escapes else []), "-t", "cli")

    def type(self, text: str) -> None:
        """Type text literally (no Enter)."""
        self.tmux("send-keys", "-t", "cli", "-l", text)

    def keys(self, *keys: str) -> None:
        """Send tmux key names (Enter, Escape, C-c ...)."""
        self.tmux("send-keys", "-t", "cli", *keys)

    def submit(self, text: str, pause: float = 0.8) -> None:
        """Type a prompt, then Enter after a pause (Codex drops an Enter sent right after text)."""
        self.type(text)
        time.sleep(pause)
        self.keys("Enter")

    def hooks(self, name: str | None = None) -> list[dict[str, Any]]:
        """Hook records so far (of one hook when named)."""
        return [r for r in read_records(self.records) if name is None or r["hook"] == name]

    def pane_pid(self) -> int | None:
        out = self.tmux("display-message", "-p", "-t", "cli", "#{pane_pid}", check=False).strip()
        return int(out) if out.isdigit() else None

    def stop(self) -> None:
        """Kill the tmux server and every process left from this HOME (Codex's app-server)."""
        sock = self.tmux("display-message", "-p", "#{socket_path}", check=False).strip()
        self.tmux("kill-server", check=False)
        deadline = time.monotonic() + 10
        while (left := list(processes_with_home(self.home))) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        # The server's socket file can outlive it when its panes are killed under it.
        if (
            sock
            and Path(sock).exists()
            and subprocess.run(["tmux", "-S", sock, "ls"], capture_output=True).returncode
        ):
            Path(sock).unlink(missing_ok=True)


def processes_with_home(home: Path) -> Iterator[int]:
    """Pids of processes whose environment has HOME=home (daemons a CLI detached)."""
    want = f"HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            env = (entry / "environ").read_bytes()
        except OSError:
            continue
        if want in env.split(b"\0"):  # a zombie's environ reads empty: it is gone
            yield int(entry.name)
