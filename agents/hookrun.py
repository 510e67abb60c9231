"""The hook entry point a CLI runs: append its payload to the agent's spool, print `{}`, exit 0.

Standard library only and no Overseer import: the supervisor copies this file into the state
dir's run/signals/ and the CLIs run it as `python -I -S hook.py SPOOL_DIR AGENT EVENT`, which
costs a few ms (python -m bench.hooks). It decides nothing and never breaks the CLI: whatever
goes wrong is said on stderr and the exit status stays 0.

The payload is the last argument when that is a JSON object (Codex's notify), else stdin
(Claude Code, Gemini CLI); a terminal on stdin (aider's notifications command) gives `{}`.
One line `{"at", "agent", "event", "payload"}` is written with ONE write (O_APPEND), so hooks
that run at the same instant never interleave.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import time

MAX_LINE = 256 * 1024  # a bigger payload keeps only its short top-level fields
SHORT = 2000  # a field kept from an oversized payload is at most this long once encoded


def spool_path(spool_dir: str, agent: str) -> str:
    """The agent's spool file in the signals directory."""
    return os.path.join(spool_dir, agent.replace("/", "_") + ".jsonl")


def read_payload(argv: list[str]) -> object:
    """The hook's payload: a JSON last argument, else stdin (nothing from a terminal)."""
    if argv and argv[-1].lstrip().startswith("{"):
        try:
            return json.loads(argv[-1])
        except ValueError:
            pass
    if sys.stdin is None or sys.stdin.isatty():
        return {}
    text = sys.stdin.read()
    if not text.strip():
        return {}
    try:
        return json.loads(text)
    except ValueError:
        return {"text": text[:SHORT]}


def encode(agent: str, event: str, payload: object, at: float) -> bytes:
    """The spool line of one call (bounded: a huge payload keeps its short fields)."""
    line = json.dumps({"at": at, "agent": agent, "event": event, "payload": payload})
    if len(line) > MAX_LINE:
        short = {}
        if isinstance(payload, dict):
            for key, value in payload.items():
                if len(json.dumps(value)) <= SHORT:
                    short[key] = value
        short["truncated"] = True
        line = json.dumps({"at": at, "agent": agent, "event": event, "payload": short})
    return (line + "\n").encode("utf-8", "replace")


def append(spool_dir: str, agent: str, event: str, payload: object) -> None:
    """Append one line to the agent's spool: a private file in a private directory, no link."""
    st = os.lstat(spool_dir)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
        raise OSError(f"{spool_dir} is not a directory of this user")
    if stat.S_IMODE(st.st_mode) & 0o077:
        raise OSError(f"{spool_dir} is open to other users")
    data = encode(agent, event, payload, time.time())
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(spool_path(spool_dir, agent), flags, 0o600)
    try:
        fst = os.fstat(fd)
        if not stat.S_ISREG(fst.st_mode) or fst.st_uid != os.geteuid():
            raise OSError("the spool is not a regular file of this user")
        os.write(fd, data)
    finally:
        os.close(fd)


def main(argv: list[str]) -> int:
    """Run as a hook: SPOOL_DIR AGENT EVENT [JSON]; always exit 0."""
    try:
        if len(argv) < 3:
            raise ValueError("usage: hook.py SPOOL_DIR AGENT EVENT [JSON]")
        spool_dir, agent, event = argv[0], argv[1], argv[2]
        append(spool_dir, agent, event, read_payload(argv[3:]))
    except Exception as exc:  # a hook must never break the CLI that runs it
        sys.stderr.write(f"overseer hook: {exc}\n")
    sys.stdout.write("{}\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
