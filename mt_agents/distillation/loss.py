"""The tempered Kullback-Leibler loss of policy distillation (paper 000, equation 6).

For one agent, a teacher Q-vector ``Q_T`` and the student's Q-vector ``Q_S`` at the same
observation history::

    KL_T(Q_T || Q_S) = sum_a softmax_a(Q_T / T) * ln( softmax_a(Q_T / T) / softmax_a(Q_S) )

Only the teacher is tempered: as ``T -> 0`` its distribution tends to the one-hot of its greedy
action, so the student learns to rank that action first (its own logits are free to scale up),
which is what matters for a greedy policy; a large ``T`` asks the student to match a flat
distribution instead. The loss is the expectation over sampled trace elements.
"""

from __future__ import annotations

import torch

__all__ = ["tempered_kl_loss", "tempered_kl_per_element"]


def _check_temperature(temperature: float) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise ValueError(f"temperature={temperature!r} is invalid: need a number > 0")
    if not temperature > 0.0:
        raise ValueError(f"temperature={temperature!r} is invalid: need a number > 0")
    return float(temperature)


def tempered_kl_per_element(
    student_q: torch.Tensor,
    teacher_q: torch.Tensor,
    temperature: float = 0.01,
    legal: torch.Tensor | None = None,
) -> torch.Tensor:
    """``KL(softmax(Q_T / T) || softmax(Q_S))`` for every element (the summand of equation 6).

    Args:
        student_q: Student Q-values ``[..., A]`` (used as logits, untempered).
        teacher_q: Teacher Q-values ``[..., A]`` (no gradient flows into them).
        temperature: ``T > 0`` of the teacher's softmax (paper: 0.01).
        legal: ``bool [..., A]`` legal actions, or ``None`` (all legal). Illegal actions are left
            out of both distributions; an element without any legal action gets 0.

    Returns:
        The divergences, shape ``[...]`` (natural log, so in nats).

    Raises:
        ValueError: For a temperature that is not > 0 or mismatched shapes.
    """
    t = _check_temperature(temperature)
    if student_q.shape != teacher_q.shape:
        raise ValueError(
            f"student_q has shape {tuple(student_q.shape)} but teacher_q has "
            f"{tuple(teacher_q.shape)}: both must be [..., A]"
        )
    teacher_logits = teacher_q.detach() / t
    student_logits = student_q
    if legal is not None:
        legal = legal.to(torch.bool)
        lowest = torch.finfo(student_q.dtype).min
        teacher_logits = teacher_logits.masked_fill(~legal, lowest)
        student_logits = student_logits.masked_fill(~legal, lowest)
    log_p_teacher = torch.log_softmax(teacher_logits, dim=-1)
    log_p_student = torch.log_softmax(student_logits, dim=-1)
    p_teacher = log_p_teacher.exp()
    terms = p_teacher * (log_p_teacher - log_p_student)
    if legal is not None:
        # 0 * log 0 is 0: illegal actions (and elements without legal actions) add nothing.
        terms = torch.where(legal, terms, torch.zeros_like(terms))
    return terms.sum(dim=-1)


def tempered_kl_loss(
    student_q: torch.Tensor,
    teacher_q: torch.Tensor,
    mask: torch.Tensor,
    temperature: float = 0.01,
    legal: torch.Tensor | None = None,
) -> torch.Tensor:
    """The distillation loss of all agents: equation 6, averaged over each agent's real elements.

    Args:
        student_q: Student Q-values ``[N, ..., A]``, agents first.
        teacher_q: Teacher Q-values of the same shape.
        mask: ``[N, ...]``: 1 for real elements of live agents, 0 for padding (left out).
        temperature: ``T > 0`` of the teacher's softmax (paper: 0.01).
        legal: ``bool [N, ..., A]`` legal actions, or ``None``.

    Returns:
        The sum over agents of each agent's mean divergence over its unmasked elements, a scalar
        (agents' networks are separate, so each agent's gradient is that of its own mean; an agent
        without any real element contributes 0).

    Raises:
        ValueError: For a temperature that is not > 0 or mismatched shapes.
    """
    kl = tempered_kl_per_element(student_q, teacher_q, temperature, legal)
    if mask.shape != kl.shape:
        raise ValueError(
            f"mask has shape {tuple(mask.shape)}, expected {tuple(kl.shape)} (the Q-values' "
            "shape without the action axis)"
        )
    n = kl.shape[0]
    weight = mask.to(kl.dtype)
    total = (kl * weight).reshape(n, -1).sum(dim=1)
    count = weight.reshape(n, -1).sum(dim=1).clamp(min=1.0)
    return (total / count).sum()
