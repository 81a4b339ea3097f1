"""The batched multi-agent env API that learners consume (DESIGN.md, "Batched multi-agent env API").

Shapes: ``B`` environments, ``N`` agent slots (the largest task's agent count), ``D`` observation
size, ``A`` discrete actions, ``S`` state size.

``reset(seed) -> obs [B, N, D], info``; ``step(actions [B, N]) -> obs, rew [B, N], term [B, N],
trunc [B, N], info``. ``info`` always holds:

==================  ====================  ========================================================
key                 type                  meaning
==================  ====================  ========================================================
``task_id``         ``int64 [B]``         task of the episode each env is now in
``state``           ``float32 [B, S]``    global state (centralised training)
``action_mask``     ``bool [B, N, A]``    legal actions; padded agents may only take the last
                                          action (their no-op)
``agent_mask``      ``bool [B, N]``       True for real, live agents
``final_obs``       ``float32 [B,N,D]``   the observation that followed this step's action,
                                          before any auto-reset (equal to ``obs`` where no episode
                                          ended; the same object when none did)
``final_state``     ``float32 [B, S]``    likewise for the state
``final_info``      ``dict``              ``task_id``, ``agent_mask`` before any auto-reset
``_final``          ``bool [B]``          True where an episode ended in this step
``episode``         ``dict``              ``r float32 [B, N]`` return, ``l int64 [B]`` length,
                                          ``task_id int64 [B]``, ``mask bool [B]`` (True where an
                                          episode ended in this step; other rows are zero)
==================  ====================  ========================================================

Episodes reset automatically within the step (Gymnasium's ``SAME_STEP`` mode); termination and
truncation stay distinct. ``term`` / ``trunc`` of padded agent slots follow their environment.
"""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from mt_envs.tasks import Task, TaskSampler, TaskSet
from mt_envs.utils import check_options

VecStep = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]


class MultiAgentVectorEnv:
    """Base class of batched multi-agent envs: shared action checking and episode bookkeeping.

    Attributes:
        num_envs: ``B``.
        num_agents: ``N``, the number of agent slots.
        possible_agents: Names of the agent slots, in slot order.
        single_observation_space: The ``Box`` of one agent's observation.
        single_action_space: The ``Discrete`` action space of one agent.
        state_space: The ``Box`` of one environment's state.
        task_set: The task set task ids refer to (``None`` when the env has none).
    """

    num_envs: int
    num_agents: int
    possible_agents: list[str]
    single_observation_space: gymnasium.spaces.Box
    single_action_space: gymnasium.spaces.Discrete
    state_space: gymnasium.spaces.Box
    task_set: TaskSet | None = None
    #: Chooses the task of each new episode (families with task sets).
    sampler: TaskSampler
    metadata: dict[str, Any] = {}  # noqa: RUF012  (overridden per instance)

    def _init_episode_stats(self) -> None:
        self._ep_return = np.zeros((self.num_envs, self.num_agents), dtype=np.float64)
        self._ep_len = np.zeros(self.num_envs, dtype=np.int64)

    def _check_actions(self, actions: Any, agent_mask: np.ndarray) -> np.ndarray:
        """Validate a batched action array; raise ``ValueError`` saying what was expected."""
        b, n, a = self.num_envs, self.num_agents, int(self.single_action_space.n)
        try:
            arr = np.asarray(actions)
        except (ValueError, TypeError):  # ragged nested lists
            raise ValueError(
                f"actions {actions!r} do not form an array: expected an int array of shape "
                f"(num_envs, num_agents) = ({b}, {n})"
            ) from None
        if arr.shape != (b, n):
            raise ValueError(
                f"actions have shape {arr.shape}: expected an int array of shape "
                f"(num_envs, num_agents) = ({b}, {n})"
            )
        if arr.dtype.kind not in "iu":
            raise ValueError(
                f"actions have dtype {arr.dtype}: expected an integer dtype with values in "
                f"[0, {a - 1}] (floats, NaN and bools are refused, never rounded)"
            )
        lo, hi = arr.min(), arr.max()
        if lo < 0 or hi >= a:
            bad = ((arr < 0) | (arr >= a)) & agent_mask
            if bad.any():
                e, i = np.argwhere(bad)[0]
                raise ValueError(
                    f"action {arr[e, i]} of env {e}, agent slot {i} is outside Discrete({a}): "
                    f"expected ints in [0, {a - 1}] for live agents"
                )
            arr = np.where(agent_mask, arr, a - 1)
        return arr.astype(np.int64, copy=False)

    def _tasks_from_options(self, options: dict[str, Any] | None) -> np.ndarray:
        """The task id of every env for ``reset(options=...)``: ``options["task"]`` as one spec
        for all envs (an id, a task of the set or a task name, see
        :meth:`~mt_envs.tasks.TaskSet.task_id`) or ``num_envs`` ids; without it, the sampler's
        draws. Other option keys are ignored, as PettingZoo's api_test requires."""
        check_options(options)
        task = None if not options else options.get("task")
        if task is None:
            return self.sampler.sample(self.num_envs)
        assert self.task_set is not None
        if isinstance(task, (Task, str)):
            return np.full(self.num_envs, self.task_set.task_id(task), dtype=np.int64)
        ids = np.asarray(task)
        if (
            ids.dtype.kind not in "iu"
            or ids.ndim > 1
            or (ids.ndim == 1 and ids.size != self.num_envs)
        ):
            raise ValueError(
                f"options['task']={task!r} is invalid: give a task, a task id, a task name, or "
                f"{self.num_envs} task ids"
            )
        if ids.size and (ids.min() < 0 or ids.max() >= len(self.task_set)):
            raise ValueError(f"task ids must lie in 0..{len(self.task_set) - 1}, got {task!r}")
        return np.broadcast_to(ids, (self.num_envs,)).astype(np.int64)

    def _episode_info(
        self, rew: np.ndarray, done: np.ndarray, task_id: np.ndarray
    ) -> dict[str, np.ndarray]:
        """Accumulate returns and lengths; report and clear those of episodes that ended."""
        self._ep_return += rew
        self._ep_len += 1
        # Zeros, then the few ended rows copied in: cheaper than np.where over [B, 1] vs [B, N].
        r = np.zeros(self._ep_return.shape, dtype=np.float32)
        ln = np.zeros_like(self._ep_len)
        tid = np.zeros(task_id.shape, dtype=task_id.dtype)
        if done.any():
            idx = np.flatnonzero(done)
            r[idx] = self._ep_return[idx]
            ln[idx] = self._ep_len[idx]
            tid[idx] = task_id[idx]
            self._ep_return[idx] = 0.0
            self._ep_len[idx] = 0
        return {"r": r, "l": ln, "task_id": tid, "mask": done}

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        raise NotImplementedError

    def step(self, actions: np.ndarray) -> VecStep:
        raise NotImplementedError

    def close(self) -> None:
        """Release resources."""

    def __enter__(self) -> MultiAgentVectorEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        name = self.metadata.get("name", "?")
        return (
            f"{type(self).__name__}({name}, num_envs={self.num_envs}, num_agents={self.num_agents})"
        )


def readonly(arr: np.ndarray) -> np.ndarray:
    """Mark an array read-only (for arrays handed out every step and shared between steps)."""
    arr.flags.writeable = False
    return arr
