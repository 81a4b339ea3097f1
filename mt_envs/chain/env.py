"""The chain ParallelEnv. The env card lives in :mod:`mt_envs.chain_v0`."""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence
from typing import Any, ClassVar

import gymnasium
import numpy as np

from mt_envs.chain.model import chain_model
from mt_envs.chain.task import N_STATES, ChainTask
from mt_envs.chain.task_sets import register_all
from mt_envs.tabular.env import RENDER_MODES, TabularEnv, TabularTaskTables
from mt_envs.tasks import Task, TaskSampler, TaskSet


class ChainEnv(TabularEnv):
    """The 2-task chain of paper 003 (see :mod:`mt_envs.chain_v0`).

    Args:
        tasks: Task set, set name, task or list of :class:`ChainTask` (default ``"chain-2"``).
        mode: ``"team"`` (default: agent ``i`` plays task ``i``) or ``"sampled"``.
        sampler: Task sampler of sampled mode.
        seed_task: Seed of the task sampler.
        render_mode: ``None``, ``"human"``, ``"rgb_array"`` or ``"ansi"``.
        p: ``None`` keeps every task's own ``p``; a probability in [0, 1] gives every task of the
            set the stochastic ``S2`` / ``S4`` with that ``p``.

    Raises:
        ValueError: ``p`` outside [0, 1] and the errors of :class:`~mt_envs.tabular.TabularEnv`.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "name": "chain_v0",
        "render_modes": list(RENDER_MODES),
        "is_parallelizable": True,
        "render_fps": 4,
    }
    task_class: ClassVar[type[Task]] = ChainTask
    default_tasks: ClassVar[str] = "chain-2"
    modes: ClassVar[tuple[str, ...]] = ("team", "sampled")

    def __init__(
        self,
        tasks: TaskSet | str | Task | Sequence[Task] | None = None,
        mode: str | None = None,
        sampler: str | TaskSampler = "uniform",
        seed_task: int | None = None,
        render_mode: str | None = None,
        p: float | None = None,
    ) -> None:
        register_all()
        if p is not None:
            ts = TaskSet.coerce(self.default_tasks if tasks is None else tasks)
            tasks = TaskSet(
                f"{ts.name}(p={p:g})" if isinstance(p, float) else f"{ts.name}(p={p})",
                tuple(dataclasses.replace(t, p=p) if isinstance(t, ChainTask) else t for t in ts),
                ts.description,
            )
        super().__init__(tasks, mode, sampler, seed_task, render_mode)

    def build_tables(self, task: Any) -> TabularTaskTables:
        model = chain_model(task)
        obs = np.arange(N_STATES, dtype=np.int64)[:, None]
        return TabularTaskTables(model, obs, ~model.terminal[:, None], task.max_steps)

    def _agent_observation_space(self) -> gymnasium.spaces.Space:
        return gymnasium.spaces.Discrete(N_STATES)

    def _table_key(self) -> Hashable:
        return ()

    def scripted_policy(self) -> Any:
        """The paper's best shared policy (:func:`~mt_envs.chain.policy.shared_policy`: LEFT in
        S2 and S4, a fair coin in S3), seeded with 0."""
        from mt_envs.chain.policy import shared_policy
        from mt_envs.tabular.policy import TablePolicy

        return TablePolicy(self, shared_policy(0.5), seed=0)

    def render_rgb(self) -> np.ndarray:
        from mt_envs.chain.rendering import render_rgb

        return render_rgb(self)

    def render_ansi(self) -> str:
        from mt_envs.chain.rendering import render_ansi

        return render_ansi(self)
