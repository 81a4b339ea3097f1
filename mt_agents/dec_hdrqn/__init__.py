"""Dec-HDRQN (paper 000, section 5.1): hysteretic DRQN learners on concurrent experience replay.

Public names: :class:`DecHDRQN` (the learner), :class:`DRQNNetwork` (the batched DRQNs of all
agents), :class:`CERTBuffer` and :class:`CERTBatch` (the replay), :func:`hysteretic_td_loss`.
"""

from __future__ import annotations

from mt_agents.dec_hdrqn.buffers import CERTBatch, CERTBuffer
from mt_agents.dec_hdrqn.dec_hdrqn import DecHDRQN, hysteretic_td_loss
from mt_agents.dec_hdrqn.policies import DRQNNetwork, GroupedLinear, GroupedLSTM

__all__ = [
    "CERTBatch",
    "CERTBuffer",
    "DRQNNetwork",
    "DecHDRQN",
    "GroupedLSTM",
    "GroupedLinear",
    "hysteretic_td_loss",
]
