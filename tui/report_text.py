"""Reports and runs as text for a person: `overseer report` prints these lines, and the
dashboard's report screen shows them (no Textual here)."""

from __future__ import annotations

import time
from typing import Any

from overseer.state import report as figures
from overseer.state.runs import Run
from overseer.tui.durations import duration

BARS = " ▁▂▃▄▅▆▇█"


def stamp(ts: float) -> str:
    """A local time as the reports print it."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ts))


def run_line(run: Run) -> str:
    """One run as `overseer runs` lists it."""
    end = "running" if run.running else stamp(run.end)
    return f"{run.id:>5}  {run.host:<20} {run.pid:>8}  {stamp(run.started_at)}  {end:<19}  {duration(run.seconds)}"


def sparkline(values: list[int]) -> str:
    """Counts as a row of bars (the highest is a full bar)."""
    top = max(values, default=0)
    if not top:
        return BARS[0] * len(values)
    return "".join(BARS[min(8, round(v * 8 / top))] if v else BARS[0] for v in values)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _secs(x: float | None) -> str:
    return "-" if x is None else duration(x)


def text_report(doc: dict[str, Any]) -> list[str]:
    """A report for a person."""
    s, t, a, d, u = doc["scope"], doc["tasks"], doc["attempts"], doc["duration"], doc["usage"]
    if s["run"] is not None:
        state = "running" if s["running"] else "ended"
        head = f"run {s['run']} on {s['host']} (pid {s['pid']}), {state}"
    else:
        head = "attempts started"
    out = [
        f"{head}: {stamp(s['start'])} -> {stamp(s['end'])} ({duration(s['seconds'])})",
        f"tasks       done {t['done']}  failed {t['failed']}  blocked {t['blocked']}  "
        f"unfinished {t['unfinished']}  success {_pct(doc['success_rate'])}",
    ]
    ends = ", ".join(f"{k} {v}" for k, v in sorted(a.items()) if k not in ("total", "retries"))
    out.append(
        f"attempts    {a['total']}" + (f" ({ends})" if ends else "") + f", retries {a['retries']}"
    )
    out.append(
        f"duration    median {_secs(d['median_s'])}  p95 {_secs(d['p95_s'])}  "
        f"({d['attempts']} attempts)"
    )
    tp = doc["throughput"]
    out.append(
        f"throughput  done per {duration(tp['interval_s'])}: {sparkline(tp['done'])}  "
        f"(peak {max(tp['done'], default=0)})"
    )
    for ag in doc["agents"]:
        out.append(
            f"agent       {ag['agent']:<16} {ag['attempts']:>5} attempts  busy "
            f"{duration(ag['busy_s']):>7}  {_pct(ag['utilisation']):>6}"
        )
    w = doc["waiting"]
    who = ", ".join(f"{x['agent']} {x['times']}x {duration(x['seconds'])}" for x in w["agents"])
    out.append(f"waiting     {duration(w['seconds'])} for a person" + (f" ({who})" if who else ""))
    cost = "-" if u["cost_usd"] is None else f"${u['cost_usd']:.4f}"
    out.append(
        f"tokens      in {u['input_tokens']:,}  out {u['output_tokens']:,}  cached "
        f"{u['cached_tokens']:,}  cost {cost}  ({u['attempts']} attempts reported)"
    )
    if doc["per_task"]:
        out.append(f"slowest tasks (p95 of {min(figures.SLOWEST, len(doc['per_task']))}):")
        for row in doc["per_task"][: figures.SLOWEST]:
            out.append(
                f"  {row['task']:<24} {row['attempts']:>3} attempts  median "
                f"{_secs(row['median_s']):>7}  p95 {_secs(row['p95_s']):>7}"
            )
    return out


def _num(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3f}".rstrip("0").rstrip(".") if x != int(x) else f"{int(x)}"


def text_compare(a: Run, b: Run, rows: list[dict[str, Any]]) -> list[str]:
    """Two runs' figures side by side, with the difference."""
    out = [f"{'':<22} {'run ' + str(a.id):>12} {'run ' + str(b.id):>12} {'diff':>12} {'change':>8}"]
    for r in rows:
        change = "-" if r["change"] is None else f"{r['change'] * 100:+.0f}%"
        diff = "-" if r["diff"] is None else ("+" if r["diff"] > 0 else "") + _num(r["diff"])
        out.append(
            f"{r['figure']:<22} {_num(r['a']):>12} {_num(r['b']):>12} {diff:>12} {change:>8}"
        )
    return out
