"""Test helpers shared by every tier."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(
    predicate: Callable[[], T],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition not met",
) -> T:
    """Poll predicate until it returns a truthy value and return it; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{message} (after {timeout:g} s; last value: {value!r})")
        time.sleep(interval)


def shared_screens() -> Path:
    """The captured CLI screens in ../shared/screens (beside the checkout, as CI has it)."""
    root = Path(__file__).resolve().parents[1]
    candidates = [
        Path(os.environ["OVERSEER_SHARED"]) / "screens"
        if os.environ.get("OVERSEER_SHARED")
        else None,
        root.parent / "shared" / "screens",
        Path("/work/shared/screens"),
    ]
    for path in candidates:
        if path is not None and path.is_dir() and any(path.glob("*.ansi")):
            return path
    raise AssertionError(
        "the captured screens (../shared/screens) are missing: clone beside shared/ or set "
        "OVERSEER_SHARED to its path"
    )


# What a store of schema 7 lacked (runs, attempts.run_id, latency): tests that make an older
# store out of a new one drop it first.
DROP_V8 = (
    "DROP TABLE runs; DROP TABLE latency; DROP INDEX attempts_run; DROP INDEX attempts_started; "
    "ALTER TABLE attempts DROP COLUMN run_id; "
)
