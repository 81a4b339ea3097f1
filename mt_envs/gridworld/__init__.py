"""The multi-task GridWorld family (paper 003, section 5.1).

Public names: :class:`GridWorldTask` (with the action constants), :class:`GridWorldEnv`,
:func:`build_model` (the exact tabular model of a task), :class:`ShortestPathPolicy` (the
scripted baseline), and the exact shared-policy analysis of :mod:`mt_envs.gridworld.analysis`
(:func:`shared_optimum`, :func:`solvable_sets`, :func:`solving_walk`, :func:`route_policy`).
Importing the package registers the named task sets of :mod:`mt_envs.gridworld.task_sets`.
"""

from __future__ import annotations

from mt_envs.gridworld.analysis import (
    route_cells,
    route_policy,
    shared_optimum,
    single_task_optimum,
    solvable_sets,
    solving_walk,
    walk_outcomes,
)
from mt_envs.gridworld.env import GridWorldEnv
from mt_envs.gridworld.model import build_model
from mt_envs.gridworld.policy import ShortestPathPolicy, distance_to_goal, optimal_actions
from mt_envs.gridworld.task import (
    ACTION_NAMES,
    DOWN,
    LEFT,
    N_ACTIONS,
    RIGHT,
    START_NAMES,
    UP,
    GridWorldTask,
)
from mt_envs.gridworld.task_sets import SHARED_ROUTES, register_all

register_all()  # idempotent: the named sets resolve as soon as the family is imported

__all__ = [
    "ACTION_NAMES",
    "DOWN",
    "LEFT",
    "N_ACTIONS",
    "RIGHT",
    "SHARED_ROUTES",
    "START_NAMES",
    "UP",
    "GridWorldEnv",
    "GridWorldTask",
    "ShortestPathPolicy",
    "build_model",
    "distance_to_goal",
    "optimal_actions",
    "route_cells",
    "route_policy",
    "shared_optimum",
    "single_task_optimum",
    "solvable_sets",
    "solving_walk",
    "walk_outcomes",
]
