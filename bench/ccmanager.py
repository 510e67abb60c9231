"""ccmanager beside Overseer on busy and idle Gemini CLI and Codex agents (`python -m bench --peers`).

ccmanager (npm) is an Ink TUI that runs AI CLI sessions in git worktrees. Its npm package is a
launcher for a prebuilt binary shipped in a platform package; the bench installs that package
with `npm install --prefix` into bench/results/.cache/ccmanager (never globally; nothing is
fetched by Overseer itself) and runs the binary in a pane of a private tmux server (it needs a
TTY), with a private HOME whose ~/.config/ccmanager/config.json makes the real CLI its default
preset (state detection "gemini" or "codex"; Codex's trust question is answered in its config
beforehand). Both tools run the same CLI against the local model API stand-in (tests/fakes/model_api.py): a "work N" prompt keeps a turn busy N seconds.
CPU counts each tool's own processes: ccmanager's process (not the CLIs it runs); Overseer's
supervisor, its tmux server and pipe-pane helpers (not the CLIs either).
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.busy_ai import place
from bench.common import CLEANUP, REPO, BenchError, CpuWindow, Fleet, cpu_seconds, wait_for
from bench.observe import ours_groups
from overseer.agents.tmux import TmuxServer
from tests.fakes.model_api import ModelAPI
from tests.fakes.real_cli import Run, find_cli

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


@dataclass(frozen=True)
class Cli:
    """What the bench needs to know of one CLI: how ccmanager detects it, what its screen shows."""

    name: str
    label: str  # in rows and messages
    ready: str  # the session's input box is up
    busy: str  # a turn runs


CLIS = (
    Cli("gemini", "Gemini", ready="Type your message", busy="esc to cancel"),
    Cli("codex", "Codex", ready="for shortcuts", busy="esc to interrupt"),
)


def prepare(cli: Cli, binary: Path, root: Path, api_url: str) -> tuple[dict[str, str], list[str]]:
    """A private HOME where the CLI uses an API key and the stand-in: its environment and the
    arguments that point it there (Codex: the stand-in as its model provider)."""
    run = Run(cli.name, binary, root / "cli", api_url)
    run.argv()  # prepares HOME (onboarding, API-key auth)
    env = {k: v for k, v in run.env().items() if k != "GEMINI_CLI_SYSTEM_SETTINGS_PATH"}
    return env, run.codex_args()[:-2] if cli.name == "codex" else []  # without the recording notify


def trust(cli: Cli, env: dict[str, str], folders: list[Path]) -> None:
    """Codex asks whether to trust a git repository: answer it beforehand in its config."""
    if cli.name == "codex":
        lines = [f'[projects."{f}"]\ntrust_level = "trusted"\n' for f in folders]
        (Path(env["HOME"]) / ".codex" / "config.toml").write_text("\n".join(lines))


def worktrees(root: Path, n: int, env: dict[str, str]) -> list[Path]:
    """A git repository with n - 1 worktrees beside it (ccmanager lists n): their paths."""
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
    return [repo, *(root / f"w{i}" for i in range(1, n))]


def ccmanager(
    binary: Path, cli: Cli, program: Path, root: Path, window: float, busy: bool
) -> dict[str, Any]:
    """ccmanager with AGENTS sessions of one CLI (busy on a prompt, or idle): its CPU."""
    with ModelAPI() as api:
        env, args = prepare(cli, program, root, api.url)
        config = Path(env["HOME"]) / ".config" / "ccmanager"
        config.mkdir(parents=True)
        preset = {"id": "1", "name": cli.label, "command": str(program), "args": args}
        preset["detectionStrategy"] = cli.name
        presets = {"presets": [preset], "defaultPresetId": "1"}
        (config / "config.json").write_text(json.dumps({"commandPresets": presets}))
        folders = worktrees(root, AGENTS, env)
        trust(cli, env, folders)
        repo = folders[0]
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
                return cli.ready in text and "Select a worktree" not in text

            for i in range(AGENTS):
                # Quick-select worktree i (again if the menu was not listening yet).
                for _ in range(5):
                    tmux.run("send-keys", "-t", "ccm", str(i))
                    time.sleep(3.0)
                    if "Select a worktree" not in screen():
                        break
                try:
                    wait_for(
                        started, 180, f"ccmanager's {cli.label} session {i} showed no input box"
                    )
                except BenchError as exc:
                    raise BenchError(f"{exc}; its screen:\n{screen()}") from None
                if busy:
                    time.sleep(1.0)  # a CLI drops input typed while it still starts
                    tmux.run("send-keys", "-t", "ccm", "-l", BUSY)
                    time.sleep(0.8)
                    tmux.run("send-keys", "-t", "ccm", "Enter")
                    wait_for(
                        lambda: cli.busy in screen(),
                        30,
                        f"ccmanager's {cli.label} session {i} did not start its turn",
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
                raise Unavailable(f"ccmanager's {cli.label} sessions never asked the stand-in")
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


def overseer(cli: Cli, program: Path, root: Path, window: float, busy: bool) -> dict[str, Any]:
    """Overseer with AGENTS agents of one CLI (busy on a prompt, or idle), headless: its CPU."""
    with ModelAPI() as api:
        env, args = prepare(cli, program, root, api.url)
        work = root / "work"
        work.mkdir(parents=True)
        command = shlex.join([str(program), *args])
        agent = {"kind": cli.name, "command": command, "env": env, "cwd": str(work)}
        tasks = [{"id": f"b{i}", "prompt": BUSY} for i in range(AGENTS)] if busy else []
        name = f"ovb-{cli.name[:3]}{'b' if busy else 'i'}"
        with Fleet(root, name, AGENTS, tasks, agent=agent) as fleet:
            fleet.start(timeout=120)
            state = "busy" if busy else "idle"
            wait_for(
                lambda: fleet.count_agents(state) == AGENTS,
                120,
                f"{AGENTS} {cli.label} agents did not all get {state}",
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
    """Both tools on busy and idle agents of each CLI: the figures, or Unavailable with the
    reason (for every CLI at once; for one CLI, the reason under its name)."""
    if shutil.which("tmux") is None:
        raise Unavailable("tmux is not installed")
    programs = {cli.name: find_cli(cli.name) for cli in CLIS}
    if not any(programs.values()):
        raise Unavailable(
            "neither Gemini CLI nor Codex is installed (PATH or OVERSEER_CLI_PREFIX): npm install "
            "--prefix DIR @google/gemini-cli @openai/codex and set OVERSEER_CLI_PREFIX=DIR"
        )
    binary = install()
    # As for busy-ai: under /run when root, so that Gemini takes Overseer's hooks (it refuses
    # settings under a group- or other-writable parent such as /tmp).
    base, private = place(tmp)
    out: dict[str, Any] = {"agents": AGENTS, "window_s": window, "load_start": os.getloadavg()}
    out["hooks_possible"] = private
    try:
        for cli in CLIS:
            program = programs[cli.name]
            if program is None:
                out[cli.name] = {
                    "missing": f"{cli.label} is not installed (PATH or OVERSEER_CLI_PREFIX)"
                }
                continue
            got: dict[str, Any] = {}
            for busy in (True, False):
                what = "busy" if busy else "idle"
                where = base / f"{cli.name}-{what}"
                got[f"ccmanager_{what}"] = ccmanager(
                    binary, cli, program, where / "ccm", window, busy
                )
                got[f"overseer_{what}"] = overseer(cli, program, where / "ovs", window, busy)
            out[cli.name] = got
    finally:
        if private:
            shutil.rmtree(base, ignore_errors=True)
    out["load_end"] = os.getloadavg()
    return out
