"""The capture family (paper 000): MAST and MAMT on a toroidal grid.

Public names: :class:`CaptureTask`, :class:`CaptureEnv` (with :class:`MASTEnv`, :class:`MAMTEnv`),
:class:`CaptureVectorEnv` (the native batched env), :class:`GreedyPolicy` and
:func:`greedy_actions` (the scripted baseline), and the action constants.
"""

from __future__ import annotations

from mt_envs.capture.env import CaptureEnv, MAMTEnv, MASTEnv
from mt_envs.capture.greedy import GreedyPolicy, greedy_actions
from mt_envs.capture.task import (
    ACTION_NAMES,
    EAST,
    N_ACTIONS,
    NORTH,
    RANDOM_WALK,
    SOUTH,
    STAY,
    WEST,
    CaptureTask,
)
from mt_envs.capture.vector import CaptureVectorEnv

__all__ = [
    "ACTION_NAMES",
    "EAST",
    "NORTH",
    "N_ACTIONS",
    "RANDOM_WALK",
    "SOUTH",
    "STAY",
    "WEST",
    "CaptureEnv",
    "CaptureTask",
    "CaptureVectorEnv",
    "GreedyPolicy",
    "MAMTEnv",
    "MASTEnv",
    "greedy_actions",
]
