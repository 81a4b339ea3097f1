"""A batched env built from any PettingZoo ParallelEnv factory, stepping copies one by one."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import gymnasium
import numpy as np
from pettingzoo import ParallelEnv

from mt_envs.utils import check_options, check_seed
from mt_envs.vector.base import MultiAgentVectorEnv, VecStep, readonly


def _vector_encoding(
    space: gymnasium.spaces.Space,
) -> tuple[Callable[[Any], np.ndarray], gymnasium.spaces.Box]:
    """How one agent's observation becomes a ``float32`` vector, and the ``Box`` of those."""
    if isinstance(space, gymnasium.spaces.Box) and len(space.shape) == 1:
        return (lambda o: np.asarray(o, dtype=np.float32)), space
    if isinstance(space, gymnasium.spaces.Discrete):
        eye = np.eye(int(space.n), dtype=np.float32)
        start = int(space.start)
        return (lambda o: eye[int(o) - start]), gymnasium.spaces.Box(
            0.0, 1.0, (int(space.n),), np.float32
        )
    if isinstance(space, gymnasium.spaces.MultiDiscrete) and space.nvec.ndim == 1:
        low = np.asarray(space.start, dtype=np.float32)
        high = (space.start + space.nvec - 1).astype(np.float32)
        return (lambda o: np.asarray(o, dtype=np.float32)), gymnasium.spaces.Box(
            low, high, dtype=np.float32
        )
    raise TypeError(
        f"SyncVectorEnv needs flat Box, Discrete or MultiDiscrete observations, got {space}; "
        "flatten them first (gymnasium.spaces.flatten)"
    )


class SyncVectorEnv(MultiAgentVectorEnv):
    """The batched API over ``B`` copies of any ParallelEnv, stepped in turn in this process.

    Every agent must have the same observation space and the same ``Discrete`` action space (use
    the padding wrappers for heterogeneous envs). Observations become ``float32`` vectors: a flat
    ``Box`` as is, ``Discrete(n)`` one-hot, ``MultiDiscrete`` as its values (the same encoding as
    the native batched cores of the tabular families). Agents that are not live (padded, or
    already done in a running episode) observe zeros. Agent slots follow
    ``possible_agents`` of the first copy. Reset ``seed=s`` resets copy ``b`` with ``s + b``, so
    copy ``b`` replays a single env seeded ``s + b``.

    Action masks are read from ``infos[agent]["action_mask"]`` when present; task ids from
    ``infos[agent]["task_id"]`` (0 when absent).

    Args:
        env_fns: One zero-argument factory per copy, or a single factory with ``num_envs``.
        num_envs: Number of copies when ``env_fns`` is a single factory.
        seed: Seed of the first ``reset()`` when it is called without one.
    """

    def __init__(
        self,
        env_fns: Sequence[Callable[[], ParallelEnv]] | Callable[[], ParallelEnv],
        num_envs: int | None = None,
        seed: int | None = None,
    ) -> None:
        seed = check_seed(seed)  # before any env is built
        if num_envs is not None and (
            isinstance(num_envs, bool) or not isinstance(num_envs, (int, np.integer))
        ):
            raise ValueError(f"num_envs={num_envs!r} is invalid: need an int >= 1")
        if callable(env_fns):
            if num_envs is None or num_envs < 1:
                raise ValueError(
                    f"num_envs={num_envs!r} is invalid: give num_envs >= 1 with a single env "
                    "factory"
                )
            env_fns = [env_fns] * int(num_envs)
        elif num_envs is not None and num_envs != len(env_fns):
            raise ValueError(f"num_envs={num_envs} but {len(env_fns)} factories were given")
        if not env_fns:
            raise ValueError("SyncVectorEnv needs at least one env factory")
        self.envs: list[ParallelEnv] = [fn() for fn in env_fns]
        first = self.envs[0]
        self.possible_agents = list(first.possible_agents)
        self.num_envs = len(self.envs)
        self.num_agents = len(self.possible_agents)
        obs_space = first.observation_space(self.possible_agents[0])
        act_space = first.action_space(self.possible_agents[0])
        self._encode, vec_space = _vector_encoding(obs_space)
        if not isinstance(act_space, gymnasium.spaces.Discrete):
            raise TypeError(f"SyncVectorEnv needs Discrete actions, got {act_space}")
        for b, env in enumerate(self.envs):
            if list(env.possible_agents) != self.possible_agents:
                raise ValueError(
                    f"copy {b} has agents {env.possible_agents}, copy 0 has {self.possible_agents}"
                )
            for agent in self.possible_agents:
                if (
                    env.observation_space(agent) != obs_space
                    or env.action_space(agent) != act_space
                ):
                    raise ValueError(
                        f"copy {b}, {agent}: spaces {env.observation_space(agent)} / "
                        f"{env.action_space(agent)} differ from {obs_space} / {act_space}; every "
                        "agent needs the same spaces (pad them with the wrappers package)"
                    )
        self.single_observation_space = vec_space
        self.single_action_space = act_space
        self.task_set = getattr(first.unwrapped, "task_set", None)
        self._has_state = hasattr(first, "state_space")
        self.state_space = (
            first.state_space
            if self._has_state
            else gymnasium.spaces.Box(0.0, 0.0, (0,), np.float32)
        )
        self.metadata = {
            "name": first.metadata.get("name", type(first).__name__),
            "autoreset_mode": "same-step",
        }
        self._default_seed = seed
        self._needs_reset = True
        self._slot = {a: i for i, a in enumerate(self.possible_agents)}
        b, n, a = self.num_envs, self.num_agents, int(act_space.n)
        self._obs = np.zeros((b, n, vec_space.shape[0]), dtype=np.float32)
        self._agent_mask = np.zeros((b, n), dtype=bool)
        self._action_mask = np.zeros((b, n, a), dtype=bool)
        self._task_id = np.zeros(b, dtype=np.int64)
        self._init_episode_stats()

    def _state(self, b: int) -> np.ndarray:
        return (
            np.asarray(self.envs[b].state(), dtype=np.float32) if self._has_state else np.zeros(0)
        )

    def _write(
        self,
        b: int,
        obs: dict[str, Any],
        infos: dict[str, dict[str, Any]],
        live: list[str],
        new_episode: bool = False,
    ) -> None:
        """Write copy ``b``'s observations and masks (and, on reset, its task id) into the batch
        arrays. The task id of an episode is read once, at its reset, from the first agent's
        infos: in a team env where agents play different tasks it stays that of ``agent_0``'s."""
        n_act = int(self.single_action_space.n)
        self._obs[b] = 0.0
        self._agent_mask[b] = False
        self._action_mask[b] = False
        self._action_mask[b, :, n_act - 1] = True
        for agent in live:
            i = self._slot[agent]
            self._obs[b, i] = self._encode(obs[agent])
            self._agent_mask[b, i] = True
            mask = infos.get(agent, {}).get("action_mask")
            self._action_mask[b, i] = True if mask is None else np.asarray(mask, dtype=bool)
        if new_episode:
            self._task_id[b] = 0
            for agent in live:
                if "task_id" in infos.get(agent, {}):
                    self._task_id[b] = int(infos[agent]["task_id"])
                    break

    def _snapshot(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            readonly(self._task_id.copy()),
            readonly(self._agent_mask.copy()),
            readonly(self._action_mask.copy()),
        )

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Reset every copy; with ``seed``, copy ``b`` gets ``seed + b``."""
        seed = check_seed(seed)
        check_options(options)
        if seed is None and self._needs_reset:
            seed = self._default_seed
        for b, env in enumerate(self.envs):
            obs, infos = env.reset(seed=None if seed is None else seed + b, options=options)
            self._write(b, obs, infos, list(env.agents), new_episode=True)
        self._init_episode_stats()
        self._needs_reset = False
        task_id, agent_mask, action_mask = self._snapshot()
        state = np.stack([self._state(b) for b in range(self.num_envs)])
        info = {
            "task_id": task_id,
            "state": state,
            "action_mask": action_mask,
            "agent_mask": agent_mask,
        }
        return self._obs.copy(), info

    def step(self, actions: np.ndarray) -> VecStep:
        """Step every copy; ended episodes restart within the step."""
        if self._needs_reset:
            raise RuntimeError("step() called before reset(): call reset() first")
        prev_task, prev_agents, _ = self._snapshot()
        acts = self._check_actions(actions, self._agent_mask)
        b_, n = self.num_envs, self.num_agents
        rew = np.zeros((b_, n), dtype=np.float32)
        term = np.zeros((b_, n), dtype=bool)
        trunc = np.zeros((b_, n), dtype=bool)
        done = np.zeros(b_, dtype=bool)
        final_obs = np.zeros_like(self._obs)
        final_state = np.zeros((b_, *self.state_space.shape), dtype=np.float32)
        states = np.zeros_like(final_state)
        for b, env in enumerate(self.envs):
            live = list(env.agents)
            obs, rews, terms, truncs, infos = env.step(
                {agent: int(acts[b, self._slot[agent]]) for agent in live}
            )
            for agent in live:
                i = self._slot[agent]
                rew[b, i] = rews[agent]
                term[b, i] = terms[agent]
                trunc[b, i] = truncs[agent]
            self._write(b, obs, infos, list(env.agents))
            final_state[b] = self._state(b)
            if env.agents:
                final_obs[b] = self._obs[b]
                states[b] = final_state[b]
                continue
            for agent in live:  # the last observations of the agents that just ended
                if agent in obs:
                    final_obs[b, self._slot[agent]] = self._encode(obs[agent])
            done[b] = True
            # slots that did not act (padding, agents already gone) follow the episode's end
            acting = prev_agents[b]
            ended_by_term = bool(term[b, acting].all())
            term[b, ~acting] = ended_by_term
            trunc[b, ~acting] = not ended_by_term
            obs, infos = env.reset()
            self._write(b, obs, infos, list(env.agents), new_episode=True)
            states[b] = self._state(b)
        episode = self._episode_info(rew, done, prev_task)
        task_id, agent_mask, action_mask = self._snapshot()
        info = {
            "task_id": task_id,
            "state": states,
            "action_mask": action_mask,
            "agent_mask": agent_mask,
            "final_obs": final_obs,
            "final_state": final_state,
            "final_info": {"task_id": prev_task, "agent_mask": prev_agents},
            "_final": done,
            "episode": episode,
        }
        return self._obs.copy(), rew, term, trunc, info

    def close(self) -> None:
        for env in self.envs:
            env.close()
