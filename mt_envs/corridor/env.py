"""The corridor ParallelEnv. The env card lives in :mod:`mt_envs.corridor_v0`."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import gymnasium
import numpy as np

from mt_envs.corridor.model import (
    N_OBS_STATES,
    OBS_DIM,
    OBS_NVEC,
    CorridorModel,
    build_model,
    obs_index,
    observation_table,
)
from mt_envs.corridor.rendering import CorridorFrame
from mt_envs.corridor.task import CorridorTask
from mt_envs.tabular.env import TabularEnv, TabularTaskTables
from mt_envs.tasks import Task, TaskSampler, TaskSet

OBS_TYPES = ("multidiscrete", "float")


class CorridorEnv(TabularEnv):
    """Two agents cross between two chambers through a one-cell corridor (``corridor_v0``).

    Sampled mode only: both agents play the episode's task (chosen by the sampler or by
    ``reset(options={"task": ...})``).

    Args:
        tasks: Task set, registered set name, one :class:`CorridorTask` or a list of them
            (default ``"corridor-5"``).
        mode: Only ``"sampled"`` (the default).
        sampler: ``"uniform"``, ``"round_robin"`` or a :class:`~mt_envs.tasks.TaskSampler`.
        seed_task: Seed of the task sampler (``None``: derived from each ``reset(seed=...)``).
        obs_type: ``"multidiscrete"`` (the paper's septuple as ``MultiDiscrete([7, 9, 7, 9, 6,
            6, 2])``) or ``"float"`` (the same seven numbers divided by ``nvec - 1``, a
            ``Box(0, 1, (7,), float32)``).
        render_mode: ``None``, ``"human"``, ``"rgb_array"`` or ``"ansi"``.

    Raises:
        ValueError: Unknown ``obs_type`` or ``mode``, or a task of another family.
    """

    metadata: ClassVar[dict[str, Any]] = {**TabularEnv.metadata, "name": "corridor_v0"}
    task_class: ClassVar[type[Task]] = CorridorTask
    default_tasks: ClassVar[str] = "corridor-5"
    modes: ClassVar[tuple[str, ...]] = ("sampled",)

    def __init__(
        self,
        tasks: TaskSet | str | Task | Sequence[Task] | None = None,
        mode: str | None = None,
        sampler: str | TaskSampler = "uniform",
        seed_task: int | None = None,
        obs_type: str = "multidiscrete",
        render_mode: str | None = None,
    ) -> None:
        if obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type={obs_type!r} is invalid: use one of {OBS_TYPES}")
        self.obs_type = obs_type
        self._painter: Any = None
        super().__init__(tasks, mode, sampler, seed_task, render_mode)

    # -- engine hooks --------------------------------------------------------------------------
    def build_tables(self, task: Any) -> TabularTaskTables:
        """The joint model of ``task`` (:func:`~mt_envs.corridor.model.build_model`), each agent's
        septuple in every state, who is still playing (not yet on its goal) and the horizon."""
        cm = build_model(task)
        return TabularTaskTables(
            model=cm.model,
            obs=observation_table(cm, self.obs_type),
            alive=~cm.done,
            horizon=task.horizon,
        )

    def _agent_observation_space(self) -> gymnasium.spaces.Space:
        if self.obs_type == "float":
            return gymnasium.spaces.Box(0.0, 1.0, (OBS_DIM,), np.float32)
        return gymnasium.spaces.MultiDiscrete(np.array(OBS_NVEC, dtype=np.int64))

    def _table_key(self) -> Hashable:
        return (self.obs_type,)

    def state_indices(self, obs: np.ndarray) -> np.ndarray:
        """The compact flat index (:func:`~mt_envs.corridor.model.obs_index`) of a batch of
        observations ``[M, 7]`` (either ``obs_type``): ``int64 [M]`` in ``[0, 38088)``."""
        return np.asarray(obs_index(np.asarray(obs).reshape(-1, OBS_DIM)), dtype=np.int64)

    @property
    def n_states(self) -> int:
        """Number of tabular observation indices: 23 * 23 * 6 * 6 * 2 = 38088."""
        return N_OBS_STATES

    # -- corridor views ------------------------------------------------------------------------
    @property
    def corridor_models(self) -> tuple[CorridorModel, ...]:
        """The :class:`~mt_envs.corridor.model.CorridorModel` of every task (the meaning of each
        joint state: cells, previous actions, done flags)."""
        return tuple(build_model(t) for t in self.task_set if isinstance(t, CorridorTask))

    def scripted_policy(self) -> Any:
        """The scripted baseline for this env (:class:`~mt_envs.corridor.CorridorPolicy`), as
        used by ``mt_envs.play.make_policy("scripted", env)``."""
        from mt_envs.corridor.policy import CorridorPolicy

        return CorridorPolicy.for_env(self)

    def frame(self) -> CorridorFrame:
        """What the renderers draw: the current moment of the episode."""
        task_id = self.group_tasks[0]
        task = self.task_set[task_id]
        assert isinstance(task, CorridorTask)
        return CorridorFrame.from_state(
            build_model(task), self.model_states[0], task_id, self.num_steps
        )

    def render_rgb(self) -> np.ndarray:
        """The current episode as ``uint8 [406, 456, 3]`` (see
        :mod:`mt_envs.corridor.rendering`)."""
        if self._painter is None:
            from mt_envs.corridor.rendering import CorridorRenderer

            self._painter = CorridorRenderer()
        frame: np.ndarray = self._painter.draw(self.frame())
        return frame

    def render_ansi(self) -> str:
        """The current episode as a text grid (see
        :func:`mt_envs.corridor.rendering.render_ansi`)."""
        from mt_envs.corridor.rendering import render_ansi

        return render_ansi(self.frame())

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_painter"] = None  # pygame surfaces cannot be pickled; redrawn on demand
        return state
