"""The native batched drone env: :class:`~mt_envs.drone.core.DroneCore` behind the vector API
(:mod:`mt_envs.vector.base`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium
import numpy as np

from mt_envs.drone.core import ACTION_TABLE, N_ACTIONS, DroneCore, DroneTable
from mt_envs.drone.env import DEFAULT_TASKS, build_config, check_mode_and_drones
from mt_envs.tasks import Task, TaskSampler, TaskSet, make_sampler
from mt_envs.utils import check_options, check_seed
from mt_envs.vector.base import MultiAgentVectorEnv, VecStep, readonly


class DroneVectorEnv(MultiAgentVectorEnv):
    """``num_envs`` drone environments on numpy arrays, with the rules of
    :class:`~mt_envs.drone.DroneNavEnv`.

    Same dynamics, seeding and draws as the ParallelEnv (both run a
    :class:`~mt_envs.drone.core.DroneCore`): with ``num_envs = 1`` and the same seeds it reproduces
    the ParallelEnv step for step, across episodes. With ``num_envs > 1`` all environments share
    one dynamics generator.

    Shapes: ``N = G * n_drones`` agent slots (``G = 1`` in shared mode, the number of tasks in
    team mode), observations ``float32 [B, N, D]`` (zeros for drones that are done), actions
    ``int [B, N]`` (or ``float [B, N, 2]`` with ``continuous_actions=True``; done drones' entries
    are ignored). Besides the keys of :mod:`mt_envs.vector.base` (``action_mask`` only with
    discrete actions), ``info`` holds ``agent_task_id int64 [B, N]`` (task of each slot),
    ``safe_flight float64 [B, N]`` (horizontal metres flown so far this episode) and, in
    ``final_info`` and ``episode``, ``safe_flight`` and ``crashed bool [B, N]`` of the episodes
    that ended. In team mode ``task_id`` is 0 (every environment plays every task).

    ``term`` / ``trunc`` flag the drones whose episode ended in this step; when an environment's
    episode ends, slots of drones that were already done follow its end (terminated when every
    drone that flew in this step terminated, else truncated).

    Args:
        num_envs: Batch size ``B``.
        tasks: Task set, registered set name, task or list of tasks.
        mode: ``"shared"`` or ``"team"``.
        n_drones: Drones per map copy.
        sampler: Task sampler of shared mode.
        seed: Seed of the first ``reset()`` called without one.
        seed_task: Seed of the task sampler (``None``: derived from the reset seed).
        **kwargs: The ParallelEnv's keywords (``obs_type``, ``extras``, ``continuous_actions``,
            camera, drone and reward keywords); ``render_mode`` is ignored.

    Raises:
        ValueError: ``num_envs`` is not an int >= 1, and the errors of the ParallelEnv.
    """

    def __init__(
        self,
        num_envs: int,
        tasks: TaskSet | str | Task | Sequence[Task] | None = None,
        mode: str = "shared",
        n_drones: int = 1,
        sampler: str | TaskSampler = "uniform",
        seed: int | None = None,
        seed_task: int | None = None,
        **kwargs: Any,
    ) -> None:
        if (
            not isinstance(num_envs, (int, np.integer))
            or isinstance(num_envs, bool)
            or num_envs < 1
        ):
            raise ValueError(f"num_envs={num_envs!r} is invalid: need an int >= 1")
        kwargs.pop("render_mode", None)
        n = check_mode_and_drones(mode, n_drones)
        self.mode = mode
        self.team = mode == "team"
        self.n_drones = n
        self.config = build_config(**kwargs)
        self.task_set: TaskSet = TaskSet.coerce(DEFAULT_TASKS if tasks is None else tasks)
        # Cheap argument checks before the tables are built.
        self.seed_task = check_seed(seed_task, "seed_task")
        self.sampler = make_sampler(sampler, len(self.task_set), self.seed_task)
        self._default_seed = check_seed(seed)
        self.table = DroneTable(self.task_set, self.config, n)
        self.core = DroneCore(self.table, int(num_envs), n, self.team)
        self.metadata = {"name": "drone_nav_v0", "autoreset_mode": "same-step"}
        self.num_envs = int(num_envs)
        self.num_agents = self.core.drones_per_env
        self.possible_agents = [f"drone_{k}" for k in range(self.num_agents)]
        lo, hi = self.config.obs_bounds()
        self.single_observation_space = gymnasium.spaces.Box(lo, hi, dtype=np.float32)
        self.continuous = self.config.continuous_actions
        self.single_action_space = (
            gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)  # type: ignore[assignment]
            if self.continuous
            else gymnasium.spaces.Discrete(N_ACTIONS)
        )
        self.state_space = gymnasium.spaces.Box(-1.0, 1.0, (self.core.state_dim,), dtype=np.float32)
        self._mask_live = readonly(np.ones((self.num_envs, self.num_agents, N_ACTIONS), dtype=bool))
        self._init_episode_stats()
        self._needs_reset = True
        self._refresh()

    def _refresh(self) -> None:
        # New arrays every time (never edited in place): earlier infos keep referring to them.
        core, e, n = self.core, self.num_envs, self.num_agents
        active = core.active.reshape(e, n)
        self._task_id = readonly(
            np.zeros(e, dtype=np.int64) if self.team else core.world_task.copy()
        )
        self._agent_mask = readonly(active.copy())
        self._agent_task = readonly(core.task.reshape(e, n).copy())
        if active.all():
            self._action_mask = self._mask_live
        else:
            mask = np.zeros((e, n, N_ACTIONS), dtype=bool)
            mask[active] = True
            mask[~active, -1] = True
            self._action_mask = readonly(mask)

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        """Start a new episode in every environment.

        Args:
            seed: Seeds the dynamics and (unless ``seed_task`` was given) the task sampler.
            options: Shared mode: ``{"task": id_or_task}`` puts every environment in that task,
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
                    "reset(options={'task': ...}) is for mode='shared'; in mode='team' drone "
                    "group g always flies task g"
                )
            self.core.reset(ids)
        else:
            self.core.reset(ids, self._tasks_from_options(options))
        self._refresh()
        self._init_episode_stats()
        self._needs_reset = False
        obs = self.core.observe().reshape(self.num_envs, self.num_agents, -1)
        return obs, self._info(self.core.state())

    def _info(self, state: np.ndarray, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        info: dict[str, Any] = {
            "task_id": self._task_id,
            "state": state,
            "agent_mask": self._agent_mask,
            "agent_task_id": self._agent_task,
            "safe_flight": self.core.safe_flight.reshape(self.num_envs, self.num_agents).copy(),
        }
        if not self.continuous:
            info["action_mask"] = self._action_mask
        if extra:
            info.update(extra)
        return info

    def _angles(self, actions: Any) -> np.ndarray:
        """Validated actions as normalised ``(yaw, pitch) [B * N, 2]``."""
        if not self.continuous:
            acts = self._check_actions(actions, self._agent_mask)
            return ACTION_TABLE[acts.reshape(-1)]
        e, n = self.num_envs, self.num_agents
        arr = np.asarray(actions)
        if arr.shape != (e, n, 2):
            raise ValueError(
                f"actions have shape {arr.shape}: expected floats of shape (num_envs, num_agents, "
                f"2) = ({e}, {n}, 2), (yaw, pitch) in [-1, 1]"
            )
        if arr.dtype.kind not in "fiu":
            raise ValueError(f"actions have dtype {arr.dtype}: expected floats in [-1, 1]")
        arr = arr.astype(np.float64)
        bad = ~(np.abs(arr) <= 1.0).all(-1) & self._agent_mask  # NaN fails the test too
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"action {arr[i, j].tolist()} of env {i}, agent slot {j} is outside Box(-1, 1, "
                "(2,)) or not finite: yaw and pitch must lie in [-1, 1] (they are not clipped)"
            )
        return np.where(self._agent_mask[..., None], arr, 0.0).reshape(-1, 2)

    def step(self, actions: np.ndarray) -> VecStep:
        """Step every environment; ended episodes restart within the step."""
        if self._needs_reset:
            raise RuntimeError("step() called before reset(): call reset() first")
        core, e, n = self.core, self.num_envs, self.num_agents
        angles = self._angles(actions)
        reward, term_f, trunc_f, acting_f = core.step(angles)
        rew = reward.reshape(e, n).astype(np.float32)
        term = term_f.reshape(e, n).copy()
        trunc = trunc_f.reshape(e, n).copy()
        acting = acting_f.reshape(e, n)
        done = np.asarray(~core.active.reshape(e, n).any(axis=1), dtype=bool)
        prev_task, prev_mask, prev_agent_task = self._task_id, self._agent_mask, self._agent_task
        episode = self._episode_info(rew, done, prev_task)
        if done.any():
            # Drones of ended environments show their final view in final_obs.
            shown = core.active | (acting_f & np.repeat(done, n))
            obs = core.observe(shown=shown).reshape(e, n, -1)
            idx = np.flatnonzero(done)
            idle = ~acting[idx]
            if idle.any():
                by_term = (term[idx] | idle).all(axis=1)
                term[idx] |= idle & by_term[:, None]
                trunc[idx] |= idle & ~by_term[:, None]
            final_state = core.state()
            safe = core.safe_flight.reshape(e, n).copy()
            crashed = core.crashed.reshape(e, n).copy()
            episode["safe_flight"] = np.where(done[:, None], safe, 0.0)
            episode["crashed"] = crashed & done[:, None]
            final_info = {
                "task_id": prev_task,
                "agent_mask": prev_mask,
                "agent_task_id": prev_agent_task,
                "safe_flight": safe,
                "crashed": crashed,
            }
            final_obs = obs
            obs = obs.copy()
            if self.team:
                core.reset(idx)
            else:
                core.reset(idx, self.sampler.sample(idx.size))
            obs[idx] = core.observe(core.rows_of(idx)).reshape(idx.size, n, -1)
            state = core.state()
            self._refresh()
        else:
            obs = core.observe().reshape(e, n, -1)
            final_obs = obs
            state = final_state = core.state()
            episode["safe_flight"] = np.zeros((e, n))
            episode["crashed"] = np.zeros((e, n), dtype=bool)
            final_info = {
                "task_id": prev_task,
                "agent_mask": prev_mask,
                "agent_task_id": prev_agent_task,
                "safe_flight": core.safe_flight.reshape(e, n).copy(),
                "crashed": core.crashed.reshape(e, n).copy(),
            }
            if not core.active.all() or not prev_mask.all():
                self._refresh()
        info = self._info(
            state,
            {
                "final_obs": final_obs,
                "final_state": final_state,
                "final_info": final_info,
                "_final": done,
                "episode": episode,
            },
        )
        return obs, rew, term, trunc, info
