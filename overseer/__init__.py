"""Overseer: a terminal supervisor for fleets of command-line agents running in tmux panes.

The code lives in the repository's top-level folders (state/, agents/, tui/, themes/), which
install as `overseer.state`, `overseer.agents`, `overseer.tui` and `overseer.themes`
(pyproject.toml maps them). In a source checkout the links beside this file make the same
names importable without an install.
"""
