"""`overseer explain`: the screen, the verdict and the rule that decided it, for a bug report."""

from __future__ import annotations

import io
import json
import os
import platform
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from overseer.agents.classify import Verdict, classify
from overseer.agents.kinds import KindError, rules_for
from overseer.agents.profiles import match_prompt
from overseer.agents.screen import screen_from_capture
from overseer.state.config import AgentSpec
from overseer.state.redact import mask
from overseer.state.statedir import open_private
from overseer.state.store import ensure_private_dir

ExplainError = KindError  # a kind or screen that cannot be explained (message says why)


def shell_verdict(lines: list[str]) -> Verdict:
    """A shell agent's screen: a prompt for a person on the cursor line, or nothing special."""
    rows = [line for line in lines if line.strip()]
    last = rows[-1] if rows else ""
    m = match_prompt(last)
    if m is not None:
        return Verdict("waiting", m.rule, m.text)
    return Verdict("unknown", "shell-screen", "shell agents are read from exit codes, not screens")


@dataclass(frozen=True)
class Explanation:
    """A screen and what Overseer makes of it."""

    kind: str
    screen: str
    verdict: Verdict
    source: str

    def to_json(self) -> dict[str, Any]:
        """The --json form."""
        return {
            "kind": self.kind,
            "verdict": self.verdict.to_json(),
            "patterns_from": self.source,
            "screen": self.screen.split("\n"),
        }

    def text(self) -> str:
        """The human form: the screen, then the verdict and its rule."""
        v = self.verdict
        bar = "─" * 60
        out = [
            bar,
            self.screen,
            bar,
            f"kind:     {self.kind}",
            f"verdict:  {v.state}",
            f"rule:     {v.rule}",
            f"evidence: {v.detail}",
        ]
        if v.line is not None:
            out.append(f"line:     {v.line + 1} of the screen")
        if v.choices:
            out.append("choices:  " + " | ".join(v.choices))
        if v.note:
            out.append(f"note:     {v.note}")
        out.append(f"patterns: {self.source}")
        return "\n".join(out)


def explain_screen(
    kind: str, capture: str, spec: AgentSpec | None = None, columns: int = 200, lines: int = 60
) -> Explanation:
    """Explain a saved screen (text with escapes, as `capture-pane -p -e` writes it)."""
    if "\x00" in capture:
        raise ExplainError("the screen file contains NUL bytes: is it a capture-pane text?")
    screen = screen_from_capture(capture, columns, lines)
    rows = screen.lines()
    rules = rules_for(kind, spec)
    if rules is None:
        verdict = shell_verdict(rows)
        source = "shell prompts for a person (agents/profiles.py HUMAN_PROMPTS)"
    else:
        verdict = classify(rows, rules)
        source = rules.source or kind
    return Explanation(kind, mask(screen.text()), verdict, source)


def save_bundle(
    path: Path, explanation: Explanation, raw_capture: str, extra: dict[str, Any]
) -> Path:
    """A .tar.gz a person can attach to a bug report (secrets masked)."""
    ensure_private_dir(path.parent)  # in the state dir: a planted link there is refused
    files = {
        "screen.ansi": mask(raw_capture),
        "screen.txt": explanation.screen,
        "verdict.json": json.dumps(
            {
                **explanation.to_json(),
                **extra,
                "python": platform.python_version(),
                "platform": platform.platform(),
                "saved_at": time.time(),
            },
            indent=2,
            default=str,
        ),
        "README.txt": (
            "Overseer explain bundle.\n"
            "Reproduce the verdict with:\n"
            f"  overseer explain --kind {explanation.kind} --screen screen.ansi\n"
        ),
    }
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
    with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"overseer-explain/{name}")
            info.size = len(data)
            info.mtime = int(time.time())
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return path
