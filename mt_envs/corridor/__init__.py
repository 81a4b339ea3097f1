"""The corridor family (paper 002): two agents cross between two chambers through a corridor.

Public names: :class:`CorridorTask`, :class:`CorridorEnv`, the one-step rule
:func:`corridor_step`, the joint model :func:`build_model` (:class:`CorridorModel`), the
observation helpers :func:`observation_table` and :func:`obs_index`, the scripted baseline
:class:`CorridorPolicy` (:func:`corridor_action`, :func:`joint_actions`), the map constants and the
action enum.
"""

from __future__ import annotations

from mt_envs.corridor.env import CorridorEnv
from mt_envs.corridor.model import (
    GOAL_REWARD,
    N_OBS_STATES,
    OBS_NVEC,
    STEP_REWARD,
    CorridorModel,
    StepOutcome,
    build_model,
    corridor_step,
    obs_index,
    observation_table,
)
from mt_envs.corridor.policy import CorridorPolicy, corridor_action, joint_actions
from mt_envs.corridor.task import (
    ACTION_NAMES,
    CORRIDOR_CELLS,
    EAST,
    FLOOR_CELLS,
    LAYOUT,
    N_ACTIONS,
    NO_ACTION,
    NORTH,
    SOUTH,
    STAY,
    WEST,
    CorridorTask,
)

__all__ = [
    "ACTION_NAMES",
    "CORRIDOR_CELLS",
    "EAST",
    "FLOOR_CELLS",
    "GOAL_REWARD",
    "LAYOUT",
    "NORTH",
    "NO_ACTION",
    "N_ACTIONS",
    "N_OBS_STATES",
    "OBS_NVEC",
    "SOUTH",
    "STAY",
    "STEP_REWARD",
    "WEST",
    "CorridorEnv",
    "CorridorModel",
    "CorridorPolicy",
    "CorridorTask",
    "StepOutcome",
    "build_model",
    "corridor_action",
    "corridor_step",
    "joint_actions",
    "obs_index",
    "observation_table",
]
