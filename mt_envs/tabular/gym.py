"""Single-agent Gymnasium face of the one-agent tabular families (GridWorld, chain).

``gymnasium.make("mt_envs/Chain-v0", tasks="chain-2", task=1)`` after :func:`register_gymnasium`
gives a plain :class:`gymnasium.Env` for users of single-agent libraries: the family's env in
``"sampled"`` mode with its one agent, a fixed task (``task=``) or a task sampled per episode
(``task=None``).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium
import numpy as np

from mt_envs.tabular.env import RENDER_MODES, TabularEnv
from mt_envs.tasks import Task
from mt_envs.utils import check_options, check_seed

#: Gymnasium ids and their entry points (the family shims' ``gym_env``).
GYM_IDS: dict[str, str] = {
    "mt_envs/GridWorld-v0": "mt_envs.gridworld_v0:gym_env",
    "mt_envs/Chain-v0": "mt_envs.chain_v0:gym_env",
}


class TabularGymEnv(gymnasium.Env):
    """One agent of a tabular family as a Gymnasium env.

    Args:
        env_cls: A one-agent :class:`~mt_envs.tabular.TabularEnv` subclass (``n = 1``).
        tasks: Task set, registered set name, task or list of tasks (default: the family's).
        task: The task to play every episode: an index into the set, a task name or a task of
            the set; ``None`` samples one per episode with ``sampler``.
        sampler: Task sampler when ``task`` is ``None``.
        render_mode: ``None``, ``"human"``, ``"rgb_array"`` or ``"ansi"``.
        **env_kwargs: Family keywords (``p``, ``start``, ...).

    ``reset(options={"task": ...})`` overrides the task of one episode. ``info`` holds
    ``task_id``, ``task``, ``action_mask`` and ``state_index``.

    Raises:
        ValueError: The family's tasks have more than one agent, or ``task`` is not in the set.
    """

    def __init__(
        self,
        env_cls: type[TabularEnv],
        tasks: Any = None,
        task: int | str | Task | None = None,
        sampler: Any = "uniform",
        render_mode: str | None = None,
        **env_kwargs: Any,
    ) -> None:
        self.env = env_cls(
            tasks=tasks, mode="sampled", sampler=sampler, render_mode=render_mode, **env_kwargs
        )
        if self.env.n_group != 1:
            raise ValueError(
                f"{env_cls.metadata['name']} tasks have {self.env.n_group} agents; the Gymnasium "
                "face is for one-agent families"
            )
        self.metadata = {
            "render_modes": list(RENDER_MODES),
            "render_fps": env_cls.metadata.get("render_fps", 4),
        }
        self.render_mode = render_mode
        self.task_id = None if task is None else self._resolve(task)
        self.observation_space = self.env.observation_space("agent_0")
        self.action_space = self.env.action_space("agent_0")
        self.spec_name = env_cls.metadata["name"]

    def _resolve(self, task: int | str | Task) -> int:
        ts = self.env.task_set
        if isinstance(task, str):
            if task not in ts.names:
                raise ValueError(f"task {task!r} is not in task set {ts.name!r}: {ts.names}")
            return ts.names.index(task)
        if isinstance(task, Task):
            return ts.index(task)
        if isinstance(task, (int, np.integer)) and not isinstance(task, bool):
            if not 0 <= int(task) < len(ts):
                raise ValueError(f"task={task} out of range: valid ids are 0..{len(ts) - 1}")
            return int(task)
        raise TypeError(f"task must be an index, a task name or a task, got {task!r}")

    @property
    def task_set(self) -> Any:
        """The task set of the underlying env."""
        return self.env.task_set

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        check_options(options)
        super().reset(seed=check_seed(seed))
        task = options.get("task") if options else None
        chosen = self.task_id if task is None else self._resolve(task)
        obs, infos = self.env.reset(seed=seed, options={"task": chosen})
        return _own(obs["agent_0"]), _own(infos["agent_0"])

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        """One step of the single agent: ``(obs, reward, terminated, truncated, info)``."""
        obs, rew, term, trunc, infos = self.env.step({"agent_0": action})
        return (
            _own(obs["agent_0"]),
            rew["agent_0"],
            term["agent_0"],
            trunc["agent_0"],
            _own(infos["agent_0"]),
        )

    def render(self) -> Any:
        """The underlying env's frame (``render_mode`` given at construction)."""
        return self.env.render()

    def close(self) -> None:
        """Close the underlying env (its window, if any)."""
        self.env.close()


def _own(value: Any) -> Any:
    """A copy of the (read-only, shared) arrays in an observation or info: Gymnasium asks every
    call to return data that shares nothing with earlier calls."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, dict):
        return {k: _own(v) for k, v in value.items()}
    return value


def register_gymnasium() -> None:
    """Register ``mt_envs/GridWorld-v0`` and ``mt_envs/Chain-v0`` with Gymnasium (idempotent).

    Keywords of ``gymnasium.make``: ``tasks`` (set name or tasks), ``task`` (index, name, task or
    ``None``), ``sampler``, ``render_mode`` and the family's own (``p`` for the chain).
    """
    for env_id, entry_point in GYM_IDS.items():
        if env_id not in gymnasium.registry:
            gymnasium.register(id=env_id, entry_point=entry_point)
