"""The dashboard keeps full garbage collections off its hot path, and undoes it on exit."""

from __future__ import annotations

import gc
import time
from pathlib import Path

from overseer.tui.gcpolicy import GcPolicy
from tests.tui.fixtures import make_app


async def test_first_snapshot_freezes_and_quitting_releases(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    async with app.run_test() as pilot:
        deadline = time.monotonic() + 20
        while app.gc_policy.frozen_at is None:
            assert time.monotonic() < deadline, "the first snapshot never froze the heap"
            await pilot.pause(0.02)
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
    assert app.gc_policy.frozen_at is None


def test_refreeze_waits_for_its_period() -> None:
    now = [0.0]
    policy = GcPolicy(refreeze_every=600, clock=lambda: now[0])
    try:
        assert policy.tick() is False  # nothing frozen yet: nothing to refreeze
        policy.settle()
        assert policy.cycles == 1 and gc.get_freeze_count() > 0
        now[0] = 599.0
        assert policy.tick() is False
        now[0] = 600.0
        assert policy.tick() is True and policy.cycles == 2
    finally:
        policy.release()
    assert gc.get_freeze_count() == 0


async def test_header_is_replaced_only_when_what_it_says_changes(tmp_path: Path) -> None:
    """Unchanged header text is not re-set (a layout pass each time); new counts or a new
    theme's colours are."""
    from rich.console import Group

    from overseer.tui.widgets.panels import StatusHeader
    from tests.tui.pilot import dashboard, reload, settle

    def header_text(app) -> str:  # type: ignore[no-untyped-def]
        content = app.screen.query_one(StatusHeader).content
        assert isinstance(content, Group)
        return "\n".join(t.plain for t in content.renderables)  # type: ignore[attr-defined]

    async with dashboard(tmp_path) as (app, pilot):
        header = app.screen.query_one(StatusHeader)
        shown = header.content
        await reload(app, pilot)  # the same store again: the same content object stays
        assert header.content is shown
        await pilot.press("slash", *"state:failed", "enter", "b", *"why", "enter")
        await settle(app, pilot)
        await reload(app, pilot)
        assert header.content is not shown and "blocked" in header_text(app)
        before = header.content
        await pilot.press("escape", "t")  # another theme: other colours, same words
        await settle(app, pilot)
        await reload(app, pilot)
        assert header.content is not before
