"""Fake programs the tests run in real tmux panes (stdlib only, no network)."""

from __future__ import annotations

from pathlib import Path

#: The fake AI CLI: `python3 FAKE_CLI --style codex|gemini|claude|aider`.
FAKE_CLI = Path(__file__).resolve().parent / "fake_cli.py"
