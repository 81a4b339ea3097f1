"""Policy distillation (paper 000, section 5.2): Phase II of multi-task learning.

Public names: :class:`PolicyDistillation` (the learner), :func:`tempered_kl_loss` (equation 6),
:class:`DistillationMemories` / :class:`DistillationMemory` (the per-task regression memories),
and the two-phase pipeline (:func:`run_pipeline`, :class:`PipelineConfig`), which trains a
specialist per task, distils them, evaluates everything and writes a report.
"""

from __future__ import annotations

from mt_agents.distillation.loss import tempered_kl_loss, tempered_kl_per_element
from mt_agents.distillation.memory import (
    DistillationBatch,
    DistillationMemories,
    DistillationMemory,
)
from mt_agents.distillation.pipeline import PipelineConfig, PipelineResult, run_pipeline
from mt_agents.distillation.policy_distillation import PolicyDistillation, teacher_network

__all__ = [
    "DistillationBatch",
    "DistillationMemories",
    "DistillationMemory",
    "PipelineConfig",
    "PipelineResult",
    "PolicyDistillation",
    "run_pipeline",
    "teacher_network",
    "tempered_kl_loss",
    "tempered_kl_per_element",
]
