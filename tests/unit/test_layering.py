"""The headless core stays headless: state and agents never pull in the UI.

Two checks of one rule: the import-linter contracts in pyproject.toml (every import in the
source, also deferred ones), and a subprocess that imports every module of a layer and looks
at what really got loaded.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def loaded_after(modules: list[str]) -> set[str]:
    """The modules (and packages) loaded by importing `modules` in a fresh interpreter."""
    code = (
        "import sys\n"
        + "".join(f"import {m}\n" for m in modules)
        + "print('\\n'.join(sorted(sys.modules)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    names = set(out.split())
    # "overseer.agents.tmux" counts as "overseer.agents"; "textual.app" as "textual".
    return {
        ".".join(n.split(".")[:2]) if n.startswith("overseer.") else n.split(".")[0] for n in names
    }


def all_modules(layer: str) -> list[str]:
    return [
        f"overseer.{layer}.{p.stem}"
        for p in sorted((ROOT / layer).glob("*.py"))
        if p.stem != "__init__"
    ]


def test_state_imports_neither_agents_nor_tui_nor_tmux() -> None:
    loaded = loaded_after(all_modules("state"))
    assert "overseer.state" in loaded  # the check really imported the layer
    bad = loaded & {"overseer.agents", "overseer.tui", "textual", "rich", "libtmux"}
    assert not bad, bad


def test_agents_never_import_tui_or_textual() -> None:
    loaded = loaded_after(all_modules("agents"))
    assert "overseer.agents" in loaded and "overseer.state" in loaded
    bad = loaded & {"overseer.tui", "textual", "rich"}
    assert not bad, bad


def test_the_check_would_notice_a_ui_import() -> None:
    # Guard against a vacuous test: importing textual shows up in the module list.
    assert "textual" in loaded_after(["textual"])


def test_import_contracts_hold() -> None:
    """import-linter's contracts (pyproject.toml [tool.importlinter]) are kept."""
    lint = shutil.which("lint-imports")
    if lint is None:
        pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    out = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "broken" not in out.stdout.lower().replace("0 broken", "")


def sql_in(folder: Path) -> list[str]:
    """Places under `folder` that reach past the Store: its connection or a transaction of
    their own (importing sqlite3 to catch its errors is no SQL)."""
    import ast

    found = []
    for path in sorted(folder.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("conn", "execute", "tx"):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_dashboard_and_the_command_line_leave_sql_to_the_store() -> None:
    """SQL lives in state/: tui/ asks Store methods, never a connection."""
    assert sql_in(ROOT / "tui") == []
    assert sql_in(ROOT / "state")  # the check would see SQL where there is some
