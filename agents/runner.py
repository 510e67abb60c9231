"""Dispatch a task into a shell agent and read its exit status back.

The typed line only names a wrapper script (`bash /…/run/<task>.<n>.sh`), so the terminal's
echo of it never carries a sentinel. The wrapper runs the task's command file verbatim,
writes the status to an rc file (watched by inotify; it survives a supervisor crash), then
prints a sentinel with a fresh random nonce that task output cannot know in advance.

The nonce never appears in the wrapper script, an environment, a command line or an open
file of the task: the wrapper reads it from a key file and empties that file before the
task starts, and keeps it in an unexported shell variable. Every process of the attempt
carries a marker in its environment (`OVERSEER_ATTEMPT_ID`, a one-way hash of the nonce)
by which the processes that left the wrapper's tree are found and ended with it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
import signal
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from overseer.agents import health
from overseer.state.models import Attempt, AttemptOutcome, Task
from overseer.state.paths import file_stem

SENTINEL_RE = re.compile(rb"\x1eOVS:([0-9a-f]{8,64}):(\d{1,3}):(\d{1,3}|-)\x1e")
READY_RE = re.compile(rb"\x1eOVS-READY:([0-9a-f]{8,64})\x1e")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
ATTEMPT_VAR = "OVERSEER_ATTEMPT_ID"
Files = tuple[tuple[Path, str], ...]  # an attempt's files and their text, in writing order


def attempt_mark(nonce: str) -> str:
    """The `NAME=value` environment entry that every process of one attempt carries.

    A one-way hash of the attempt's nonce: unique per attempt, known to anyone who knows the
    attempt (the store holds the nonce), and of no use for forging a sentinel.
    """
    digest = hashlib.sha256(b"overseer-attempt\0" + nonce.encode()).hexdigest()[:24]
    return f"{ATTEMPT_VAR}={digest}"


@dataclass(frozen=True)
class Dispatch:
    """The files of one attempt and the line that starts it."""

    task_id: str
    number: int
    nonce: str
    script: Path
    command_file: Path
    rc_path: Path
    pid_path: Path

    @classmethod
    def of(cls, run_dir: Path, task_id: str, number: int, nonce: str) -> Dispatch:
        """The files of an attempt that was prepared earlier (or by another process)."""
        script, command_file, rc_path, pid_path = attempt_paths(run_dir, task_id, number)
        return cls(task_id, number, nonce, script, command_file, rc_path, pid_path)

    @classmethod
    def latest(cls, run_dir: Path, task: Task, attempts: Iterable[Attempt]) -> Dispatch:
        """The files of a task's latest attempt (`attempts`: the task's, from the store)."""
        nonce = next((a.nonce for a in attempts if a.number == task.attempts), "")
        return cls.of(run_dir, task.id, task.attempts, nonce)

    @property
    def typed_line(self) -> str:
        """What is typed into the agent's shell."""
        return f"bash {shlex.quote(str(self.script))}"

    @property
    def mark(self) -> str:
        """The environment entry that marks every process of this attempt."""
        return attempt_mark(self.nonce)

    def wrapper(self) -> int | None:
        """The wrapper's pid (also its process group) while it still runs, else None."""
        pid = read_pid(self.pid_path)
        return pid if health.wrapper_alive(pid, self.script.name) else None

    def processes(self, *, spare_wrapper: bool = False) -> list[psutil.Process]:
        """Every live process of this attempt (see health.attempt_processes)."""
        leader = self.wrapper()
        spare = (leader,) if spare_wrapper and leader else ()
        return health.attempt_processes(self.mark, leader, spare)

    def outside_group(self, procs: Sequence[psutil.Process]) -> list[psutil.Process]:
        """Those of `procs` that left the wrapper's process group (a daemon the task started)."""
        group = read_pid(self.pid_path)
        out = []
        for p in procs:
            try:
                if os.getpgid(p.pid) != group:
                    out.append(p)
            except OSError:
                continue  # gone already
        return out

    def stop(self, sig: int) -> bool:
        """SIGCONT and `sig` to the attempt's processes while its wrapper runs (else False).

        SIGTERM goes to the wrapper's whole group (the wrapper traps it) and to the processes
        that left it; SIGKILL (see `kill`) spares the wrapper, which must live on to report
        the status.
        """
        if sig == signal.SIGKILL:
            return self.kill() is not None
        leader = self.wrapper()
        if leader is None:
            return False
        health.signal_processes(self.processes(), sig, group=leader)
        return True

    def kill(self) -> list[psutil.Process] | None:
        """SIGKILL every process of the attempt but its wrapper; the processes killed, or
        None when the wrapper is gone.

        A shell in a loop may fork between the listing and the kill: the processes are
        listed again until a round finds nothing new, so no fresh child outlives its parent.
        """
        leader = self.wrapper()
        if leader is None:
            return None
        health.signal_group(leader, signal.SIGCONT)
        killed: dict[int, psutil.Process] = {}
        for _ in range(health.LATE_ROUNDS + 1):
            fresh = [p for p in self.processes(spare_wrapper=True) if p.pid not in killed]
            if not fresh:
                break
            health.signal_processes(fresh, signal.SIGKILL)
            killed.update((p.pid, p) for p in fresh)
        return list(killed.values())

    def abandon(self) -> list[psutil.Process]:
        """SIGKILL the wrapper; return the attempt's other live processes (not signalled).

        Killed first, so that no status it writes from then on (the task dying of the
        SIGTERM that follows) can be taken for the task's own.
        """
        leader = self.wrapper()
        procs = health.attempt_processes(self.mark, leader)
        health.signal_processes([p for p in procs if p.pid == leader], signal.SIGKILL)
        return [p for p in procs if p.pid != leader]

    def end(
        self,
        grace: float,
        *,
        spare_wrapper: bool = False,
        also: Sequence[psutil.Process] = (),
        dying: Sequence[psutil.Process] = (),
    ) -> health.Ended:
        """End every process of this attempt: SIGCONT, SIGTERM, SIGKILL after `grace`.

        The wrapper is either spared (it has reported and is about to exit) or abandoned
        (killed first). `also`: processes of it found earlier, counted whether or not they
        are still alive. `dying`: processes SIGKILLed already (by `kill`), which may not have
        finished exiting: they are waited for, not counted as leftovers, and named if they
        survive.
        """
        procs = self.processes(spare_wrapper=True) if spare_wrapper else self.abandon()
        gone = {p.pid: p for p in dying}
        late = health.wait_gone([p for p in procs if p.pid in gone], health.KILL_WAIT)
        seen = {p.pid for p in procs}
        ended = health.end_processes(
            [*(p for p in procs if p.pid not in gone), *(p for p in also if p.pid not in seen)],
            grace,
            find=lambda: [
                p for p in self.processes(spare_wrapper=spare_wrapper) if p.pid not in gone
            ],
        )
        if not late:
            return ended
        return health.Ended(ended.killed, ended.survivors + health.describe(late))


HANGUP_STATUS = 128 + signal.SIGHUP  # what a task reports when its terminal disappears
HUNG_UP = f"the task was hung up: status {HANGUP_STATUS}"


def hung_up(status: Status | None) -> bool:
    """Whether a reported status is the hang-up of a task whose terminal went away."""
    return status is not None and status.rc == HANGUP_STATUS


def loss_reason(why: str, note: str = "", hangup: bool = False) -> str:
    """The reason a loss is recorded with: why, what was ended of it, and a hang-up."""
    reason = f"{why}; {note}" if note else why
    return f"{reason} ({HUNG_UP})" if hangup else reason


@dataclass(frozen=True)
class Status:
    """An exit status as the wrapper reported it."""

    rc: int
    verify_rc: int | None  # None when verify did not run


def attempt_paths(run_dir: Path, task_id: str, number: int) -> tuple[Path, Path, Path, Path]:
    """Script, command file, rc file and pid file of one attempt."""
    base = run_dir / f"{task_id}.{number}"
    return (
        base.with_suffix(base.suffix + ".sh"),
        base.with_suffix(base.suffix + ".cmd"),
        base.with_suffix(base.suffix + ".rc"),
        base.with_suffix(base.suffix + ".pid"),
    )


def extra_paths(script: Path) -> tuple[Path, Path]:
    """The key file (the nonce, until the wrapper empties it) and verify file of an attempt."""
    return script.with_suffix(".key"), script.with_suffix(".verify")


def _write_private(path: Path, text: str) -> None:
    # Never through a link planted in the run dir (it would overwrite the link's target).
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    try:
        # Plain writes, no file object: five files are made per attempt.
        data = memoryview(text.encode("utf-8"))
        while data:
            data = data[os.write(fd, data) :]
    finally:
        os.close(fd)


def plan(
    run_dir: Path,
    *,
    task_id: str,
    number: int,
    nonce: str,
    command: str,
    agent: str,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    verify: str | None = None,
) -> tuple[Dispatch, Files]:
    """The wrapper and command files of one attempt (written by write_files, in order) and
    how to start it; nothing is written here."""
    script, command_file, rc_path, pid_path = attempt_paths(run_dir, task_id, number)
    key_path, verify_path = extra_paths(script)
    # The pid file and the rc file are created empty and private, so the wrapper writes
    # into them without changing its umask in a subshell (two forks a task). An empty pid
    # file reads as "not started", an empty rc file as "no status yet", exactly like
    # missing ones. The wrapper appends to them (`>>`): a truncation would be one more
    # inotify event for the run dir's watcher, before the status is there to read.
    files: list[tuple[Path, str]] = [
        (pid_path, ""),
        (rc_path, ""),
        (key_path, nonce + "\n"),
        (command_file, command if command.endswith("\n") else command + "\n"),
    ]
    q = shlex.quote
    exports = {
        "OVERSEER_TASK": task_id,
        "OVERSEER_ATTEMPT": str(number),
        "OVERSEER_AGENT": agent,
        **dict(env or {}),
        # Last, so that no task env can unset it: how the attempt's processes are found.
        ATTEMPT_VAR: attempt_mark(nonce).partition("=")[2],
    }
    key = q(str(key_path))
    lines = [
        f"# Overseer wrapper: task {task_id} attempt {number} (generated)",
        # The nonce is read into an unexported variable and its file emptied (a builtin,
        # no fork) before anything else: the task can find it nowhere. A wrapper run a
        # second time finds no nonce and stops before it writes its pid.
        f'IFS= read -r __ovs_n < {key} && [ -n "$__ovs_n" ] && : > {key} || exit 125',
        # The pid file comes next; the task never runs without it, so an empty (or
        # missing) pid file proves that nothing ran.
        f"echo $$ >> {q(str(pid_path))} || exit 125",
        # A handler (not an ignore) so the task itself still dies of INT/TERM while the
        # wrapper lives on to report the status.
        "trap ':' INT TERM HUP",
        "unset TMUX TMUX_PANE",  # the task never gets the control socket of Overseer's tmux
    ]
    for name, value in exports.items():
        if ENV_NAME.match(name):
            lines.append(f"export {name}={q(value)}")
    run = f"bash -- {q(str(command_file))}; __ovs_rc=$?"
    if cwd:
        # A missing working directory fails the attempt instead of running it elsewhere.
        lines.append(f"if cd -- {q(cwd)}; then {run}; else __ovs_rc=126; fi")
    else:
        lines.append(run)
    lines.append("__ovs_vrc=-")
    if verify:
        # From a file, like the command: one argument is limited to 128 KiB (E2BIG).
        files.append((verify_path, verify if verify.endswith("\n") else verify + "\n"))
        lines.append(
            f'if [ "$__ovs_rc" -eq 0 ]; then bash -- {q(str(verify_path))}; __ovs_vrc=$?; fi'
        )
    # The rc file goes first: the supervisor is told of that write at once (inotify), and it
    # survives a supervisor that was down meanwhile. One write by a builtin (no process of the
    # wrapper's own that ending the attempt would take for the task's), and only a line with
    # its newline counts, so a reader never takes a partial status. The sentinel follows:
    # the output before it is the attempt's, and it is the status where the rc file is not
    # looked at in time. Printed first, the sentinel wakes tmux, which on a busy machine could
    # take the CPU from the wrapper before it wrote the rc file.
    lines.append(f'printf "%s %s\\n" "$__ovs_rc" "$__ovs_vrc" >> {q(str(rc_path))}')
    lines.append('printf \'\\n\\036OVS:%s:%s:%s\\036\\n\' "$__ovs_n" "$__ovs_rc" "$__ovs_vrc"')
    files.append((script, "\n".join(lines) + "\n"))
    return Dispatch(task_id, number, nonce, script, command_file, rc_path, pid_path), tuple(files)


def write_files(files: Files) -> None:
    """Write an attempt's files (plan's), private, in order: the wrapper last."""
    if files:
        files[0][0].parent.mkdir(parents=True, exist_ok=True)
    for path, text in files:
        _write_private(path, text)


def find_sentinel(data: bytes, nonce: str) -> Status | None:
    """The status in the first sentinel in `data` that carries `nonce` (imitations ignored)."""
    want = nonce.encode()
    for m in SENTINEL_RE.finditer(data):
        if m.group(1) == want:
            vrc = m.group(3)
            return Status(int(m.group(2)), None if vrc == b"-" else int(vrc))
    return None


def find_ready(data: bytes, nonce: str) -> bool:
    """Whether the agent shell's start-up marker with `nonce` is in `data`."""
    return any(m.group(1) == nonce.encode() for m in READY_RE.finditer(data))


class Scanner:
    """Finds sentinels and ready markers in output fed in arbitrary chunks, each only once.

    The last KEEP bytes of earlier output are searched again with each new chunk, so a
    marker cut in two by a read boundary is still found; a marker already reported is
    never reported again from that kept tail.
    """

    KEEP = 256  # longer than any marker

    def __init__(self) -> None:
        self.window = b""
        self._start = 0  # stream position of window[0]
        self._reported: dict[bytes, int] = {}  # pattern -> stream position after last hit

    def feed(self, data: bytes) -> None:
        """Make `data` (the next bytes of the stream) the part searched next."""
        tail = self.window[-self.KEEP :]
        self._start += len(self.window) - len(tail)
        self.window = tail + data

    def trim(self) -> None:
        """Keep only the tail that the next chunk needs (bounds memory between reads)."""
        self.feed(b"")

    def reset(self) -> None:
        """Forget everything (a new process writes the stream from here on)."""
        self.window = b""
        self._start = 0
        self._reported.clear()

    def _find(self, rx: re.Pattern[bytes], nonce: str) -> re.Match[bytes] | None:
        want = nonce.encode()
        done = self._reported.get(rx.pattern, 0)
        for m in rx.finditer(self.window):
            end = self._start + m.end()
            if end > done and m.group(1) == want:
                self._reported[rx.pattern] = end
                return m
        return None

    def sentinel(self, nonce: str) -> Status | None:
        """The status of a new sentinel carrying `nonce`, if one arrived."""
        m = self._find(SENTINEL_RE, nonce)
        if m is None:
            return None
        vrc = m.group(3)
        return Status(int(m.group(2)), None if vrc == b"-" else int(vrc))

    def ready(self, nonce: str) -> bool:
        """Whether a new ready marker carrying `nonce` arrived."""
        return self._find(READY_RE, nonce) is not None


def read_rc(path: Path) -> Status | None:
    """The status in an rc file, or None when it is absent or unreadable."""
    try:
        text = path.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    if not text.endswith("\n"):
        return None  # empty (no status yet), or a write caught halfway
    parts = text.split()
    if not parts or not parts[0].isdigit():
        return None
    vrc = parts[1] if len(parts) > 1 else "-"
    return Status(int(parts[0]), int(vrc) if vrc.isdigit() else None)


def written_at(path: Path) -> float | None:
    """When a file was last written (None: it is gone)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def read_pid(path: Path) -> int | None:
    """The wrapper's pid (also its process group id), when it has started."""
    try:
        text = path.read_text(encoding="ascii").strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def judge(status: Status, verify: str | None) -> tuple[AttemptOutcome, int, int | None, str | None]:
    """Outcome, exit code, signal and reason for a reported status."""
    signal = status.rc - 128 if 128 < status.rc < 160 else None
    if status.rc != 0:
        reason = f"killed by signal {signal}" if signal else None
        return AttemptOutcome.FAILED, status.rc, signal, reason
    if verify and status.verify_rc not in (None, 0):
        return AttemptOutcome.FAILED, 0, None, f"verify failed (exit {status.verify_rc})"
    return AttemptOutcome.OK, 0, None, None


def agent_rcfile(run_dir: Path, agent: str) -> Path:
    """Write the bash start-up file of a shell agent; it prints the ready marker."""
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"agent-{file_stem(agent)}.bashrc"
    _write_private(
        path,
        "\n".join(
            [
                "# Overseer shell agent start-up (generated)",
                "HISTFILE=/dev/null",
                "unset PROMPT_COMMAND",
                f"PS1={shlex.quote(agent + '$ ')}",
                "PS2='> '",
                "printf '\\036OVS-READY:%s\\036\\n' \"$OVERSEER_READY_NONCE\"",
                "",
            ]
        ),
    )
    return path


def shell_command(rcfile: Path) -> str:
    """The command a shell agent's pane runs."""
    return f"exec bash --noprofile --rcfile {shlex.quote(str(rcfile))} -i"
