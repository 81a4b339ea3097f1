"""The 2-task chain of paper 003 (section 2.2, figure 1): :class:`ChainTask`, :func:`chain_model`,
:class:`ChainEnv`, the reference :func:`shared_policy` and the action constants."""

from __future__ import annotations

from mt_envs.chain.env import ChainEnv
from mt_envs.chain.model import chain_model
from mt_envs.chain.policy import shared_policy
from mt_envs.chain.task import (
    ACTION_NAMES,
    DEFAULT_HORIZON,
    DEFAULT_P,
    LEFT,
    N_ACTIONS,
    N_STATES,
    RIGHT,
    STATE_NAMES,
    ChainTask,
)

__all__ = [
    "ACTION_NAMES",
    "DEFAULT_HORIZON",
    "DEFAULT_P",
    "LEFT",
    "N_ACTIONS",
    "N_STATES",
    "RIGHT",
    "STATE_NAMES",
    "ChainEnv",
    "ChainTask",
    "chain_model",
    "shared_policy",
]
