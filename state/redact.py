"""Mask secrets (API keys, tokens, passwords, private keys) in text before it is stored or sent.

The store applies it to every text it writes (events, agent reasons, prompts and last
lines, attempt reasons, results and output tails, block reasons, command results and, once
applied, command arguments), so nothing reaches the database, the event log or the notify
hook in clear. Only the standard library: `state` is importable on its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

MASK = "***"

# Names of assignments whose value is a secret: `password=…`, `GITHUB_TOKEN=…`, `api-key: "…"`.
# The secret word ends the name or is followed by a separator, so `max_tokens=` and
# `tokenizer=` stay readable while `GITHUB_TOKEN=` and `secret_key=` are masked.
_SECRET_NAME = (
    r"(?:[A-Za-z0-9_.-]*?"
    r"(?:passwd|password|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key"
    r"|account[_-]?key|private[_-]?key|credentials?|auth[_-]?key)"
    # Short words only as a whole name part: `DB_PASS`, `pass`, `MYSQL_PWD` are secrets;
    # `bypass`, `passenger`, and the shell's `PWD` and `OLDPWD` are not.
    r"|(?:[A-Za-z0-9.-]*[_.-])?pass|[A-Za-z0-9.-]*[_.-]pwd)"
    r"(?:[_.-][A-Za-z0-9_.-]*)?(?![A-Za-z0-9])"
)
# A value: quoted, or a run of characters up to whitespace, a quote, comma, semicolon or '&'.
_VALUE = r"(?:\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',;&]+)"

_Rule = tuple[re.Pattern[str], Callable[[re.Match[str]], str], tuple[str, ...]]


def _keep(group: int) -> Callable[[re.Match[str]], str]:
    """Keep the text of one group (a recognisable prefix) and mask the rest."""
    return lambda m: m.group(group) + MASK


def _assignment(m: re.Match[str]) -> str:
    value = m.group("value")
    if value.startswith(("'", '"')) and len(value) >= 2:
        masked = value[0] + MASK + value[-1]
    else:
        masked = MASK
    return m.group("lead") + masked


def _private_key(m: re.Match[str]) -> str:
    label = m.group("label") or ""
    # Inside a JSON string (a service-account file) the line breaks are the two characters
    # `\n`: keep that form so the masked text is still valid JSON.
    nl = "\\n" if "\\n" in m.group(0) and "\n" not in m.group(0) else "\n"
    return f"-----BEGIN {label}PRIVATE KEY-----{nl}{MASK}{nl}-----END {label}PRIVATE KEY-----"


_SECRET_WORDS = ("pass", "pwd", "secret", "token", "key", "credential", "auth")


def _rule(
    pattern: str, replace: Callable[[re.Match[str]], str], triggers: Iterable[str], flags: int = 0
) -> _Rule:
    """A masking rule that runs only when one of its lower-case `triggers` is in the text."""
    return re.compile(pattern, flags), replace, tuple(triggers)


# Order matters: whole blocks and headers first, then specific token shapes, then generic
# assignments (which would otherwise keep only part of a token they contain).
_RULES: tuple[_Rule, ...] = (
    _rule(
        r"-----BEGIN (?P<label>[A-Z0-9 ]*?)PRIVATE KEY-----.*?"
        r"(?:-----END [A-Z0-9 ]*?PRIVATE KEY-----|\Z)",
        _private_key,
        ["private key"],
        re.DOTALL,
    ),
    # The end of a key block whose BEGIN line was cut off (e.g. by a tail).
    _rule(
        r"(?:^[A-Za-z0-9+/=]{16,}\r?\n)+(?P<end>-----END [A-Z0-9 ]*PRIVATE KEY-----)",
        lambda m: MASK + "\n" + m.group("end"),
        ["private key"],
        re.MULTILINE,
    ),
    _rule(
        r"(?P<lead>\b(?:proxy-)?authorization\s*[:=]\s*)(?P<value>[^\r\n]+)",
        lambda m: m.group("lead") + MASK,
        ["authorization"],
        re.IGNORECASE,
    ),
    _rule(
        r"(?P<lead>\bx-(?:api|auth)-(?:key|token)\s*:\s*)[^\r\n]+",
        lambda m: m.group("lead") + MASK,
        ["x-api-", "x-auth-"],
        re.IGNORECASE,
    ),
    # A bearer token has a digit somewhere; "Bearer authentication" is prose.
    _rule(
        r"(\bBearer\s+)(?=[A-Za-z._~+/=-]*[0-9])[A-Za-z0-9._~+/=-]{8,}",
        _keep(1),
        ["bearer"],
        re.IGNORECASE,
    ),
    # Anthropic before OpenAI: both start with sk-.
    _rule(r"\b(sk-ant-)[A-Za-z0-9_-]{16,}", _keep(1), ["sk-ant-"]),
    _rule(r"\b(sk-(?:proj-|svcacct-|admin-)?)[A-Za-z0-9_-]{20,}", _keep(1), ["sk-"]),
    _rule(r"\b(github_pat_)[A-Za-z0-9_]{20,}", _keep(1), ["github_pat_"]),
    _rule(r"\b(gh[pousr]_)[A-Za-z0-9]{30,}", _keep(1), ["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]),
    _rule(r"\b(glpat-)[A-Za-z0-9_-]{20,}", _keep(1), ["glpat-"]),
    _rule(
        r"\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[0-9A-Z]{16})\b",
        lambda m: m.group(1)[:4] + MASK,
        ["akia", "asia", "agpa", "aida", "aroa", "anpa"],
    ),
    _rule(r"\b(xox[abposr]-)[A-Za-z0-9-]{10,}", _keep(1), ["xox"]),
    # Stripe secret and restricted keys (live and test).
    _rule(
        r"\b((?:sk|rk)_(?:live|test)_)[A-Za-z0-9]{16,}",
        _keep(1),
        ["sk_live_", "sk_test_", "rk_live_", "rk_test_"],
    ),
    # The signature of an Azure shared access signature (SAS) URL.
    _rule(r"([?&]sig=)[^&\s\"'<>]+", _keep(1), ["sig="], re.IGNORECASE),
    # `aws configure set aws_secret_access_key VALUE`: the value follows a space, not `=`.
    _rule(
        r"(\baws_secret_access_key[ \t]+)(?![=:])([^\s\"',;&]+)",
        _keep(1),
        ["aws_secret_access_key"],
        re.IGNORECASE,
    ),
    _rule(r"\b(AIza)[0-9A-Za-z_-]{35}", _keep(1), ["aiza"]),
    _rule(
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        lambda m: "eyJ" + MASK,
        ["eyj"],
    ),
    # user:password@ in URLs (also an empty user: `redis://:password@host`).
    _rule(
        r"(\b[a-z][a-z0-9+.-]*://[^\s:/@]*:)[^\s@/]+(@)",
        lambda m: m.group(1) + MASK + m.group(2),
        ["://"],
        re.IGNORECASE,
    ),
    # password=…, TOKEN=…, --password=…, "api_key": "…", secret: '…'
    _rule(
        rf"(?P<lead>(?<![A-Za-z0-9])[\"']?{_SECRET_NAME}[\"']?\s*=\s*)(?P<value>{_VALUE})",
        _assignment,
        _SECRET_WORDS,
        re.IGNORECASE,
    ),
    _rule(
        rf"(?P<lead>(?<![A-Za-z0-9])[\"']{_SECRET_NAME}[\"']\s*:\s*)"
        r"(?P<value>\"[^\"\n]*\"|'[^'\n]*')",
        _assignment,
        _SECRET_WORDS,
        re.IGNORECASE,
    ),
    # YAML or env-file style at the start of a line: `password: hunter2`, `- token: abc`.
    _rule(
        rf"(?P<lead>^[ \t]*(?:export[ \t]+|-[ \t]+)?{_SECRET_NAME}[ \t]*:[ \t]+)"
        rf"(?P<value>{_VALUE})",
        _assignment,
        _SECRET_WORDS,
        re.IGNORECASE | re.MULTILINE,
    ),
    _rule(
        rf"(?P<lead>(?<![A-Za-z0-9-])--{_SECRET_NAME}\s+)(?P<value>(?!-){_VALUE})",
        _assignment,
        _SECRET_WORDS,
        re.IGNORECASE,
    ),
)


# Every rule's triggers, each once: most text (event messages, output tails) has none of
# them, which a loop in C (map over str.__contains__) tells without a Python frame per test.
_TRIGGERS = tuple(sorted({t for _, _, ts in _RULES for t in ts}))


def mask(text: str) -> str:
    """Return `text` with secrets replaced by ***; ordinary text comes back unchanged."""
    if not text:
        return text
    low = text.lower()
    if not any(map(low.__contains__, _TRIGGERS)):
        return text
    for pattern, replace, triggers in _RULES:
        # A substring test is far cheaper than a regex scan, and most text has none of them.
        if any(t in low for t in triggers):
            text = pattern.sub(replace, text)
            low = text.lower()
    return text


def mask_all(lines: Iterable[str]) -> list[str]:
    """Mask every line of a sequence."""
    return [mask(line) for line in lines]


def mask_data(value: Any) -> Any:
    """`value` (JSON-like: dicts, lists, strings, numbers) with every string masked."""
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {key: mask_data(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_data(item) for item in value]
    return value


def mask_env(env: dict[str, str]) -> dict[str, str]:
    """Mask the values of an environment mapping (names are kept)."""
    return {key: mask(value) for key, value in env.items()}
