"""SVG snapshots of the dashboard, fed from a fixture store (fixed clock, no tmux, no blink)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from tests.tui.fixtures import make_app


async def ready(pilot: Any) -> None:
    """Wait (with a deadline) for the snapshot and the detail panel, then stop the cursor blinking."""
    app = pilot.app
    deadline = time.monotonic() + 20
    while app.snapshots < 1 or any(w.is_running for w in app.workers):
        assert time.monotonic() < deadline, "dashboard never settled"
        await pilot.pause(0.02)
    await pilot.pause()
    for box in app.screen.query(Input):
        box.cursor_blink = False


def snap(snap_compare: Any, app: Any, size: tuple[int, int], *keys: str) -> None:
    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        if keys:
            await pilot.press(*keys)
            await pilot.pause()
            # A key that moves the selection loads the detail in a worker: wait for it, or a
            # loaded machine snapshots the detail of the row before.
            deadline = time.monotonic() + 20
            while any(w.is_running for w in pilot.app.workers):
                assert time.monotonic() < deadline, "a worker never finished"
                await pilot.pause(0.02)
            # A text box turned steady before its dialog gave it the focus keeps its cursor
            # hidden (Textual pauses the blink "visible if focused"): wait for the focus first.
            boxes = [b for b in pilot.app.screen.query("Input, TextArea") if b.display]
            while boxes and not any(box.has_focus for box in boxes):
                assert time.monotonic() < deadline, "the dialog never focused its text box"
                await pilot.pause(0.02)
            # A dialog's text box blinks too: a snapshot taken in its off phase lacks the cursor.
            for box in pilot.app.screen.query("Input, TextArea"):
                box.cursor_blink = False
            await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_empty_project(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "empty", alive=False), (120, 30))


def test_busy_fleet_200x60(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "busy"), (200, 60))


def test_busy_fleet_80x24(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "busy"), (80, 24))


def test_busy_fleet_100x30(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "busy"), (100, 30))


def test_side_panels_80x24(snap_compare: Any, tmp_path: Path) -> None:
    # tab from the queue: suggestions, detail and events take the whole width.
    snap(snap_compare, make_app(tmp_path, "busy"), (80, 24), "down", "tab")


def test_detail_100x30(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "waiting"), (100, 30), "down", "tab", "tab")


def test_waiting_prompt_in_full_80x24(snap_compare: Any, tmp_path: Path) -> None:
    # The queue's build task runs in worker-2, which waits: its whole prompt above the footer.
    snap(snap_compare, make_app(tmp_path, "waiting"), (80, 24), "down")


def test_help_screen_80x24(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "busy"), (80, 24), "question_mark")


def test_supervisor_died(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "busy", died=True), (120, 30))


def test_stalled_agent(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "stalled"), (160, 45))


def test_waiting_agent_selected(snap_compare: Any, tmp_path: Path) -> None:
    # The agents panel, worker-2 selected: its prompt and its live screen in the detail panel.
    snap(snap_compare, make_app(tmp_path, "waiting"), (160, 45), "shift+tab", "down")


def test_block_reason_dialog(snap_compare: Any, tmp_path: Path) -> None:
    snap(
        snap_compare, make_app(tmp_path, "busy"), (160, 45), "down", "b", *"waiting for credentials"
    )


def test_help_screen(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "busy"), (160, 45), "question_mark")


@pytest.mark.parametrize("theme", ["light", "high-contrast"])
def test_themes(snap_compare: Any, tmp_path: Path, theme: str) -> None:
    snap(snap_compare, make_app(tmp_path, "busy", theme=theme), (160, 45))


def test_edit_command_dialog(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "busy"), (160, 45), "down", "down", "e")


def test_tokens_and_cost_160x45(snap_compare: Any, tmp_path: Path) -> None:
    # AI agents' tokens in/out and cost (or "unpriced") in the agents table, shells "-"; the
    # selected agent's detail spells them out.
    snap(snap_compare, make_app(tmp_path, "tokens"), (160, 45), "shift+tab", "down")


def test_tokens_per_attempt_80x24(snap_compare: Any, tmp_path: Path) -> None:
    # The task detail (tab to the side panels): each attempt's tokens and cost.
    snap(
        snap_compare,
        make_app(tmp_path, "tokens"),
        (80, 24),
        "down",
        "down",
        "down",
        "down",
        "down",
        "tab",
    )


def replay(snap_compare: Any, tmp_path: Path, size: tuple[int, int], *keys: str) -> None:
    """The replay of fetch's attempt (worker-1's log and times in the fixture), paused."""
    app = make_app(tmp_path, "busy")

    async def run_before(pilot: Any) -> None:
        await ready(pilot)
        table = pilot.app.screen.query_one("#queue")
        table.focus()
        table.select_key("fetch")
        await pilot.press("v")
        deadline = time.monotonic() + 20
        while type(pilot.app.screen).__name__ != "ReplayScreen":
            assert time.monotonic() < deadline, "the replay never opened"
            await pilot.pause(0.02)
        await pilot.press(*keys)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


def test_replay_at_its_end_80x24(snap_compare: Any, tmp_path: Path) -> None:
    replay(snap_compare, tmp_path, (80, 24), "end")


def test_replay_at_its_end_at_half_speed_160x45(snap_compare: Any, tmp_path: Path) -> None:
    replay(snap_compare, tmp_path, (160, 45), "end", "minus")


def test_crash_context_of_an_agent_160x45(snap_compare: Any, tmp_path: Path) -> None:
    # worker-3 died under docs: the agent's detail shows where its crash context is and the
    # end of its last screen.
    snap(snap_compare, make_app(tmp_path, "crash"), (160, 45), "shift+tab", "down", "down")


def test_crash_context_of_a_task_80x24(snap_compare: Any, tmp_path: Path) -> None:
    # docs' detail (tab to the side panels): the same crash context, under its attempts.
    snap(snap_compare, make_app(tmp_path, "crash"), (80, 24), *["down"] * 7, "tab")


def test_run_report_80x24(snap_compare: Any, tmp_path: Path) -> None:
    # o: the current run's report over the dashboard (overseer report's text).
    snap(snap_compare, make_app(tmp_path, "tokens"), (80, 24), "o")


def test_run_report_160x45(snap_compare: Any, tmp_path: Path) -> None:
    snap(snap_compare, make_app(tmp_path, "tokens"), (160, 45), "o")
