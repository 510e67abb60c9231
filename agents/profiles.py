"""Agent kinds: how each is launched and how its screen says it wants a human."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A quiet pane whose cursor line matches one of these waits for a person.
HUMAN_PROMPTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(rx, re.IGNORECASE))
    for name, rx in (
        ("yes-no", r"[\[(]\s*y(es)?\s*/\s*n(o)?\s*[\])]"),
        ("yes-no-fingerprint", r"\(yes/no/\[fingerprint\]\)"),
        ("password", r"\b(password|passphrase|passcode|pin)\b[^:]*:\s*$"),
        ("token", r"\b(token|api key|secret|otp|verification code)\b[^:]*:\s*$"),
        ("press-enter", r"\bpress\s+(enter|return|any key)\b"),
        ("continue", r"\b(continue|proceed|overwrite|replace|remove|delete)\b[^?]{0,60}\?\s*$"),
        ("are-you-sure", r"\bare you sure\b"),
        (
            "select",
            r"\b(enter|select|choose)\b.{0,40}\b(choice|option|number|selection)\b.*[:?]\s*$",
        ),
    )
)

# Prompts that must never be answered automatically: a person has to attach.
SECRET_PROMPTS = frozenset({"password", "token"})


@dataclass(frozen=True)
class PromptMatch:
    """A recognised prompt: which rule matched and the text on screen."""

    rule: str
    text: str

    @property
    def secret(self) -> bool:
        """Whether the prompt asks for a secret (never answered by Overseer)."""
        return self.rule in SECRET_PROMPTS


def match_prompt(cursor_line: str, last_line: str = "") -> PromptMatch | None:
    """Recognise a prompt for a human on the cursor line (or, failing that, the last line)."""
    for text in (cursor_line, last_line):
        text = text.strip()
        if not text or len(text) > 400:
            continue
        for rule, rx in HUMAN_PROMPTS:
            if rx.search(text):
                return PromptMatch(rule, text)
    return None


@dataclass(frozen=True)
class Profile:
    """How one kind of agent is run and read."""

    kind: str
    # How long the pane must be quiet before a prompt on screen counts as waiting.
    quiet_before_waiting: float = 0.8
    respawn_limit: int = 3  # respawns allowed within respawn_window
    respawn_window: float = 60.0


PROFILES: dict[str, Profile] = {"shell": Profile("shell")}


def profile(kind: str) -> Profile:
    """The profile of an agent kind (config validation guarantees it exists)."""
    return PROFILES[kind]
