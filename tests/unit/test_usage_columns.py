"""Schema 6: an agent's CLI version, signals, state source and usage round-trip through the store."""

from __future__ import annotations

from pathlib import Path

from overseer.state.models import Usage
from overseer.state.store import Store


def test_agent_signal_fields_round_trip(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    store.upsert_agent("c", "codex")
    assert store.agent("c").usage is None  # type: ignore[union-attr]
    usage = Usage(input_tokens=1200, output_tokens=80, cached_tokens=1000, model="gpt-5")
    store.update_agent(
        "c",
        cli_version="0.171.0",
        version_note="untested version 0.171.0 (tested: 0.169.0)",
        signals={"arrived": {"SessionStart": 1.5}},
        state_source="hook SessionStart",
        usage=usage,
    )
    agent = store.agent("c")
    assert agent is not None
    assert agent.cli_version == "0.171.0"
    assert agent.version_note and "untested" in agent.version_note
    assert agent.signals == {"arrived": {"SessionStart": 1.5}}
    assert agent.state_source == "hook SessionStart"
    assert agent.usage == usage and agent.usage.cost_usd is None
