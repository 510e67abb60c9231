"""A local stand-in for the model APIs of Claude Code, Gemini CLI and Codex, for tests.

Serves on 127.0.0.1 (standard library only, no network):
  Anthropic  POST /v1/messages                      (SSE when "stream" is true, else JSON)
             POST /v1/messages/count_tokens
  Gemini     POST /v1beta/models/M:generateContent  (JSON)
             POST /v1beta/models/M:streamGenerateContent?alt=sse
             POST /v1beta/models/M:countTokens
  OpenAI     POST /v1/responses                     (SSE when "stream" is true, else JSON)
             GET  /v1/models

What to answer is decided per request from the last thing the person typed (the last user
text, without the context blocks the CLIs add), by the first rule whose `match` regex finds
it: the test's own rules first, then these defaults, so a prompt typed into a real CLI can
script its answer:

  run: CMD   a tool call running the shell command CMD (the CLI shows its permission dialog);
             once the tool's result comes back, the final text "Ran CMD."
  work N     the text answer after N seconds of a started but silent stream
  hang       accept the request and never answer (a network stall)
  trickle    start the stream, then only keep-alive comments for ever
  ratelimit  HTTP 429 with the API's own error body
  badkey     HTTP 401 with the API's own error body
  (other)    the text answer "Answer to: <prompt>"

A request without tools (Claude's title request) or asking for JSON (Gemini's routing and
next-speaker checks) gets plain text or JSON fitting its schema, never a tool call; hangs
and errors apply to it too. Every answer reports token usage (input, output, cached).

Use from tests: `with ModelAPI(rules=[Rule(match="x", action="tool", command="ls")]) as api:
api.url ...; api.requests`. Or run it: `python -m tests.fakes.model_api --port N --script
FILE [--log FILE]` where FILE holds a JSON list of rules (the fields of Rule).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ACTIONS = ("text", "tool", "hang", "trickle", "429", "401")
KEEPALIVE_SECONDS = 2.0  # between keep-alive comments of a trickling stream


@dataclass
class Rule:
    """How to answer requests whose prompt matches `match` (a regex, searched)."""

    match: str = ""
    action: str = "text"  # one of ACTIONS
    text: str = "Answer to: {prompt}"  # reply text; {prompt}, {command}, {output}, {n} expand
    command: str = "{command}"  # shell command of a tool call
    after: str = "Ran {command}."  # final text once the tool's result came back
    delay: float = 0.0  # seconds of silence in the stream before answering (-1: N of "work N")
    times: int = 0  # how many requests it answers; 0 = no limit
    retry_after: int = 1  # the Retry-After header of a 429
    input_tokens: int = 0  # usage reported; 0 = estimated from the request's size
    output_tokens: int = 0  # 0 = estimated from the reply's size
    cached_tokens: int = 0
    side: bool = True  # whether it also answers side requests (titles, routing, JSON checks)
    used: int = field(default=0, compare=False)

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ValueError(f"unknown action {self.action!r} (one of {', '.join(ACTIONS)})")
        re.compile(self.match)


DEFAULT_RULES = (
    Rule(match=r"^run: (?P<command>.+)", action="tool"),
    Rule(match=r"^work (?P<n>\d+(?:\.\d+)?)", text="Worked {n} s.", delay=-1),
    Rule(match=r"\bhang\b", action="hang"),
    Rule(match=r"\btrickle\b", action="trickle"),
    Rule(match=r"\bratelimit\b", action="429"),
    Rule(match=r"\bbadkey\b", action="401"),
    Rule(),
)


@dataclass
class Seen:
    """One request the stand-in answered (for tests to inspect)."""

    api: str  # anthropic | gemini | openai | other
    path: str
    prompt: str
    action: str  # what it did: text, tool, after-tool, json, hang, trickle, 429, 401, 404
    tools: bool  # whether the request offered tools
    at: float = field(default_factory=time.time)


@dataclass
class Turn:
    """What the stand-in read from one request."""

    prompt: str  # last user text
    tool_output: str | None  # the result of a tool, when that is the last thing sent
    tool_names: list[str]
    tool_schemas: dict[str, dict[str, Any]]
    json_schema: dict[str, Any] | None  # set when the request asks for JSON
    size: int  # bytes of the request body


# -- reading requests -----------------------------------------------------------------------

_CONTEXT = re.compile(
    r"^\s*<(system-reminder|environment_context|user_instructions|session_context|"
    r"command-name|local-command|context)"
)


def _is_context(text: str) -> bool:
    """Whether a user text block is context a CLI added, not something the person typed."""
    return bool(_CONTEXT.match(text)) or text.lstrip().startswith("# AGENTS.md")


def _last_typed(texts: list[str]) -> str:
    """The last of the texts that is not added context ("" when all are)."""
    typed = [t for t in texts if t.strip() and not _is_context(t)]
    return typed[-1].strip() if typed else ""


def _anthropic_turn(body: dict[str, Any], size: int) -> Turn:
    texts: list[str] = []
    output: str | None = None
    for msg in body.get("messages", []):
        if msg.get("role") != "user":
            output = None
            continue
        content = msg.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        output = None
        for block in blocks or []:
            if block.get("type") == "text":
                texts.append(block.get("text", ""))
            elif block.get("type") == "tool_result":
                inner = block.get("content", "")
                if isinstance(inner, list):
                    inner = "\n".join(b.get("text", "") for b in inner if isinstance(b, dict))
                output = str(inner)
    tools = body.get("tools") or []
    return Turn(
        prompt=_last_typed(texts),
        tool_output=output,
        tool_names=[t.get("name", "") for t in tools],
        tool_schemas={t.get("name", ""): t.get("input_schema", {}) for t in tools},
        json_schema=None,
        size=size,
    )


def _gemini_turn(body: dict[str, Any], size: int) -> Turn:
    texts: list[str] = []
    output: str | None = None
    for content in body.get("contents", []):
        if content.get("role") != "user":
            output = None
            continue
        output = None
        for part in content.get("parts", []):
            if "text" in part:
                texts.append(part["text"])
            elif "functionResponse" in part:
                output = json.dumps(part["functionResponse"].get("response", {}))
    decls = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    if schema is None and config.get("responseMimeType") == "application/json":
        schema = {}
    return Turn(
        prompt=_last_typed(texts),
        tool_output=output,
        tool_names=[d.get("name", "") for d in decls],
        tool_schemas={
            d.get("name", ""): d.get("parametersJsonSchema") or d.get("parameters") or {}
            for d in decls
        },
        json_schema=schema,
        size=size,
    )


def _openai_turn(body: dict[str, Any], size: int) -> Turn:
    texts: list[str] = []
    output: str | None = None
    items = body.get("input", [])
    if isinstance(items, str):
        items = [{"type": "message", "role": "user", "content": items}]
    for item in items:
        kind = item.get("type", "message")
        if kind.endswith("_call_output"):
            raw = item.get("output", "")
            output = raw if isinstance(raw, str) else json.dumps(raw)
        elif kind == "message" and item.get("role") == "user":
            output = None
            content = item.get("content")
            if isinstance(content, str):
                texts.append(content)
            else:
                texts.extend(c.get("text", "") for c in content or [] if "text" in c)
        elif kind in ("message", "function_call", "local_shell_call", "custom_tool_call"):
            output = None
    tools = body.get("tools") or []
    names = [t.get("name") or t.get("type", "") for t in tools]
    return Turn(
        prompt=_last_typed(texts),
        tool_output=output,
        tool_names=names,
        tool_schemas={n: t.get("parameters") or {} for n, t in zip(names, tools, strict=True)},
        json_schema=None,
        size=size,
    )


def sample(schema: dict[str, Any]) -> Any:
    """A small value valid for a JSON schema (the first enum value, empty strings, ...)."""
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type", "object")
    if isinstance(kind, list):
        kind = kind[0]
    kind = str(kind).lower()
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: sample(v) for k, v in props.items()}
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return "ok"


def _json_answer(schema: dict[str, Any]) -> str:
    """JSON for a structured side request; a next-speaker check is told the person speaks."""
    value = sample(schema)
    if isinstance(value, dict) and "next_speaker" in value:
        value["next_speaker"] = "user"
    return json.dumps(value)


# -- the server -----------------------------------------------------------------------------


class ModelAPI:
    """The stand-in server on 127.0.0.1 (a random port by default); a context manager."""

    def __init__(
        self,
        rules: list[Rule] | None = None,
        port: int = 0,
        log: Path | None = None,
    ) -> None:
        self.rules = list(rules or []) + [Rule(**_fields(r)) for r in DEFAULT_RULES]
        self.requests: list[Seen] = []
        self.log = log
        self.closing = threading.Event()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), _handler(self))
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The port it listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """The base URL (no trailing slash, no /v1)."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ModelAPI:
        """Serve in a background thread."""
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and release hanging requests."""
        self.closing.set()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> ModelAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def seen(self, api: str | None = None) -> list[Seen]:
        """The requests answered so far (of one API when given)."""
        with self._lock:
            return [s for s in self.requests if api is None or s.api == api]

    def choose(self, turn: Turn) -> tuple[Rule, dict[str, str]]:
        """The first rule matching the prompt, with its named groups and the prompt."""
        side = not turn.tool_names or turn.json_schema is not None
        with self._lock:
            for rule in self.rules:
                if (rule.times and rule.used >= rule.times) or (side and not rule.side):
                    continue
                m = re.search(rule.match, turn.prompt, re.S)
                if m:
                    rule.used += 1
                    values = {k: v for k, v in m.groupdict().items() if v is not None}
                    values.setdefault("command", "")
                    values.setdefault("n", "0")
                    return rule, {"prompt": turn.prompt, **values}
        raise AssertionError("the last default rule matches everything")

    def record(self, seen: Seen, body: bytes) -> None:
        """Remember a request (and append it to the log file when one is set)."""
        with self._lock:
            self.requests.append(seen)
            if self.log is not None:
                entry = {**seen.__dict__, "body": body.decode("utf-8", "replace")}
                with self.log.open("a") as f:
                    f.write(json.dumps(entry) + "\n")


def _fields(rule: Rule) -> dict[str, Any]:
    return {f.name: getattr(rule, f.name) for f in fields(rule) if f.name != "used"}


@dataclass
class Reply:
    """What one request gets: text, or a shell tool call, with usage."""

    text: str = ""
    command: str | None = None
    tool: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    input_tokens: int = 1
    output_tokens: int = 1
    cached_tokens: int = 0
    delay: float = 0.0


def _shell_call(
    names: list[str], schemas: dict[str, dict[str, Any]], command: str
) -> tuple[str, dict[str, Any]]:
    """The name and arguments of the CLI's own shell tool running `command`."""
    props: dict[str, Any] = {}
    for name in (
        "Bash",
        "run_shell_command",
        "shell_command",
        "exec_command",
        "shell",
        "local_shell",
    ):
        if name in names:
            props = schemas.get(name, {}).get("properties", {}) or {}
            break
    else:
        name = names[0] if names else "shell"
    if name == "shell" or props.get("command", {}).get("type") == "array":
        args: dict[str, Any] = {"command": ["bash", "-lc", command]}
    elif name == "exec_command" or "cmd" in props:
        args = {"cmd": command}
    else:
        args = {"command": command}
    if "description" in props:
        args["description"] = f"Run {command}"
    # Codex asks before a command that wants to leave its sandbox: ask for that.
    if "sandbox_permissions" in props:
        args["sandbox_permissions"] = "require_escalated"
        args["justification"] = f"The test asks to run {command}"
    elif "with_escalated_permissions" in props:
        args["with_escalated_permissions"] = True
        args["justification"] = f"The test asks to run {command}"
    return name, args


def _handler(api: ModelAPI) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        owner = api

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    owner: ModelAPI

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass  # tests read api.requests; stderr stays quiet

    # -- plumbing -------------------------------------------------------------------------

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            return self.rfile.read(length)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return b""

    def _json(self, status: int, value: Any, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: str) -> None:
        raw = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(raw), raw))
        self.wfile.flush()

    def _event(self, name: str | None, value: Any) -> None:
        head = f"event: {name}\n" if name else ""
        self._chunk(f"{head}data: {json.dumps(value)}\n\n")

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _wait(self, seconds: float) -> None:
        self.owner.closing.wait(seconds)

    def _trickle(self) -> None:
        """Keep-alive comments until the server closes."""
        while not self.owner.closing.is_set():
            self._chunk(": keep-alive\n\n")
            self._wait(KEEPALIVE_SECONDS)
        self.close_connection = True

    def _hang(self) -> None:
        self._wait(1e9)
        self.close_connection = True

    # -- routing --------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        path = urlsplit(self.path).path
        if path.endswith("/models"):
            self.owner.record(Seen("openai", self.path, "", "models", False), b"")
            self._json(
                200,
                {"object": "list", "data": [{"id": "mock-model", "object": "model"}], "models": []},
            )
            return
        self._not_found(b"")

    def do_POST(self) -> None:  # noqa: N802
        raw = self._body()
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._json(400, {"error": {"message": "body is not JSON"}})
            return
        path = urlsplit(self.path).path
        try:
            if path.endswith("/messages/count_tokens"):
                self.owner.record(Seen("anthropic", self.path, "", "count", False), raw)
                self._json(200, {"input_tokens": max(1, len(raw) // 4)})
            elif path.endswith("/messages"):
                self._serve("anthropic", _anthropic_turn(body, len(raw)), body, raw)
            elif path.endswith(":countTokens"):
                self.owner.record(Seen("gemini", self.path, "", "count", False), raw)
                self._json(200, {"totalTokens": max(1, len(raw) // 4)})
            elif path.endswith(":generateContent") or path.endswith(":streamGenerateContent"):
                self._serve("gemini", _gemini_turn(body, len(raw)), body, raw)
            elif path.endswith("/responses"):
                self._serve("openai", _openai_turn(body, len(raw)), body, raw)
            else:
                self._not_found(raw)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _not_found(self, raw: bytes) -> None:
        self.owner.record(Seen("other", f"{self.command} {self.path}", "", "404", False), raw)
        self._json(404, {"error": {"message": f"the stand-in does not serve {self.path}"}})

    def _serve(self, api: str, turn: Turn, body: dict[str, Any], raw: bytes) -> None:
        rule, values = self.owner.choose(turn)
        action = rule.action
        side = not turn.tool_names or turn.json_schema is not None
        reply = Reply()
        if action == "tool" and turn.tool_output is not None:
            action = "after-tool"
            values["output"] = turn.tool_output
            reply.text = rule.after.format(**values)
        elif action == "tool" and not side:
            command = rule.command.format(**values)
            reply.command = command
            reply.tool, reply.args = _shell_call(turn.tool_names, turn.tool_schemas, command)
        elif action in ("text", "tool") and turn.json_schema is not None:
            action = "json"
            reply.text = _json_answer(turn.json_schema)
        elif action in ("text", "tool"):
            action = "text" if action == "text" or not side else "side-text"
            reply.text = rule.text.format(**values) if rule.action == "text" else "Title"
        reply.delay = float(values["n"]) if rule.delay < 0 else rule.delay
        reply.input_tokens = rule.input_tokens or max(1, turn.size // 4)
        reply.output_tokens = rule.output_tokens or max(
            1, (len(reply.text) + len(json.dumps(reply.args))) // 4
        )
        reply.cached_tokens = rule.cached_tokens
        self.owner.record(Seen(api, self.path, turn.prompt, action, bool(turn.tool_names)), raw)
        if action == "hang":
            self._hang()
        elif action in ("429", "401"):
            self._error(api, int(action), rule.retry_after)
        else:
            stream = body.get("stream") is True or "streamGenerateContent" in self.path
            getattr(self, f"_{api}")(reply, stream, action == "trickle", str(body.get("model", "")))

    def _error(self, api: str, status: int, retry_after: int) -> None:
        limited = status == 429
        message = "Rate limit reached for requests" if limited else "Invalid API key"
        headers = {"Retry-After": str(retry_after)} if limited else {}
        if api == "anthropic":
            kind = "rate_limit_error" if limited else "authentication_error"
            value: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
        elif api == "gemini":
            state = "RESOURCE_EXHAUSTED" if limited else "UNAUTHENTICATED"
            value = {"error": {"code": status, "message": message, "status": state}}
        else:
            code = "rate_limit_exceeded" if limited else "invalid_api_key"
            kind = "rate_limit_exceeded" if limited else "invalid_request_error"
            value = {"error": {"message": message, "type": kind, "code": code, "param": None}}
        self._json(status, value, headers)

    # -- Anthropic Messages ---------------------------------------------------------------

    def _anthropic(self, reply: Reply, stream: bool, trickle: bool, model: str) -> None:
        msg_id = f"msg_{time.time_ns():x}"
        usage = {
            "input_tokens": reply.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": reply.cached_tokens,
            "output_tokens": reply.output_tokens,
        }
        if reply.command is not None:
            block: dict[str, Any] = {
                "type": "tool_use",
                "id": f"toolu_{time.time_ns():x}",
                "name": reply.tool,
                "input": {},
            }
            stop = "tool_use"
        else:
            block = {"type": "text", "text": ""}
            stop = "end_turn"
        if not stream:
            full = (
                {**block, "input": reply.args}
                if reply.command is not None
                else {"type": "text", "text": reply.text}
            )
            self._wait(reply.delay)
            self._json(
                200,
                {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [full],
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": usage,
                },
            )
            return
        self._start_stream()
        self._event(
            "message_start",
            {
                "type": "message_start",
                "message": {
                    "id": msg_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": 1},
                },
            },
        )
        if trickle:
            self._trickle()
            return
        self._wait(reply.delay)
        self._event(
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": block},
        )
        if reply.command is not None:
            delta = {"type": "input_json_delta", "partial_json": json.dumps(reply.args)}
        else:
            delta = {"type": "text_delta", "text": reply.text}
        self._event(
            "content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}
        )
        self._event("content_block_stop", {"type": "content_block_stop", "index": 0})
        self._event(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": usage,
            },
        )
        self._event("message_stop", {"type": "message_stop"})
        self._end_stream()

    # -- Gemini generateContent -----------------------------------------------------------

    def _gemini(self, reply: Reply, stream: bool, trickle: bool, model: str) -> None:
        model = model or self.path.rsplit("/", 1)[-1].split(":")[0]
        if reply.command is not None:
            part: dict[str, Any] = {"functionCall": {"name": reply.tool, "args": reply.args}}
        else:
            part = {"text": reply.text}
        done = {
            "candidates": [
                {"content": {"role": "model", "parts": [part]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": {
                "promptTokenCount": reply.input_tokens,
                "candidatesTokenCount": reply.output_tokens,
                "cachedContentTokenCount": reply.cached_tokens,
                "totalTokenCount": reply.input_tokens + reply.output_tokens,
            },
            "modelVersion": model,
        }
        if not stream:
            self._wait(reply.delay)
            self._json(200, done)
            return
        self._start_stream()
        if trickle:
            self._trickle()
            return
        self._wait(reply.delay)
        self._event(None, done)
        self._end_stream()

    # -- OpenAI Responses -----------------------------------------------------------------

    def _openai(self, reply: Reply, stream: bool, trickle: bool, model: str) -> None:
        resp_id = f"resp_{time.time_ns():x}"
        if reply.command is not None:
            call_id = f"call_{time.time_ns():x}"
            if reply.tool == "local_shell":
                item: dict[str, Any] = {
                    "type": "local_shell_call",
                    "id": f"lsh_{call_id}",
                    "call_id": call_id,
                    "status": "completed",
                    "action": {"type": "exec", "command": reply.args["command"]},
                }
            else:
                item = {
                    "type": "function_call",
                    "id": f"fc_{call_id}",
                    "call_id": call_id,
                    "name": reply.tool,
                    "arguments": json.dumps(reply.args),
                    "status": "completed",
                }
        else:
            item = {
                "type": "message",
                "id": f"msg_{resp_id}",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": reply.text, "annotations": []}],
            }
        usage = {
            "input_tokens": reply.input_tokens,
            "input_tokens_details": {"cached_tokens": reply.cached_tokens},
            "output_tokens": reply.output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": reply.input_tokens + reply.output_tokens,
        }
        response = {
            "id": resp_id,
            "object": "response",
            "model": model,
            "status": "completed",
            "output": [item],
            "usage": usage,
        }
        if not stream:
            self._wait(reply.delay)
            self._json(200, response)
            return
        self._start_stream()
        self._event(
            "response.created",
            {
                "type": "response.created",
                "response": {**response, "status": "in_progress", "output": [], "usage": None},
            },
        )
        if trickle:
            self._trickle()
            return
        self._wait(reply.delay)
        self._event(
            "response.output_item.added",
            {
                "type": "response.output_item.added",
                "output_index": 0,
                "item": {**item, "status": "in_progress"},
            },
        )
        if reply.command is None:
            self._event(
                "response.output_text.delta",
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "delta": reply.text,
                },
            )
        self._event(
            "response.output_item.done",
            {"type": "response.output_item.done", "output_index": 0, "item": item},
        )
        self._event("response.completed", {"type": "response.completed", "response": response})
        self._end_stream()


# -- command line ---------------------------------------------------------------------------


def load_rules(path: Path) -> list[Rule]:
    """Rules from a JSON file holding a list of objects with Rule's fields."""
    data = json.loads(path.read_text())
    if not isinstance(data, list):
        raise ValueError("the script must be a JSON list of rules")
    known = {f.name for f in fields(Rule)} - {"used"}
    rules = []
    for i, entry in enumerate(data):
        extra = set(entry) - known
        if extra:
            raise ValueError(f"rule {i}: unknown field(s) {', '.join(sorted(extra))}")
        rules.append(Rule(**entry))
    return rules


def main(argv: list[str] | None = None) -> int:
    """Serve until interrupted; print the URL once listening."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.fakes.model_api", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: a free one)")
    parser.add_argument("--script", type=Path, help="JSON list of rules tried before the defaults")
    parser.add_argument(
        "--log", type=Path, help="append each request (JSON line with its body) here"
    )
    args = parser.parse_args(argv)
    try:
        rules = load_rules(args.script) if args.script else []
    except (OSError, ValueError, TypeError, re.error) as e:
        print(f"model_api: bad script {args.script}: {e}", file=sys.stderr)
        return 2
    try:
        api = ModelAPI(rules, port=args.port, log=args.log)
    except OSError as e:
        print(f"model_api: cannot listen on 127.0.0.1:{args.port}: {e}", file=sys.stderr)
        return 3
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with api:
        print(f"listening on {api.url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


def iter_log(path: Path) -> Iterator[dict[str, Any]]:
    """The entries of a --log file."""
    for line in path.read_text().splitlines():
        if line.strip():
            yield json.loads(line)


if __name__ == "__main__":
    sys.exit(main())
