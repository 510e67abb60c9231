"""`overseer serve`: Prometheus metrics and an HTTP API (status, events as Server-Sent Events,
operator commands) on aiohttp, every request authenticated by a bearer token from the store."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from overseer.agents.operator import AGENT_VERBS, GROUP_VERBS, TASK_VERBS
from overseer.state import latency
from overseer.state.models import AgentState, AttemptOutcome, TaskState
from overseer.state.store import Store, token_digest
from overseer.tui.cli_common import Project, event_json, status_json
from overseer.tui.commands import send

T = TypeVar("T")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ROLE = web.RequestKey("role", str)
API: web.AppKey[Api] = web.AppKey("api")
EVENT_POLL = 0.2  # seconds between looks for new events while a stream is idle
EVENT_BATCH = 500  # events read (and sent) at a time
ENDED = tuple(o.value for o in AttemptOutcome if o is not AttemptOutcome.RUNNING)
# The supervisor's latency histograms (state/latency.py) by their metric names.
HISTOGRAMS = {
    latency.EXIT: (
        "overseer_exit_to_store_seconds",
        "An attempt's exit (its rc file written) -> its record written by the supervisor.",
    ),
    latency.CLAIM: (
        "overseer_claim_latency_seconds",
        "A task ready (or its retry due) -> claimed by an agent.",
    ),
}


class Api:
    """The served project: one store, read on one worker thread (a connection is not shared
    between threads), so a slow read never stalls the event loop."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="overseer-serve")
        self.store: Store = self.reader.submit(project.store).result()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(StoreCollector(self.store))

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a store read on the reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self.reader, fn, *args)

    def close(self) -> None:
        """Close the store on its thread, then the thread."""
        self.reader.submit(self.store.close).result()
        self.reader.shutdown()


class StoreCollector(Collector):
    """The fleet's metrics, read from the store at scrape time with grouped counts only."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        now = time.time()
        with self.store.read():  # one snapshot: the counts agree with each other
            tasks = self.store.task_counts()
            attempts = self.store.attempt_counts()
            agents = self.store.agents()
            sup = self.store.supervisor()
            histograms = latency.histograms(self.store)
        g = GaugeMetricFamily("overseer_tasks", "Tasks in each state.", labels=["state"])
        for state in TaskState:
            g.add_metric([state.value], tasks.get(state.value, 0))
        yield g
        by_outcome = dict.fromkeys(ENDED, 0)
        failures: dict[str, int] = {}
        for (outcome, exit_code), n in attempts.items():
            if outcome in by_outcome:
                by_outcome[outcome] += n
            if outcome == AttemptOutcome.FAILED.value:
                key = "none" if exit_code is None else str(exit_code)
                failures[key] = failures.get(key, 0) + n
        c = CounterMetricFamily(
            "overseer_attempts", "Attempts that ended, by outcome.", labels=["outcome"]
        )
        for outcome, n in by_outcome.items():
            c.add_metric([outcome], n)
        yield c
        c = CounterMetricFamily(
            "overseer_task_failures",
            "Failed attempts by exit code ('none': a failed verify or no code read).",
            labels=["exit_code"],
        )
        for code, n in sorted(failures.items()):
            c.add_metric([code], n)
        yield c
        g = GaugeMetricFamily("overseer_agents", "Agents in each state.", labels=["state"])
        for agent_state in AgentState:
            g.add_metric([agent_state.value], sum(a.state is agent_state for a in agents))
        yield g
        g = GaugeMetricFamily(
            "overseer_agent_heartbeat_age_seconds",
            "Seconds since each agent's last heartbeat.",
            labels=["agent"],
        )
        for a in agents:
            if a.heartbeat_at is not None:
                g.add_metric([a.name], max(0.0, now - a.heartbeat_at))
        yield g
        tokens = CounterMetricFamily(
            "overseer_agent_tokens", "Tokens an AI agent's CLI reported.", labels=["agent"]
        )
        cost = CounterMetricFamily(
            "overseer_agent_cost_usd", "Cost an AI agent's CLI reported.", labels=["agent"]
        )
        for a in agents:
            if a.usage is not None:
                tokens.add_metric([a.name], a.usage.input_tokens + a.usage.output_tokens)
                if a.usage.cost_usd is not None:
                    cost.add_metric([a.name], a.usage.cost_usd)
        yield tokens
        yield cost
        g = GaugeMetricFamily(
            "overseer_supervisor_heartbeat_age_seconds",
            "Seconds since the supervisor loop's last heartbeat (absent: it never ran).",
        )
        if sup.heartbeat_at is not None:
            g.add_metric([], max(0.0, now - sup.heartbeat_at))
        yield g
        for h in histograms:
            name, text = HISTOGRAMS[h.metric]
            yield HistogramMetricFamily(
                name,
                text,
                buckets=[("+Inf" if le == float("inf") else repr(le), n) for le, n in h.buckets],
                sum_value=h.total,
            )


@web.middleware
async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Let through only requests with a known token; 401 says nothing about why."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    role = None
    if scheme.lower() == "bearer" and token.strip():
        role = await request.app[API].read(
            request.app[API].store.token_role, token_digest(token.strip())
        )
    if role is None:
        raise web.HTTPUnauthorized(headers={"WWW-Authenticate": "Bearer"}, text="")
    request[ROLE] = role
    return await handler(request)


async def metrics(request: web.Request) -> web.Response:
    api = request.app[API]
    body = await api.read(generate_latest, api.registry)
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4"})


async def status(request: web.Request) -> web.Response:
    api = request.app[API]
    return web.json_response(await api.read(status_json, api.project, api.store))


def resume_point(request: web.Request) -> int:
    """The event id a stream starts after: Last-Event-ID, else ?since=, else 0 (all)."""
    text = request.headers.get("Last-Event-ID") or request.query.get("since") or "0"
    try:
        since = int(text)
    except ValueError:
        since = -1
    if since < 0:
        raise web.HTTPBadRequest(text=f"not an event id: {text!r}")
    return since


async def events(request: web.Request) -> web.StreamResponse:
    """Events as Server-Sent Events, oldest first; each one's `id:` is its event id."""
    api = request.app[API]
    since = resume_point(request)
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
    )
    await response.prepare(request)
    with contextlib.suppress(ConnectionResetError):  # the client went away: its stream ends
        while True:
            batch = await api.read(api.store.events, since, EVENT_BATCH)
            for ev in batch:
                data = json.dumps(event_json(ev))
                await response.write(f"id: {ev.id}\ndata: {data}\n\n".encode())
                since = ev.id
            if len(batch) < EVENT_BATCH:
                await asyncio.sleep(EVENT_POLL)  # an indexed look at the newest ids: cheap
    return response


def command_request(body: Any) -> tuple[str, str, dict[str, Any]]:
    """An operator command from a JSON body {verb, target, args}, checked as the CLI does."""
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object: {verb, target, args}")
    verb, target, args = body.get("verb"), body.get("target"), body.get("args", {})
    if verb == "resume" and not target and isinstance(args, dict):
        # `overseer resume [--budget SCOPE]`: the circuit breaker and budgets (agents/budget.py).
        return "lift", str(args.get("budget") or ""), {}
    if verb not in TASK_VERBS | AGENT_VERBS | GROUP_VERBS:
        known = ", ".join(sorted(TASK_VERBS | AGENT_VERBS | GROUP_VERBS))
        raise ValueError(f"verb must be one of {known}, not {verb!r}")
    if not isinstance(target, str) or not target:
        raise ValueError(f"{verb}: target must name a {'task' if verb in TASK_VERBS else 'agent'}")
    if not isinstance(args, dict):
        raise ValueError(f"{verb}: args must be a JSON object")
    return verb, target, args


async def commands(request: web.Request) -> web.Response:
    """Queue an operator command (operator role) and answer with what became of it."""
    if request[ROLE] != "operator":
        raise web.HTTPForbidden(text="this token may read, not send commands")
    try:
        verb, target, args = command_request(await request.json())
    except (ValueError, UnicodeDecodeError) as exc:  # json's errors are ValueErrors too
        return web.json_response({"error": str(exc)}, status=400)
    project = request.app[API].project
    # The CLI's own path: queued, applied by the supervisor (or here when none runs). It
    # opens its own store, so it runs off the reader thread.
    outcome = await asyncio.to_thread(send, project.state_dir, project.config, verb, target, args)
    body = {"status": outcome.status, "result": outcome.result, "command": outcome.command_id}
    return web.json_response(body, status=400 if outcome.status == "rejected" else 200)


def make_app(project: Project) -> web.Application:
    """The served application for one project."""
    app = web.Application(middlewares=[authenticate])
    app[API] = Api(project)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/status", status)
    app.router.add_get("/api/events", events)
    app.router.add_post("/api/commands", commands)

    async def close(app: web.Application) -> None:
        app[API].close()

    app.on_cleanup.append(close)
    return app


def run(project: Project, host: str, port: int) -> None:
    """Serve until SIGINT or SIGTERM; say where once listening (port 0 picks a free one)."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(project, host, port))


async def serve(project: Project, host: str, port: int) -> None:
    """Serve the project's API on host:port until asked to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    # Open event streams are cut at once on the way out, not waited for.
    runner = web.AppRunner(make_app(project), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        for bound in runner.addresses:
            print(f"overseer: serving on http://{bound[0]}:{bound[1]}", file=sys.stderr, flush=True)
        await stop.wait()
    finally:
        await runner.cleanup()
