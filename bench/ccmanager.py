"""ccmanager beside Overseer on busy and idle Gemini CLI agents (part of `python -m bench --peers`).

ccmanager (npm) is an Ink TUI that runs AI CLI sessions in git worktrees. Its npm package is a
launcher for a prebuilt binary shipped in a platform package; the bench installs that package
with `npm install --prefix` into bench/results/.cache/ccmanager (never globally; nothing is
fetched by Overseer itself) and runs the binary in a pane of a private tmux server (it needs a
TTY), with a private HOME whose ~/.config/ccmanager/config.json makes the real Gemini CLI its
default preset (state detection "gemini"). Both tools run the same Gemini CLI against the local
model API stand-in (tests/fakes/model_api.py): a "work N" prompt keeps a turn busy N seconds.
CPU counts each tool's own processes: ccmanager's process (not the CLIs it runs); Overseer's
supervisor, its tmux server and pipe-pane helpers (not the CLIs either).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.common import CLEANUP, REPO, BenchError, CpuWindow, Fleet, cpu_seconds, wait_for
from bench.observe import ours_groups
from overseer.agents.tmux import TmuxServer
from tests.fakes.model_api import ModelAPI
from tests.fakes.real_cli import API_KEY, find_cli

AGENTS = 4
BUSY = "work 900"  # the stand-in answers after 900 s: busy for the whole window
# The launcher of `ccmanager` 4.2.3 runs this package's binary; it is published for Linux x64
# only as 4.4.3 (the launcher's own 4.2.3 platform package is not on the registry).
PACKAGE = "@kodaikabasawa/ccmanager-linux-x64"
CACHE = REPO / "bench" / "results" / ".cache" / "ccmanager"


class Unavailable(Exception):
    """ccmanager cannot be run fairly here (the message says exactly why)."""


def install(cache: Path = CACHE) -> Path:
    """The ccmanager binary, installed into `cache` with npm on first use."""
    binary = cache / "node_modules" / PACKAGE / "bin" / "ccmanager"
    if binary.is_file():
        return binary
    npm = shutil.which("npm")
    if npm is None:
        raise Unavailable("npm is not installed: cannot install ccmanager")
    cache.mkdir(parents=True, exist_ok=True)
    try:
        out = subprocess.run(
            [npm, "install", "--prefix", str(cache), "--no-audit", "--no-fund", PACKAGE],
            capture_output=True,
            text=True,
            timeout=600,
        )
    except subprocess.TimeoutExpired:
        raise Unavailable(f"npm install {PACKAGE} took over 600 s") from None
    if out.returncode != 0 or not binary.is_file():
        last = (out.stderr.strip().splitlines() or ["no output"])[-1]
        raise Unavailable(f"npm install {PACKAGE} failed: {last}")
    return binary


def gemini_env(root: Path, api_url: str) -> dict[str, str]:
    """A private HOME where Gemini CLI uses an API key and the stand-in; the environment."""
    home = root / "home"
    gem = home / ".gemini"
    gem.mkdir(parents=True, exist_ok=True)
    settings = {
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"disableAutoUpdate": True, "disableUpdateNag": True},
        "privacy": {"usageStatisticsEnabled": False},
    }
    (gem / "settings.json").write_text(json.dumps(settings))
    return {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "TERM": "xterm-256color",
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "CI": "false",
        "GOOGLE_GEMINI_BASE_URL": api_url,
        "GEMINI_API_KEY": API_KEY,
        "GEMINI_CLI_TRUST_WORKSPACE": "true",
    }


def worktrees(root: Path, n: int, env: dict[str, str]) -> Path:
    """A git repository with n - 1 worktrees beside it (ccmanager lists n): its path."""
    repo = root / "repo"
    repo.mkdir(parents=True)
    names = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost"}
    genv = {**env, **names, "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@localhost"}

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=repo, env=genv, check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    (repo / "README").write_text("bench\n")
    git("add", "README")
    git("commit", "-qm", "bench")
    for i in range(1, n):
        git("worktree", "add", "-q", "-b", f"w{i}", str(root / f"w{i}"))
    return repo


def ccmanager(binary: Path, gemini: Path, root: Path, window: float, busy: bool) -> dict[str, Any]:
    """ccmanager with AGENTS Gemini sessions (busy on a prompt, or idle): its CPU."""
    with ModelAPI() as api:
        env = gemini_env(root, api.url)
        config = Path(env["HOME"]) / ".config" / "ccmanager"
        config.mkdir(parents=True)
        preset = {"id": "1", "name": "Gemini", "command": str(gemini), "args": []}
        preset["detectionStrategy"] = "gemini"
        presets = {"presets": [preset], "defaultPresetId": "1"}
        (config / "config.json").write_text(json.dumps({"commandPresets": presets}))
        repo = worktrees(root, AGENTS, env)
        label = f"ovb-ccm-{os.getpid()}"
        tmux = TmuxServer(label)
        CLEANUP.labels.add(label)
        try:
            tmux.run(
                "-f", "/dev/null", "new-session", "-d", "-s", "ccm", "-x", "160", "-y", "45",
                "-c", str(repo), *[a for k, v in env.items() for a in ("-e", f"{k}={v}")],
                str(binary),
            )  # fmt: skip

            def screen() -> str:
                return tmux.run("capture-pane", "-p", "-t", "ccm").stdout

            wait_for(lambda: "Select a worktree" in screen(), 60, "ccmanager showed no menu")

            def started() -> bool:
                text = screen()
                return "Type your message" in text and "Select a worktree" not in text

            for i in range(AGENTS):
                # Quick-select worktree i (again if the menu was not listening yet).
                for _ in range(5):
                    tmux.run("send-keys", "-t", "ccm", str(i))
                    time.sleep(3.0)
                    if "Select a worktree" not in screen():
                        break
                try:
                    wait_for(started, 180, f"ccmanager's Gemini session {i} showed no input box")
                except BenchError as exc:
                    raise BenchError(f"{exc}; its screen:\n{screen()}") from None
                if busy:
                    time.sleep(1.0)  # Gemini drops input typed while it still starts
                    tmux.run("send-keys", "-t", "ccm", "-l", BUSY)
                    time.sleep(0.8)
                    tmux.run("send-keys", "-t", "ccm", "Enter")
                    wait_for(
                        lambda: "esc to cancel" in screen(),
                        30,
                        f"ccmanager's Gemini session {i} did not start its turn",
                        interval=0.3,
                    )
                tmux.run("send-keys", "-t", "ccm", "C-e")  # back to the menu
                wait_for(lambda: "Select a worktree" in screen(), 30, "no menu after C-e")
            pid = int(tmux.run("display-message", "-p", "-t", "ccm", "#{pane_pid}").stdout)
            time.sleep(3.0)  # the sessions settle
            busy_now = screen().count("[● Busy]")  # sessions the menu shows busy
            before, t0 = cpu_seconds(pid, False) or 0.0, time.monotonic()
            time.sleep(window)
            used, wall = (cpu_seconds(pid, False) or 0.0) - before, time.monotonic() - t0
            if busy and not any(r.prompt.startswith("work") for r in api.seen()):
                raise Unavailable("ccmanager's Gemini sessions never asked the stand-in")
            return {
                "cpu_pct": round(100.0 * used / wall, 2),
                "window_s": round(wall, 2),
                "menu_busy": busy_now,
                "version": subprocess.run(
                    [str(binary), "--version"], capture_output=True, text=True
                ).stdout.strip(),
            }
        finally:
            tmux.kill_server()
            CLEANUP.labels.discard(label)


def overseer(gemini: Path, root: Path, window: float, busy: bool) -> dict[str, Any]:
    """Overseer with AGENTS Gemini agents (busy on a prompt, or idle), headless: its CPU."""
    with ModelAPI() as api:
        env = gemini_env(root, api.url)
        work = root / "work"
        work.mkdir(parents=True)
        agent = {"kind": "gemini", "command": str(gemini), "env": env, "cwd": str(work)}
        tasks = [{"id": f"b{i}", "prompt": BUSY} for i in range(AGENTS)] if busy else []
        name = f"ovb-gem{'b' if busy else 'i'}"
        with Fleet(root, name, AGENTS, tasks, agent=agent) as fleet:
            fleet.start(timeout=120)
            state = "busy" if busy else "idle"
            wait_for(
                lambda: fleet.count_agents(state) == AGENTS,
                120,
                f"{AGENTS} Gemini agents did not all get {state}",
                interval=0.3,
            )
            time.sleep(3.0)
            meter = CpuWindow(ours_groups(fleet))
            meter.start()
            time.sleep(window)
            cpu = meter.stop()
            still = fleet.count_agents(state)
            signals = [a.signals for a in fleet.store.agents()]
        return {"cpu_pct": cpu["total"], "cpu": cpu, f"{state}_at_end": still,
                "signals_live": sum(1 for s in signals if s and s.get("session_started"))}  # fmt: skip


def compare(tmp: Path, window: float) -> dict[str, Any]:
    """Both tools on busy and idle Gemini agents: the figures, or Unavailable with the reason."""
    if shutil.which("tmux") is None:
        raise Unavailable("tmux is not installed")
    gemini = find_cli("gemini")
    if gemini is None:
        raise Unavailable(
            "Gemini CLI is not installed (PATH or OVERSEER_CLI_PREFIX): "
            "npm install --prefix DIR @google/gemini-cli and set OVERSEER_CLI_PREFIX=DIR"
        )
    binary = install()
    out: dict[str, Any] = {"agents": AGENTS, "window_s": window, "load_start": os.getloadavg()}
    for busy in (True, False):
        what = "busy" if busy else "idle"
        out[f"ccmanager_{what}"] = ccmanager(binary, gemini, tmp / f"ccm-{what}", window, busy)
        out[f"overseer_{what}"] = overseer(gemini, tmp / f"ovs-{what}", window, busy)
    out["load_end"] = os.getloadavg()
    return out
