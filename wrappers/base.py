"""What every wrapper of this package shares: a base class and the per-step info dicts.

:class:`BaseWrapper` is a :class:`pettingzoo.utils.BaseParallelWrapper` that keeps its own copy of
``metadata`` (the inner env's class dict is never mutated: mpe2 envs share one), a
``render_mode`` attribute, ``possible_agents`` and ``agents`` as plain attributes (refreshed by
every ``reset`` and ``step``, so reading them costs nothing in a hot loop), the inner
``state_space`` when there is one, and cached spaces (the same object on every call).

**Info dicts.** Several wrappers of a stack each add a key to every agent's info dict
(``obs_mask``, ``action_mask``, ``agent_mask``, ``task_id``). Copying each dict in every layer
would cost more than the wrapped step itself, and editing a dict the inner env handed out could
corrupt state the env keeps (a dict reused between steps or shared between agents). So the first
wrapper of this package to touch a step's infos copies them into :class:`InfoDict` objects (plain
``dict`` subclasses, created fresh for this step and seen by no one else yet), and the wrappers
outside it edit those in place. :func:`own_infos` does that copy-once step.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium
from pettingzoo import ParallelEnv
from pettingzoo.utils import BaseParallelWrapper

from mt_envs.utils import unknown_name_error

__all__ = ["BaseWrapper", "InfoDict", "Infos", "check_parallel_env", "own_infos"]


class InfoDict(dict[str, Any]):
    """A per-agent info dict created by a wrapper of this package during the current step.

    It is a plain ``dict`` to every reader. Wrappers of this package that receive one from the
    env they wrap may add their keys in place: it was created for this step only and nobody else
    holds it yet. Dicts of any other type are copied first (see :func:`own_infos`).
    """

    __slots__ = ()


class Infos(dict[str, dict[str, Any]]):
    """The outer ``{agent: info}`` mapping built by :func:`own_infos`; its values are
    :class:`InfoDict` objects that outer wrappers may edit in place."""

    __slots__ = ()


def own_infos(infos: Mapping[str, Mapping[str, Any]]) -> Infos:
    """Infos whose per-agent dicts a wrapper may edit in place.

    Returns ``infos`` itself when an inner wrapper of this package built it in this step, and a
    copy (outer mapping and every agent's dict) otherwise, so dicts an env handed out are never
    edited.

    Args:
        infos: The infos returned by the wrapped env's ``reset`` or ``step``.

    Returns:
        An :class:`Infos` of :class:`InfoDict` values.
    """
    if type(infos) is Infos:
        return infos
    return Infos((agent, InfoDict(info)) for agent, info in infos.items())


def check_parallel_env(env: Any, what: str) -> None:
    """Raise ``TypeError`` unless ``env`` is a PettingZoo ParallelEnv with ``possible_agents``.

    Args:
        env: The object to check.
        what: How the caller names it in the message (``"PadObservations"``, ``"slot 2"``).

    Raises:
        TypeError: For AEC envs (with the conversion to use) and anything else.
    """
    from pettingzoo import AECEnv

    if isinstance(env, AECEnv):
        raise TypeError(
            f"{what}: got an AEC env ({type(env).__name__}); wrap parallel envs, for example "
            "pettingzoo.utils.conversions.aec_to_parallel(env) or the module's parallel_env()"
        )
    if not isinstance(env, ParallelEnv):
        raise TypeError(f"{what}: expected a PettingZoo ParallelEnv, got {type(env).__name__}")
    if not getattr(env, "possible_agents", None):
        raise TypeError(
            f"{what}: {type(env).__name__} has no possible_agents; a ParallelEnv must list every "
            "agent that can appear in possible_agents"
        )


class BaseWrapper(BaseParallelWrapper):
    """Base class of the wrappers of this package (see the module docstring).

    Subclasses replace entries of ``self._obs_spaces`` / ``self._act_spaces`` (one space object
    per agent, built once) when they change spaces, and set ``self.agents`` from the inner env
    after each ``reset`` and ``step``.

    Args:
        env: The PettingZoo ParallelEnv to wrap.

    Raises:
        TypeError: When ``env`` is not a ParallelEnv.
    """

    def __init__(self, env: ParallelEnv) -> None:
        check_parallel_env(env, type(self).__name__)
        super().__init__(env)
        # Own copy: never write into the inner env's (class-level, possibly shared) dict.
        self.metadata = dict(getattr(env, "metadata", None) or {})
        self.render_mode = getattr(env, "render_mode", None)
        self.possible_agents = list(env.possible_agents)
        self.agents = list(getattr(env, "agents", []))
        if hasattr(env, "state_space"):
            self.state_space = env.state_space
        self._obs_spaces: dict[str, gymnasium.spaces.Space] = {
            a: env.observation_space(a) for a in self.possible_agents
        }
        self._act_spaces: dict[str, gymnasium.spaces.Space] = {
            a: env.action_space(a) for a in self.possible_agents
        }

    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        """The (cached) observation space of ``agent``."""
        try:
            return self._obs_spaces[agent]
        except KeyError:
            raise unknown_name_error("agent", agent, self.possible_agents) from None

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        """The (cached) action space of ``agent``."""
        try:
            return self._act_spaces[agent]
        except KeyError:
            raise unknown_name_error("agent", agent, self.possible_agents) from None

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Reset the inner env."""
        out = self.env.reset(seed=seed, options=options)
        self.agents = self.env.agents
        return out

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Step the inner env."""
        out = self.env.step(actions)
        self.agents = self.env.agents
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self.env!r}>"

    def __str__(self) -> str:
        return repr(self)
