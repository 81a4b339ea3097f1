"""PettingZoo wrappers for multi-task MARL, for any ParallelEnv.

Each wrapper is a PettingZoo ``ParallelEnv`` with one job:

* :class:`MultiTaskEnv` builds one multi-task env from task slots (a native multi-task env with
  many tasks, or several unrelated envs), samples a slot per episode with the samplers of
  :mod:`mt_envs.tasks`, renames agents to ``agent_0 .. agent_{N-1}`` and puts ``task_id`` /
  ``task`` in infos; ``pad=True`` applies the padding wrappers below to heterogeneous slots.
* :class:`PadObservations`, :class:`PadActions`, :class:`PadAgents`: one observation space, one
  action space and one agent count, with ``obs_mask``, ``action_mask`` and ``agent_mask`` in
  infos. Padding is exact (:func:`unpad_observation`, :func:`unpad_action`, ``unpad`` methods).
* :class:`AgentIndicator`, :class:`TaskIndicator`: one-hot agent id, one-hot task id or a task
  context vector appended to observations, on request only.
* :class:`RecordEpisodes`, :func:`record_parallel_env`: GIF / MP4 of any env with ``rgb_array``.
* ``to_sb3_vec_env``: a parameter-sharing bridge to Stable-Baselines3 (imported on first use, so
  this package never imports stable-baselines3 or torch by itself).

A typical stack, batched for a learner::

    from mt_envs.vector import SyncVectorEnv
    from wrappers import AgentIndicator, MultiTaskEnv

    def make():
        return AgentIndicator(MultiTaskEnv.from_task_set("mamt_v0", "mamt-3a", pad=True))

    venv = SyncVectorEnv(make, num_envs=8, seed=0)   # obs [8, N, D], masks and task ids

This package may import :mod:`mt_envs`, pettingzoo, supersuit and gymnasium, never torch at
import time and never :mod:`mt_agents`.
"""

from __future__ import annotations

from typing import Any

from wrappers.base import BaseWrapper
from wrappers.groups import make_group_env
from wrappers.indicators import AgentIndicator, TaskIndicator
from wrappers.multitask import MultiTaskEnv, Slot, SlotTask
from wrappers.padding import (
    PadActions,
    PadAgents,
    PadObservations,
    action_mask,
    observation_mask,
    pad_observation,
    padded_box,
    padded_discrete,
    unpad_action,
    unpad_observation,
)
from wrappers.recording import RecordEpisodes, record_parallel_env, save_video

__all__ = [
    "AgentIndicator",
    "BaseWrapper",
    "MultiTaskEnv",
    "PadActions",
    "PadAgents",
    "PadObservations",
    "RecordEpisodes",
    "Slot",
    "SlotTask",
    "TaskIndicator",
    "action_mask",
    "make_group_env",
    "observation_mask",
    "pad_observation",
    "padded_box",
    "padded_discrete",
    "record_parallel_env",
    "save_video",
    "unpad_action",
    "unpad_observation",
]


#: Loaded on first access (``wrappers.to_sb3_vec_env``): the SB3 bridge imports stable-baselines3
#: and torch. Kept out of ``__all__`` so ``from wrappers import *`` never loads them.
_LAZY = ("PerTaskLoggerCallback", "SB3VecEnv", "evaluate_per_task", "to_sb3_vec_env")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        try:
            from wrappers import sb3
        except ImportError as exc:
            raise ImportError(
                f'wrappers.{name} needs stable-baselines3: pip install torch==2.13.0 "mt-envs[sb3]"'
            ) from exc
        return getattr(sb3, name)
    raise AttributeError(f"module 'wrappers' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
