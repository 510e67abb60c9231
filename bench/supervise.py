"""`Supervisor.run()` (what `overseer run -q` runs) with a probe that timestamps its work.

The probe wraps two functions and nothing else:
- `LogStream.read_new`: when the loop reads bytes holding bench markers (OVB|id|time|), it
  records (read time, written time) — "a byte written in a pane -> seen by the supervisor";
- `state.queue.finish`: after the transaction commits it records (task, attempt, time) —
  "process end -> attempt recorded in the store".
It also records how long each `step()` takes. The records are written as JSON at exit.

With `--steps DIR` it also follows each exit step by step (`StepProbe`): the wrapper stamps
the moment it prints its sentinel into DIR, and the supervisor stamps the inotify wake-up, the
hand-over to the loop, the log read, the finishing transaction and the next dispatch. With
`--cprofile FILE` the supervisor runs under cProfile (the loop thread's CPU time, function
by function).
Usage: python -m bench.supervise --config FILE --state-dir DIR --probe OUT.json
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import MARK_RE
from overseer.agents import runner, stream
from overseer.agents.drivers.base import AgentRuntime, Ended
from overseer.agents.supervisor import Supervisor
from overseer.state import queue
from overseer.state.config import load_config
from overseer.state.store import Store


class Commits:
    """The commit of the store's outermost transaction: a record's writes (the attempt's end
    and the agent's state) are one transaction, so a figure ends when that commits."""

    def __init__(self, store: Store) -> None:
        self.after: list[Callable[[float], None]] = []
        self.depth = 0
        tx = store.tx

        @contextlib.contextmanager
        def probed() -> Iterator[Any]:
            self.depth += 1
            try:
                with tx() as c:
                    yield c
            except BaseException:
                self.after.clear()  # rolled back: nothing committed
                raise
            finally:
                self.depth -= 1
            if self.depth == 0:
                self.committed(time.time())

        store.tx = probed  # type: ignore[method-assign]

    def committed(self, at: float) -> None:
        calls, self.after = self.after, []
        for call in calls:
            call(at)

    def then(self, call: Callable[[float], None]) -> None:
        """Call `call(commit time)` once the open transaction commits (now when none is)."""
        if self.depth == 0:
            call(time.time())
        else:
            self.after.append(call)


class Probe:
    """In-process timestamps of the supervisor's reads, records and loop steps."""

    def __init__(self) -> None:
        self.marks: list[tuple[float, float]] = []  # (seen, written)
        self.finished: list[tuple[str, int, float]] = []  # (task, attempt, committed)
        self.steps: list[tuple[float, float]] = []  # (start, seconds)

    def install(self, sup: Supervisor, commits: Commits) -> None:
        """Wrap the read path, the finishing transaction and the loop step."""
        marks, finished, steps = self.marks, self.finished, self.steps
        read_new = stream.LogStream.read_new

        def probed_read(self: stream.LogStream, max_bytes: int = 4 << 20) -> bytes:
            data = read_new(self, max_bytes)
            if data and b"OVB|" in data:
                seen = time.time()
                marks.extend((seen, float(m.group(2))) for m in MARK_RE.finditer(data))
            return data

        finish = queue.finish

        def probed_finish(*args: Any, **kwargs: Any) -> Any:
            result = finish(*args, **kwargs)
            task, number = str(args[1]), int(args[2])
            commits.then(lambda at: finished.append((task, number, at)))
            return result

        step = sup.step

        def probed_step() -> None:
            t0 = time.perf_counter()
            step()
            steps.append((time.time(), time.perf_counter() - t0))

        stream.LogStream.read_new = probed_read  # type: ignore[method-assign]
        queue.finish = probed_finish
        sup.step = probed_step  # type: ignore[method-assign]

    def dump(
        self,
        path: Path,
        exits: list[dict[str, Any]] | None = None,
        cpu: dict[str, float] | None = None,
    ) -> None:
        """Write the records as JSON (atomically)."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "marks": self.marks,
                    "finished": self.finished,
                    "steps": self.steps,
                    "exits": exits or [],
                    "loop_cpu_s": cpu or {},
                }
            )
        )
        tmp.replace(path)


STATUS_LINE = 'printf "%s %s\\n" "$__ovs_rc"'  # the wrapper reports from this line on


class StepProbe:
    """Timestamps of one exit's way from the wrapper to the store and the next dispatch.

    Per exit: `woke` (the inotify thread's wait returned), `handed` (its events read and
    handed to the loop), `read` (the loop read the log), `sql0`/`sql1` (the finishing
    transaction began / committed), `rec1` (the record, agent state included, done),
    `claim0`/`claim1` (the agent's next task claimed / typed). The wrapper's own stamp (the
    moment before it writes its rc file and prints the sentinel) is written to
    `stamps/<task>.<attempt>.w`.
    """

    def __init__(self, stamps: Path) -> None:
        self.stamps = stamps
        self.pending: dict[Path, tuple[float, float]] = {}  # log -> (woke, handed)
        self.reads: dict[Path, tuple[float, float, float]] = {}  # log -> (woke, handed, read)
        self.exits: list[dict[str, Any]] = []
        self.last_exit: dict[str, dict[str, Any]] = {}  # agent -> its last exit, until claimed
        self.lock = threading.Lock()
        # CPU seconds of the loop's thread in records, claims (with typing) and whole steps.
        self.cpu = {"record": 0.0, "claim": 0.0, "step": 0.0}

    def install(self, sup: Supervisor, commits: Commits) -> None:
        """Wrap the wrapper's writing, the watcher, the reads, the record and the claim."""
        self.stamps.mkdir(parents=True, exist_ok=True)
        self._wrap_prepare()
        self._wrap_watcher()
        self._wrap_loop(sup, commits)

    def _wrap_prepare(self) -> None:
        plan, stamps = runner.plan, self.stamps

        def stamped(run_dir: Path, **kw: Any) -> tuple[runner.Dispatch, runner.Files]:
            d, files = plan(run_dir, **kw)
            target = stamps / f"{d.task_id}.{d.number}.w"
            stamp = f"printf '%s\\n' \"$EPOCHREALTIME\" > '{target}'\n"
            out = tuple(
                (path, text.replace(STATUS_LINE, stamp + STATUS_LINE, 1))
                if path == d.script
                else (path, text)
                for path, text in files
            )
            return d, out

        runner.plan = stamped

    def _wrap_watcher(self) -> None:
        wait, read_events = stream._Inotify.wait, stream._Inotify.read
        woke_at: dict[int, float] = {}
        probe = self

        def probed_wait(ino: stream._Inotify) -> bool:
            ok = wait(ino)
            woke_at[id(ino)] = time.time()
            return ok

        def probed_events(ino: stream._Inotify) -> set[Path]:
            paths = read_events(ino)
            handed = time.time()
            with probe.lock:
                for p in paths:
                    probe.pending[p] = (woke_at.get(id(ino), handed), handed)
            return paths

        stream._Inotify.wait = probed_wait  # type: ignore[method-assign]
        stream._Inotify.read = probed_events  # type: ignore[method-assign]

    def _wrap_loop(self, sup: Supervisor, commits: Commits) -> None:
        read_new, probe = stream.LogStream.read_new, self

        def probed_read(log: stream.LogStream, max_bytes: int = 4 << 20) -> bytes:
            data = read_new(log, max_bytes)
            if data:
                t = time.time()
                with probe.lock:
                    woke, handed = probe.pending.pop(log.path, (t, t))
                probe.reads[log.path] = (woke, handed, t)
            return data

        stream.LogStream.read_new = probed_read  # type: ignore[method-assign]
        read_rc, rc_reads = runner.read_rc, {}

        def probed_read_rc(path: Path) -> runner.Status | None:
            status = read_rc(path)
            if status is not None:
                rc_reads.setdefault(path, time.time())
            return status

        runner.read_rc = probed_read_rc
        finish, record, claim = queue.finish, sup.record, sup.claim
        sql: list[float] = []

        def probed_finish(*args: Any, **kwargs: Any) -> Any:
            sql[:] = [time.time()]
            result = finish(*args, **kwargs)
            commits.then(sql.append)
            return result

        def probed_record(rt: AgentRuntime, end: Ended) -> None:
            run = rt.running
            c0 = time.thread_time()
            record(rt, end)
            probe.cpu["record"] += time.thread_time() - c0
            if run is None or len(sql) != 2 or end.exit_code is None:
                return
            rc = run.dispatch.rc_path
            with probe.lock:
                told = probe.pending.pop(rc, None)  # the rc file's own wake-up
            read_at = rc_reads.pop(rc, None)
            if told is not None and read_at is not None and read_at <= sql[0]:
                via, (woke, handed), read = "rc", told, read_at
            else:
                via = "log"
                woke, handed, read = probe.reads.get(rt.stream.path, (0.0, 0.0, 0.0))
            exit_ = {
                "task": run.task.id, "attempt": run.attempt.number, "woke": woke,
                "handed": handed, "read": read, "sql0": sql[0], "sql1": sql[1],
                "rec1": time.time(), "via": via,
            }  # fmt: skip
            probe.exits.append(exit_)
            probe.last_exit[rt.name] = exit_

        def probed_claim(rt: AgentRuntime, **kw: Any) -> bool:
            t0, c0 = time.time(), time.thread_time()
            ok = claim(rt, **kw)
            probe.cpu["claim"] += time.thread_time() - c0
            exit_ = probe.last_exit.pop(rt.name, None) if ok else None
            if exit_ is not None:
                exit_["claim0"], exit_["claim1"] = t0, time.time()
            return ok

        step = sup.step

        def probed_step() -> None:
            c0 = time.thread_time()
            step()
            probe.cpu["step"] += time.thread_time() - c0

        queue.finish = probed_finish
        sup.record = probed_record  # type: ignore[method-assign]
        sup.claim = probed_claim  # type: ignore[method-assign]
        sup.step = probed_step  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    """Run the supervisor in the foreground until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m bench.supervise")
    parser.add_argument("--config", required=True)
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--probe", required=True)
    parser.add_argument("--steps", type=Path, help="follow each exit step by step (stamps here)")
    parser.add_argument("--cprofile", type=Path, help="run under cProfile, write pstats here")
    args = parser.parse_args(argv)
    sup = Supervisor(load_config(args.config), Path(args.state_dir))
    commits = Commits(sup.store)
    probe = Probe()
    probe.install(sup, commits)
    steps = StepProbe(args.steps) if args.steps else None
    if steps is not None:
        steps.install(sup, commits)
    # CPU time of the loop's thread, not wall time: waits on tmux or the disk do not count.
    profiler = cProfile.Profile(time.thread_time) if args.cprofile else None
    try:
        if profiler is None:
            return sup.run()
        return profiler.runcall(sup.run)
    finally:
        probe.dump(Path(args.probe), steps.exits if steps else None, steps.cpu if steps else None)
        if profiler is not None:
            profiler.dump_stats(str(args.cprofile))


if __name__ == "__main__":
    sys.exit(main())
