"""The native batched tabular env: :class:`~mt_envs.tabular.core.BatchCore` behind the vector API
(:mod:`mt_envs.vector.base`)."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from mt_envs.tabular.core import BatchCore
from mt_envs.tabular.env import TabularEnv, _space_bounds
from mt_envs.utils import check_options, check_seed
from mt_envs.vector.base import MultiAgentVectorEnv, VecStep, readonly


class TabularVectorEnv(MultiAgentVectorEnv):
    """``num_envs`` copies of a tabular family's env on numpy arrays.

    Same dynamics, seeding and draws as the family's ParallelEnv: with ``num_envs = 1`` and the
    same seeds it reproduces the ParallelEnv step for step, across episodes (ended episodes restart
    within the step, drawing as a ``reset()`` would). With ``num_envs > 1`` all environments share
    one dynamics generator.

    Observations are ``float32 [B, N, D]`` from the family's
    :meth:`~mt_envs.tabular.TabularEnv.vector_observation` (one-hot of a ``Discrete`` observation
    by default), zero for agents that are done. Besides the keys of :mod:`mt_envs.vector.base`,
    ``info`` holds ``state_index int64 [B, N]`` (each slot's tabular observation index, also for
    done agents) and ``agent_task_id int64 [B, N]`` (the task each agent slot plays). In team mode
    every environment plays every task at once, so ``task_id`` is 0.

    ``term`` / ``trunc`` flag the agents whose episode ended in this step; when the environment's
    episode ends, the slots that did not act follow its end (as
    :class:`~mt_envs.vector.SyncVectorEnv`): terminated if every acting agent terminated, else
    truncated.

    Args:
        num_envs: Batch size ``B``.
        env_cls: The family's :class:`~mt_envs.tabular.TabularEnv` subclass.
        tasks: Task set, registered set name, task or list of tasks.
        mode: ``"team"`` or ``"sampled"`` (default: the family's first mode).
        sampler: Task sampler of sampled mode.
        seed: Seed of the first ``reset()`` called without one.
        seed_task: Seed of the task sampler (``None``: derived from the reset seed).
        **env_kwargs: Family keywords (``p``, ``obs_type``, ...).

    Raises:
        ValueError: ``num_envs`` is not an int >= 1, and the errors of the family's env.
    """

    def __init__(
        self,
        num_envs: int,
        env_cls: type[TabularEnv],
        tasks: Any = None,
        mode: str | None = None,
        sampler: Any = "uniform",
        seed: int | None = None,
        seed_task: int | None = None,
        **env_kwargs: Any,
    ) -> None:
        if (
            not isinstance(num_envs, (int, np.integer))
            or isinstance(num_envs, bool)
            or num_envs < 1
        ):
            raise ValueError(f"num_envs={num_envs!r} is invalid: need an int >= 1")
        env_kwargs.pop("render_mode", None)
        template = env_cls(
            tasks=tasks, mode=mode, sampler=sampler, seed_task=seed_task, **env_kwargs
        )
        self.template = template
        self.task_set = template.task_set
        self.mode = template.mode
        self.team = template.team
        self.metadata = {"name": template.metadata["name"], "autoreset_mode": "same-step"}
        self.compiled = template.compiled
        self.core = BatchCore(
            self.compiled, int(num_envs), self.team, vec_obs=template.vector_table()
        )
        self.num_envs = int(num_envs)
        self.num_agents = self.core.N
        self.possible_agents = list(template.possible_agents)
        self.single_observation_space = template.vector_observation_space()
        self.single_action_space = gymnasium.spaces.Discrete(self.compiled.n_act)
        lo, hi = _space_bounds(template._obs_space)
        self.state_space = gymnasium.spaces.Box(
            np.tile(lo, self.num_agents), np.tile(hi, self.num_agents), dtype=np.float32
        )
        self.seed_task = seed_task
        self.sampler = template.sampler
        self._default_seed = check_seed(seed)
        n_act = self.compiled.n_act
        self._mask_live = readonly(np.ones((self.num_envs, self.num_agents, n_act), dtype=bool))
        self._init_episode_stats()
        self._needs_reset = True
        self._refresh()

    # -- tabular interface (as the ParallelEnv's) ----------------------------------------------
    @property
    def models(self) -> tuple[Any, ...]:
        """The task models, one per task of the set."""
        return self.template.models

    @property
    def n_states(self) -> int:
        """Number of tabular observation indices."""
        return self.template.n_states

    @property
    def n_actions(self) -> int:
        """Actions per agent."""
        return self.template.n_actions

    def _refresh(self) -> None:
        # New arrays every time (never edited in place): earlier infos keep referring to them.
        core = self.core
        self._task_id = readonly(core.task_id.copy())
        self._agent_mask = readonly(core.active.copy())
        self._agent_task = readonly(np.repeat(core.group_task, self.compiled.n, axis=1))
        if core.active.all():
            self._action_mask = self._mask_live
        else:
            mask = np.zeros((self.num_envs, self.num_agents, self.compiled.n_act), dtype=bool)
            mask[core.active] = True
            mask[~core.active, -1] = True
            self._action_mask = readonly(mask)

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode in every environment.

        Args:
            seed: Seeds the dynamics and (unless ``seed_task`` was given) the task sampler.
            options: Sampled mode: ``{"task": id_or_task}`` puts every environment in that task,
                ``{"task": ids}`` gives one id per environment.

        Raises:
            ValueError: ``options["task"]`` in team mode or an invalid task.
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
        ids = np.arange(self.num_envs)
        if self.team:
            if options and options.get("task") is not None:
                raise ValueError(
                    "reset(options={'task': ...}) is for mode='sampled'; in mode='team' agent "
                    "slot g * n + i always plays task g"
                )
            self.core.reset(ids)
        else:
            self.core.reset(ids, self._tasks_from_options(options))
        self._refresh()
        self._init_episode_stats()
        self._needs_reset = False
        obs = self.core.vec_obs()
        return obs, self._info(self.core.state())

    def _info(self, state: np.ndarray, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "task_id": self._task_id,
            "state": state,
            "action_mask": self._action_mask,
            "agent_mask": self._agent_mask,
            "state_index": self.core.obs_index(),
            "agent_task_id": self._agent_task,
        }
        if extra:
            info.update(extra)
        return info

    def step(self, actions: np.ndarray) -> VecStep:
        """Step every environment; ended episodes restart within the step."""
        if self._needs_reset:
            raise RuntimeError("step() called before reset(): call reset() first")
        core = self.core
        acts = self._check_actions(actions, self._agent_mask)
        reward, acting, term, trunc = core.step(acts)
        rew = reward.astype(np.float32)
        done = np.asarray(~core.active.any(axis=1), dtype=bool)
        prev_task, prev_mask = self._task_id, self._agent_mask
        episode = self._episode_info(rew, done, prev_task)
        if done.any():
            idx = np.flatnonzero(done)
            # The final observation: agents that acted in this step see where they ended.
            done_states = core.s[idx]
            final_state = core.state()
            # Slots that did not act follow the end of their episode.
            idle = ~acting[idx]
            if idle.any():
                by_term = (term[idx] | ~acting[idx]).all(axis=1)
                term[idx] |= idle & by_term[:, None]
                trunc[idx] |= idle & ~by_term[:, None]
            if self.team:
                core.reset(idx)
            else:
                core.reset(idx, self.sampler.sample(idx.size))
            obs = core.vec_obs()
            final_obs = obs.copy()
            final_obs[idx] = core.vec_obs(done_states, acting[idx])
            state = core.state()
            self._refresh()
        else:
            obs = core.vec_obs()
            final_obs = obs
            state = final_state = core.state()
            if not core.active.all() or not prev_mask.all():
                self._refresh()
        info = self._info(
            state,
            {
                "final_obs": final_obs,
                "final_state": final_state,
                "final_info": {"task_id": prev_task, "agent_mask": prev_mask},
                "_final": done,
                "episode": episode,
            },
        )
        return obs, rew, term, trunc, info
