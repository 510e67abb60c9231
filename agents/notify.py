"""The `notify:` hook: run a command for events that need a person, never blocking the loop.

The supervisor calls `Notifier.poll()` once a sweep, and `flush()` before it exits. It reads the event log from where it
left off, picks the subscribed kinds (task.blocked, agent.waiting, ...), rate-limits them
per event and target, and starts the hook with `subprocess.Popen` (its own session, output
appended to `.overseer/notify.log`). Later polls reap finished hooks, kill ones that run too
long, and record failures in the event log. Nothing here waits for a hook.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from overseer.state.config import NotifyConfig
from overseer.state.models import Event
from overseer.state.paths import StatePaths
from overseer.state.redact import mask, mask_env
from overseer.state.store import Store

log = logging.getLogger("overseer.notify")

MAX_RUNNING = 2  # hooks at once; more wait in the queue
QUEUE_MAX = 32  # queued notifications beyond this drop the oldest
HOOK_TIMEOUT = 30.0  # seconds before a hook is killed
FLUSH_TIMEOUT = 5.0  # at exit: how long the last notifications may hold the supervisor up
LOG_MAX = 1 << 20  # notify.log is truncated when it grows past this
_PARENS = re.compile(r"\((?P<inner>.*)\)\s*$")


@dataclass(frozen=True)
class Notification:
    """One hook run to make: the event and the environment the command gets."""

    event_id: int
    kind: str
    task: str
    agent: str
    reason: str
    message: str

    def env(self, project: str) -> dict[str, str]:
        """The OVERSEER_* variables of the hook (secrets masked)."""
        return mask_env(
            {
                "OVERSEER_EVENT": self.kind,
                "OVERSEER_TASK": self.task,
                "OVERSEER_AGENT": self.agent,
                "OVERSEER_REASON": self.reason,
                "OVERSEER_MESSAGE": self.message,
                "OVERSEER_EVENT_ID": str(self.event_id),
                "OVERSEER_PROJECT": project,
            }
        )


@dataclass
class _Running:
    proc: subprocess.Popen[bytes]
    started: float
    note: Notification


def reason_of(event: Event, store: Store) -> str:
    """The plain reason a person reads: a block's reason, an agent's state cause, or the message."""
    if event.kind == "task.blocked" and event.task_id:
        task = store.task(event.task_id)
        if task is not None and task.blocked_reason:
            return task.blocked_reason
    if event.kind.startswith("agent."):
        m = _PARENS.search(event.message)
        if m:
            return m.group("inner")
    return event.message


class Notifier:
    """Runs the configured hook for subscribed events, rate-limited and without waiting."""

    def __init__(
        self,
        config: NotifyConfig,
        store: Store,
        state_dir: Path,
        *,
        cwd: Path | None = None,
        project: str = "",
        clock: Callable[[], float] = time.monotonic,
        timeout: float = HOOK_TIMEOUT,
    ) -> None:
        self.config = config
        self.store = store
        self.log_path = StatePaths(Path(state_dir)).notify_log
        self.cwd = cwd
        self.project = project
        self.clock = clock
        self.timeout = timeout
        self.kinds = frozenset(config.events)
        newest = store.recent_events(1)
        self.last_event = newest[-1].id if newest else 0  # only events from now on notify
        self.queue: deque[Notification] = deque()
        self.running: list[_Running] = []
        self.sent: dict[tuple[str, str, str], float] = {}
        self.dropped = 0

    # -- the loop's entry point -------------------------------------------------------

    def poll(self) -> None:
        """Reap finished hooks, take new events, start what the limits allow. Never waits."""
        self.reap()
        for event in self.store.events(since=self.last_event, limit=1000):
            self.last_event = event.id
            if event.kind in self.kinds:
                self.offer(event)
        while self.queue and len(self.running) < MAX_RUNNING:
            self.start(self.queue.popleft())
        if self.dropped:
            self.store.event(
                "notify.dropped",
                f"notify: {self.dropped} notification(s) dropped (too many at once)",
            )
            self.dropped = 0

    def offer(self, event: Event) -> bool:
        """Queue a notification for an event unless the same one went out too recently."""
        key = (event.kind, event.task_id or "", event.agent or "")
        now = self.clock()
        last = self.sent.get(key)
        if last is not None and now - last < self.config.min_interval:
            return False
        self.sent[key] = now
        if len(self.queue) >= QUEUE_MAX:
            self.queue.popleft()
            self.dropped += 1
        self.queue.append(
            Notification(
                event_id=event.id,
                kind=event.kind,
                task=event.task_id or "",
                agent=event.agent or "",
                reason=mask(reason_of(event, self.store)),
                message=mask(event.message),
            )
        )
        return True

    # -- processes ----------------------------------------------------------------------

    def start(self, note: Notification) -> None:
        """Start the hook for one notification (failures to start are logged, not raised)."""
        env = {**os.environ, **note.env(self.project)}
        try:
            if self.log_path.exists() and self.log_path.stat().st_size > LOG_MAX:
                self.log_path.unlink()
            flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW
            fd = os.open(self.log_path, flags, 0o600)
        except OSError as exc:
            self.failed(note, f"cannot open {self.log_path}: {exc}")
            return
        try:
            proc = subprocess.Popen(
                ["/bin/sh", "-c", self.config.command],
                stdin=subprocess.DEVNULL,
                stdout=fd,
                stderr=fd,
                env=env,
                cwd=self.cwd,
                start_new_session=True,
            )
        except OSError as exc:
            self.failed(note, f"could not start the hook: {exc}")
            return
        finally:
            os.close(fd)
        self.running.append(_Running(proc, self.clock(), note))

    def reap(self) -> None:
        """Collect finished hooks; kill the ones past their time limit."""
        now = self.clock()
        still: list[_Running] = []
        for run in self.running:
            code = run.proc.poll()
            if code is None:
                if now - run.started < self.timeout:
                    still.append(run)
                    continue
                self.kill(run.proc)
                self.failed(run.note, f"the hook ran longer than {self.timeout:g}s and was killed")
                continue
            if code != 0:
                self.failed(run.note, f"the hook exited {code}{self.last_output()}")
        self.running = still

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """End a hook and everything it started, and reap it."""
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
        try:
            proc.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            log.warning("notify hook %s did not die", proc.pid)

    def last_output(self) -> str:
        """The last line the hooks wrote, for a failure message."""
        try:
            with open(self.log_path, "rb") as fh:
                fh.seek(max(0, fh.seek(0, os.SEEK_END) - 300))
                lines = fh.read().decode("utf-8", "replace").strip().splitlines()
        except OSError:
            return ""
        return f": {mask(lines[-1].strip())}" if lines else ""

    def failed(self, note: Notification, why: str) -> None:
        """Record a hook failure in the event log (it never stops the supervisor)."""
        log.warning("notify hook for %s failed: %s", note.kind, why)
        self.store.event(
            "notify.failed",
            f"notify hook for {note.kind} failed: {why}",
            task_id=note.task or None,
            agent=note.agent or None,
            data={"event_id": note.event_id},
        )

    def flush(self, timeout: float = FLUSH_TIMEOUT) -> None:
        """Before the supervisor exits: notify the events not taken yet, waiting at most
        `timeout` seconds for the hooks to start and finish (the rest finish on their own)."""
        deadline = time.monotonic() + timeout
        self.poll()
        while (self.queue or self.running) and time.monotonic() < deadline:
            time.sleep(0.02)
            self.poll()

    def close(self) -> None:
        """Reap what has finished; hooks still running are left to finish on their own."""
        self.reap()
        self.queue.clear()
