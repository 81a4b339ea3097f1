"""Reference policies of the chain (paper 003, section 2.2)."""

from __future__ import annotations

import numpy as np

from mt_envs.chain.task import LEFT, N_ACTIONS, N_STATES, RIGHT


def shared_policy(p_left_s3: float = 0.5) -> np.ndarray:
    """The shared policy of the paper's example: ``LEFT`` in ``S2`` and ``S4``, ``LEFT`` with
    probability ``p_left_s3`` in ``S3`` (uniform in the absorbing ``S1``, ``S5``).

    With the default 0.5 it is the best policy for the sum of both deterministic tasks, of value
    ``2 gamma / (2 - gamma^2)`` at ``S3``; 1.0 and 0.0 are the two deterministic policies ``pi_l``
    and ``pi_r``, of value ``gamma``.

    Args:
        p_left_s3: Probability of ``LEFT`` in ``S3``, in [0, 1].

    Returns:
        ``float64 [5, 2]`` policy over (state, action).

    Raises:
        ValueError: ``p_left_s3`` outside [0, 1].
    """
    if not 0.0 <= p_left_s3 <= 1.0:
        raise ValueError(f"p_left_s3={p_left_s3!r} is invalid: need a probability in [0, 1]")
    pi = np.full((N_STATES, N_ACTIONS), 0.5)
    pi[1] = pi[3] = (1.0, 0.0)
    pi[2, LEFT], pi[2, RIGHT] = p_left_s3, 1.0 - p_left_s3
    return pi
