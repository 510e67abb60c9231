"""The model API stand-in (tests/fakes/model_api.py) with a real HTTP client, and the real AI
CLIs against it in tmux (marked realcli: skipped when the CLI is not installed).

The real-CLI tests look for `claude`, `gemini` and `codex` under $OVERSEER_CLI_PREFIX (an
`npm install --prefix DIR ...`) or on PATH; see tests/fakes/SIGNALS-MEASURED.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.model_api import ModelAPI, Rule, load_rules, sample
from tests.fakes.real_cli import PACKAGES, Run, find_cli, processes_with_home
from tests.helpers import wait_until
from tests.project import ROOT

BASH = {
    "name": "Bash",
    "input_schema": {
        "properties": {"command": {"type": "string"}, "description": {"type": "string"}}
    },
}


def post(url: str, body: dict[str, Any], timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """POST JSON; the status, headers and raw body (also of an HTTP error)."""
    req = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def sse(raw: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    """The (event name, data) pairs of a server-sent event stream."""
    out = []
    for block in raw.decode().split("\n\n"):
        name, data = None, None
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        if data is not None:
            out.append((name, data))
    return out


@pytest.fixture
def api() -> Iterator[ModelAPI]:
    with ModelAPI() as server:
        yield server


# -- Anthropic -------------------------------------------------------------------------------


def test_anthropic_stream_answers_the_last_user_message_with_usage(api: ModelAPI) -> None:
    body = {
        "model": "claude-x",
        "stream": True,
        "tools": [BASH],
        "messages": [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": [{"type": "text", "text": "an answer"}]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "<system-reminder>context the CLI adds</system-reminder>",
                    },
                    {"type": "text", "text": "second question"},
                ],
            },
        ],
    }
    status, headers, raw = post(f"{api.url}/v1/messages?beta=true", body)
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    events = sse(raw)
    assert [n for n, _ in events] == [
        "message_start",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert events[2][1]["delta"] == {"type": "text_delta", "text": "Answer to: second question"}
    start_usage = events[0][1]["message"]["usage"]
    end_usage = events[4][1]["usage"]
    assert start_usage["input_tokens"] == end_usage["input_tokens"] > 0
    assert end_usage["output_tokens"] > 0 and "cache_read_input_tokens" in end_usage
    assert api.seen("anthropic")[0].prompt == "second question"


def test_anthropic_tool_call_then_final_text_after_the_tool_result(api: ModelAPI) -> None:
    ask = {
        "model": "m",
        "stream": True,
        "tools": [BASH],
        "messages": [{"role": "user", "content": "run: touch x"}],
    }
    events = sse(post(f"{api.url}/v1/messages", ask)[2])
    block = events[1][1]["content_block"]
    assert block["type"] == "tool_use" and block["name"] == "Bash"
    assert json.loads(events[2][1]["delta"]["partial_json"]) == {
        "command": "touch x",
        "description": "Run touch x",
    }
    assert events[4][1]["delta"]["stop_reason"] == "tool_use"
    done = {
        **ask,
        "messages": [
            *ask["messages"],
            {"role": "assistant", "content": [{**block, "input": {"command": "touch x"}}]},
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": block["id"], "content": "ok"}],
            },
        ],
    }
    events = sse(post(f"{api.url}/v1/messages", done)[2])
    assert events[2][1]["delta"]["text"] == "Ran touch x."
    assert events[4][1]["delta"]["stop_reason"] == "end_turn"
    assert [s.action for s in api.seen()] == ["tool", "after-tool"]


def test_a_request_without_tools_never_gets_a_tool_call(api: ModelAPI) -> None:
    # Claude's title request: no tools, the prompt inside its own instructions.
    body = {
        "model": "m",
        "stream": False,
        "messages": [{"role": "user", "content": "run: rm -rf x"}],
    }
    status, _, raw = post(f"{api.url}/v1/messages", body)
    reply = json.loads(raw)
    assert status == 200 and reply["content"][0]["type"] == "text"
    assert reply["usage"]["output_tokens"] > 0
    assert api.seen()[0].action == "side-text"


def test_errors_carry_each_apis_own_body(api: ModelAPI) -> None:
    msg = {"messages": [{"role": "user", "content": "ratelimit please"}]}
    status, headers, raw = post(f"{api.url}/v1/messages", msg)
    assert status == 429 and headers["Retry-After"] == "1"
    assert json.loads(raw)["error"]["type"] == "rate_limit_error"
    status, _, raw = post(
        f"{api.url}/v1beta/models/g:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "badkey"}]}]},
    )
    assert status == 401 and json.loads(raw)["error"]["status"] == "UNAUTHENTICATED"
    status, _, raw = post(f"{api.url}/v1/responses", {"input": "ratelimit"})
    assert status == 429 and json.loads(raw)["error"]["code"] == "rate_limit_exceeded"


def test_a_hang_accepts_and_never_answers_until_closed() -> None:
    server = ModelAPI().start()
    try:
        with pytest.raises((TimeoutError, socket.timeout)):
            post(
                f"{server.url}/v1/messages",
                {"stream": True, "messages": [{"role": "user", "content": "hang"}]},
                timeout=1.5,
            )
        assert [s.action for s in server.seen()] == ["hang"]
    finally:
        server.close()


def test_a_trickle_starts_the_stream_then_sends_only_keepalives() -> None:
    server = ModelAPI().start()
    got: list[bytes] = []
    req = urllib.request.Request(
        f"{server.url}/v1/responses",
        json.dumps({"stream": True, "input": "trickle"}).encode(),
    )

    def read() -> None:
        with (
            contextlib.suppress(OSError, ValueError),
            urllib.request.urlopen(req, timeout=30) as resp,
        ):
            while line := resp.readline():
                got.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        wait_until(lambda: b": keep-alive\n" in got, timeout=10, message="no keep-alive")
        assert any(b"response.created" in line for line in got)
        assert not any(b"response.completed" in line for line in got)
    finally:
        server.close()
    reader.join(timeout=10)


def test_rules_are_tried_first_and_can_be_used_up() -> None:
    rules = [
        Rule(match="deploy", action="429", times=1),
        Rule(match="deploy", text="deployed", output_tokens=7, cached_tokens=3),
    ]
    with ModelAPI(rules=rules) as server:
        body = {
            "input": [
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "deploy"}],
                }
            ]
        }
        assert post(f"{server.url}/v1/responses", body)[0] == 429
        status, _, raw = post(f"{server.url}/v1/responses", body)
        reply = json.loads(raw)
        assert status == 200 and reply["output"][0]["content"][0]["text"] == "deployed"
        assert reply["usage"]["output_tokens"] == 7
        assert reply["usage"]["input_tokens_details"]["cached_tokens"] == 3


def test_a_main_only_rule_leaves_side_requests_alone() -> None:
    with ModelAPI(rules=[Rule(match="^limit", action="429", side=False)]) as server:
        side = {
            "contents": [{"role": "user", "parts": [{"text": "limit"}]}],
            "generationConfig": {"responseMimeType": "application/json"},
        }
        assert post(f"{server.url}/v1beta/models/g:generateContent", side)[0] == 200
        main = {
            "contents": side["contents"],
            "tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}],
        }
        assert post(f"{server.url}/v1beta/models/g:generateContent", main)[0] == 429


# -- Gemini ----------------------------------------------------------------------------------


def test_gemini_stream_function_call_then_text(api: ModelAPI) -> None:
    decl = {
        "name": "run_shell_command",
        "parametersJsonSchema": {
            "properties": {"command": {"type": "string"}, "description": {"type": "string"}}
        },
    }
    body: dict[str, Any] = {
        "contents": [
            {"role": "user", "parts": [{"text": "<session_context>\nsetup\n</session_context>"}]},
            {"role": "user", "parts": [{"text": "run: ls -l"}]},
        ],
        "tools": [{"functionDeclarations": [decl]}],
    }
    url = f"{api.url}/v1beta/models/gemini-x:streamGenerateContent?alt=sse"
    status, headers, raw = post(url, body)
    assert status == 200 and headers["Content-Type"] == "text/event-stream"
    ((_, chunk),) = sse(raw)
    call = chunk["candidates"][0]["content"]["parts"][0]["functionCall"]
    assert call == {
        "name": "run_shell_command",
        "args": {"command": "ls -l", "description": "Run ls -l"},
    }
    usage = chunk["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["candidatesTokenCount"]
    body["contents"] += [
        {"role": "model", "parts": [{"functionCall": call}]},
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "run_shell_command", "response": {"output": "a b"}}}
            ],
        },
    ]
    ((_, chunk),) = sse(post(url, body)[2])
    assert chunk["candidates"][0]["content"]["parts"][0] == {"text": "Ran ls -l."}
    assert chunk["candidates"][0]["finishReason"] == "STOP"


def test_gemini_json_side_requests_get_json_fitting_the_schema(api: ModelAPI) -> None:
    schema = {
        "type": "object",
        "properties": {
            "reasoning": {"type": "string"},
            "next_speaker": {"type": "string", "enum": ["model", "user"]},
        },
    }
    body = {
        "contents": [{"role": "user", "parts": [{"text": "run: ls"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": schema},
    }
    status, _, raw = post(f"{api.url}/v1beta/models/flash:generateContent", body)
    text = json.loads(raw)["candidates"][0]["content"]["parts"][0]["text"]
    assert status == 200 and json.loads(text) == {"reasoning": "ok", "next_speaker": "user"}
    assert sample({"type": "array"}) == [] and sample({"enum": ["flash", "pro"]}) == "flash"


# -- OpenAI Responses ------------------------------------------------------------------------


def test_responses_stream_shell_call_fits_the_offered_tool(api: ModelAPI) -> None:
    tool = {
        "type": "function",
        "name": "shell_command",
        "parameters": {
            "properties": {
                "command": {"type": "string"},
                "sandbox_permissions": {"type": "string"},
                "justification": {"type": "string"},
            }
        },
    }
    body: dict[str, Any] = {
        "model": "mock",
        "stream": True,
        "tools": [tool],
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "<environment_context>cwd</environment_context>"}
                ],
            },
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "run: touch y"}],
            },
        ],
    }
    events = sse(post(f"{api.url}/v1/responses", body)[2])
    assert [n for n, _ in events] == [
        "response.created",
        "response.output_item.added",
        "response.output_item.done",
        "response.completed",
    ]
    item = events[2][1]["item"]
    assert item["type"] == "function_call" and item["name"] == "shell_command"
    args = json.loads(item["arguments"])
    assert args["command"] == "touch y" and args["sandbox_permissions"] == "require_escalated"
    usage = events[3][1]["response"]["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    body["input"] += [
        item,
        {"type": "function_call_output", "call_id": item["call_id"], "output": "done"},
    ]
    events = sse(post(f"{api.url}/v1/responses", body)[2])
    assert events[2][1]["delta"] == "Ran touch y."


def test_unknown_paths_are_404_and_recorded(api: ModelAPI) -> None:
    assert post(f"{api.url}/v2/else", {})[0] == 404
    with urllib.request.urlopen(f"{api.url}/v1/models", timeout=5) as resp:
        assert json.loads(resp.read())["data"][0]["id"] == "mock-model"
    assert [s.action for s in api.seen()] == ["404", "models"]


# -- the command line ------------------------------------------------------------------------


def test_command_line_serves_a_script_until_terminated(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"match": "hello", "text": "scripted hello"}]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.model_api", "--port", "0", "--script", str(script)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        url = line.split()[-1]
        raw = post(f"{url}/v1/messages", {"messages": [{"role": "user", "content": "hello"}]})[2]
        assert json.loads(raw)["content"][0]["text"] == "scripted hello"
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_command_line_refuses_a_bad_script(tmp_path: Path) -> None:
    script = tmp_path / "script.json"
    script.write_text(json.dumps([{"match": "x", "action": "explode"}]))
    out = subprocess.run(
        [sys.executable, "-m", "tests.fakes.model_api", "--script", str(script)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 2 and "unknown action 'explode'" in out.stderr
    assert "Traceback" not in out.stderr
    with pytest.raises(ValueError, match="unknown field"):
        script.write_text(json.dumps([{"mtach": "x"}]))
        load_rules(script)


# -- the real CLIs against the stand-in (installed with npm; skipped otherwise) ---------------


def real_cli(name: str) -> Path:
    """The installed CLI, or skip with the reason and how to install it."""
    if shutil.which("tmux") is None:
        pytest.skip("tmux is not installed (looked for 'tmux' on PATH)")
    binary = find_cli(name)
    if binary is None:
        prefix = os.environ.get("OVERSEER_CLI_PREFIX", "")
        pytest.skip(
            f"{name} is not installed (looked on PATH and under OVERSEER_CLI_PREFIX={prefix!r}); "
            f"install with: npm install --prefix DIR {PACKAGES[name]} and set OVERSEER_CLI_PREFIX=DIR"
        )
    return binary


@pytest.fixture
def run_cli(tmp_path: Path) -> Iterator[Any]:
    """Start a real CLI against a fresh stand-in; its tmux server and daemons end at teardown."""
    runs: list[Run] = []
    servers: list[ModelAPI] = []

    def start(name: str, **kw: Any) -> Run:
        binary = real_cli(name)
        api = ModelAPI().start()
        servers.append(api)
        run = Run(name, binary, tmp_path / name, api.url, **kw)
        runs.append(run)
        return run.start()

    yield start
    for run in runs:
        run.stop()
        assert not list(processes_with_home(run.home)), "a process of the CLI outlived its run"
    for api in servers:
        api.close()


def shown(run: Run, text: str) -> bool:
    return text in run.screen()


def input_box(run: Run, text: str) -> None:
    """Wait for the CLI's input box; a failure shows the screen it was at instead."""
    try:
        wait_until(lambda: shown(run, text), timeout=60, message="no input box")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the screen:\n{run.screen()}") from None


@pytest.mark.realcli
def test_claude_hooks_report_the_session_the_prompt_and_the_permission_dialog(run_cli: Any) -> None:
    run = run_cli("claude")
    wait_until(lambda: run.hooks("SessionStart"), timeout=60, message="no SessionStart hook")
    input_box(run, "❯")
    run.submit("run: touch made-by-claude")
    prompt = wait_until(
        lambda: run.hooks("UserPromptSubmit"), timeout=60, message="no UserPromptSubmit"
    )
    assert prompt[0]["payload"]["prompt"] == "run: touch made-by-claude"
    asked = wait_until(
        lambda: run.hooks("PermissionRequest"), timeout=60, message="no PermissionRequest"
    )
    assert asked[0]["payload"]["tool_input"]["command"] == "touch made-by-claude"
    wait_until(
        lambda: shown(run, "Do you want to proceed?"), timeout=30, message="no dialog on screen"
    )
    assert not (run.work / "made-by-claude").exists()


@pytest.mark.realcli
def test_gemini_hooks_report_the_session_the_prompt_and_the_permission_dialog(run_cli: Any) -> None:
    # Hooks in the user layer of the temporary HOME: a system settings file must be owned by root
    # in a directory no one else can write, which a test under /tmp cannot offer.
    run = run_cli("gemini", gemini_layer="user")
    wait_until(lambda: run.hooks("SessionStart"), timeout=60, message="no SessionStart hook")
    input_box(run, "Type your message")
    run.submit("run: touch made-by-gemini")
    before = wait_until(lambda: run.hooks("BeforeAgent"), timeout=60, message="no BeforeAgent")
    assert before[0]["payload"]["prompt"] == "run: touch made-by-gemini"
    note = wait_until(lambda: run.hooks("Notification"), timeout=60, message="no Notification")
    assert note[0]["payload"]["notification_type"] == "ToolPermission"
    wait_until(lambda: shown(run, "Allow execution"), timeout=30, message="no dialog on screen")
    assert not (run.work / "made-by-gemini").exists()


@pytest.mark.realcli
def test_gemini_skips_a_system_settings_file_under_a_writable_parent(run_cli: Any) -> None:
    run = run_cli("gemini")  # the system layer, under tmp_path: /tmp is writable by all
    screen = wait_until(
        lambda: " ".join(run.screen().split()) if shown(run, "Skipping system") else "",
        timeout=60,
        message="no refusal on screen",
    )
    assert "Security Warning: Skipping system settings file" in screen and "is insecure" in screen
    input_box(run, "Type your message")
    assert run.hooks() == []


@pytest.mark.realcli
def test_codex_rollout_reports_the_turn_and_notify_its_end_after_the_approval(run_cli: Any) -> None:
    run = run_cli("codex")
    input_box(run, "Ask Codex")
    run.submit("run: touch made-by-codex")

    def rollout_events() -> list[str]:
        out = []
        for path in (run.home / ".codex" / "sessions").rglob("rollout-*.jsonl"):
            for line in path.read_text().splitlines():
                entry = json.loads(line) if line.strip() else {}
                if entry.get("type") == "event_msg":
                    out.append(entry["payload"]["type"])
        return out

    wait_until(lambda: "task_started" in rollout_events(), timeout=60, message="no task_started")
    wait_until(
        lambda: shown(run, "Would you like to run"), timeout=60, message="no approval dialog"
    )
    assert not (run.work / "made-by-codex").exists()
    run.keys("Enter")
    done = wait_until(
        lambda: [
            n
            for n in run.hooks("notify")
            if n["payload"]["input-messages"][-1:] == ["run: touch made-by-codex"]
        ],
        timeout=60,
        message="no notify for the turn",
    )
    assert done[0]["payload"]["last-assistant-message"] == "Ran touch made-by-codex."
    wait_until(lambda: "task_complete" in rollout_events(), timeout=30, message="no task_complete")
    assert (run.work / "made-by-codex").exists()
