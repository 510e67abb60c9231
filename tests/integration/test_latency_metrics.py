"""The supervisor's latency histograms (state/latency.py): exit-to-store and claim latency,
kept in the store with the writes they time, served by `overseer serve` as Prometheus
histograms and read back with prometheus-client's own parser."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from overseer.state import latency, queue
from overseer.state.models import AttemptOutcome
from tests.backends import Backend
from tests.integration.test_serve import Server, served_after_a_run
from tests.project import Project

TASKS = """
agents:
  - {name: w, kind: shell}
tasks:
  - {id: bad, run: 'exit 2', max_attempts: 1}
  - {id: good, run: 'exit 0'}
"""
NAMES = ("overseer_exit_to_store_seconds", "overseer_claim_latency_seconds")


def test_observations_count_in_their_bucket_and_read_cumulative(backend: Backend) -> None:
    store = backend()
    with store.tx() as c:
        for seconds in (0.0002, 0.003, 0.003, 7.0, 1e6):
            latency.observe(c, latency.EXIT, seconds)
    hist = {h.metric: h for h in latency.histograms(store)}
    exits = dict(hist[latency.EXIT].buckets)
    assert exits[0.0005] == 1 and exits[0.005] == 3 and exits[10.0] == 4
    assert exits[float("inf")] == 5 == hist[latency.EXIT].count
    assert hist[latency.EXIT].total == pytest.approx(1e6 + 7.0062)
    assert hist[latency.CLAIM].count == 0  # nothing observed: zeros, every bucket


def test_a_claim_says_how_long_its_task_was_claimable(backend: Backend) -> None:
    store = backend()
    store.upsert_tasks([{"id": "a", "command": "true"}], now=100.0)
    queue.promote(store, now=100.0)
    with store.tx() as c:
        c.execute("UPDATE tasks SET state='ready', updated_at=100.0 WHERE id='a'")
    claim = queue.claim(store, "w", 30, now=112.5)
    assert claim is not None and claim.waited == pytest.approx(12.5)
    queue.finish(store, "a", 1, AttemptOutcome.FAILED, now=113.0, delay=lambda n: 10.0)
    # Ready again at once, claimable only from its retry time (123 s) on.
    again = queue.claim(store, "w", 30, now=130.0)
    assert again is not None and again.waited == pytest.approx(7.0)


async def scrape(url: str, token: str) -> dict[str, dict[str, float]]:
    """The two histograms' samples: name -> {sample name and le: value}."""
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http,
        http.get(url + "/metrics") as r,
    ):
        assert r.status == 200
        text = await r.text()
    out: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name in NAMES:
            assert family.type == "histogram"
            out[family.name] = {
                s.name.removeprefix(family.name) + s.labels.get("le", ""): s.value
                for s in family.samples
            }
    return out


@pytest.fixture
def served(project: Project) -> Iterator[Server]:
    yield from served_after_a_run(project, TASKS)


async def test_metrics_serve_both_histograms_and_they_move_with_real_exits(
    served: Server,
) -> None:
    first = await scrape(served.url, served.viewer)
    assert set(first) == set(NAMES)
    for name, samples in first.items():
        counts = [v for k, v in samples.items() if k.startswith("_bucket")]
        assert counts == sorted(counts), name  # cumulative
        assert samples["_bucket+Inf"] == samples["_count"] == 2, name  # two tasks ran
        assert samples["_sum"] >= 0
    assert "_bucket0.0005" in first[NAMES[0]] and "_bucket300.0" in first[NAMES[1]]
    project = served.project
    assert project.cli("add", "more", "--", "exit 0").returncode == 0
    assert project.cli("run", "--until-done", "--timeout", "60").returncode == 1
    after = await scrape(served.url, served.viewer)
    for name in NAMES:
        assert after[name]["_count"] == 3, name
        assert after[name]["_sum"] >= first[name]["_sum"]


GRAFANA = Path(__file__).resolve().parents[2] / "grafana"


def queried_metrics(dashboard: dict[str, object]) -> set[str]:
    """Every overseer_* metric name in the dashboard's queries (panels and variables)."""
    exprs: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("expr", "query") and isinstance(value, str):
                    exprs.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dashboard)
    return {m for e in exprs for m in re.findall(r"\boverseer_[a-z_]+", e)}


async def test_the_grafana_dashboard_queries_only_metrics_that_are_served(
    served: Server,
) -> None:
    dashboard = json.loads((GRAFANA / "overseer.json").read_text())
    wanted = queried_metrics(dashboard)
    async with (
        aiohttp.ClientSession(headers={"Authorization": f"Bearer {served.viewer}"}) as http,
        http.get(served.url + "/metrics") as r,
    ):
        text = await r.text()
    served_names = set()
    for family in text_string_to_metric_families(text):
        # A family may have no sample yet (no supervisor runs, no AI agent told its tokens):
        # its name (a counter's with _total, as its samples are named) is still served.
        served_names.add(family.name + ("_total" if family.type == "counter" else ""))
        served_names.update(s.name for s in family.samples)
    assert len(wanted) >= 10 and not wanted - served_names, wanted - served_names
    # Every panel the issue names is there, the two histograms among them.
    for name in (
        "overseer_tasks",
        "overseer_task_failures_total",
        "overseer_agents",
        "overseer_agent_heartbeat_age_seconds",
        "overseer_exit_to_store_seconds_bucket",
        "overseer_claim_latency_seconds_bucket",
    ):
        assert name in wanted, name
    scrape = yaml.safe_load((GRAFANA / "prometheus.yml").read_text())
    (job,) = scrape["scrape_configs"]
    assert job["authorization"]["type"] == "Bearer" and job["authorization"]["credentials_file"]
    assert "credentials" not in job["authorization"]  # the token stays in its file
