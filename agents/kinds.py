"""The one registry of agent kinds: each kind's driver, profile and screen rules.

state/config.py keeps only the kind names it validates a config against; everything a
kind means for running an agent is looked up here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from overseer.agents.classify import ScreenRules, compile_rules
from overseer.agents.drivers.base import AgentDriver, Host
from overseer.agents.drivers.prompt import PromptDriver
from overseer.agents.drivers.shell import ShellDriver
from overseer.agents.profiles import AI_KINDS, AgentKind, Profile
from overseer.state.config import AgentSpec
from overseer.state.errors import OverseerError


class KindError(OverseerError):
    """A kind that cannot be driven or explained (the message says why; exit status 2)."""


@dataclass(frozen=True)
class Kind:
    """One agent kind: how it is run (driver, profile) and read (screen rules)."""

    name: str
    profile: Profile
    make: Callable[[Host, AgentSpec], AgentDriver]
    ai: AgentKind | None = None  # interactive kinds: launch command, keys, timings

    @property
    def task_kind(self) -> str:
        """The kind of task its agents take from the queue ("run" or "prompt")."""
        return "run" if self.ai is None else "prompt"


def _prompt_driver(host: Host, spec: AgentSpec) -> AgentDriver:
    rules = rules_for(spec.kind, spec)
    assert rules is not None
    return PromptDriver(host, AI_KINDS[spec.kind], rules)


KINDS: dict[str, Kind] = {
    "shell": Kind("shell", Profile("shell"), lambda host, spec: ShellDriver(host)),
    # An AI CLI's screen says at once whether it waits: no quiet period before that counts.
    **{
        name: Kind(name, Profile(name, quiet_before_waiting=0.0), _prompt_driver, ai)
        for name, ai in AI_KINDS.items()
    },
}


def kind(name: str) -> Kind:
    """The kind of that name (config validation guarantees it exists)."""
    return KINDS[name]


def driver(host: Host, spec: AgentSpec) -> AgentDriver:
    """A new driver for one agent (raises KindError for a custom kind without patterns)."""
    return KINDS[spec.kind].make(host, spec)


def rules_for(name: str, spec: AgentSpec | None = None) -> ScreenRules | None:
    """The screen rules of a kind (custom: from the agent's config); None for shell agents."""
    if name == "custom":
        if spec is None or not spec.patterns:
            raise KindError("kind 'custom' takes its patterns from an agent in the config")
        return compile_rules("custom", dict(spec.patterns))
    if name == "shell":
        return None
    known = AI_KINDS.get(name)
    if known is None or known.screen is None:
        raise KindError(f"unknown kind {name!r}; known: shell, {', '.join(AI_KINDS)}")
    rules = known.screen
    if spec is not None and not spec.version_check:
        rules = ScreenRules(
            rules.kind, rules.rules, rules.depth, rules.menus, None, (), rules.source
        )
    return rules
