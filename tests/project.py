"""A throwaway Overseer project in tmp_path: config, CLI calls, a supervisor subprocess."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from overseer.agents.tmux import TmuxServer, server_label
from overseer.state.models import Attempt, TaskState
from overseer.state.store import Store, open_store
from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[1]


class Project:
    """One project directory with its own state dir and private tmux server."""

    def __init__(self, root: Path, name: str = "t") -> None:
        self.root = root
        self.name = name
        self.config = root / "overseer.yaml"
        self.state_dir = root / ".overseer"
        self.procs: list[subprocess.Popen[str]] = []
        self._store: Store | None = None
        self.store_url: str | None = None  # a PostgreSQL store (written as `store:` by write)

    # -- setup ----------------------------------------------------------------------

    def write(self, body: str, **top: Any) -> Project:
        """Write overseer.yaml: `body` (agents/tasks YAML) under a header of top-level keys."""
        header = {"name": self.name, "stall_timeout": 30, "pause_after": 0}
        header.update(top)
        self.store_url = top.get("store")
        lines = [f"{k}: {json.dumps(v)}" for k, v in header.items()]
        self.config.write_text("\n".join(lines) + "\n" + textwrap.dedent(body))
        return self

    @property
    def label(self) -> str:
        """The private tmux server's socket name."""
        return server_label(self.name, self.state_dir)

    @property
    def tmux(self) -> TmuxServer:
        """A handle on the project's private tmux server."""
        return TmuxServer(self.label)

    # -- commands -------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.pop("TMUX", None)
        return env

    def cli(
        self, *args: str, check: bool = False, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run `overseer ARGS -c overseer.yaml` and return the finished process."""
        sub, *rest = args
        cmd = [sys.executable, "-m", "overseer.tui.cli", sub, "-c", str(self.config), *rest]
        proc = subprocess.run(
            cmd, cwd=self.root, env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"{cmd} -> {proc.returncode}\n{proc.stdout}\n{proc.stderr}")
        return proc

    def start(self, *args: str, program: Sequence[str] = ()) -> subprocess.Popen[str]:
        """Start `overseer run` in the background (`program`: instead of `python -m
        overseer.tui.cli`, a command that takes the same arguments)."""
        entry = list(program) or [sys.executable, "-m", "overseer.tui.cli"]
        cmd = [*entry, "run", "-c", str(self.config), "-q", *args]
        proc = subprocess.Popen(
            cmd,
            cwd=self.root,
            env=self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.procs.append(proc)
        wait_until(
            lambda: proc.poll() is not None or self._beating(),
            timeout=30,
            message="supervisor did not start",
        )
        if proc.poll() is not None:
            raise AssertionError(
                f"supervisor exited {proc.returncode}: {proc.stdout and proc.stdout.read()}"
            )
        return proc

    def _beating(self) -> bool:
        if self.store_url is None and not (self.state_dir / "state.db").exists():
            return False
        pids = {p.pid for p in self.procs}
        if self.store_url is not None:  # several hosts' supervisors may share the store
            return any(h.heartbeat_at is not None and h.pid in pids for h in self.store.hosts())
        sup = self.store.supervisor()
        return sup.heartbeat_at is not None and sup.pid in pids

    def kill9(self, proc: subprocess.Popen[str]) -> None:
        """kill -9 the supervisor."""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)

    # -- reading --------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """A read connection to the project's store."""
        if self._store is None:
            self._store = (
                open_store(self.store_url) if self.store_url else Store(self.state_dir / "state.db")
            )
        return self._store

    def close_store(self) -> None:
        """Drop the read connection (before the state dir is removed under it)."""
        if self._store is not None:
            self._store.close()
            self._store = None

    def task_state(self, task_id: str) -> TaskState | None:
        t = self.store.task(task_id)
        return t.state if t else None

    def wait_task(self, task_id: str, *states: TaskState, timeout: float = 30) -> None:
        wait_until(
            lambda: self.task_state(task_id) in states,
            timeout=timeout,
            message=f"task {task_id} never reached {[s.value for s in states]} "
            f"(events: {[e.message for e in self.store.events(task_id=task_id)][-6:]})",
        )

    def attempt_showing(self, task_id: str, text: str, number: int = 1) -> Attempt:
        """The task's attempt `number` once its recorded output shows `text`: an exit known
        from its rc file is recorded at once, and its last output follows it into the store
        a moment later (when its sentinel reaches the log)."""

        def showing() -> Attempt | None:
            a = next((a for a in self.store.attempts(task_id) if a.number == number), None)
            return a if a is not None and text in a.output_tail else None

        return wait_until(
            showing,
            timeout=10,
            message=f"{task_id} attempt {number} never showed {text!r}: "
            f"{[a.output_tail[-300:] for a in self.store.attempts(task_id)]}",
        )

    def agent_state(self, name: str) -> str | None:
        a = self.store.agent(name)
        return a.state.value if a else None

    # -- teardown -------------------------------------------------------------------

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(timeout=10)
            if proc.stdout:
                proc.stdout.close()
        self.stop_detached_supervisor()
        if self._store is not None:
            self._store.close()
        self.tmux.kill_server()

    def stop_detached_supervisor(self) -> None:
        """Stop a supervisor this test did not start itself (`overseer up` detaches one)."""
        from overseer.agents.lock import holder, is_held

        if not self.state_dir.exists() or not is_held(self.state_dir):
            return
        pid = holder(self.state_dir / "supervisor.lock")
        if pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            wait_until(
                lambda: not is_held(self.state_dir),
                timeout=15,
                message=f"supervisor {pid} did not stop",
            )
