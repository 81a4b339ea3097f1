"""The native batched capture env: :class:`BatchCore` behind the vector API."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from mt_envs.capture.core import BatchCore, TaskTable
from mt_envs.capture.env import CaptureEnv, MAMTEnv, MASTEnv
from mt_envs.capture.task import N_ACTIONS, STAY
from mt_envs.tasks import Task, TaskSampler, TaskSet, make_sampler
from mt_envs.utils import check_options, check_seed
from mt_envs.vector.base import MultiAgentVectorEnv, VecStep, readonly

_VARIANTS: dict[str, type[CaptureEnv]] = {"mast": MASTEnv, "mamt": MAMTEnv, "any": CaptureEnv}


class CaptureVectorEnv(MultiAgentVectorEnv):
    """``num_envs`` capture environments on numpy arrays (see :mod:`mt_envs.vector.base`).

    For one environment and the same seeds it reproduces the ParallelEnv step for step, across
    episodes. With ``num_envs > 1`` all environments share one dynamics generator, so env ``b`` of
    a batch does not replay a ParallelEnv seeded ``seed + b`` (use
    :class:`~mt_envs.vector.SyncVectorEnv` for that).

    Args:
        num_envs: Batch size ``B``.
        tasks: Task set, registered set name, task or list of tasks.
        sampler: Task sampler of every new episode (``"uniform"``, ``"round_robin"`` or a
            :class:`~mt_envs.tasks.TaskSampler`).
        seed: Seed of the first ``reset()`` when it is called without one.
        seed_task: Seed of the task sampler (``None``: derived from the reset seed).
        obs_encoding: ``"coords"`` or ``"onehot"``.
        variant: ``"mast"``, ``"mamt"`` or ``"any"``: which tasks are accepted.
    """

    def __init__(
        self,
        num_envs: int,
        tasks: TaskSet | str | Task | list[Task] | None = None,
        sampler: str | TaskSampler = "uniform",
        seed: int | None = None,
        seed_task: int | None = None,
        obs_encoding: str = "coords",
        variant: str = "mamt",
    ) -> None:
        if (
            not isinstance(num_envs, (int, np.integer))
            or isinstance(num_envs, bool)
            or num_envs < 1
        ):
            raise ValueError(f"num_envs={num_envs!r} is invalid: need an int >= 1")
        env_cls = _VARIANTS[variant]
        self.task_set: TaskSet = TaskSet.coerce(env_cls.default_tasks if tasks is None else tasks)
        env_cls._check_variant(self.task_set)
        self.metadata = {"name": env_cls.metadata["name"], "autoreset_mode": "same-step"}
        self.table = TaskTable(self.task_set)
        self.core = BatchCore(self.table, int(num_envs), obs_encoding)
        self.obs_encoding = obs_encoding
        self.num_envs = int(num_envs)
        self.num_agents = self.core.N
        self.possible_agents = [f"agent_{i}" for i in range(self.num_agents)]
        self.single_observation_space = gymnasium.spaces.Box(
            0.0, 1.0, (self.core.obs_dim,), np.float32
        )
        self.single_action_space = gymnasium.spaces.Discrete(N_ACTIONS)
        self.state_space = gymnasium.spaces.Box(0.0, 1.0, (self.core.state_dim,), np.float32)
        self.seed_task = check_seed(seed_task, "seed_task")
        self.sampler = make_sampler(sampler, len(self.task_set), self.seed_task)
        self._default_seed = check_seed(seed)
        mask = np.zeros((len(self.task_set), self.num_agents, N_ACTIONS), dtype=bool)
        mask[self.table.live] = True
        mask[~self.table.live, STAY] = True
        self._mask_table = mask
        self._init_episode_stats()
        self._needs_reset = True

    def _refresh_masks(self) -> None:
        # New arrays every time (never edited in place): earlier infos keep referring to them.
        k = self.core.task_id
        self._task_id = readonly(k.copy())
        self._agent_mask = readonly(np.take(self.table.live, k, axis=0))
        self._action_mask = readonly(np.take(self._mask_table, k, axis=0))

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode in every environment.

        Args:
            seed: Seeds the dynamics and (unless ``seed_task`` was given) the task sampler.
            options: ``{"task": id_or_task}`` puts every environment in that task, or
                ``{"task": ids}`` with one id per environment.
        """
        seed = check_seed(seed)
        check_options(options)
        if seed is None and self._needs_reset:
            seed = self._default_seed
        if seed is not None:
            dyn, task_seq = np.random.SeedSequence(seed).spawn(2)
            self.core.seed(dyn)
            if self.seed_task is None:
                self.sampler.seed(task_seq)
        tasks = self._tasks_from_options(options)
        self.core.reset(np.arange(self.num_envs), tasks)
        self._refresh_masks()
        self._init_episode_stats()
        self._needs_reset = False
        obs = self.core.observe()
        return obs, self._info(obs)

    def _info(
        self, obs: np.ndarray, extra: dict[str, Any] | None = None, state: np.ndarray | None = None
    ) -> dict[str, Any]:
        info: dict[str, Any] = {
            "task_id": self._task_id,
            "state": self.core.state() if state is None else state,
            "action_mask": self._action_mask,
            "agent_mask": self._agent_mask,
        }
        if extra:
            info.update(extra)
        return info

    def step(self, actions: np.ndarray) -> VecStep:
        """Step every environment; ended episodes restart within the step."""
        if self._needs_reset:
            raise RuntimeError("step() called before reset(): call reset() first")
        acts = self._check_actions(actions, self._agent_mask)
        reward, term, trunc = self.core.step(acts)
        obs, state = self.core.observe_with_state()
        n = self.num_agents
        done = term | trunc
        rew = np.repeat(reward[:, None], n, axis=1)
        if not self.core.all_live:
            rew *= self._agent_mask
        episode = self._episode_info(rew, done, self._task_id)
        final_info = {"task_id": self._task_id, "agent_mask": self._agent_mask}
        final_obs, final_state = obs, state
        if done.any():
            idx = np.flatnonzero(done)
            final_obs, final_state = obs.copy(), state.copy()
            self.core.reset(idx, self.sampler.sample(idx.size))
            # Only the restarted rows change (draws as observe(idx); the state draws nothing).
            obs[idx], state[idx] = self.core.observe_with_state(idx)
            if len(self.task_set) > 1:  # with one task, ids and masks never change
                self._refresh_masks()
        info = self._info(
            obs,
            {
                "final_obs": final_obs,
                "final_state": final_state,
                "final_info": final_info,
                "_final": done,
                "episode": episode,
            },
            state,
        )
        term_n = np.repeat(term[:, None], n, axis=1)
        trunc_n = np.repeat(trunc[:, None], n, axis=1)
        return obs, rew, term_n, trunc_n, info
