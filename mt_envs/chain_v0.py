"""Chain: the 2-task chain whose best shared policy is stochastic (paper 003, section 2.2).

From Zeng, Anwar, Doan, Raychowdhury and Romberg, *A Decentralized Policy Gradient Approach to
Multi-Task RL*, section 2.2 and figure 1.

.. figure:: /_static/chain_v0.gif
   :alt: Two rows of five states; in each row an agent walks towards the +1 end.

   The paper's best shared policy on ``chain-2`` in team mode: one row per task (made by
   ``docs/make_gifs.py``).

==========================  ==================================================================
Import                      ``from mt_envs import chain_v0``
Actions                     ``Discrete(2)``: LEFT=0, RIGHT=1
Parallel API                yes (native); AEC through ``chain_v0.env()``
Agents                      team mode: ``agent_i`` plays task ``i``; sampled mode: ``agent_0``
Observation                 ``Discrete(5)``: the state S1..S5 as 0..4
State                       ``Box(0, 4, (n_agents,), float32)``: every agent's state
Batched                     ``mt_envs.make_vec("chain_v0", num_envs=B)`` (one-hot observations)
Gymnasium                   ``gymnasium.make("mt_envs/Chain-v0", task=0)`` (one task)
Default task set            ``chain-2``
==========================  ==================================================================

Five states in a row, ``S1 .. S5``; every episode starts in ``S3``. ``S1`` and ``S5`` end the
episode (they are absorbing states of the model).

::

    task 1:   [+1] S1 <-> S2 <-> S3 <-> S4 <-> S5 [-1]     LEFT moves left, RIGHT moves right
    task 2:   [-1] S1 <-> S2 <-> S3 <-> S4 <-> S5 [+1]     LEFT and RIGHT swapped in S2 and S4

Dynamics
    Task 1: ``LEFT`` / ``RIGHT`` move one state left / right. Task 2: the same in ``S3``, but in
    ``S2`` and ``S4`` ``LEFT`` moves right and ``RIGHT`` moves left. With ``p`` (the stochastic
    variant, paper section 2.2, "gradient domination") ``S2`` and ``S4`` ignore the action: task 1
    goes right with probability ``p`` (``S2 -> S3``, ``S4 -> S5``) and left otherwise; task 2 goes
    left with probability ``p`` (``S2 -> S1``, ``S4 -> S3``) and right otherwise.

Rewards and ends
    Task 1 pays +1 for entering ``S1`` and -1 for entering ``S5``; task 2 the opposite. Entering
    either **terminates** the agent's episode. Otherwise the episode is **truncated** after
    ``horizon`` steps (default 100): a policy can oscillate between two states forever.

Modes
    ``mode="team"`` (default): agent ``i`` plays its own copy of task ``i`` every episode (DCPG's
    setting); agents never interact, and an agent leaves ``agents`` when its own episode ends.
    ``mode="sampled"``: one agent, one task per episode (``sampler``, or
    ``reset(options={"task": i})``).

Infos
    ``task_id``, ``task`` (the agent's task), ``action_mask`` (``int8 [2]``, all ones),
    ``state_index`` (the observation itself).

Tabular interface
    ``env.n_states`` (5), ``env.n_actions`` (2), ``env.state_index(obs)``, ``env.models`` (the
    exact :class:`~mt_envs.tabular.TabularModel` of each task) and the solvers of
    :mod:`mt_envs.tabular.solvers`. With the shared policy of the paper
    (:func:`mt_envs.chain.shared_policy`: ``LEFT`` in ``S2``/``S4``, uniform in ``S3``) the values
    at ``S3`` of the two deterministic tasks sum to ``2 gamma / (2 - gamma^2)``; the deterministic
    policies (``LEFT`` or ``RIGHT`` in ``S3``) get ``gamma``. With ``p`` in (0.5, 1) the two
    deterministic policies are the global optima and the uniform one is a stationary point that
    is not.

Arguments
    ``tasks="chain-2"``, ``mode="team"``, ``sampler="uniform"``, ``seed_task=None``,
    ``render_mode=None`` (``"human"``, ``"rgb_array"``, ``"ansi"``), ``p=None`` (a probability in
    [0, 1] gives every task of the set the stochastic ``S2``/``S4``).

Task parameters (:class:`mt_envs.chain.ChainTask`)
    ``variant`` 1 or 2, ``p`` ``None`` or in [0, 1], ``horizon`` >= 1 (default 100).

Registered task sets
    ``chain-2`` (tasks 1 and 2, deterministic), ``chain-2-stochastic`` (both with ``p = 0.75``).

Rendering
    One row of five cells per task copy: ``S1``/``S5`` green for +1 and red for -1, an orange bar
    under swapped states, a purple bar under random ones, the agent as a disc (pale once done), a
    time bar. ``ansi``: ``+``/``-`` ends, ``x`` swapped, ``~`` random, ``@`` the agent.

Differences from the paper
    The paper's chain is an infinite-horizon discounted problem; we truncate at ``horizon = 100``
    (a parameter; ``gamma^100`` is negligible for the paper's discounts). Its text loses the
    range of ``p`` ("for some 0.5 ."); we read it as ``0.5 < p < 1`` (for ``p`` in (0.5, 1) the
    deterministic policies are the optima, as the paper says) and default to 0.75. Any ``p`` in
    [0, 1] is accepted.

Version history
    v0: first release.
"""

from __future__ import annotations

from typing import Any

from pettingzoo import AECEnv
from pettingzoo.utils.conversions import parallel_to_aec

from mt_envs.chain.env import ChainEnv
from mt_envs.tabular.gym import TabularGymEnv
from mt_envs.tabular.vector import TabularVectorEnv

ENV_ID = "chain_v0"


def parallel_env(**kwargs: Any) -> ChainEnv:
    """The chain ParallelEnv (see the module docstring for arguments)."""
    return ChainEnv(**kwargs)


def raw_env(**kwargs: Any) -> AECEnv:
    """The chain env as AEC (``parallel_to_aec`` of the ParallelEnv)."""
    return parallel_to_aec(ChainEnv(**kwargs))


env = raw_env


def vector_env(num_envs: int, **kwargs: Any) -> TabularVectorEnv:
    """The native batched chain env (:class:`~mt_envs.tabular.vector.TabularVectorEnv`)."""
    return TabularVectorEnv(num_envs, ChainEnv, **kwargs)


def gym_env(**kwargs: Any) -> TabularGymEnv:
    """One chain task as a single-agent Gymnasium env (``tasks``, ``task``, ``p``, ...)."""
    return TabularGymEnv(ChainEnv, **kwargs)
