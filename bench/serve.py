"""Issue 15: what `overseer serve` costs. The /metrics scrape at 1,000 and 10,000 tasks (each
with an ended attempt; flat means no table scan), and the event stream's delivery latency:
an event written to the store -> the same event read off /api/events by a client.

The server (tui/serve.py's app) and its client run in this process on one event loop, on
127.0.0.1; the store is a fresh SQLite file per size.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.common import Goal, Result, Row, Scale, summary
from overseer.state.models import AttemptOutcome
from overseer.state.store import Store, token_digest
from overseer.tui.cli_common import Project
from overseer.tui.serve import make_app

TOKEN = "bench-token"


def fill(state_dir: Path, tasks: int) -> None:
    """A store with `tasks` tasks, each with one ended attempt (a tenth failed, exit 2)."""
    store = Store(state_dir / "state.db")
    store.upsert_tasks([{"id": f"t{i:05d}", "command": "true"} for i in range(tasks)])
    now = time.time()
    with store.tx() as c:
        c.executemany(
            "INSERT INTO attempts(task_id, number, agent, started_at, finished_at, outcome, "
            "exit_code) VALUES (?, 1, 'w', ?, ?, ?, ?)",
            [
                (
                    f"t{i:05d}",
                    now,
                    now,
                    (AttemptOutcome.FAILED if i % 10 == 0 else AttemptOutcome.OK).value,
                    2 if i % 10 == 0 else 0,
                )
                for i in range(tasks)
            ],
        )
    store.add_token("bench", "viewer", token_digest(TOKEN))
    store.close()


async def measure(state_dir: Path, scrapes: int, events: int) -> tuple[list[float], list[float]]:
    """Scrape times and event delivery latencies (ms) against a served state dir."""
    runner = web.AppRunner(make_app(Project(None, state_dir)), shutdown_timeout=0.5)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    url = f"http://{host}:{port}"
    writer = Store(state_dir / "state.db")
    scrape_ms: list[float] = []
    latency_ms: list[float] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    try:
        async with aiohttp.ClientSession(headers=headers) as http:
            for _ in range(scrapes):
                t0 = time.perf_counter()
                async with http.get(url + "/metrics") as r:
                    await r.read()
                scrape_ms.append((time.perf_counter() - t0) * 1000)
            since = writer.last_event_id()
            async with http.get(url + f"/api/events?since={since}") as stream:
                for i in range(events):
                    await asyncio.sleep(0.05 + (i % 7) * 0.03)  # spread over the poll period
                    t0 = time.perf_counter()
                    written = writer.event("bench.mark", f"mark {i}")
                    while True:
                        line = (await stream.content.readline()).decode()
                        if line.startswith("data: ") and json.loads(line[6:])["id"] == written:
                            break
                    latency_ms.append((time.perf_counter() - t0) * 1000)
    finally:
        writer.close()
        await runner.cleanup()
    return scrape_ms, latency_ms


def run(scale: Scale, tmp: Path) -> Result:
    """Issue 15: the scrape cost and the event stream's latency."""
    scrapes, events = (5, 10) if scale.name == "smoke" else (30, 40)
    res = Result()
    medians: dict[int, float] = {}
    for tasks in (1000, 10000):
        state_dir = tmp / f"serve-{tasks}"
        fill(state_dir, tasks)
        scrape_ms, latency_ms = asyncio.run(measure(state_dir, scrapes, events))
        stat = summary(scrape_ms, 2)
        medians[tasks] = float(stat["median"])
        res.details[f"scrape_ms_{tasks}_tasks"] = stat
        if tasks == 10000:
            lat = summary(latency_ms, 1)
            res.details["sse_latency_ms"] = lat
    stat = res.details["scrape_ms_10000_tasks"]
    res.rows.append(
        Row(
            "15",
            "GET /metrics at 10,000 tasks (+10,000 attempts), median",
            stat["median"],
            "ms",
            Goal("<=", 50.0),
            f"p95 {stat['p95']} ms, n={stat['n']}; at 1,000 tasks: median {medians[1000]} ms",
        )
    )
    res.rows.append(
        Row(
            "15",
            "scrape cost 10,000 / 1,000 tasks",
            round(medians[10000] / medians[1000], 2) if medians[1000] else None,
            "x",
            None,
            "grouped counts over indexes: grows with the index, not with a table read",
        )
    )
    lat = res.details["sse_latency_ms"]
    res.rows.append(
        Row(
            "15",
            "event written -> received on /api/events, p95",
            lat["p95"],
            "ms",
            Goal("<=", 500.0),
            f"median {lat['median']} ms, max {lat['max']} ms, n={lat['n']} (polls every 0.2 s)",
        )
    )
    return res
