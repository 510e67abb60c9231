"""Each AI CLI's signals (agents/signals.py CliSignals), by agent kind."""

from __future__ import annotations

from overseer.agents.signals import CliSignals

CLIS: dict[str, CliSignals] = {}  # kind -> its signals; a kind absent here is read from its screen

# Each CLI module registers itself in CLIS when imported (one import per line).
import overseer.agents.clis.claude  # noqa: E402, F401
import overseer.agents.clis.gemini  # noqa: E402, F401
