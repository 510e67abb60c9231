"""The corpus of real CLI screens: each classifies to the state its file name says, through
the path `overseer explain --screen` uses, and the command accepts every one of them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from overseer.agents.explain import explain_screen
from overseer.tui.cli import main
from tests.helpers import shared_screens
from tests.project import ROOT, Project

CORPUS = sorted((ROOT / "tests" / "fakes" / "screens").glob("*.ansi")) + sorted(
    shared_screens().glob("*.ansi")
)


def kind_and_state(path: Path) -> tuple[str, str]:
    """<cli>-<version>-<what>.<state>.ansi -> (cli, state)."""
    return path.name.split("-")[0], path.name.rsplit(".", 2)[-2]


def test_the_corpus_is_there() -> None:
    kinds = {kind_and_state(p)[0] for p in CORPUS}
    assert len(CORPUS) >= 40 and kinds == {"aider", "claude", "codex", "gemini"}


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_each_screen_reads_as_its_name_says(path: Path) -> None:
    kind, state = kind_and_state(path)
    verdict = explain_screen(kind, path.read_text(encoding="utf-8")).verdict
    assert (verdict.state, path.name) == (state, path.name), verdict
    assert verdict.note == "", "the versions of the corpus are tested versions"
    # The pane's size (the capture is 110x35) does not change what it shows.
    wide = explain_screen(kind, path.read_text(encoding="utf-8"), columns=160, lines=50)
    assert (wide.verdict.state, wide.verdict.rule) == (state, verdict.rule)


@pytest.mark.parametrize("path", CORPUS, ids=[p.name for p in CORPUS])
def test_explain_accepts_each_screen_and_names_the_rule(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kind, state = kind_and_state(path)
    assert main(["explain", "--kind", kind, "--screen", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"verdict:  {state}" in out
    rule = next(line for line in out.splitlines() if line.startswith("rule:"))
    assert rule.split()[1] not in ("no-rule-matched", "blank-screen", "untested-version")


def test_explain_as_a_command(tmp_path: Path) -> None:
    screen = ROOT / "tests" / "fakes" / "screens" / "codex-0.171.0-no-network-tip.busy.ansi"
    proc = subprocess.run(
        [sys.executable, "-m", "overseer.tui.cli", "explain", "--kind", "codex"]
        + ["--screen", str(screen), "--json"],
        env=Project(tmp_path).env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert '"state": "busy"' in proc.stdout and '"rule": "esc-to-interrupt"' in proc.stdout


def test_explain_flags_an_untested_version_and_still_reads_the_screen() -> None:
    screen = ROOT / "tests" / "fakes" / "screens" / "codex-0.171.0-prompt.idle.ansi"
    text = screen.read_text(encoding="utf-8").replace("v0.171.0", "v0.180.2")
    out = explain_screen("codex", text).text()
    assert "verdict:  idle" in out
    assert "note:     untested version 0.180.2 (tested: 0.169, 0.171)" in out
