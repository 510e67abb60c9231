"""Crash context: when an agent dies or an attempt is lost, what it looked like is kept under
`.overseer/crashes/<time>-<agent>/` (0700, files 0600, never written through a link): the
last screen, the log's tail and the attempt's events (secrets masked), the command, and a
`context.json` saying what happened. Bounded by `retention:` (days and a count)."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from overseer.agents.stream import to_text
from overseer.agents.tmux import TmuxError
from overseer.state.paths import StatePaths, file_stem
from overseer.state.redact import mask
from overseer.state.statedir import check_path, write_private
from overseer.state.store import StoreError, ensure_private_dir

if TYPE_CHECKING:
    from overseer.agents.drivers.base import AgentRuntime, Running
    from overseer.agents.supervisor import Supervisor
    from overseer.state.config import Config

log = logging.getLogger("overseer.supervisor")

TAIL_BYTES = 16384  # the log's tail kept
EVENTS_KEPT = 200  # the attempt's (or agent's) newest events kept
SCREEN_ROWS = 24  # a screen kept from the log: its last rows (tmux's default pane height)
EXCERPT_LINES = 6  # lines of the screen shown by `explain` and the detail panel
FILES = ("screen.txt", "tail.txt", "events.jsonl", "command.txt", "context.json")


@dataclass(frozen=True)
class Crash:
    """One kept crash context, as `explain` and the dashboard show it."""

    path: Path
    context: dict[str, Any]
    excerpt: str  # the last non-blank lines of its screen (else of its log tail)

    @property
    def when(self) -> float:
        """When it was kept."""
        return float(self.context.get("time") or 0.0)


def agent_died(sup: Supervisor, rt: AgentRuntime, pane_id: str | None, why: str) -> None:
    """Keep the context of an agent that died (before its attempt is settled and it respawns)."""
    run = rt.running
    if run is not None:
        run.crash_kept = True
    keep_agent(sup, rt, run, pane_id, f"agent died: {why}")


def attempt_lost(sup: Supervisor, rt: AgentRuntime, run: Running, why: str) -> None:
    """Keep the context of an attempt recorded lost (unless its agent's death kept it)."""
    if not run.crash_kept:
        run.crash_kept = True
        keep_agent(sup, rt, run, rt.pane_id, f"attempt lost: {why}")


def keep_agent(
    sup: Supervisor, rt: AgentRuntime, run: Running | None, pane_id: str | None, why: str
) -> None:
    """The screen: the pane's if it is still there, else the one the agent's driver last
    read (an AI CLI's), else the last lines of the log."""
    tail = to_text(read_tail(sup.paths.log(rt.name)))
    screen = capture(sup, pane_id) or rt.driver.last_screen(rt) or last_lines(tail)
    keep(sup, rt.name, why, screen, tail, run=run)


def lease_expired(sup: Supervisor, task_id: str) -> None:
    """Keep the context of an attempt whose lease ran out (no runtime of ours watched it)."""
    task = sup.store.task(task_id)
    attempts = sup.store.attempts(task_id)
    if task is None or not attempts:
        return
    attempt = attempts[-1]
    tail = to_text(read_tail(sup.paths.log(attempt.agent)))
    pane = None
    with contextlib.suppress(TmuxError):
        pane = sup.tmux.window_pane(attempt.agent)
    keep(
        sup,
        attempt.agent,
        "attempt lost: lease expired",
        capture(sup, pane.pane_id if pane is not None else None) or last_lines(tail),
        tail,
        task_id=task_id,
        attempt=attempt.number,
        started=attempt.started_at,
        command=task.command,
    )


def capture(sup: Supervisor, pane_id: str | None) -> str:
    """The pane's screen if it still exists (a dead pane keeps its last screen), else ''."""
    if not pane_id or sup.server is None:
        return ""
    try:
        return sup.tmux.capture(pane_id)
    except TmuxError:
        return ""


def read_tail(path: Path, size: int = TAIL_BYTES) -> bytes:
    """The last `size` bytes of a log, read without following a link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return b""
    with os.fdopen(fd, "rb") as fh:
        end = fh.seek(0, os.SEEK_END)
        fh.seek(max(0, end - size))
        return fh.read()


def last_lines(text: str, rows: int = SCREEN_ROWS) -> str:
    """What a pane's screen showed last, near enough for line output: the log's last rows
    (replaying 16 KB on a virtual terminal cost 40-170 ms of the loop, measured)."""
    return "\n".join(text.rstrip("\n").split("\n")[-rows:])


def keep(
    sup: Supervisor,
    agent: str,
    why: str,
    screen: str,
    tail: str,
    *,
    run: Running | None = None,
    task_id: str | None = None,
    attempt: int | None = None,
    started: float | None = None,
    command: str | None = None,
) -> Path | None:
    """Write one crash context and trim the old ones; a failure to write is an event, never
    an error of the loop (the attempt is recorded all the same)."""
    if run is not None:
        task_id, attempt = run.task.id, run.attempt.number
        started, command = run.started, run.task.command
    now = time.time()
    # The attempt's events: its task's and its agent's since it began (else the agent's).
    since = (started or now) - 1.0 if task_id is not None else 0.0
    found = {e.id: e for e in sup.store.events(agent=agent) if e.ts >= since}
    if task_id is not None:
        found.update((e.id, e) for e in sup.store.events(task_id=task_id) if e.ts >= since)
    events = [found[i] for i in sorted(found)]
    context = {
        "time": now,
        "agent": agent,
        "task": task_id,
        "attempt": attempt,
        "why": mask(why),
        "started_at": started,
        "pid": os.getpid(),
    }
    try:
        path = write(
            StatePaths(sup.state_dir),
            agent,
            now,
            {
                "screen.txt": mask(screen),
                "tail.txt": mask(tail),
                "events.jsonl": "".join(
                    json.dumps({"ts": e.ts, "kind": e.kind, "message": e.message}) + "\n"
                    for e in events[-EVENTS_KEPT:]
                ),
                "command.txt": mask(command or "") + "\n",
                "context.json": json.dumps(context, indent=2) + "\n",
            },
        )
        prune(StatePaths(sup.state_dir), sup.config, now)
    except (OSError, StoreError) as exc:
        log.warning("crash context of %s not kept: %s", agent, exc)
        sup.store.event("crash.not-kept", f"{agent}: {exc}", agent=agent, task_id=task_id)
        return None
    sup.store.event(
        "crash.kept",
        f"{agent}: context kept in {path}",
        agent=agent,
        task_id=task_id,
        data={"path": str(path), "attempt": attempt},
    )
    return path


def write(paths: StatePaths, agent: str, now: float, files: dict[str, str]) -> Path:
    """Make a new private directory `crashes/<time>-<agent>` and write the files into it."""
    root = ensure_private_dir(paths.crashes)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}"
    for n in range(100):
        path = root / (f"{stamp}-{file_stem(agent)}" + (f"-{n}" if n else ""))
        try:
            os.mkdir(path, 0o700)  # never through a link: an existing name is another try
        except FileExistsError:
            continue
        os.chmod(path, 0o700, follow_symlinks=False)  # whatever the umask
        for name, text in files.items():
            write_private(path / name, text)
        return path
    raise FileExistsError(f"no free crash directory name under {root}")


def entries(paths: StatePaths) -> list[Path]:
    """The kept crash directories, oldest first (their names start with the time)."""
    try:
        st = check_path(paths.crashes)
    except StoreError:  # a link or another user's entry planted there: never listed
        return []
    if st is None or not stat.S_ISDIR(st.st_mode):
        return []
    with os.scandir(paths.crashes) as it:
        found = [Path(e.path) for e in it if e.is_dir(follow_symlinks=False)]
    return sorted(found, key=lambda p: p.name)


def prune(paths: StatePaths, config: Config, now: float, dry_run: bool = False) -> list[Path]:
    """Remove crash contexts older than `retention.days` and beyond the newest
    `retention.crashes`; return what was (or would be) removed."""
    found = entries(paths)
    cutoff = now - config.retention_seconds
    old = [p for p in found if _kept_at(p) < cutoff]
    rest = [p for p in found if p not in old]
    gone = old + rest[: max(0, len(rest) - config.retention_crashes)]
    if not dry_run:
        for path in gone:
            shutil.rmtree(path, ignore_errors=True)  # rmtree never follows links
    return gone


def _kept_at(path: Path) -> float:
    try:
        return path.stat(follow_symlinks=False).st_mtime
    except OSError:
        return 0.0


def newest(paths: StatePaths, *, agent: str | None = None, task: str | None = None) -> Crash | None:
    """The newest crash context of an agent or a task, or None."""
    for path in reversed(entries(paths)):
        context = _read_json(path / "context.json")
        if context is None:
            continue
        if (agent is not None and context.get("agent") != agent) or (
            task is not None and context.get("task") != task
        ):
            continue
        text = _read(path / "screen.txt").strip() or _read(path / "tail.txt").strip()
        lines = [line.rstrip() for line in text.splitlines() if line.strip()]
        return Crash(path, context, "\n".join(lines[-EXCERPT_LINES:]))
    return None


def describe(crash: Crash, base: Path | None = None) -> str:
    """A few lines for `explain` and the detail panel: when, why, where (relative to `base`
    when it is under it), and the excerpt."""
    c = crash.context
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(crash.when))
    what = f"task {c['task']} attempt {c['attempt']} on " if c.get("task") else ""
    path = crash.path
    if base is not None and path.is_relative_to(base):
        path = path.relative_to(base)
    head = f"last crash: {what}{c.get('agent')} at {when}: {c.get('why')}\n  {path}"
    return head + ("\n" + crash.excerpt if crash.excerpt else "")


def _read(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return ""
    with os.fdopen(fd, "r", encoding="utf-8", errors="replace") as fh:
        return fh.read()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(_read(path) or "null")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
