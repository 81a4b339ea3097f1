"""The tabular engine shared by the grid families (corridor, GridWorld, chain).

* :class:`TabularModel`: the exact Markov model of one task (read-only arrays);
* :class:`TabularTaskTables`: what a family builds per task (model, per-agent observations,
  who is alive, horizon);
* :class:`TabularEnv`: the generic ParallelEnv driven by those tables ("team" and "sampled" modes);
* :class:`TabularVectorEnv`: its native batched core (the vector API);
* :class:`TablePolicy`: a table over observation indices, playable on the PettingZoo dicts;
* :class:`TabularGymEnv` and :func:`register_gymnasium`: the single-agent Gymnasium face of the
  one-agent families;
* exact solvers (numpy only, :mod:`mt_envs.tabular.solvers`): :func:`evaluate_policy`,
  :func:`q_values`, :func:`value_iteration`, :func:`visitation`, :func:`start_value`,
  :func:`multitask_objective`, :func:`decentralized_policy`, :func:`uniform_policy`,
  :func:`policy_gradient` and helpers.
"""

from __future__ import annotations

from mt_envs.tabular.env import TabularEnv, TabularTaskTables
from mt_envs.tabular.gym import TabularGymEnv, register_gymnasium
from mt_envs.tabular.model import TabularModel
from mt_envs.tabular.policy import TablePolicy
from mt_envs.tabular.solvers import (
    advantages,
    decentralized_policy,
    evaluate_policy,
    greedy_policy,
    multitask_objective,
    policy_gradient,
    q_values,
    relative_entropy,
    softmax_policy,
    start_value,
    uniform_policy,
    value_iteration,
    visitation,
)
from mt_envs.tabular.vector import TabularVectorEnv

__all__ = [
    "TablePolicy",
    "TabularEnv",
    "TabularGymEnv",
    "TabularModel",
    "TabularTaskTables",
    "TabularVectorEnv",
    "advantages",
    "decentralized_policy",
    "evaluate_policy",
    "greedy_policy",
    "multitask_objective",
    "policy_gradient",
    "q_values",
    "register_gymnasium",
    "relative_entropy",
    "softmax_policy",
    "start_value",
    "uniform_policy",
    "value_iteration",
    "visitation",
]
