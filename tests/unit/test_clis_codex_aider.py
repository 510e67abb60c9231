"""Codex and aider signals (agents/clis/codex.py, aider.py): the injection, and the payloads and
lines recorded from the real CLIs (tests/fakes/signals/) as Signals."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from overseer.agents.clis import CLIS
from overseer.agents.clis.aider import CLI as AIDER
from overseer.agents.clis.codex import CLI as CODEX
from overseer.agents.clis.codex import Sessions
from overseer.agents.signals import Ev, InjectContext, Signal

SIGNALS = Path(__file__).resolve().parents[1] / "fakes" / "signals"
THREAD = "01a2320d-2d3f-7a30-98e1-2a9c815495a3"  # the recorded session's thread
TITLE_THREAD = "01a2320d-395d-7961-b1a4-7d1e3eac3f1f"  # Codex's own title thread
ROLLOUT = Path(f"/s/2026/12/01/rollout-2026-12-01T14-40-54-{THREAD}.jsonl")


def jsonl(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a recording."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def ctx(tmp_path: Path, env: dict[str, str] | None = None) -> InjectContext:
    """An injection context with a hook command that cannot run by accident."""
    return InjectContext(
        agent="a1",
        state_dir=tmp_path / "state",
        signals_dir=tmp_path / "state" / "run" / "signals",
        hook_command=("/opt/py", "-I", "/state/hook.py", "/state/signals", "a1"),
        work_dir=tmp_path / "work",
        env=env if env is not None else {"HOME": str(tmp_path / "home")},
    )


def summary(signals: list[Signal | None]) -> list[tuple[str, str, str]]:
    """(event, name, detail) of the signals that are not None."""
    return [(s.event.value, s.name, s.detail) for s in signals if s is not None]


def test_both_are_registered_by_kind() -> None:
    assert CLIS["codex"] is CODEX and CLIS["aider"] is AIDER


# -- Codex -------------------------------------------------------------------------------------


def notify_of(args: tuple[str, ...]) -> list[str]:
    """The notify program a `-c notify=...` argument sets, parsed as Codex parses it (TOML)."""
    assert args[0] == "-c" and args[1].startswith("notify=")
    value = tomllib.loads(args[1])["notify"]
    assert isinstance(value, list)
    return value


def test_codex_injection_sets_notify_and_tails_the_sessions_dir(tmp_path: Path) -> None:
    c = ctx(tmp_path)
    inj = CODEX.inject(c)
    assert notify_of(inj.args) == [*c.hook_command, "notify"]
    assert inj.tail == (tmp_path / "home" / ".codex" / "sessions",)
    assert not inj.files and not inj.env and inj.degraded is None
    assert not any("hooks" in a for a in inj.args)  # hooks would open Codex's review screen
    other = CODEX.inject(ctx(tmp_path, {"HOME": "/h", "CODEX_HOME": str(tmp_path / "ch")}))
    assert other.tail == (tmp_path / "ch" / "sessions",)


def test_codex_notify_keeps_the_users_own_notify_running(tmp_path: Path) -> None:
    home = tmp_path / "home" / ".codex"
    home.mkdir(parents=True)
    theirs = tmp_path / "theirs.txt"
    config = f'model = "o9"\nnotify = ["sh", "-c", "printf %s \\"$1\\" > {theirs}", "x"]\n'
    (home / "config.toml").write_text(config)
    ours = tmp_path / "ours.txt"
    hook = (sys.executable, "-c", f"import sys; open({str(ours)!r}, 'w').write(repr(sys.argv[1:]))")
    c = InjectContext("a1", tmp_path, tmp_path, hook, None, {"HOME": str(tmp_path / "home")})
    argv = notify_of(CODEX.inject(c).args)
    payload = json.dumps({"type": "agent-turn-complete", "thread-id": "t"})
    subprocess.run([*argv, payload], check=True, timeout=30)  # as Codex runs it
    assert ours.read_text() == repr(["notify", payload])
    assert theirs.read_text() == payload
    assert (home / "config.toml").read_text() == config  # read, never written


def test_codex_notify_payloads_are_turn_ends_without_the_title_thread() -> None:
    records = jsonl(SIGNALS / "codex-0.171.0" / "notify.jsonl")
    signals = [CODEX.hook(r["hook"], r["payload"], r["at"]) for r in records]
    assert [s.data["thread_id"] if s else None for s in signals] == [THREAD, None, THREAD]
    assert summary(signals) == [
        ("turn-end", "agent-turn-complete", "Answer to: hello there"),
        ("turn-end", "agent-turn-complete", "Ran touch made-by-codex."),
    ]
    assert signals[0] is not None and signals[0].source == "notify"
    assert signals[0].at == records[0]["at"]
    assert CODEX.hook("notify", {"type": "something-else"}, 1.0) is None
    leak = {
        **records[0]["payload"],
        "last-assistant-message": "export API_KEY=sk-abcdef0123456789abcdef",
    }
    said = CODEX.hook("notify", leak, 1.0)
    assert said is not None and "sk-abcdef0123456789abcdef" not in said.detail  # masked


def test_codex_rollout_lines_become_signals() -> None:
    records = jsonl(SIGNALS / "codex-0.171.0" / "rollout.jsonl")
    signals = [CODEX.line(ROLLOUT, r, 5.0) for r in records]
    assert summary(signals) == [
        ("session-start", "session_meta", "0.171.0"),
        ("prompt-submitted", "task_started", ""),
        ("usage", "token_count", ""),
        ("turn-end", "task_complete", "Answer to: hello there"),
        ("prompt-submitted", "task_started", ""),
        # A command asking for escalation under approval_policy on-request: the dialog opens.
        ("permission", "exec_command", "exec_command: touch made-by-codex"),
        ("tool", "function_call_output", ""),  # approved: it ran
        ("usage", "token_count", ""),
        ("usage", "token_count", ""),
        ("turn-end", "task_complete", "Ran touch made-by-codex."),
        ("prompt-submitted", "task_started", ""),  # work 30, then Esc
        ("usage", "token_count", ""),
        ("turn-end", "turn_aborted", "aborted"),
        ("prompt-submitted", "task_started", ""),  # a 429
        (
            "turn-failed",
            "task_complete",
            "exceeded retry limit, last status: 429 Too Many Requests",
        ),
        ("prompt-submitted", "task_started", ""),  # a hang, then Esc
        ("turn-end", "turn_aborted", "aborted"),
    ]
    got = [s for s in signals if s is not None]
    start = got[0]
    assert start.source == "rollout"
    assert start.data["thread_id"] == THREAD and start.data["version"] == "0.171.0"
    assert start.data["cwd"] == "/tmp/run/work"
    assert start.data["started"] == pytest.approx(1796136054.089)  # 2026-12-01T14:40:54.089Z
    assert start.at == pytest.approx(1796136057.102)  # the line's own time, not the reading's
    assert all(s.data["thread_id"] == THREAD for s in got)
    last = [s.usage for s in got if s.event == Ev.USAGE][-1]
    assert last is not None
    assert (last.input_tokens, last.output_tokens, last.cached_tokens) == (40500, 45, 0)
    assert last.model == "mock-model"  # from the turn_context line


def test_codex_keeps_only_the_agents_own_sessions() -> None:
    records = jsonl(SIGNALS / "codex-0.171.0" / "rollout.jsonl")
    notify = jsonl(SIGNALS / "codex-0.171.0" / "notify.jsonl")
    meta = CODEX.line(ROLLOUT, records[0], 5.0)
    task = CODEX.line(ROLLOUT, records[1], 5.0)
    assert meta is not None and task is not None
    started = 1796136054.089
    title = Signal(Ev.TURN_END, "agent-turn-complete", "notify", 1.0, data={"thread_id": "t2"})
    mine = Sessions(Path("/tmp/run/work"), since=started - 1)
    turn_end = CODEX.hook("notify", notify[0]["payload"], 1.0)
    assert turn_end is not None and mine.keep(turn_end)  # its own process: before the rollout
    assert [mine.keep(s) for s in (task, meta, task, title)] == [False, True, True, False]
    assert mine.keep(turn_end)
    # Another work dir, or a session that started well before the agent: someone else's.
    for other in (Sessions(Path("/elsewhere"), started - 1), Sessions(None, started + 60)):
        assert not other.keep(meta) and not other.keep(task)
    assert Sessions(None, started).keep(meta)  # no work dir: any session after the spawn
    sub = Signal(
        Ev.SESSION_START,
        "session_meta",
        "rollout",
        1.0,
        data={**meta.data, "thread_source": "subagent", "thread_id": "t3"},
    )
    assert not mine.keep(sub)  # a thread Codex started for itself


# -- aider -------------------------------------------------------------------------------------


def test_aider_injection_runs_the_hook_and_logs_analytics_under_the_state_dir(
    tmp_path: Path,
) -> None:
    c = ctx(tmp_path)
    inj = AIDER.inject(c)
    log = c.signals_dir / "a1.aider-analytics.jsonl"
    assert inj.args == (
        "--notifications",
        "--notifications-command",
        "/opt/py -I /state/hook.py /state/signals a1 notification",
        "--analytics-log",
        str(log),
    )
    assert inj.tail == (log,)
    assert "--analytics" not in inj.args  # the user's --no-analytics stays as it is
    theirs = AIDER.inject(ctx(tmp_path, {"AIDER_NOTIFICATIONS_COMMAND": "notify-send done"}))
    assert theirs.args[2].endswith(" notification; notify-send done")


def test_aider_analytics_lines_and_notifications_become_signals() -> None:
    records = jsonl(SIGNALS / "aider-0.86.2" / "analytics.jsonl")
    at = records[-1]["time"] + 0.5  # read as it was written
    signals = [AIDER.line(Path("/log"), r, at) for r in records]
    assert summary(signals) == [
        ("session-start", "launched", ""),
        ("prompt-submitted", "message_send_starting", ""),
        ("turn-end", "message_send", "2334+716 tokens"),
        ("prompt-submitted", "message_send_starting", ""),
        ("turn-end", "message_send", "3060+14 tokens"),
        ("prompt-submitted", "message_send_starting", ""),
    ]
    first = [s for s in signals if s is not None and s.usage is not None][0]
    assert first.usage is not None
    assert first.usage.cost_usd == pytest.approx(0.017742)
    assert (first.usage.input_tokens, first.usage.output_tokens) == (2334, 716)
    assert first.source == "analytics"
    assert signals[-1] is not None and signals[-1].at == at  # fresh: the reading time
    assert signals[0] is not None and signals[0].at == records[0]["time"]  # old: its own time
    exit_line = AIDER.line(Path("/log"), {"event": "exit", "time": 1}, 2.0)
    assert exit_line is not None and exit_line.event == Ev.SESSION_END
    note = AIDER.hook("notification", {}, 3.0)
    assert note is not None and note.event == Ev.NOTIFICATION and note.at == 3.0


# -- anything at all -----------------------------------------------------------------------------

KEYS = st.sampled_from(
    [
        "type",
        "payload",
        "timestamp",
        "info",
        "total_token_usage",
        "input_tokens",
        "error",
        "arguments",
        "event",
        "properties",
        "time",
        "prompt_tokens",
        "cost",
        "cwd",
        "id",
        "input-messages",
        "thread-id",
        "command",
        "name",
        "turn_id",
        "model",
        "approval_policy",
    ]
)
VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "event_msg",
            "token_count",
            "task_complete",
            "session_meta",
            "response_item",
            "function_call",
            "message_send",
            "turn_context",
            "agent-turn-complete",
            "exec_command_begin",
            "2026-12-01T14:40:54Z",
        ]
    ),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)


@given(record=st.dictionaries(KEYS, VALUES, max_size=5), at=st.floats(0, 2e9))
@example({"event": "message_send", "properties": {"prompt_tokens": 1, "cost": 10**400}}, 1.0)
@example({"type": "session_meta", "payload": {"timestamp": "0001-01-01T00:00:00+23:59"}}, 1.0)
@example({"event": "launched", "time": 10**400}, 1.0)
@settings(max_examples=300, deadline=None)
def test_no_record_or_payload_makes_them_fail(record: dict[str, Any], at: float) -> None:
    for cli in (CODEX, AIDER):
        for sig in (
            cli.line(ROLLOUT, record, at),
            cli.hook("notify", record, at),
            cli.hook("notification", record, at),
        ):
            assert sig is None or isinstance(sig, Signal)
            if sig is not None:
                Sessions(None, 0.0).keep(sig)
