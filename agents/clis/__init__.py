"""Each AI CLI's signals (agents/signals.py CliSignals), by agent kind."""

from __future__ import annotations

from overseer.agents.signals import CliSignals

CLIS: dict[str, CliSignals] = {}  # kind -> its signals; a kind absent here is read from its screen

# Each CLI module registers itself in CLIS when imported (one import per line).
from overseer.agents.clis import aider as aider  # noqa: E402
from overseer.agents.clis import claude as claude  # noqa: E402
from overseer.agents.clis import codex as codex  # noqa: E402
from overseer.agents.clis import gemini as gemini  # noqa: E402
