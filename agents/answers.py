"""The operator command a stored suggestion applies, checked against the agent as it is now:
one function for `overseer apply` and the dashboard (light: no tmux, no supervisor)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from overseer.agents.profiles import match_prompt
from overseer.state.errors import EXIT_FAILED, OverseerError
from overseer.state.models import Agent, AgentState

PROMPT_SHOWN = 150  # characters of a prompt compared (suggestions keep a cut version)


class Refused(OverseerError):
    """An operator command refused before anything was typed (the message says why)."""

    status = EXIT_FAILED


def check_answer(
    name: str, state: AgentState | None, prompt: str | None, expected: str | None
) -> None:
    """Refuse an answer to an agent no longer waiting at the prompt it was meant for, or
    to a prompt that asks for a secret (never typed by Overseer)."""
    shown = " ".join((prompt or "").split())[:PROMPT_SHOWN]
    if state != AgentState.WAITING or (
        expected is not None and shown != " ".join(expected.split())[:PROMPT_SHOWN]
    ):
        raise Refused(
            f"{name} is no longer waiting at that prompt; nothing typed "
            "(see `overseer suggest` for what is current)"
        )
    m = match_prompt(prompt or "")
    if m is not None and m.secret:
        raise Refused(f"{name} asks for a secret ({prompt}); attach and type it yourself")


def about(item: Mapping[str, Any]) -> str | None:
    """The agent a stored suggestion is about (None: it is about a task)."""
    target = item.get("target")
    return str(target["agent"]) if isinstance(target, Mapping) and "agent" in target else None


def suggestion_command(
    item: Mapping[str, Any], agent: Agent | None
) -> tuple[str, str, dict[str, Any]] | None:
    """The operator command (verb, target, args) that applies a stored suggestion; None when
    a person must act. An answer is checked against the agent it is about as that agent is
    now (`agent`, its store row) and carries the prompt it answers, checked again when it is applied."""
    spec = item.get("apply")
    if not isinstance(spec, Mapping) or not spec.get("verb"):
        return None
    verb, target = str(spec["verb"]), str(spec.get("target", ""))
    args = dict(spec.get("args") or {})
    if item.get("action") == "answer":
        expected = next(
            (
                str(e)[len("prompt: ") :]
                for e in item.get("evidence") or ()
                if str(e).startswith("prompt: ")
            ),
            None,
        )
        check_answer(
            about(item) or target,
            agent.state if agent is not None else None,
            agent.prompt if agent is not None else None,
            expected,
        )
        assert agent is not None
        args["expect_prompt"] = agent.prompt or ""
    return verb, target, args
