"""Batched multi-agent env API: ``obs [B, N, D]``, ``actions [B, N]``, masks and task ids as arrays.

See :mod:`mt_envs.vector.base` for the contract. :class:`SyncVectorEnv` builds it from any
PettingZoo ParallelEnv factory; families with a batched core (capture) provide a native
implementation through :func:`mt_envs.make_vec`.
"""

from __future__ import annotations

from mt_envs.vector.base import MultiAgentVectorEnv
from mt_envs.vector.sync import SyncVectorEnv

__all__ = ["MultiAgentVectorEnv", "SyncVectorEnv"]
