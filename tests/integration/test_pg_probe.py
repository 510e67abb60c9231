"""bench/pg_probe.py at a tiny scale: every way of claiming takes each task exactly once, and
every notification reaches the listener. Figures are never asserted (they belong to the probe)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("psycopg", reason="psycopg is not installed (psycopg[binary])")

from bench import pg_probe  # noqa: E402 (needs psycopg)
from tests.pgserver import PgUnavailable, find_bin  # noqa: E402


def test_the_probe_claims_each_task_once_and_hears_every_notification(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        find_bin()
    except PgUnavailable as exc:
        pytest.skip(str(exc))
    out = tmp_path / "probe.json"
    argv = ["--tasks", "300", "--claimers", "3", "--notifies", "20", "--connects", "3"]
    assert pg_probe.main([*argv, "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert [c["mode"] for c in doc["claims"]] == list(pg_probe.MODES)
    for c in doc["claims"]:
        assert (c["claims"], c["duplicates"], c["lost"], c["errors"]) == (300, 0, 0, 0), c
        assert (c["attempt_rows"], c["attempt_tasks"], c["tasks_running"]) == (300, 300, 300), c
        assert c["max_attempt_number"] == 1
        lat = c["notify_latency_ms"]
        if lat:
            assert lat["lost"] == 0 and lat["n"] == lat["sent"] > 0, c
            assert lat["other_notifications"] == (300 if "notify" in c["mode"] else 0), c
    assert doc["notify_idle_ms"]["n"] == 20 and doc["notify_idle_ms"]["lost"] == 0
    assert set(doc["connect_ms"]) == {
        "unix socket, trust",
        "127.0.0.1, scram-sha-256",
        "127.0.0.1, trust",
    }
    printed = capsys.readouterr().out
    assert "claims one-statement" in printed and "notify latency idle" in printed
