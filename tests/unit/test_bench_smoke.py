"""The benchmark suite's cheapest path end to end (tiny sizes), and the shape of what it writes.

Figures are never asserted: timings belong to `python -m bench`, not to tests.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from bench import report
from bench.__main__ import main
from bench.common import Goal, Row, percentile, summary

STATUSES = {"PASS", "MISS", "INFO", "SKIP", "ERROR"}
ROW_KEYS = {"item", "name", "value", "unit", "goal", "status", "note"}


def test_claims_at_smoke_scale_writes_json_and_prints_a_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results" / "latest.json"
    code = main(["--scale", "smoke", "--only", "claims", "--out", str(out)])
    assert code == 0
    doc = json.loads(out.read_text())
    assert doc["meta"]["mode"] == "smoke"
    assert {"nproc", "cpu_model", "tmux", "python"} <= set(doc["meta"]["machine"])
    assert doc["results"], "no rows"
    for row in doc["results"]:
        assert set(row) == ROW_KEYS
        assert row["status"] in STATUSES
        assert row["item"] == "5"
    names = [r["name"] for r in doc["results"]]
    assert any("duplicates" in n for n in names) and any("lost" in n for n in names)
    dated = [p for p in out.parent.iterdir() if p.name != "latest.json"]
    assert len(dated) == 1 and dated[0].name.endswith("-smoke.json")
    printed = capsys.readouterr().out
    header = printed.splitlines()[0].split()
    assert header == ["item", "measure", "figure", "goal", "verdict", "note"]
    assert "claims per second, 1 process" in printed


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    assert main(["--only", "nope", "--out", str(tmp_path / "x.json")]) == 2
    assert not (tmp_path / "x.json").exists()


def test_row_verdicts_follow_the_goal() -> None:
    assert Row("1", "a", 10.0, "ms", Goal("<=", 50)).status == "PASS"
    assert Row("1", "a", 60.0, "ms", Goal("<=", 50)).status == "MISS"
    assert Row("6", "b", 0.9, "ratio", Goal(">=", 0.95)).status == "MISS"
    assert Row("3", "c", 4.0, "% core").status == "INFO"
    assert Row("7", "d", None, "", status="SKIP").status == "SKIP"
    assert Row("1", "e", None, "ms", Goal("<=", 50)).status == "MISS"  # no figure: not met


def test_percentiles_interpolate_and_summaries_have_the_fields() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 95) == pytest.approx(95.05)
    assert math.isnan(percentile([], 95))
    assert set(summary(values)) == {"n", "median", "p95", "max", "mean"}
    assert summary([]) == {"n": 0}


def test_table_orders_rows_by_item_and_shows_goals_in_units() -> None:
    rows = [
        Row("5", "claims", 3000.0, "/s", Goal(">=", 2000)),
        Row("1", "exit", 12.34, "ms", Goal("<=", 50)),
        Row("7", "dashboard", None, "", status="SKIP", note="not available yet"),
    ]
    lines = report.table(rows).splitlines()
    assert [ln.split()[0] for ln in lines[2:]] == ["1", "5", "7"]
    assert "12.3 ms" in lines[2] and "<= 50.0 ms" in lines[2]
    assert "3,000/s" in lines[3] and ">= 2,000/s" in lines[3]
    assert "SKIP" in lines[4]


def test_the_dashboard_on_postgresql_at_smoke_scale(tmp_path: Path) -> None:
    """Issue 14's dashboard figures: measured on a throwaway server, or skipped saying why."""
    out = tmp_path / "pg.json"
    assert main(["--scale", "smoke", "--only", "dashboard-pg", "--out", str(out)]) == 0
    doc = json.loads(out.read_text())
    rows = doc["results"]
    assert rows and {r["item"] for r in rows} == {"7"}
    if rows[0]["status"] == "SKIP":
        assert rows[0]["note"]
        return
    names = [r["name"] for r in rows]
    assert "dashboard on PostgreSQL: store change -> repaint p95" in names
    details = doc["details"]["dashboard-pg"]
    assert details["hosts"] == 2 and details["agents"] == 4 and details["not_seen"] == 0
