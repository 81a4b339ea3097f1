"""Tabular learners of paper 002: independent Q-learning, soft Q-learning and MultiDistral.

Public names: :class:`QLearning`, :class:`SoftQLearning`, :class:`MultiDistral` (the learners),
:class:`TabularAlgorithm` (their base over :class:`~mt_agents.common.MultiAgentAlgorithm`) and
the formulas of :mod:`mt_agents.tabular.formulas` (soft value, Distral policy, M-step).
"""

from __future__ import annotations

from mt_agents.tabular.base import TabularAlgorithm, as_tabular_vector_env
from mt_agents.tabular.formulas import (
    add_visits,
    distral_policy,
    epsilon_greedy_policy,
    exponential_epsilon,
    prior_logits,
    soft_value,
    uniform_soft_value,
    visit_policy,
)
from mt_agents.tabular.multidistral import MultiDistral
from mt_agents.tabular.q_learning import QLearning, SoftQLearning

__all__ = [
    "MultiDistral",
    "QLearning",
    "SoftQLearning",
    "TabularAlgorithm",
    "add_visits",
    "as_tabular_vector_env",
    "distral_policy",
    "epsilon_greedy_policy",
    "exponential_epsilon",
    "prior_logits",
    "soft_value",
    "uniform_soft_value",
    "visit_policy",
]
