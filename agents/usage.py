"""Tokens and cost from what the AI CLIs write (pure parsers), pricing, and the arithmetic that
counts each reading once.

What each CLI's number measures (recorded in tests/fakes/signals/):
- Claude Code transcript: one line per assistant message, that message's usage (per call); a
  message split over several lines repeats it, so it is keyed by the message id.
- Claude Code statusLine: Claude's own cost of the session so far (cumulative) and its token
  totals (measured with 2.1.197: the last call's context rather than a sum). Feed an agent one
  of the two Claude sources: the transcript and the statusLine together count it twice.
- Codex rollout `token_count`: `total_token_usage` is the session's running total (cumulative;
  the same line is written again, e.g. on an interrupted turn).
- Gemini CLI session file: one line per model message (per call); the same message id is written
  twice when a tool call is attached, so it is keyed by the id.
- aider analytics `message_send`: one reply's tokens and cost (per message; no key: it adds).
A cumulative reading is keyed by its session: a later reading with the same key replaces the
earlier one, so an attempt's share is the session's growth while it ran (`delta`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from overseer.state.config import ConfigError
from overseer.state.models import Usage
from overseer.state.prices import Price, load_prices, lookup, shipped_prices

SEEN_KEYS = 256  # readings remembered per agent to count a repeated one once
KEPT_KEYS = 16  # of those, kept in the store for a restarted supervisor
_table: tuple[Mapping[str, Price], str | None] | None = None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _dict(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _cost(value: Any) -> float | None:
    """A cost a CLI reported, when it is a plausible amount of USD (else None: unpriced)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e12:
        return None
    return float(value)


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def claude_transcript_usage(record: Mapping[str, Any]) -> Usage | None:
    """An assistant line of a Claude Code transcript: that message's usage (keyed by its id)."""
    message = _dict(record.get("message"))
    usage = _dict(message.get("usage"))
    if record.get("type") != "assistant" or not usage:
        return None
    read = _int(usage.get("cache_read_input_tokens"))
    written = _int(usage.get("cache_creation_input_tokens"))
    ident = _str(message.get("id")) or _str(record.get("uuid"))
    return Usage(
        input_tokens=_int(usage.get("input_tokens")) + read + written,
        output_tokens=_int(usage.get("output_tokens")),
        cached_tokens=read,
        model=_str(message.get("model")),
        key=f"claude-message:{ident}" if ident else None,
    )


def claude_statusline_usage(payload: Mapping[str, Any]) -> Usage | None:
    """A Claude Code statusLine payload: the session's running totals and Claude's own cost."""
    window = _dict(payload.get("context_window"))
    cost = _dict(payload.get("cost"))
    if not window and not cost:
        return None
    session = _str(payload.get("session_id")) or ""
    return Usage(
        # No running total of cache reads is given (current_usage is the last call's only).
        input_tokens=_int(window.get("total_input_tokens")),
        output_tokens=_int(window.get("total_output_tokens")),
        cost_usd=_cost(cost.get("total_cost_usd")),
        model=_str(_dict(payload.get("model")).get("id")),
        key=f"claude-session:{session}",
    )


def codex_token_count(
    record: Mapping[str, Any], model: str | None = None, session: str | None = None
) -> Usage | None:
    """A Codex rollout `token_count` line: the session's running total (its model comes from the
    rollout's turn_context line and the session from its session_meta line or file name, which
    the caller passes)."""
    payload = _dict(record.get("payload"))
    total = _dict(_dict(payload.get("info")).get("total_token_usage"))
    if payload.get("type") != "token_count" or not total:
        return None
    return Usage(
        input_tokens=_int(total.get("input_tokens")),
        output_tokens=_int(total.get("output_tokens")),
        cached_tokens=_int(total.get("cached_input_tokens")),
        model=model,
        key=f"codex-session:{session}" if session else "codex-session",
    )


def gemini_session_usage(record: Mapping[str, Any]) -> Usage | None:
    """A model message of a Gemini CLI session file: its tokens (keyed by the message id)."""
    tokens = _dict(record.get("tokens"))
    if record.get("type") != "gemini" or not tokens:
        return None
    ident = _str(record.get("id"))
    return Usage(
        # Tool-use prompt tokens are input, thoughts are billed as output.
        input_tokens=_int(tokens.get("input")) + _int(tokens.get("tool")),
        output_tokens=_int(tokens.get("output")) + _int(tokens.get("thoughts")),
        cached_tokens=_int(tokens.get("cached")),
        model=_str(record.get("model")),
        key=f"gemini-message:{ident}" if ident else None,
    )


def aider_analytics_usage(record: Mapping[str, Any]) -> Usage | None:
    """An aider analytics `message_send` event: one reply's tokens and aider's cost of it."""
    props = _dict(record.get("properties"))
    if record.get("event") != "message_send" or "prompt_tokens" not in props:
        return None
    return Usage(
        input_tokens=_int(props.get("prompt_tokens")),
        output_tokens=_int(props.get("completion_tokens")),
        cost_usd=_cost(props.get("cost")),
        model=_str(props.get("main_model")),
    )


def cost_of(usage: Usage, rate: Price) -> float:
    """What the usage costs at a price."""
    cached = min(usage.cached_tokens, usage.input_tokens)
    return (
        (usage.input_tokens - cached) * rate.input
        + cached * rate.cached
        + usage.output_tokens * rate.output
    ) / 1e6


def price(usage: Usage, table: Mapping[str, Price] | None = None) -> Usage:
    """The usage with its cost: the CLI's own when it gave one, else from the price table; None
    (unpriced) for a model the table does not know."""
    if usage.cost_usd is not None:
        return usage
    rate = lookup(prices()[0] if table is None else table, usage.model)
    return usage if rate is None else dataclasses.replace(usage, cost_usd=cost_of(usage, rate))


def prices() -> tuple[Mapping[str, Price], str | None]:
    """The price table in use, read once per process, and what is wrong with the user's file
    (then only the shipped table is used: no guessed prices)."""
    global _table
    if _table is None:
        try:
            _table = (load_prices(), None)
        except ConfigError as exc:
            _table = (shipped_prices(), str(exc))
    return _table


def empty(usage: Usage) -> bool:
    """Whether the usage counts nothing (no tokens, no cost)."""
    return not (usage.input_tokens or usage.output_tokens or usage.cost_usd)


def add(a: Usage | None, b: Usage) -> Usage:
    """Two usages together; the cost is unknown (unpriced) when a part with tokens has none."""
    if a is None:
        return dataclasses.replace(b, key=None)
    if a.cost_usd is not None and b.cost_usd is not None:
        cost: float | None = a.cost_usd + b.cost_usd
    else:
        cost = a.cost_usd if empty(b) else b.cost_usd if empty(a) else None
    return Usage(
        input_tokens=a.input_tokens + b.input_tokens,
        output_tokens=a.output_tokens + b.output_tokens,
        cached_tokens=a.cached_tokens + b.cached_tokens,
        cost_usd=cost,
        model=b.model or a.model,
    )


def total(parts: Iterable[Usage]) -> Usage | None:
    """The sum of some usages (None: none told)."""
    out: Usage | None = None
    for part in parts:
        out = add(out, part)
    return out


def delta(new: Usage, old: Usage | None) -> Usage:
    """What a reading adds over the earlier reading with its key: the growth, or all of it when
    the count went down (a new session restarted it)."""
    if old is None or (
        new.input_tokens < old.input_tokens
        or new.output_tokens < old.output_tokens
        or new.cached_tokens < old.cached_tokens
    ):
        return dataclasses.replace(new, key=None)
    if new.cost_usd is not None and old.cost_usd is not None:
        cost: float | None = max(0.0, new.cost_usd - old.cost_usd)
    else:
        cost = new.cost_usd if empty(old) else None
    return Usage(
        input_tokens=new.input_tokens - old.input_tokens,
        output_tokens=new.output_tokens - old.output_tokens,
        cached_tokens=new.cached_tokens - old.cached_tokens,
        cost_usd=cost,
        model=new.model or old.model,
    )


def tokens(count: int) -> str:
    """A token count, compact: 950, 12.3k, 4.1M."""
    if count < 1000:
        return str(count)
    if count < 999_950:
        return f"{count / 1000:.1f}k".replace(".0k", "k")
    return f"{count / 1e6:.1f}M".replace(".0M", "M")


def cost_text(usage: Usage) -> str:
    """The cost as shown: "$0.42", "<$0.01", or "unpriced" (never $0 for an unknown price)."""
    if usage.cost_usd is None:
        return "unpriced"
    if 0 < usage.cost_usd < 0.005:
        return "<$0.01"
    return f"${usage.cost_usd:.2f}"


def usage_text(usage: Usage | None) -> str:
    """Tokens in/out and cost in a few characters: "12.3k/1.1k $0.42" ("" when nothing)."""
    if usage is None:
        return ""
    return f"{tokens(usage.input_tokens)}/{tokens(usage.output_tokens)} {cost_text(usage)}"


def usage_detail(usage: Usage) -> str:
    """Tokens and cost spelled out: "tokens 40.5k in (12k cached) / 45 out · $0.05 · gpt-5"."""
    text = f"tokens {tokens(usage.input_tokens)} in"
    if usage.cached_tokens:
        text += f" ({tokens(usage.cached_tokens)} cached)"
    text += f" / {tokens(usage.output_tokens)} out · {cost_text(usage)}"
    return text + (f" · {usage.model}" if usage.model else "")


def stored(usage: Usage | None) -> dict[str, Any] | None:
    """A usage as status --json and events carry it (no reading key)."""
    if usage is None:
        return None
    data = dataclasses.asdict(usage)
    data.pop("key")
    return data


@dataclass
class Tally:
    """What the host knows of one agent's usage between readings."""

    seen: dict[str, Usage] = field(default_factory=dict)  # the last reading of each key
    loaded: bool = False  # total and seen were read from the store (a supervisor restarted)
    total: Usage | None = None  # the agent's, as written
    attempt_id: int | None = None  # the attempt the last share went to, and its usage
    attempt: Usage | None = None
    event_at: float | None = None  # when the last agent.usage event was written
    warned: bool = False  # the user's price file was found wrong (said once)

    def share(self, reading: Usage) -> Usage:
        """What a (priced) reading adds, remembering it under its key."""
        if reading.key is None:
            return reading
        added = delta(reading, self.seen.pop(reading.key, None))
        self.seen[reading.key] = reading
        while len(self.seen) > SEEN_KEYS:
            del self.seen[next(iter(self.seen))]
        return added
