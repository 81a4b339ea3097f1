"""DCPG (paper 003): decentralised consensus policy gradient over a communication graph.

Public names: :class:`DCPG` (the tabular learner), :func:`exact_gradients` and
:class:`DenseModels` (equation 8 for all agents at once), and the graph tools of
:mod:`mt_agents.dcpg.graphs` (weight matrices, their validation, the consensus step), which a
neural DCPG reuses on its stacked parameters.
"""

from __future__ import annotations

from mt_agents.dcpg.dcpg import DCPG, DenseModels, exact_gradients
from mt_agents.dcpg.graphs import (
    GRAPHS,
    check_weights,
    communication_weights,
    complete_graph,
    consensus_error,
    consensus_step,
    is_connected,
    lazy_metropolis_weights,
    random_connected_graph,
    ring_graph,
    spectral_gap,
    star_graph,
)

__all__ = [
    "DCPG",
    "GRAPHS",
    "DenseModels",
    "check_weights",
    "communication_weights",
    "complete_graph",
    "consensus_error",
    "consensus_step",
    "exact_gradients",
    "is_connected",
    "lazy_metropolis_weights",
    "random_connected_graph",
    "ring_graph",
    "spectral_gap",
    "star_graph",
]
