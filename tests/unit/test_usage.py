"""Tokens and cost from the lines the real CLIs wrote (tests/fakes/signals), priced from the table."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from overseer.agents import usage as u
from overseer.state.config import ConfigError
from overseer.state.models import Usage
from overseer.state.prices import Price, load_prices, lookup, parse_prices, shipped_prices

SIGNALS = Path(__file__).resolve().parents[1] / "fakes" / "signals"


@pytest.fixture(autouse=True)
def no_users_prices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the shipped table (the machine's own ~/.config is not the test's)."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setattr(u, "_table", None)


def lines(rel: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (SIGNALS / rel).read_text().splitlines() if x.strip()]


def session_total(readings: list[Usage]) -> Usage | None:
    """What the agent's total becomes when the readings arrive in order (the Host's rule)."""
    seen: dict[str | None, Usage] = {}
    total: Usage | None = None
    for reading in readings:
        total = u.add(total, u.delta(reading, seen.get(reading.key) if reading.key else None))
        if reading.key:
            seen[reading.key] = reading
    return total


def parse_all(fn: Callable[[Mapping[str, Any]], Usage | None], rel: str) -> list[Usage]:
    return [x for x in map(fn, lines(rel)) if x is not None]


def test_claude_transcript_is_per_message_keyed_by_its_id() -> None:
    readings = parse_all(u.claude_transcript_usage, "claude-2.1.197/transcript.jsonl")
    assert [r.input_tokens for r in readings] == [22241, 22281, 22357]
    assert readings[0].output_tokens == 6 and readings[0].model == "claude-opus-4-8"
    assert readings[0].key == "claude-message:msg_18ed277933d97c0e"
    # A message written again (one line per content block) counts once.
    total = session_total([readings[0], readings[0], *readings[1:]])
    assert total is not None and total.input_tokens == 22241 + 22281 + 22357
    assert total.output_tokens == 6 + 19 + 6


def test_claude_transcript_counts_cache_reads_as_cached_input() -> None:
    record = {
        "type": "assistant",
        "message": {
            "id": "m1",
            "model": "claude-sonnet-4-5-20250929",
            "usage": {
                "input_tokens": 10,
                "cache_creation_input_tokens": 100,
                "cache_read_input_tokens": 1000,
                "output_tokens": 5,
            },
        },
    }
    got = u.claude_transcript_usage(record)
    assert got == Usage(1110, 5, 1000, None, "claude-sonnet-4-5-20250929", "claude-message:m1")
    assert u.claude_transcript_usage({"type": "user", "message": {"usage": {}}}) is None


def test_claude_statusline_is_cumulative_and_its_cost_wins() -> None:
    readings = parse_all(
        lambda r: u.claude_statusline_usage(r["payload"]), "claude-2.1.197/statusline.jsonl"
    )
    assert len(readings) == 6
    last = readings[-1]
    assert (last.input_tokens, last.output_tokens) == (22263, 18)
    assert last.cost_usd == pytest.approx(0.11546)
    assert last.model == "claude-opus-4-8[1m]"
    # The same total told six times is counted once; Claude's own cost is kept.
    total = session_total(readings)
    assert total is not None and total.input_tokens == 22263
    assert total.cost_usd == pytest.approx(0.11546)
    table = {"claude-opus-4-8": Price(input=100.0, output=100.0, cached=100.0)}
    assert u.price(last, table).cost_usd == pytest.approx(0.11546)


def test_codex_token_count_is_the_sessions_running_total() -> None:
    readings = parse_all(
        lambda r: u.codex_token_count(r, "gpt-5-codex"), "codex-0.171.0/rollout.jsonl"
    )
    assert [r.input_tokens for r in readings] == [13402, 26885, 40500, 40500]
    assert readings[-1].output_tokens == 45 and readings[-1].model == "gpt-5-codex"
    total = session_total(readings)
    # Codex's own summary at /quit: "Token usage: total=40,545 input=40,500 output=45".
    assert total is not None and (total.input_tokens, total.output_tokens) == (40500, 45)
    # Sessions apart are counted apart (the caller names the session).
    other = u.codex_token_count(lines("codex-0.171.0/rollout.jsonl")[12], session="s2")
    assert other is not None and other.key == "codex-session:s2" != readings[0].key
    # The share of the second turn is its growth.
    share = u.delta(readings[2], readings[0])
    assert (share.input_tokens, share.output_tokens) == (40500 - 13402, 45 - 6)


def test_gemini_session_is_per_message_deduplicated_by_id() -> None:
    readings = parse_all(u.gemini_session_usage, "gemini-0.61.0/session.jsonl")
    assert len(readings) == 4  # one message id is written twice
    total = session_total(readings)
    assert total is not None
    assert total.input_tokens == 12051 + 12082 + 12201
    assert total.output_tokens == 6 + 19 + 6
    assert total.model == "gemini-3.1-pro-preview"


def test_aider_message_send_is_per_reply_with_aiders_cost() -> None:
    readings = parse_all(u.aider_analytics_usage, "aider-0.86.2/analytics.jsonl")
    assert [(r.input_tokens, r.output_tokens) for r in readings] == [(2334, 716), (3060, 14)]
    assert readings[0].key is None
    total = session_total(readings)
    # aider's own running total: total_cost 0.027132 in the last message_send.
    assert total is not None and total.cost_usd == pytest.approx(0.027132)


def test_price_from_the_table_counts_cached_input_at_its_rate() -> None:
    reading = Usage(input_tokens=1_000_000, output_tokens=100_000, cached_tokens=400_000)
    priced = u.price(dataclasses.replace(reading, model="anthropic/claude-sonnet-4-5"))
    # 600k input at $3, 400k cached at $0.30, 100k output at $15.
    assert priced.cost_usd == pytest.approx(1.8 + 0.12 + 1.5)
    dated = u.price(dataclasses.replace(reading, model="claude-sonnet-4-5-20250929"))
    assert dated.cost_usd == priced.cost_usd


def test_a_model_missing_from_the_table_is_unpriced_not_free() -> None:
    for model in ("mock-model", "gemini-3.1-pro-preview", "gpt-5-turbo-custom", None):
        assert u.price(Usage(1000, 10, model=model)).cost_usd is None
    # An unpriced part makes the sum unpriced; an empty one does not.
    priced = Usage(10, 1, cost_usd=0.5)
    assert u.add(priced, Usage(10, 1)).cost_usd is None
    assert u.add(priced, Usage()).cost_usd == 0.5


def test_a_count_that_goes_down_is_a_new_session() -> None:
    old = Usage(40500, 45, key="codex-session")
    new = Usage(100, 2, key="codex-session")
    assert u.delta(new, old) == Usage(100, 2)


def test_the_shipped_table_has_a_date_and_source_for_every_entry() -> None:
    table = shipped_prices()
    assert len(table) >= 10
    for model, rate in table.items():
        assert rate.date[:2] == "20" and rate.source.startswith("https://"), model
        assert rate.cached <= rate.input <= rate.output, model


def test_the_users_file_adds_and_corrects_prices(tmp_path: Path) -> None:
    mine = tmp_path / "prices.yaml"
    mine.write_text(
        "mock-model: {input: 2, output: 8, date: 2026-12-01, source: our contract}\n"
        "gpt-5: {input: 1.0, cached: 0.1, output: 9.0}\n"
    )
    table = load_prices(mine)
    assert lookup(table, "mock-model") == Price(2.0, 8.0, 2.0, "2026-12-01", "our contract")
    assert lookup(table, "gpt-5") == Price(1.0, 9.0, 0.1)
    assert lookup(table, "claude-sonnet-4-5") is not None  # the shipped ones stay
    assert u.price(Usage(1_000_000, 0, model="mock-model"), table).cost_usd == 2.0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("m: {input: 1}\n", "'input' and 'output' are required"),
        ("m: {input: cheap, output: 1}\n", "'input' must be a number"),
        ("m: {input: 1, output: 2, currency: EUR}\n", "unknown field 'currency'"),
        ("- m\n", "maps model ids to prices"),
        ("m: {input: 1\n", "not valid YAML"),
    ],
)
def test_a_bad_price_file_says_what_and_where(tmp_path: Path, text: str, message: str) -> None:
    bad = tmp_path / "prices.yaml"
    bad.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_prices(bad)
    assert message in str(err.value) and str(bad) in str(err.value)
    with pytest.raises(ConfigError):
        parse_prices(text, "x")
