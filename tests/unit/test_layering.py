"""The headless core stays headless: state and agents never pull in the UI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_after(modules: list[str]) -> set[str]:
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return {line.split(".")[0] for line in out.split()}


def all_modules(package: str) -> list[str]:
    return [
        f"{package}.{p.stem}" for p in sorted((ROOT / package).glob("*.py")) if p.stem != "__init__"
    ]


def test_state_imports_neither_agents_nor_tui_nor_tmux() -> None:
    loaded = imported_after(all_modules("state"))
    assert not loaded & {"agents", "tui", "textual", "libtmux"}, loaded & {
        "agents",
        "tui",
        "textual",
        "libtmux",
    }


def test_agents_never_import_tui_or_textual() -> None:
    loaded = imported_after(all_modules("agents"))
    assert "state" in loaded  # the check really imported the core
    assert not loaded & {"tui", "textual"}, loaded & {"tui", "textual"}


def test_the_check_would_notice_a_ui_import() -> None:
    # Guard against a vacuous test: importing textual shows up in the module list.
    assert "textual" in imported_after(["textual"])
