"""The named corridor task sets of SPECS.md section 3 (paper 002, figure 2 and section 4.2.2)."""

from __future__ import annotations

import dataclasses

from mt_envs import task_sets
from mt_envs.corridor.task import CorridorTask
from mt_envs.tasks import TaskSet

#: The five tasks of figure 2, as ``(starts, goals)`` of ``(agent_0, agent_1)``.
PAPER_TASKS: tuple[tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]], ...] = (
    (((1, 1), (1, 7)), ((5, 7), (5, 1))),
    (((5, 1), (5, 7)), ((1, 7), (1, 1))),
    (((5, 1), (1, 7)), ((5, 7), (1, 1))),
    (((3, 2), (1, 7)), ((5, 7), (5, 1))),
    (((1, 7), (1, 1)), ((5, 7), (5, 1))),
)


def paper_task(k: int) -> CorridorTask:
    """Task ``k`` (1..5) of figure 2 of paper 002 (SPECS.md section 3 numbering)."""
    if not 1 <= k <= len(PAPER_TASKS):
        raise ValueError(f"paper task k={k!r} is invalid: need 1..{len(PAPER_TASKS)}")
    starts, goals = PAPER_TASKS[k - 1]
    return CorridorTask(starts=(starts[0], starts[1]), goals=(goals[0], goals[1]))


def corridor_5() -> TaskSet:
    return TaskSet(
        "corridor-5",
        tuple(paper_task(k) for k in range(1, 6)),
        "The five corridor tasks of paper 002 (figure 2); task 4 (id 3) is asymmetric: agent_0 "
        "starts at the corridor mouth",
    )


def corridor_symmetric() -> TaskSet:
    return TaskSet(
        "corridor-symmetric",
        (
            paper_task(1),
            paper_task(2),
            paper_task(3),
            dataclasses.replace(paper_task(1), tag="copy"),
            paper_task(5),
        ),
        "corridor-5 with task 4 replaced by a copy of task 1 (tagged 'copy' so the two keep "
        "apart), so no agent is favoured (paper 002, section 4.2.2)",
    )


def register_all() -> None:
    """Register ``corridor-5`` and ``corridor-symmetric`` for ``corridor_v0``."""
    task_sets.register("corridor-5", corridor_5, "corridor_v0")
    task_sets.register("corridor-symmetric", corridor_symmetric, "corridor_v0")
