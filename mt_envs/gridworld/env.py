"""The GridWorld ParallelEnv. The env card lives in :mod:`mt_envs.gridworld_v0`."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import gymnasium
import numpy as np

from mt_envs.gridworld.model import build_model, observation_table
from mt_envs.gridworld.task import Cell, GridWorldTask
from mt_envs.gridworld.task_sets import register_all
from mt_envs.tabular.core import CompiledTables, SingleCore
from mt_envs.tabular.env import RENDER_MODES, TabularEnv, TabularTaskTables
from mt_envs.tasks import Task, TaskSampler, TaskSet


def with_start(tasks: TaskSet, start: str | Sequence[Cell]) -> TaskSet:
    """``tasks`` with every task's start distribution replaced by ``start``.

    Args:
        tasks: A set of :class:`GridWorldTask`.
        start: A start name (``"uniform"``, ``"top-left"``, ...) or a sequence of cells.

    Returns:
        A new set named ``f"{tasks.name}(start=...)"``.

    Raises:
        ValueError: A start cell is the goal or an obstacle of some task (the message names it).
    """
    value: str | tuple[Cell, ...] = (
        start if isinstance(start, str) else tuple((int(r), int(c)) for r, c in start)
    )
    replaced = []
    for i, t in enumerate(tasks):
        if not isinstance(t, GridWorldTask):
            raise TypeError(f"task {i} is a {type(t).__name__}: GridWorld needs GridWorldTask")
        try:
            replaced.append(dataclasses.replace(t, start=value))
        except ValueError as exc:
            raise ValueError(f"start={start!r} does not fit task {i} ({t.name}): {exc}") from None
    tag = value if isinstance(value, str) else ";".join(f"{r},{c}" for r, c in value)
    return TaskSet(f"{tasks.name}(start={tag})", tuple(replaced), tasks.description)


class PathCore(SingleCore):
    """The engine's :class:`~mt_envs.tabular.core.SingleCore`, also recording the states each
    group visits in the episode (``paths``: global state indices), for drawing the path."""

    def __init__(self, tables: CompiledTables, team: bool) -> None:
        super().__init__(tables, team)
        self.paths: list[list[int]] = [[s] for s in self.s]

    def reset(self, task_id: int = 0) -> None:
        super().reset(task_id)
        self.paths = [[s] for s in self.s]

    def step(self, actions: Sequence[int]) -> tuple[list[float], list[bool], list[bool]]:
        out = super().step(actions)
        for path, s in zip(self.paths, self.s, strict=True):
            if path[-1] != s:
                path.append(s)
        return out


class GridWorldEnv(TabularEnv):
    """The multi-task GridWorld of paper 003 (see :mod:`mt_envs.gridworld_v0`).

    Args:
        tasks: Task set, set name, task or list of :class:`GridWorldTask` (default
            ``"gridworld-conflict-4"``). All tasks must share one grid size.
        mode: ``"team"`` (default: agent ``i`` plays its own copy of task ``i``) or
            ``"sampled"`` (one agent, one task per episode).
        sampler: Task sampler of sampled mode.
        seed_task: Seed of the task sampler.
        render_mode: ``None``, ``"human"``, ``"rgb_array"`` or ``"ansi"``.
        start: ``None`` keeps every task's start distribution; a start name (``"uniform"``,
            ``"top-left"``, ``"top-right"``, ``"bottom-left"``, ``"bottom-right"``) or a list of
            cells gives every task that start instead.

    Raises:
        ValueError: Tasks on different grid sizes, a ``start`` that is not free in some task, and
            the errors of :class:`~mt_envs.tabular.TabularEnv`.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "gridworld_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 4,
    }
    task_class: ClassVar[type[Task]] = GridWorldTask
    default_tasks: ClassVar[str] = "gridworld-conflict-4"
    modes: ClassVar[tuple[str, ...]] = ("team", "sampled")

    def __init__(
        self,
        tasks: TaskSet | str | Task | Sequence[Task] | None = None,
        mode: str | None = None,
        sampler: str | TaskSampler = "uniform",
        seed_task: int | None = None,
        render_mode: str | None = None,
        start: str | Sequence[Cell] | None = None,
    ) -> None:
        register_all()
        if start is not None:
            tasks = with_start(
                TaskSet.coerce(self.default_tasks if tasks is None else tasks), start
            )
        super().__init__(tasks, mode, sampler, seed_task, render_mode)
        if render_mode is not None:
            # Only a rendering env pays for recording paths; the step of the others is untouched.
            self.core = PathCore(self.compiled, self.team)

    # -- engine hooks --------------------------------------------------------------------------
    def build_tables(self, task: Any) -> TabularTaskTables:
        model = build_model(task)
        return TabularTaskTables(
            model, observation_table(task), ~model.terminal[:, None], task.max_steps
        )

    def _agent_observation_space(self) -> gymnasium.spaces.Space:
        shapes = sorted({(t.rows, t.cols) for t in self.task_set if isinstance(t, GridWorldTask)})
        if len(shapes) != 1:
            raise ValueError(
                f"task set {self.task_set.name!r} mixes grid sizes {shapes}: a GridWorld env needs "
                "one grid size (observations are cell indices row * cols + col)"
            )
        rows, cols = shapes[0]
        return gymnasium.spaces.Discrete(rows * cols)

    def _table_key(self) -> Hashable:
        return ()

    @property
    def grid_shape(self) -> tuple[int, int]:
        """``(rows, cols)`` of the set's grid; an observation ``o`` is cell ``divmod(o, cols)``."""
        t = self.task_set[0]
        assert isinstance(t, GridWorldTask)
        return t.rows, t.cols

    # -- paths (recorded for the renderers) ----------------------------------------------------
    @property
    def paths(self) -> list[list[int]]:
        """Cells (flat indices) visited by each group this episode, start included; recorded only
        when the env renders (``render_mode`` is set), else just the current cells."""
        if not isinstance(self.core, PathCore):
            return [[s] for s in self.model_states]
        off = self.compiled.offset
        return [
            [int(s - off[k]) for s in path]
            for path, k in zip(self.core.paths, self.core.group_task, strict=True)
        ]

    # -- rendering -----------------------------------------------------------------------------
    def scripted_policy(self) -> Any:
        """Shortest paths to each agent's own goal (:class:`~.ShortestPathPolicy`) as a table
        policy over cell indices (agent ``i`` follows task ``i``'s table in team mode; in sampled
        mode the table of the episode's task)."""
        from mt_envs.gridworld.policy import ShortestPathPolicy

        return _LiveShortestPath(ShortestPathPolicy.for_env(self), self)

    def render_rgb(self) -> np.ndarray:
        from mt_envs.gridworld.rendering import render_rgb

        return render_rgb(self)

    def render_ansi(self) -> str:
        from mt_envs.gridworld.rendering import render_ansi

        return render_ansi(self)


class _LiveShortestPath:
    """:class:`~.ShortestPathPolicy` asked only for the env's live agents."""

    def __init__(self, policy: Any, env: GridWorldEnv) -> None:
        self.policy, self.env = policy, env

    def reset(self) -> None:
        """Nothing to forget between episodes."""

    def __call__(self, observations: Any, infos: Any) -> dict[str, int]:
        actions: dict[str, int] = self.policy(observations, infos, self.env.agents)
        return actions
