"""The CLIs' own signals: the hook entry point and its spool, the Claude and Gemini payloads
as recorded from the real CLIs, Gemini's settings-file rule, and the prompt driver's decision
between a fresh event and the screen (fake host, no tmux)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from overseer.agents import hookrun, ingest
from overseer.agents.clis import CLIS, gemini
from overseer.agents.drivers.base import AgentRuntime
from overseer.agents.drivers.prompt import FRESH, OVERRULE, TURN_END_GRACE, PromptDriver
from overseer.agents.signals import Ev, InjectContext, Injection, Signal
from overseer.state.models import AgentState, AttemptOutcome
from overseer.state.paths import StatePaths
from tests.helpers import shared_screens
from tests.unit.test_drivers import FakeHost, agent, claim, printed

RECORDED = Path(__file__).resolve().parents[1] / "fakes" / "signals"
FAKE_SCREENS = Path(__file__).resolve().parents[1] / "fakes" / "screens"


def run_hook(spool_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    """The entry point as the CLIs run it: `python -I -S hook.py SPOOL_DIR AGENT EVENT`."""
    return subprocess.run(
        [sys.executable, "-I", "-S", hookrun.__file__, str(spool_dir), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=30,
    )


def spool_lines(spool_dir: Path, agent: str = "ai") -> list[dict[str, object]]:
    path = Path(hookrun.spool_path(str(spool_dir), agent))
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture
def spool_dir(tmp_path: Path) -> Path:
    paths = StatePaths(tmp_path / "state")
    ingest.install_hook(paths)
    return paths.signals


# -- the entry point --------------------------------------------------------------------------


def test_a_hook_appends_its_stdin_payload_as_one_line_and_prints_an_empty_object(
    spool_dir: Path,
) -> None:
    r = run_hook(spool_dir, "ai", "Stop", stdin='{"session_id": "s1", "stop_hook_active": false}')
    assert (r.returncode, r.stdout, r.stderr) == (0, "{}\n", "")
    (line,) = spool_lines(spool_dir)
    assert line["agent"] == "ai" and line["event"] == "Stop"
    assert line["payload"] == {"session_id": "s1", "stop_hook_active": False}
    assert isinstance(line["at"], float)
    assert os.stat(hookrun.spool_path(str(spool_dir), "ai")).st_mode & 0o777 == 0o600


def test_a_json_last_argument_is_the_payload_as_codex_notify_passes_it(spool_dir: Path) -> None:
    note = {"type": "agent-turn-complete", "thread-id": "t1"}
    r = run_hook(spool_dir, "ai", "notify", json.dumps(note), stdin="ignored")
    assert r.returncode == 0
    (line,) = spool_lines(spool_dir)
    assert line["payload"] == note


@pytest.mark.parametrize("damage", ["missing", "link", "open-dir"])
def test_a_hook_that_cannot_write_still_exits_0_and_says_why_on_stderr(
    spool_dir: Path, tmp_path: Path, damage: str
) -> None:
    target = tmp_path / "elsewhere.jsonl"
    if damage == "missing":
        spool_dir = tmp_path / "nowhere"
    elif damage == "link":
        os.symlink(target, hookrun.spool_path(str(spool_dir), "ai"))
    else:
        os.chmod(spool_dir, 0o777)
    r = run_hook(spool_dir, "ai", "Stop", stdin="{}")
    assert (r.returncode, r.stdout) == (0, "{}\n")
    assert r.stderr.startswith("overseer hook: ")
    assert not target.exists()  # a link is never followed


def test_hooks_running_at_once_never_interleave_their_lines(spool_dir: Path) -> None:
    big = "x" * 150_000  # well beyond a pipe's atomic size: one write() each keeps it whole
    procs = [
        subprocess.Popen(
            [sys.executable, "-I", "-S", hookrun.__file__, str(spool_dir), "ai", f"E{n}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        for n in range(12)
    ]
    for n, p in enumerate(procs):
        assert p.stdin is not None
        p.stdin.write(json.dumps({"n": n, "blob": big}))
        p.stdin.close()
    assert [p.wait(timeout=30) for p in procs] == [0] * 12
    lines = spool_lines(spool_dir)
    assert sorted(line["event"] for line in lines) == sorted(f"E{n}" for n in range(12))


def test_a_payload_that_closes_the_object_early_cannot_change_the_event(spool_dir: Path) -> None:
    run_hook(spool_dir, "ai", "PreToolUse", stdin='{"a": 1}, "event": "Stop", "x": {}')
    (line,) = spool_lines(spool_dir)
    assert line["event"] == "PreToolUse" and line["agent"] == "ai"


def test_a_pretty_printed_payload_stays_on_one_line(spool_dir: Path) -> None:
    run_hook(spool_dir, "ai", "Stop", stdin='{\n  "said": "a\\nb"\n}\n')
    (line,) = spool_lines(spool_dir)
    assert line["payload"] == {"said": "a\nb"}


def test_an_oversized_payload_keeps_its_short_fields(spool_dir: Path) -> None:
    payload = {"session_id": "s", "tool_response": {"stdout": "y" * 400_000}}
    run_hook(spool_dir, "ai", "PostToolUse", stdin=json.dumps(payload))
    (line,) = spool_lines(spool_dir)
    assert line["payload"] == {"session_id": "s", "truncated": True}


def test_the_spool_is_read_line_by_line_and_a_partial_line_waits(spool_dir: Path) -> None:
    path = Path(hookrun.spool_path(str(spool_dir), "ai"))
    lines = ingest.JsonLines(path)
    with open(path, "a") as fh:
        fh.write('{"a": 1}\nnot json\n{"b": ')
    assert lines.read() == [{"a": 1}]
    with open(path, "a") as fh:
        fh.write("2}\n")
    assert lines.read() == [{"b": 2}]


def test_a_big_spool_read_to_its_end_starts_anew_and_a_late_write_aside_is_still_read(
    spool_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingest, "ROTATE", 100)
    inbox = ingest.Inbox(StatePaths(spool_dir.parent.parent), "ai", "claude")
    path = Path(hookrun.spool_path(str(spool_dir), "ai"))
    line = json.dumps({"payload": {"x": "y" * 80}, "at": 1.0, "agent": "ai", "event": "Stop"})
    path.write_text(line + "\n")
    assert [s.name for s in inbox.read()[0]] == ["Stop"]
    assert not path.exists() and path.with_suffix(".old").exists()  # renamed aside
    with open(path.with_suffix(".old"), "a") as late:  # a hook that had it open
        late.write(line.replace("Stop", "PostToolUse") + "\n")
    hookrun.append(str(spool_dir), "ai", "SessionEnd", "{}")
    assert [s.name for s in inbox.read()[0]] == ["PostToolUse", "SessionEnd"]


# -- the CLIs' payloads -----------------------------------------------------------------------


def recorded(cli: str, name: str) -> list[Signal]:
    out = []
    for text in (RECORDED / cli / name).read_text().splitlines():
        line = json.loads(text)
        sig = CLIS[cli.split("-")[0]].hook(line["hook"], line["payload"], line["at"])
        if sig is not None:
            out.append(sig)
    return out


def test_claude_hooks_as_recorded_become_turns_tools_and_a_dialog() -> None:
    events = [s.event for s in recorded("claude-2.1.197", "hooks-turns.jsonl")]
    assert events[:9] == [
        Ev.SESSION_START,
        Ev.PROMPT,
        Ev.TURN_END,
        Ev.PROMPT,
        Ev.TOOL,
        Ev.PERMISSION,
        Ev.PERMISSION,  # Notification permission_prompt, 6 s later: still waiting
        Ev.TOOL,
        Ev.TURN_END,
    ]
    failures = recorded("claude-2.1.197", "hooks-failures.jsonl")
    failed = [s for s in failures if s.event == Ev.TURN_FAILED]
    assert [s.detail.split(":")[0] for s in failed] == ["rate_limit", "authentication_failed"]
    start = failures[0]
    assert start.data["transcript_path"] and start.data["model"] == "claude-opus-4-8[1m]"


def test_gemini_hooks_as_recorded_become_turns_tools_and_a_dialog() -> None:
    sigs = recorded("gemini-0.61.0", "hooks-turns.jsonl")
    assert [s.event for s in sigs][:8] == [
        Ev.SESSION_START,
        Ev.PROMPT,
        Ev.TURN_END,
        Ev.PROMPT,
        Ev.TOOL,
        Ev.PERMISSION,
        Ev.TOOL,
        Ev.TURN_END,
    ]
    assert sigs[5].detail == "touch made-by-gemini"  # the command the dialog asks about


def test_claude_is_given_its_hooks_with_settings_and_every_event_calls_the_entry_point(
    tmp_path: Path,
) -> None:
    paths = StatePaths(tmp_path)
    ctx = InjectContext("ai", tmp_path, paths.signals, ("/py", "hook.py", "D", "ai"), None, {})
    inj = CLIS["claude"].inject(ctx)
    (path,) = inj.files
    assert inj.args == ("--settings", str(path)) and path.parent == paths.signals
    hooks = json.loads(inj.files[path])["hooks"]
    assert set(hooks) >= {"SessionStart", "UserPromptSubmit", "PermissionRequest", "Stop"}
    assert hooks["Stop"][0]["hooks"][0]["command"] == "/py hook.py D ai Stop"


def test_gemini_refuses_settings_under_a_writable_directory_so_the_injection_degrades(
    tmp_path: Path,
) -> None:
    paths = StatePaths(tmp_path)  # under /tmp (1777), or not root's
    ctx = InjectContext("ai", tmp_path, paths.signals, ("h",), None, {})
    inj = CLIS["gemini"].inject(ctx)
    assert inj.degraded is not None and "Gemini hooks not injected" in inj.degraded
    assert not inj.env and not inj.files


@pytest.mark.skipif(os.geteuid() != 0, reason="a root-owned place is needed for Gemini's rule")
def test_gemini_settings_in_a_root_place_keep_the_machines_own_hooks(tmp_path: Path) -> None:
    place = Path("/run") / f"ovs-test-{os.getpid()}"
    place.mkdir(mode=0o700)
    try:
        system = tmp_path / "system.json"
        theirs = {"type": "command", "command": "audit"}
        system.write_text(json.dumps({"hooks": {"Stop": [{"hooks": [theirs]}]}, "x": 1}))
        paths = StatePaths(place)
        paths.signals.mkdir(mode=0o700, parents=True)
        env = {gemini.ENV: str(system)}
        inj = CLIS["gemini"].inject(InjectContext("ai", place, paths.signals, ("h",), None, env))
        assert inj.degraded is None
        (path,) = inj.files
        assert inj.env == {gemini.ENV: str(path)}
        merged = json.loads(inj.files[path])
        assert merged["x"] == 1 and merged["hooks"]["Stop"][0]["hooks"] == [theirs]
        assert merged["hooks"]["AfterAgent"][0]["hooks"][0]["command"] == "h AfterAgent"
    finally:
        for f in sorted(place.rglob("*"), reverse=True):
            f.rmdir() if f.is_dir() else f.unlink()
        place.rmdir()


# -- the decision ------------------------------------------------------------------------------


def screen(name: str) -> bytes:
    path = FAKE_SCREENS / name
    if not path.exists():
        path = shared_screens() / name
    return b"\x1b[H\x1b[2J" + path.read_text(encoding="utf-8").replace("\n", "\r\n").encode()


def hook(rt: AgentRuntime, host: FakeHost, event: str, **payload: object) -> None:
    sig = CLIS["gemini"].hook(event, payload, host.now)
    assert sig is not None
    rt.signal_at = host.now
    rt.driver.signal(rt, sig)


def gemini_at_work(host: FakeHost, prompt: str = "write the docs") -> AgentRuntime:
    """An idle Gemini agent given a prompt."""
    rt = agent(host, "gemini")
    assert isinstance(rt.driver, PromptDriver)
    host.fake.resize(110, 35)
    printed(host, rt, screen("gemini-0.61.0-prompt.idle.ansi"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert rt.state == AgentState.IDLE
    c = claim(host, prompt, kind="prompt")
    rt.driver.start(rt, c.task, c.attempt)
    host.now += 0.2
    return rt


def source(host: FakeHost) -> str | None:
    row = host.store.agent("w")
    assert row is not None
    return row.state_source


def test_a_fresh_event_wins_over_the_screen_and_names_its_hook(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = gemini_at_work(host)
    hook(rt, host, "BeforeAgent", prompt="write the docs")
    assert rt.state == AgentState.BUSY and source(host) == "hook BeforeAgent"
    hook(rt, host, "BeforeTool", tool_name="run_shell_command", tool_input={"command": "ls"})
    hook(rt, host, "Notification", notification_type="ToolPermission", details={"command": "ls"})
    assert rt.state == AgentState.WAITING and rt.prompt == "allow ls?"
    assert source(host) == "hook Notification"
    # The screen still shows the idle input box (it lags): the event holds.
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert rt.state == AgentState.WAITING and host.records == []
    hook(rt, host, "AfterAgent", prompt_response="done")
    assert rt.state == AgentState.IDLE and source(host) == "hook AfterAgent"
    host.now += 0.1
    rt.driver.check(rt, host.now)  # the screen shows its input box: the answer is drawn
    assert host.records == [(AttemptOutcome.OK, None, "the turn ended (AfterAgent)")]


def test_a_turn_end_waits_for_the_screen_at_most_a_moment(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = gemini_at_work(host)
    printed(host, rt, screen("gemini-0.61.0-thinking.busy.ansi"))
    hook(rt, host, "BeforeAgent", prompt="write the docs")
    hook(rt, host, "AfterAgent", prompt_response="done")
    host.now += TURN_END_GRACE / 2
    rt.driver.check(rt, host.now)
    assert host.records == []  # the answer may not be on screen yet
    host.now += TURN_END_GRACE
    rt.driver.check(rt, host.now)
    assert host.records == [(AttemptOutcome.OK, None, "the turn ended (AfterAgent)")]


def test_an_esc_interrupt_fires_no_hook_and_the_screens_idle_wins_after_a_quiet_while(
    tmp_path: Path,
) -> None:
    host = FakeHost(tmp_path)
    rt = gemini_at_work(host)
    printed(host, rt, screen("gemini-0.61.0-thinking.busy.ansi"))
    hook(rt, host, "BeforeAgent", prompt="write the docs")
    host.now += 2.0
    rt.driver.check(rt, host.now)
    printed(host, rt, screen("gemini-0.61.0-prompt.idle.ansi"))  # Esc: back at the box
    host.now += 1.0
    rt.driver.check(rt, host.now)
    assert host.records == [] and rt.state == AgentState.BUSY  # the busy event still holds
    host.now += OVERRULE
    rt.driver.check(rt, host.now)
    assert host.records == [(AttemptOutcome.OK, None, "the agent returned to its prompt")]
    assert source(host) == "screen input-box"


def test_an_answered_dialog_still_on_screen_does_not_outrank_the_events(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = gemini_at_work(host)
    hook(rt, host, "BeforeAgent", prompt="write the docs")
    hook(rt, host, "Notification", notification_type="ToolPermission", details={"command": "ls"})
    printed(host, rt, screen("gemini-0.61.0-permission.waiting.ansi"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    hook(rt, host, "AfterTool", tool_name="run_shell_command")  # answered: the tool ran
    host.now += OVERRULE + 1.0
    rt.driver.check(rt, host.now)
    assert rt.state == AgentState.BUSY and source(host) == "hook AfterTool"
    host.now += FRESH
    rt.driver.check(rt, host.now)  # no event for long: the screen decides alone again
    assert rt.state == AgentState.WAITING


def test_a_failed_turn_fails_the_attempt_and_pauses_the_agent(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "claude")
    rt.state = AgentState.IDLE
    c = claim(host, "write the docs", kind="prompt")
    rt.driver.start(rt, c.task, c.attempt)
    host.now += 0.5
    for line in (
        (RECORDED / "claude-2.1.197" / "hooks-failures.jsonl").read_text().splitlines()[1:3]
    ):
        sig = CLIS["claude"].hook(json.loads(line)["hook"], json.loads(line)["payload"], host.now)
        assert sig is not None
        rt.driver.signal(rt, sig)
    ((outcome, _, reason),) = host.records
    assert outcome == AttemptOutcome.FAILED and reason is not None
    assert reason.startswith("StopFailure: rate_limit: API Error")
    assert rt.paused and source(host) == "hook StopFailure"


def test_a_stale_busy_event_with_a_spinning_screen_stalls(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = gemini_at_work(host)
    printed(host, rt, screen("gemini-0.61.0-thinking.busy.ansi"))
    hook(rt, host, "BeforeAgent", prompt="write the docs")
    host.now += 1.0
    rt.driver.check(rt, host.now)
    for _ in range(int(host.stall_timeout) // 10 + 1):
        host.now += 10.0
        printed(host, rt, b"\x1b[1;1H")  # output that draws nothing new (a spinner's tick)
        rt.driver.check(rt, host.now)
    assert rt.state == AgentState.STALLED and len(host.stalls) == 1
    assert "no signal, no file growth and no progress on screen" in host.stalls[0]


def test_a_signal_is_progress_that_keeps_a_quiet_screen_from_stalling(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = gemini_at_work(host)
    printed(host, rt, screen("gemini-0.61.0-thinking.busy.ansi"))
    hook(rt, host, "BeforeAgent", prompt="write the docs")
    for _ in range(int(host.stall_timeout) // 10 + 2):
        host.now += 10.0
        hook(rt, host, "AfterTool", tool_name="read_file")
        rt.driver.check(rt, host.now)
    assert rt.state == AgentState.BUSY and host.stalls == []


def test_a_version_on_screen_that_was_not_tested_is_a_flag_on_the_agent(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "gemini")
    printed(host, rt, b"\x1b[H\x1b[2J Gemini CLI v0.99.1\r\n\r\n > ")
    host.now += 1.0
    rt.driver.check(rt, host.now)
    row = host.store.agent("w")
    assert row is not None and row.cli_version == "0.99.1"
    assert row.version_note == "untested version 0.99.1 (tested: 0.61)"


def test_gemini_refusing_its_settings_on_screen_marks_the_signals_degraded(
    tmp_path: Path,
) -> None:
    host = FakeHost(tmp_path)
    rt = agent(host, "gemini")
    assert isinstance(rt.driver, PromptDriver)
    rt.driver.injection = Injection(env={gemini.ENV: "/x/settings.json"})  # as if accepted
    host.fake.resize(110, 35)
    printed(host, rt, screen("gemini-0.61.0-settings-refused.idle.ansi"))
    host.now += 1.0
    rt.driver.check(rt, host.now)
    row = host.store.agent("w")
    assert row is not None and row.signals["degraded"].startswith(
        "the CLI refused its settings: ⚠  Security Warning: Skipping system settings file"
    )
    assert "agent.signals-degraded" in host.events


def checked(host: FakeHost, rt: AgentRuntime, times: int, step: float = 1.0) -> None:
    """The driver's check, `times` times, `step` seconds apart."""
    for _ in range(times):
        host.now += step
        rt.driver.check(rt, host.now)


@pytest.mark.parametrize("started", [True, False])
def test_an_untested_version_is_unknown_only_when_its_signals_fail_too(
    tmp_path: Path, started: bool
) -> None:
    host = FakeHost(tmp_path)
    ingest.install_hook(host.paths)
    rt = agent(host, "claude")
    command, env = rt.driver.launch(rt, "claude", str(tmp_path))
    assert command.startswith("claude --settings ") and env == {"CI": "false"}
    rt.driver.spawned(rt)
    # An untested version whose screen no rule recognises (only its banner so far).
    printed(host, rt, b"\x1b[H\x1b[2J\xe2\x95\xad\xe2\x94\x80 Claude Code v9.9.9 \r\n")
    if started:
        sig = CLIS["claude"].hook("SessionStart", {"source": "startup"}, host.now)
        assert sig is not None
        rt.driver.signal(rt, sig)
    checked(host, rt, 5, step=5.0)  # the startup deadline passes
    row = host.store.agent("w")
    assert row is not None and row.version_note == "untested version 9.9.9 (tested: 2.1)"
    if started:
        assert rt.state == AgentState.IDLE and row.state_source == "hook SessionStart"
    else:
        assert rt.state == AgentState.UNKNOWN and row.state_source == "screen no-rule-matched"


def test_a_cli_slow_to_draw_its_first_screen_is_starting_until_the_startup_deadline(
    tmp_path: Path,
) -> None:
    # Without signals (degraded), an unrecognised first screen used to make the agent unknown
    # after the debounce: a CLI slow to start on a loaded machine read starting -> unknown.
    host = FakeHost(tmp_path)
    rt = agent(host, "gemini")
    assert isinstance(rt.driver, PromptDriver)
    rt.driver.spawned(rt)
    rt.driver.injection = Injection(degraded="refused")
    printed(host, rt, b"\x1b[H\x1b[2J$ gemini\r\n")  # the shell's echo, nothing drawn yet
    checked(host, rt, 3)
    assert rt.state == AgentState.STARTING
    printed(host, rt, screen("gemini-0.61.0-prompt.idle.ansi"))
    checked(host, rt, 3)
    assert rt.state == AgentState.IDLE
    # Once recognised, an unknown screen is unknown again (after the debounce).
    printed(host, rt, b"\x1b[H\x1b[2Jsomething no rule knows\r\n")
    checked(host, rt, 3)
    assert rt.state == AgentState.UNKNOWN


def test_a_turn_end_written_before_the_prompt_was_sent_is_not_this_turns(tmp_path: Path) -> None:
    host = FakeHost(tmp_path)
    rt = gemini_at_work(host)
    late = CLIS["gemini"].hook("AfterAgent", {"prompt_response": "old"}, host.now - 0.5)
    assert late is not None
    rt.driver.signal(rt, late)
    host.now += TURN_END_GRACE * 2
    rt.driver.check(rt, host.now)
    assert host.records == [] and rt.running is not None


def test_a_turn_never_seen_to_start_does_not_end_and_enter_is_pressed_again(
    tmp_path: Path,
) -> None:
    # Gemini 0.61 loses the Enter that follows a paste: its screen changes (the pasted text)
    # and rests idle, but no BeforeAgent comes. That used to pass for a short turn, recorded
    # done with the prompt still in the box. A CLI whose signals are live must be seen to start.
    host = FakeHost(tmp_path)
    rt = gemini_at_work(host)
    hook(rt, host, "SessionStart", source="startup")
    printed(host, rt, screen("gemini-0.61.0-typed-not-submitted.idle.ansi"))
    for _ in range(10):  # 5 s: past SILENT_TURN and the resubmit wait
        host.now += 0.5
        rt.driver.check(rt, host.now)
    assert host.records == [] and rt.running is not None
    assert host.fake.keys == [("Enter",), ("Enter",)] and "task.resubmit" in host.events
    hook(rt, host, "BeforeAgent", prompt="write the docs")
    assert rt.state == AgentState.BUSY
    hook(rt, host, "AfterAgent", prompt_response="done")
    printed(host, rt, screen("gemini-0.61.0-prompt.idle.ansi"))
    host.now += 2.0
    rt.driver.check(rt, host.now)
    assert [r[0] for r in host.records] == [AttemptOutcome.OK]


def test_without_signals_a_prompt_never_taken_is_lost_not_done(tmp_path: Path) -> None:
    # The same lost Enter on a CLI whose signals are not live: the box still holds the text,
    # Enter is pressed again once, and then the attempt is lost, never recorded done.
    host = FakeHost(tmp_path)
    rt = gemini_at_work(host, "Add a README to this folder")  # what that screen's box holds
    printed(host, rt, screen("gemini-0.61.0-typed-not-submitted.idle.ansi"))
    for _ in range(30):  # 15 s: two submit timeouts
        host.now += 0.5
        rt.driver.check(rt, host.now)
        if host.records:
            break
    assert [r[0] for r in host.records] == [AttemptOutcome.LOST]


def test_an_ai_cli_starts_outside_ci_unless_its_agent_says_otherwise(tmp_path: Path) -> None:
    # With CI=true inherited from the supervisor, Gemini CLI draws no input box and exits.
    host = FakeHost(tmp_path)
    rt = agent(host, "gemini")
    _command, env = rt.driver.launch(rt, "gemini", str(tmp_path))
    assert env["CI"] == "false"
    rt.spec = dataclasses.replace(rt.spec, env={"CI": "1"})
    _command, env = rt.driver.launch(rt, "gemini", str(tmp_path))
    assert "CI" not in env  # the agent's own env (applied first by the pane) stays
