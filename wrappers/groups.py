"""Task groups: one padded multi-task env over environments with different spaces and agent counts.

:func:`make_group_env` builds the MPE group of paper 001 (task set ``mpe-mkt``) as one
ParallelEnv: a :class:`~mt_envs.mpe.GoodTeamEnv` per task, padded and sampled by
:class:`~wrappers.multitask.MultiTaskEnv`. It is the showcase of padding with masks::

    from wrappers.groups import make_group_env

    env = make_group_env("mpe-mkt", seed=0)   # needs mpe2: pip install "mt-envs[mpe]"
    obs, infos = env.reset(seed=0)

.. list-table::
   :header-rows: 1

   * - task (id)
     - real agents -> canonical names
     - obs size, actions (real of padded)
   * - speaker_listener (0)
     - ``speaker_0 -> agent_0``, ``listener_0 -> agent_1``
     - 3 of 19, 3 of 5; 11 of 19, 5 of 5
   * - push (1)
     - ``agent_0 -> agent_0`` (``agent_1`` padded)
     - 19 of 19, 5 of 5
   * - adversary (2)
     - ``agent_0 -> agent_0``, ``agent_1 -> agent_1``
     - 10 of 19, 5 of 5 each

Every agent of every task observes ``Box(-inf, inf, (19,), float32)`` (the largest observation,
push's) and acts in ``Discrete(5)``; the state is padded to 28 (adversary's). Infos of each real
agent hold ``obs_mask`` (``True`` on its real entries), ``action_mask`` (``int8``, ones on its real
actions: the speaker's actions 3 and 4 are padding), ``agent_mask`` (``True``), ``task_id`` and
``task`` (the :class:`~mt_envs.mpe.MPETask`). A padded agent (``agent_1`` in push) is never in
``agents``, so it is never asked to act; batched consumers
(:class:`mt_envs.vector.SyncVectorEnv`, :func:`wrappers.sb3.to_sb3_vec_env`) see it with zero
observations and ``agent_mask`` False. A padded action taken anyway becomes the no-op 0 (or a
``ValueError`` with ``invalid_action="raise"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pettingzoo import ParallelEnv

from mt_envs.mpe import GoodTeamEnv, MPETask
from mt_envs.tasks import Task, TaskSampler, TaskSet
from wrappers.indicators import AgentIndicator, TaskIndicator
from wrappers.multitask import MultiTaskEnv

__all__ = ["make_group_env"]


def make_group_env(
    task_set: TaskSet | str | Sequence[Task] = "mpe-mkt",
    sampler: str | TaskSampler | Sequence[float] = "uniform",
    seed: int | None = None,
    *,
    render_mode: str | None = None,
    agent_indicator: bool = False,
    task_indicator: bool = False,
    invalid_action: int | Literal["raise"] = 0,
) -> ParallelEnv:
    """One padded multi-task ParallelEnv over a set of MPE tasks (the learner's good teams).

    Args:
        task_set: A set of :class:`~mt_envs.mpe.MPETask` (a :class:`~mt_envs.tasks.TaskSet`, a
            registered set name such as ``"mpe-mkt"``, or a sequence of tasks).
        sampler: The task of each episode: ``"uniform"``, ``"round_robin"``, a
            :class:`~mt_envs.tasks.TaskSampler` or one probability per task.
        seed: Seed of the task sampler (an int fixes the task stream whatever the dynamics
            seeds; ``None`` derives it from each ``reset(seed=...)``).
        render_mode: ``None``, ``"rgb_array"`` or ``"human"`` for every task's env.
        agent_indicator: Append a one-hot agent slot id to observations
            (:class:`~wrappers.indicators.AgentIndicator`): tells the speaker from the listener
            under parameter sharing.
        task_indicator: Append a one-hot task id (:class:`~wrappers.indicators.TaskIndicator`),
            after the agent id when both are on.
        invalid_action: What a padded action becomes (see
            :class:`~wrappers.padding.PadActions`): a real action (default 0, the MPE no-op) or
            ``"raise"``.

    Returns:
        A :class:`~wrappers.multitask.MultiTaskEnv` with ``pad=True`` (wrapped in the indicators
        asked for) whose ``task_set`` is the given set; slot ``i`` plays task ``i``.

    Raises:
        TypeError: A task is not an :class:`~mt_envs.mpe.MPETask`.
        KeyError: An unknown task-set name.
        ImportError: mpe2 is not installed (``pip install "mt-envs[mpe]"``).
    """
    ts = TaskSet.coerce(task_set)
    tasks: list[MPETask] = []
    for i, task in enumerate(ts):
        if not isinstance(task, MPETask):
            raise TypeError(
                f"task {i} of set {ts.name!r} is a {type(task).__name__}: make_group_env takes "
                "MPETask tasks (for other families use wrappers.multitask.MultiTaskEnv)"
            )
        tasks.append(task)
    slots = [GoodTeamEnv(task, render_mode=render_mode) for task in tasks]
    env: ParallelEnv = MultiTaskEnv(
        slots, sampler, seed, pad=True, tasks=ts, name=ts.name, invalid_action=invalid_action
    )
    if agent_indicator:
        env = AgentIndicator(env)
    if task_indicator:
        env = TaskIndicator(env, len(ts))
    return env
