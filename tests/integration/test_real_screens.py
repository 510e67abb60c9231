"""The screen rules on the real CLIs' live screens (installed with npm, against the stand-in
model API; skipped when not installed): idle, a permission dialog, the same dialog answered
and still on screen, busy, and a hang that shows no progress."""

from __future__ import annotations

import time
from typing import Any

import pytest

from overseer.agents.classify import Verdict, progress_signature
from overseer.agents.explain import explain_screen
from overseer.agents.kinds import rules_for
from overseer.agents.screen import screen_from_capture
from tests.helpers import wait_until
from tests.integration.test_model_api import run_cli  # noqa: F401 - the fixture

pytestmark = pytest.mark.realcli


def verdict(run: Any) -> Verdict:
    return explain_screen(run.cli, run.screen(escapes=True)).verdict


def reads(run: Any, state: str, rule: str | None = None, timeout: float = 30) -> Verdict:
    """Wait until the live screen reads `state` (by `rule`); the last verdict if it never does."""
    last: list[Verdict] = []

    def check() -> Verdict | None:
        v = verdict(run)
        last[:] = [v]
        return v if v.state == state and rule in (None, v.rule) else None

    got = wait_until(check, timeout=timeout, message=f"{run.cli}: never {state} ({rule})")
    assert got is not None, last
    return got


@pytest.mark.parametrize("cli", ["codex", "gemini", "claude"])
def test_live_screens_read_right_through_a_dialog_its_answer_and_a_hang(
    run_cli: Any,  # noqa: F811 - the fixture imported above
    cli: str,
) -> None:
    run = run_cli(cli)
    reads(run, "idle", "input-box", timeout=60)
    run.submit(f"run: touch made-by-{cli}")
    dialog = reads(run, "waiting", "approval")
    assert len(dialog.choices) >= 2

    def answered() -> bool:
        if (run.work / f"made-by-{cli}").exists():
            return True
        if verdict(run).state == "waiting":
            # The first choice: yes. Claude Code 2.1.3xx and Codex drop a key pressed as the
            # dialog is drawn: press it again while the dialog stays.
            run.keys("Enter")
        return False

    wait_until(answered, timeout=60, interval=2.0, message="not run")
    # The answered dialog (or its trace) is still on screen above the new input box.
    reads(run, "idle", "input-box")
    run.submit("hang now")
    reads(run, "busy")
    rules = rules_for(cli)
    assert rules is not None
    signatures = set()
    for _ in range(8):  # the spinner turns and the counter ticks: no progress
        lines = screen_from_capture(run.screen(escapes=True), 110, 35).lines()
        signatures.add(progress_signature(lines, rules))
        time.sleep(0.5)
    assert len(signatures) == 1, signatures
    run.keys("Escape")
    reads(run, "idle")
