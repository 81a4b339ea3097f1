"""The formulas of the tabular learners, as plain numpy functions on tables.

Notation of paper 002 (after Teh et al.'s Distral), with a prior ``pi0`` fixed:

* soft value (equation 3): ``V(s) = (1/beta) log sum_a pi0(a|s)^alpha exp(beta Q(s, a))``;
* soft Q-learning target (equation 4, sampled): ``r + gamma V(s')``;
* task policy (equation 5): ``pi(a|s) = pi0(a|s)^alpha exp(beta (Q(s, a) - V(s)))``, which sums
  to one by the definition of ``V``;
* M-step (equations 6 and 8): the maximum-likelihood ``pi0`` is the normalised count of
  discounted visits ``sum_t gamma^t [s_t = s, a_t = a]`` of the task policies.

Every function works on any leading batch shape: the last axis is the action axis.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "add_visits",
    "distral_policy",
    "epsilon_greedy_policy",
    "exponential_epsilon",
    "prior_logits",
    "soft_value",
    "uniform_soft_value",
    "visit_policy",
]


def prior_logits(prior: np.ndarray, alpha: float) -> np.ndarray:
    """``alpha * log pi0`` (``-inf`` where ``pi0`` is 0), the prior's share of the soft logits.

    Args:
        prior: ``pi0``, rows that are distributions over the last axis.
        alpha: The prior's exponent ``alpha`` (0: the prior is ignored).

    Returns:
        An array of ``prior``'s shape.
    """
    if alpha == 0.0:
        return np.zeros(np.shape(prior))
    with np.errstate(divide="ignore"):
        return alpha * np.log(np.asarray(prior, dtype=np.float64))


def soft_value(q: np.ndarray, logits: np.ndarray | float, beta: float) -> np.ndarray:
    """The soft value ``(1/beta) log sum_a exp(logits_a + beta q_a)`` (equation 3).

    Args:
        q: ``[..., A]`` action values.
        logits: ``alpha log pi0`` broadcastable to ``q`` (:func:`prior_logits`), or a scalar for
            a uniform prior (``-alpha log A``).
        beta: Inverse temperature ``beta > 0``.

    Returns:
        ``[...]``: computed with the log-sum-exp shift, so large ``beta Q`` do not overflow.
    """
    z = np.asarray(logits, dtype=np.float64) + beta * np.asarray(q, dtype=np.float64)
    top = z.max(axis=-1, keepdims=True)
    out = top[..., 0] + np.log(np.exp(z - top).sum(axis=-1))
    return np.asarray(out / beta)


def uniform_soft_value(alpha: float, beta: float, gamma: float, n_actions: int) -> float:
    """The soft value ``((1 - alpha) / beta) log A / (1 - gamma)`` of a zero-reward task.

    With ``pi0`` uniform over ``A`` actions and every reward 0, ``Q = gamma V`` everywhere and
    equation 3 gives ``V = gamma V + ((1 - alpha) / beta) log A``: each step is worth the entropy
    bonus ``((1 - alpha) / beta) log A`` (0.966 for paper 002's ``alpha = 0.7``, ``beta = 0.5``,
    ``A = 5``). It is the natural *neutral* initial value of soft Q-tables: starting them at 0
    instead makes every untried action look ``bonus / (1 - gamma)`` worse than the familiar ones
    (96.6 at ``gamma = 0.99``), which traps the learners (docs/multidistral.md).

    Args:
        alpha: Exponent of the prior, in [0, 1].
        beta: Inverse temperature, > 0.
        gamma: Discount in [0, 1).
        n_actions: ``A >= 1``.

    Returns:
        The value (0 when ``alpha = 1`` or ``A = 1``).

    Raises:
        ValueError: ``gamma`` not in [0, 1), ``beta <= 0`` or ``n_actions < 1``.
    """
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma={gamma!r} is invalid: need 0 <= gamma < 1")
    if not beta > 0.0:
        raise ValueError(f"beta={beta!r} is invalid: need beta > 0")
    if n_actions < 1:
        raise ValueError(f"n_actions={n_actions!r} is invalid: need at least 1")
    return float((1.0 - alpha) / beta * np.log(n_actions) / (1.0 - gamma))


def distral_policy(q: np.ndarray, logits: np.ndarray | float, beta: float) -> np.ndarray:
    """The task policy ``pi0^alpha exp(beta (Q - V))`` of equation 5.

    Args:
        q: ``[..., A]`` action values.
        logits: ``alpha log pi0`` broadcastable to ``q``, or a scalar for a uniform prior.
        beta: Inverse temperature ``beta > 0``.

    Returns:
        ``[..., A]`` probabilities (each row sums to one).
    """
    z = np.asarray(logits, dtype=np.float64) + beta * np.asarray(q, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


def epsilon_greedy_policy(q: np.ndarray, epsilon: float | np.ndarray) -> np.ndarray:
    """``(1 - eps)`` on the greedy action (ties share it equally) plus ``eps / A`` everywhere.

    Args:
        q: ``[..., A]`` action values.
        epsilon: Exploration rate in [0, 1], a scalar or broadcastable to ``q[..., 0]``.

    Returns:
        ``[..., A]`` probabilities.
    """
    q = np.asarray(q, dtype=np.float64)
    best = q == q.max(axis=-1, keepdims=True)
    greedy = best / best.sum(axis=-1, keepdims=True)
    eps = np.asarray(epsilon, dtype=np.float64)[..., None]
    return np.asarray((1.0 - eps) * greedy + eps / q.shape[-1])


def exponential_epsilon(
    episodes: np.ndarray | int, initial: float, final: float, decay: float
) -> np.ndarray:
    """Paper 002's exploration rate ``final + (initial - final) exp(-decay * episodes)``.

    With the defaults ``initial = 1``, ``final = 0.01``, ``decay = 0.001`` this is
    ``0.01 + 0.99 exp(-0.001 episode)`` (SPECS.md section 4).
    """
    ep = np.asarray(episodes, dtype=np.float64)
    return np.asarray(final + (initial - final) * np.exp(-decay * ep))


def add_visits(
    counts: np.ndarray,
    index: tuple[np.ndarray, ...],
    weights: np.ndarray,
) -> None:
    """Add ``weights`` to ``counts[index]`` in place, summing repeated entries (unlike ``+=``).

    Args:
        counts: The count table (float64), e.g. ``[G, S, A]``.
        index: One integer array per axis of ``counts``, all of one shape.
        weights: The amounts (``gamma^t`` for discounted visits), of that shape.
    """
    np.add.at(counts, tuple(np.asarray(i) for i in index), np.asarray(weights, np.float64))


def visit_policy(counts: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """The M-step: ``pi0(a|s) = (C(s, a) + eps) / (sum_a' C(s, a') + A eps)``.

    Rows without any visit (and ``eps = 0``) give the uniform distribution.

    Args:
        counts: ``[..., A]`` (discounted) visit counts, >= 0.
        smoothing: Pseudo-count ``eps >= 0`` added to every action, so that no action's
            prior probability is exactly 0 (``pi0^alpha = 0`` would forbid it for good).

    Returns:
        ``[..., A]`` probabilities.
    """
    c = np.asarray(counts, dtype=np.float64) + smoothing
    total = c.sum(axis=-1, keepdims=True)
    a = c.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(total > 0, c / np.where(total > 0, total, 1.0), 1.0 / a)
    return np.asarray(out)
