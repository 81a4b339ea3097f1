"""A tabular policy that plays a PettingZoo tabular env from observation indices."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


class TablePolicy:
    """Play ``probs[state_index(obs)]`` for every live agent of a tabular env.

    The form in which tabular learners and the exact solvers hold a policy (rows over the env's
    observation indices, :attr:`~mt_envs.tabular.TabularEnv.n_states`), made playable on the
    PettingZoo dicts of :func:`mt_envs.play.run_episodes` and ``mt-envs play``.

    Args:
        env: A tabular env (or a wrapper of one): ``state_index``, ``n_states``, ``n_actions``.
        probs: ``[n_states, n_actions]`` action probabilities shared by all agents, or one such
            array per agent (in ``possible_agents`` order).
        seed: Seed of the action draws (``None``: fresh entropy).

    Raises:
        ValueError: A table of the wrong shape, or rows that are not distributions.
    """

    def __init__(
        self, env: Any, probs: np.ndarray | Sequence[np.ndarray], seed: int | None = None
    ) -> None:
        self.env = getattr(env, "unwrapped", env)
        agents = list(self.env.possible_agents)
        tables = [np.asarray(probs, np.float64)] * len(agents)
        if not isinstance(probs, np.ndarray) or np.ndim(probs) != 2:
            tables = [np.asarray(p, np.float64) for p in probs]
        if len(tables) != len(agents):
            raise ValueError(f"{len(tables)} policy tables for {len(agents)} agents")
        want = (int(self.env.n_states), int(self.env.n_actions))
        for agent, t in zip(agents, tables, strict=True):
            if t.shape != want:
                raise ValueError(
                    f"policy table of {agent} has shape {t.shape}: expected (n_states, "
                    f"n_actions) = {want}"
                )
            if (t < 0).any() or not np.allclose(t.sum(1), 1.0):
                raise ValueError(f"policy table of {agent}: rows must be distributions")
        # Cumulative rows: one uniform draw per agent and step picks the action.
        self._cdf = {a: np.cumsum(t, axis=1) for a, t in zip(agents, tables, strict=True)}
        self._rng = np.random.default_rng(seed)

    def reset(self) -> None:
        """Nothing to forget between episodes."""

    def __call__(
        self, observations: Mapping[str, Any], infos: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, int]:
        """One action for each live agent of the env."""
        out: dict[str, int] = {}
        for agent in self.env.agents:
            row = self._cdf[agent][self.env.state_index(observations[agent])]
            out[agent] = min(
                int(np.searchsorted(row, self._rng.random(), side="right")), len(row) - 1
            )
        return out
