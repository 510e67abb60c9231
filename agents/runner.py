"""Dispatch a task into a shell agent and read its exit status back.

The typed line only names a wrapper script (`bash /…/run/<task>.<n>.sh`), so the terminal's
echo of it never carries a sentinel. The wrapper runs the task's command file verbatim,
writes the status to an rc file (which survives a supervisor crash) and then prints a
sentinel with a fresh random nonce that task output cannot know in advance.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from state.models import AttemptOutcome

SENTINEL_RE = re.compile(rb"\x1eOVS:([0-9a-f]{8,64}):(\d{1,3}):(\d{1,3}|-)\x1e")
READY_RE = re.compile(rb"\x1eOVS-READY:([0-9a-f]{8,64})\x1e")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


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

    @property
    def typed_line(self) -> str:
        """What is typed into the agent's shell."""
        return f"bash {shlex.quote(str(self.script))}"


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


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def prepare(
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
) -> Dispatch:
    """Write the wrapper and command files of one attempt; return how to start it."""
    run_dir.mkdir(parents=True, exist_ok=True)
    script, command_file, rc_path, pid_path = attempt_paths(run_dir, task_id, number)
    for stale in (rc_path, pid_path):
        stale.unlink(missing_ok=True)
    _write_private(command_file, command if command.endswith("\n") else command + "\n")
    q = shlex.quote
    exports = {
        "OVERSEER_TASK": task_id,
        "OVERSEER_ATTEMPT": str(number),
        "OVERSEER_AGENT": agent,
        **dict(env or {}),
    }
    lines = [
        f"# Overseer wrapper: task {task_id} attempt {number} (generated)",
        f"echo $$ > {q(str(pid_path))}",
        # A handler (not an ignore) so the task itself still dies of INT/TERM while the
        # wrapper lives on to report the status.
        "trap ':' INT TERM HUP",
    ]
    for key, value in exports.items():
        if ENV_NAME.match(key):
            lines.append(f"export {key}={q(value)}")
    run = f"bash -- {q(str(command_file))}; __ovs_rc=$?"
    if cwd:
        # A missing working directory fails the attempt instead of running it elsewhere.
        lines.append(f"if cd -- {q(cwd)}; then {run}; else __ovs_rc=126; fi")
    else:
        lines.append(run)
    lines.append("__ovs_vrc=-")
    if verify:
        lines.append(f'if [ "$__ovs_rc" -eq 0 ]; then bash -c {q(verify)}; __ovs_vrc=$?; fi')
    tmp = q(str(rc_path) + ".tmp")
    lines.append(
        f'printf "%s %s\\n" "$__ovs_rc" "$__ovs_vrc" > {tmp} && mv -f {tmp} {q(str(rc_path))}'
    )
    lines.append(f'printf \'\\n\\036OVS:%s:%s:%s\\036\\n\' {q(nonce)} "$__ovs_rc" "$__ovs_vrc"')
    _write_private(script, "\n".join(lines) + "\n")
    return Dispatch(task_id, number, nonce, script, command_file, rc_path, pid_path)


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


def read_rc(path: Path) -> Status | None:
    """The status in an rc file, or None when it is absent or unreadable."""
    try:
        parts = path.read_text(encoding="ascii", errors="replace").split()
    except OSError:
        return None
    if not parts or not parts[0].isdigit():
        return None
    vrc = parts[1] if len(parts) > 1 else "-"
    return Status(int(parts[0]), int(vrc) if vrc.isdigit() else None)


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
    path = run_dir / f"agent-{agent}.bashrc"
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
