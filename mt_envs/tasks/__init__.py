"""The task model: tasks, task sets and task samplers.

A **task** is a frozen dataclass describing one environment of a family (for example
:class:`mt_envs.capture.CaptureTask`). It validates itself on construction, has a stable readable
``name`` and round-trips through JSON with :meth:`Task.to_dict` / :func:`task_from_dict`.

A :class:`TaskSet` is an ordered, named, immutable collection of tasks; index ``i`` is the task id.
Named task sets are registered in :mod:`mt_envs.task_sets`.

A :class:`TaskSampler` picks the task of each new episode with its own random generator, separate
from the dynamics generator, so the task stream is reproducible on its own.
"""

from __future__ import annotations

from mt_envs.tasks.base import Task, TaskSet, register_task_family, task_families, task_from_dict
from mt_envs.tasks.samplers import (
    Curriculum,
    Fixed,
    RoundRobin,
    TaskSampler,
    Uniform,
    Weighted,
    curriculum,
    fixed,
    make_sampler,
    round_robin,
    uniform,
    weighted,
)

__all__ = [
    "Curriculum",
    "Fixed",
    "RoundRobin",
    "Task",
    "TaskSampler",
    "TaskSet",
    "Uniform",
    "Weighted",
    "curriculum",
    "fixed",
    "make_sampler",
    "register_task_family",
    "round_robin",
    "task_families",
    "task_from_dict",
    "uniform",
    "weighted",
]
