"""Shared parts of the learners: the base class, safe model files, evaluation, callbacks."""

from __future__ import annotations

from mt_agents.common.base import MultiAgentAlgorithm, algorithm_classes
from mt_agents.common.callbacks import MultiAgentEvalCallback
from mt_agents.common.evaluation import EvaluationResult, evaluate_multitask
from mt_agents.common.serialization import ModelFileError, ModelFileNotFoundError
from mt_agents.common.utils import as_vector_env, resolve_device

__all__ = [
    "EvaluationResult",
    "ModelFileError",
    "ModelFileNotFoundError",
    "MultiAgentAlgorithm",
    "MultiAgentEvalCallback",
    "algorithm_classes",
    "as_vector_env",
    "evaluate_multitask",
    "resolve_device",
]
