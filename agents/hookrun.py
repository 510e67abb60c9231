"""The hook entry point a CLI runs: append its payload to the agent's spool, print `{}`, exit 0.

Standard library only and no Overseer import: the supervisor copies this file into the state
dir's run/signals/ and the CLIs run it as `python -I -S hook.py SPOOL_DIR AGENT EVENT`, which
costs a few ms (python -m bench.hooks). It decides nothing and never breaks the CLI: whatever
goes wrong is said on stderr and the exit status stays 0.

The payload is the last argument when that is a JSON object (Codex's notify), else stdin
(Claude Code, Gemini CLI); a terminal on stdin (aider's notifications command) gives `{}`.
One line `{"at", "agent", "event", "payload"}` is written with ONE write (O_APPEND), so hooks
that run at the same instant never interleave. The payload is copied, not parsed: the reader
skips a line that is not JSON.
"""

from __future__ import annotations

import os
import stat
import sys
import time

MAX_LINE = 256 * 1024  # a bigger payload keeps only its short top-level fields
SHORT = 2000  # a field kept from an oversized payload is at most this long once encoded
PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")


def spool_path(spool_dir: str, agent: str) -> str:
    """The agent's spool file in the signals directory."""
    return os.path.join(spool_dir, agent.replace("/", "@") + ".jsonl")  # paths.file_stem


def read_payload(argv: list[str]) -> str:
    """The hook's payload as JSON text: a JSON last argument, else stdin (a terminal: `{}`)."""
    if argv and argv[-1].lstrip().startswith("{"):
        return argv[-1]
    if sys.stdin is None or sys.stdin.isatty():
        return "{}"
    return sys.stdin.read()


def quoted(text: str) -> str:
    """`text` as a JSON string (json is imported only for names that need escaping)."""
    if text and set(text) <= PLAIN:
        return f'"{text}"'
    import json  # costs tens of ms: not on the common path

    return json.dumps(text)


def encode(agent: str, event: str, payload: str, at: float) -> bytes:
    """The spool line of one call. A JSON object payload is copied as it came (importing json
    would double the hook's cost): its line breaks can only be whitespace, so they go."""
    body = payload.strip()
    if not (body.startswith("{") and body.endswith("}")) or len(body) > MAX_LINE:
        body = reduced(body)
    body = body.replace("\r", " ").replace("\n", " ")
    # The payload first: should its text close the object early, the keys written after it
    # (the last of duplicate keys wins) still say who and what.
    line = (
        f'{{"payload": {body}, "at": {at!r}, "agent": {quoted(agent)}, "event": {quoted(event)}}}'
    )
    return (line + "\n").encode("utf-8", "replace")


def reduced(text: str) -> str:
    """A payload that is not a small JSON object: its short fields, or the text as a field."""
    import json

    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return json.dumps({"text": text[:SHORT]})
    if not isinstance(value, dict):
        return json.dumps({"value": value} if len(json.dumps(value)) <= SHORT else {})
    short = {k: v for k, v in value.items() if len(json.dumps(v)) <= SHORT}
    if len(text) > MAX_LINE:
        short["truncated"] = True
    return json.dumps(short)


def append(spool_dir: str, agent: str, event: str, payload: str) -> None:
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
