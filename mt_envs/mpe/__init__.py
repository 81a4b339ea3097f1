"""The MPE task group of paper 001 through mpe2 (extra ``mpe``: ``pip install "mt-envs[mpe]"``).

The learner controls the good agents of three mpe2 games; adversaries follow the scripted
policies of :mod:`mt_envs.mpe.scripted`. mpe2 is imported only when a
:class:`GoodTeamEnv` is built, so importing this package (and registering the ``mpe-mkt`` task
set) needs neither mpe2 nor pygame.

Public names: :class:`MPETask` (task family ``"mpe"``), :class:`GoodTeamEnv`,
:func:`good_agent_names`, the scripted policies (:class:`PushBlocker`, :class:`LandmarkGuesser`,
:class:`RandomOpponent`, :class:`NoopOpponent`, :func:`make_opponent`, :func:`move_towards`) and
:func:`mpe_mkt` (the task set). The padded multi-task env over a set of these tasks is
``wrappers.groups.make_group_env``.
"""

from __future__ import annotations

from mt_envs.mpe.env import GoodTeamEnv, good_agent_names
from mt_envs.mpe.scripted import (
    LandmarkGuesser,
    NoopOpponent,
    OpponentPolicy,
    PushBlocker,
    RandomOpponent,
    make_opponent,
    move_towards,
)
from mt_envs.mpe.task import GAMES, OPPONENTS, MPETask
from mt_envs.mpe.task_sets import mpe_mkt

__all__ = [
    "GAMES",
    "OPPONENTS",
    "GoodTeamEnv",
    "LandmarkGuesser",
    "MPETask",
    "NoopOpponent",
    "OpponentPolicy",
    "PushBlocker",
    "RandomOpponent",
    "good_agent_names",
    "make_opponent",
    "move_towards",
    "mpe_mkt",
]
