"""The Markov model of a chain task (paper 003, section 2.2)."""

from __future__ import annotations

import numpy as np

from mt_envs.chain.task import LEFT, N_ACTIONS, N_STATES, RIGHT, START, STATE_NAMES, ChainTask
from mt_envs.tabular.model import TabularModel

S1, S2, S3, S4, S5 = range(5)


def chain_model(task: ChainTask) -> TabularModel:
    """The exact model of ``task``: 5 states, 2 actions, 2 successor slots.

    Rewards are paid on entering ``S1`` / ``S5`` (+1 / -1 in task 1, -1 / +1 in task 2), which are
    terminal and absorbing. The stochastic variant's rewards depend on the successor drawn, so the
    model carries ``transition_reward``.

    Args:
        task: The chain task.

    Returns:
        Its :class:`~mt_envs.tabular.TabularModel`.
    """
    ns = np.zeros((N_STATES, N_ACTIONS, 2), dtype=np.int64)
    prob = np.zeros((N_STATES, N_ACTIONS, 2))
    prob[:, :, 0] = 1.0
    for s in range(N_STATES):
        ns[s, :, :] = s  # terminal states (and unused slots) stay put
    for s in (S2, S3, S4):
        ns[s, LEFT, 0], ns[s, RIGHT, 0] = s - 1, s + 1
    if task.variant == 2:
        for s in (S2, S4):
            ns[s, LEFT, 0], ns[s, RIGHT, 0] = s + 1, s - 1
    if task.p is not None:
        p = task.p
        # Probability of the right-hand successor from S2 and S4, whatever the action.
        right = {S2: p, S4: p} if task.variant == 1 else {S2: 1.0 - p, S4: 1.0 - p}
        for s, pr in right.items():
            ns[s, :, 0], ns[s, :, 1] = s - 1, s + 1
            prob[s, :, 0], prob[s, :, 1] = 1.0 - pr, pr
    sign = 1.0 if task.variant == 1 else -1.0
    entry = np.zeros(N_STATES)
    entry[S1], entry[S5] = sign, -sign
    terminal = np.zeros(N_STATES, dtype=bool)
    terminal[[S1, S5]] = True
    reward = np.where(terminal[:, None, None], 0.0, entry[ns])  # paid on entering S1 / S5
    start = np.zeros(N_STATES)
    start[START] = 1.0
    return TabularModel.from_transitions(
        ns, prob, reward, start, terminal, action_shape=(N_ACTIONS,), state_names=STATE_NAMES
    )
