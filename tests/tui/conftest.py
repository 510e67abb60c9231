"""Dashboard tests run in UTC so event times render the same everywhere."""

from __future__ import annotations

import os
import time

os.environ["TZ"] = "UTC"
time.tzset()
