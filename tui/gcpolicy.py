"""Keeps the interpreter's full garbage collections off the dashboard's hot path.

With 10,000 tasks on screen the process holds several hundred thousand container objects
(rows, cells, styled text). A full (generation 2) collection walks all of them: 100-150 ms
with the event loop stopped, which is what made a store change now and then take twice
as long to reach the screen. Those objects live as long as the dashboard, so after the
first full snapshot they are moved out of the collector's sight (gc.freeze); every
`refreeze_every` seconds they are handed back for one full collection at a moment the
dashboard picks, then frozen again. Objects freed by reference counting (nearly all
replaced rows) are released at once whether frozen or not.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

REFREEZE_EVERY = 600.0


class GcPolicy:
    """Freeze long-lived objects once loaded; refreeze now and then; undo on exit."""

    def __init__(
        self, refreeze_every: float = REFREEZE_EVERY, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.refreeze_every = refreeze_every
        self.clock = clock
        self.frozen_at: float | None = None
        self.cycles = 0

    def settle(self) -> None:
        """Collect what is garbage now, then freeze everything that survived."""
        gc.collect()
        gc.freeze()
        self.frozen_at = self.clock()
        self.cycles += 1

    def tick(self) -> bool:
        """Refreeze when it is due; returns whether it did."""
        if self.frozen_at is None or self.clock() - self.frozen_at < self.refreeze_every:
            return False
        gc.unfreeze()
        self.settle()
        return True

    def release(self) -> None:
        """Give every frozen object back to the collector (the dashboard is closing)."""
        if self.frozen_at is not None:
            gc.unfreeze()
            self.frozen_at = None
