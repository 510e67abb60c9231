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
        ("api-key", r"\b(enter|paste|type)\b.{0,40}\bapi key\b"),
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
SECRET_PROMPTS = frozenset({"password", "token", "api-key"})


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


# -- interactive AI agents -------------------------------------------------------------------

from overseer.agents.classify import BUSY, EXITED, IDLE, WAITING, Rule, ScreenRules  # noqa: E402


def _r(
    name: str, state: str, rx: str, where: str = "bottom", *, box: bool = False, limit: bool = False
) -> Rule:
    return Rule(name, state, re.compile(rx, re.IGNORECASE), where, box, limit)


# Shared by every AI CLI: what a rate limit or a full context looks like (a turn that ended
# without doing its work), retries in progress, sign-in and API-key screens, a dead pane.
LIMIT_RULES = (
    _r(
        "rate-limit",
        WAITING,
        r"usage limit|rate[ -]limit|quota exceeded|too many requests|limit will reset|try again in \d",
        limit=True,
    ),
    _r(
        "context-limit",
        WAITING,
        r"context (window|limit|left)[^.]*\b(full|exceeded|0%)|prompt is too long",
        limit=True,
    ),
)
# The API-key entry asks for a secret: Overseer never types it (HUMAN_PROMPTS "api-key").
SIGN_IN_RULES = (
    _r("api-key", WAITING, r"paste or type your api key|enter (your )?gemini api key"),
    _r(
        "sign-in",
        WAITING,
        r"choose how you want to use codex|sign in (with chatgpt|another way)"
        r"|how would you like to authenticate|select login method",
    ),
)
RETRYING = _r("retrying", BUSY, r"\bretrying in [\d.]+\s*s")
PANE_DEAD = _r("pane-dead", EXITED, r"^Pane is dead \(|^EXIT=\d+$")

CODEX = ScreenRules(
    "codex",
    (
        *LIMIT_RULES,
        *SIGN_IN_RULES,
        _r(
            "approval",
            WAITING,
            r"would you like to (run|make|apply)|allow (command|this)\?|\bapprove\b",
        ),
        _r("press-enter", WAITING, r"press enter to (continue|confirm)"),
        # Hooks given with `-c hooks...` open "5 hooks need review before they can run".
        _r("hooks-review", WAITING, r"\bhooks? needs? review\b"),
        _r("esc-to-interrupt", BUSY, r"esc to interrupt"),
        RETRYING,
        _r("input-box", IDLE, r"^\s*›(\s|$)", box=True),
        PANE_DEAD,
    ),
    version=re.compile(r"OpenAI Codex \(v(\d+\.\d+\.\d+)"),
    tested_versions=("0.169", "0.171"),
    source="@openai/codex 0.169.0 and 0.171.0, captured screens",
)
GEMINI = ScreenRules(
    "gemini",
    (
        *LIMIT_RULES,
        *SIGN_IN_RULES,
        _r("trust-dialog", WAITING, r"do you trust (the files in )?this folder"),
        _r(
            "approval",
            WAITING,
            r"allow execution|waiting for user confirmation|apply this change\?|do you want to proceed",
        ),
        # "(esc to cancel, 19s)": a dialog's "Esc to cancel" footer is no busy line.
        _r("esc-to-cancel", BUSY, r"\(esc to cancel\b"),
        RETRYING,
        _r("input-box", IDLE, r"^\s*>\s", box=True),
        PANE_DEAD,
    ),
    version=re.compile(r"Gemini CLI v(\d+\.\d+\.\d+)"),
    tested_versions=("0.61",),
    source="@google/gemini-cli 0.61.0, captured screens",
)
CLAUDE = ScreenRules(
    "claude",
    (
        *LIMIT_RULES,
        *SIGN_IN_RULES,
        _r(
            "approval",
            WAITING,
            r"do you want to (proceed|make this edit|create|run)|allow .{1,40}\?$",
        ),
        _r("esc-to-interrupt", BUSY, r"esc to interrupt"),
        # "✽ Noodling… (59s)"; a finished turn reads "✻ Churned for 1s" (no ellipsis).
        _r("spinner-line", BUSY, r"^\s*[✢✳✶✻✽✺·*]\s+\w+…"),
        RETRYING,
        # "❯" (2.1.197) or "│ > " (older); its echo "❯ prompt" marks where a turn began.
        _r("input-box", IDLE, r"^\s*([│|]\s*)?[>❯](\s|$)", box=True),
        _r("shortcuts-hint", IDLE, r"\? for shortcuts\s*$"),
        _r("cannot-connect", EXITED, r"unable to connect to anthropic services"),
        PANE_DEAD,
    ),
    version=re.compile(r"Claude Code v(\d+\.\d+\.\d+)"),
    tested_versions=("2.1",),
    source="@anthropic-ai/claude-code 2.1.197, captured screens",
)
AIDER = ScreenRules(
    "aider",
    (
        *LIMIT_RULES,
        # aider asks on its last line: a question answered further up is history.
        _r("yes-no", WAITING, r"\(Y\)es/\(N\)o|\[Yes\]:\s*$|\(y/n\)", where="last"),
        _r("open-url", WAITING, r"open (documentation )?url", where="last"),
        _r("waiting-spinner", BUSY, r"waiting for .{0,40}(model|llm|response)|thinking\.\.\."),
        RETRYING,
        _r("prompt", IDLE, r"^(\w[\w-]*)?>\s?.*$", where="last"),
        PANE_DEAD,
    ),
    menus=False,
    version=re.compile(r"^Aider v(\d+\.\d+\.\d+)"),
    tested_versions=("0.86",),
    source="aider 0.86.2 (line-based prompt `> `), captured screens",
)


@dataclass(frozen=True)
class AgentKind:
    """An interactive agent kind: how it is started, read and driven."""

    kind: str
    command: str  # launch command (config `command:` overrides it)
    screen: ScreenRules | None  # None for custom kinds (rules come from the config)
    interrupt_key: str = "Escape"
    debounce: float = 0.6  # a new verdict must hold this long before the state changes
    submit_timeout: float = 6.0  # a pasted prompt must show as submitted within this
    # Enter waits until the pasted prompt shows in the input box, then this much longer: a CLI
    # may take a return that follows a paste closely as part of it (a newline).
    enter_gap: float = 0.0
    paste_wait: float = 2.0  # the paste never showed by then: Enter anyway (resubmit follows)
    busy_when_changing: bool = False  # an unmatched screen that keeps changing counts as busy


AI_KINDS: dict[str, AgentKind] = {
    "codex": AgentKind("codex", "codex", CODEX),
    # Gemini CLI 0.61, in a terminal without the kitty keyboard protocol (tmux), takes an Enter
    # as a newline when it comes within 30 ms after a pasted or typed key (bufferFastReturn,
    # FAST_RETURN_TIMEOUT) or before a 40 ms timer set by a paste has fired and re-rendered
    # the input (InputPrompt's recentUnsafePasteTime): an Enter right after the paste was lost.
    # The timer and the re-render wait for its event loop, so the gap has room for a CLI that
    # the machine's load holds back (0.1 s still lost one Enter in a loaded test run).
    "gemini": AgentKind("gemini", "gemini", GEMINI, enter_gap=0.25),
    "claude": AgentKind("claude", "claude", CLAUDE),
    "aider": AgentKind("aider", "aider", AIDER, interrupt_key="C-c", busy_when_changing=True),
    "custom": AgentKind("custom", "", None, interrupt_key="C-c"),
}
