"""Installing Overseer puts one package in site-packages, `overseer`, so it can live beside
packages with common names: the OpenAI Agents SDK ships a top-level `agents`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def build_wheel(out: Path) -> Path:
    """Overseer's wheel, built from this checkout without fetching anything."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "-w",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel,) = out.glob("overseer-*.whl")
    return wheel


def test_the_wheel_installs_only_the_overseer_package(tmp_path: Path) -> None:
    names = zipfile.ZipFile(build_wheel(tmp_path)).namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"overseer"}, tops
    for module in ("state/store.py", "agents/supervisor.py", "tui/cli.py", "themes/dark.yaml"):
        assert f"overseer/{module}" in names, module
    assert "overseer/tui/styles/app.tcss" in names and "overseer/state/data/demo.yaml" in names
    assert "overseer/state/data/prices.yaml" in names  # the price table is data, shipped
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert (
        "overseer = overseer.tui.cli:main"
        in zipfile.ZipFile(build_wheel(tmp_path / "again")).read(entry).decode()
    )


def run(python: Path, code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.mark.slow
def test_openai_agents_and_overseer_install_side_by_side(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
        check=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    sdk = subprocess.run([*pip, "openai-agents"], capture_output=True, text=True, timeout=600)
    if sdk.returncode != 0:
        pytest.skip(
            f"openai-agents could not be installed (no package index?): {sdk.stderr[-300:]}"
        )
    wheel = build_wheel(tmp_path / "dist")
    installed = subprocess.run(
        [*pip, "--no-deps", "--force-reinstall", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert installed.returncode == 0, installed.stderr
    # Run from an empty directory: nothing of the checkout may be importable by accident.
    away = tmp_path / "elsewhere"
    away.mkdir()
    both = run(
        python,
        "import agents, overseer.agents.supervisor, overseer.tui.cli\n"
        "from agents import Agent\n"
        "print(agents.__file__)\n"
        "print(overseer.agents.supervisor.__file__)",
        away,
    )
    assert both.returncode == 0, both.stderr
    sdk_file, ours = both.stdout.split()
    assert f"{venv}/" in sdk_file and sdk_file.endswith("site-packages/agents/__init__.py")
    assert f"{venv}/" in ours and ours.endswith("site-packages/overseer/agents/supervisor.py")
    version = subprocess.run(
        [str(venv / "bin" / "overseer"), "--version"], capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.startswith("overseer "), version.stderr
    removed = subprocess.run(
        [str(python), "-m", "pip", "uninstall", "--yes", "--quiet", "overseer"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert removed.returncode == 0, removed.stderr
    after = run(python, "from agents import Agent; print(Agent.__module__)", away)
    assert after.returncode == 0 and after.stdout.strip() == "agents.agent", after.stderr
