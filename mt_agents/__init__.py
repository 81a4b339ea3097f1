"""Multi-agent learners with a Stable-Baselines3-shaped API.

Quick start::

    import mt_envs
    from mt_agents import DecHDRQN, evaluate_multitask

    venv = mt_envs.make_vec("mast_v0", num_envs=32, seed=0)
    model = DecHDRQN(venv, seed=0, tensorboard_log="runs/")
    model.learn(total_timesteps=200_000, progress_bar=True)
    model.save("mast_hdrqn.zip")
    model = DecHDRQN.load("mast_hdrqn.zip", env=venv)
    print(evaluate_multitask(model, venv, n_episodes=50).to_markdown())

Learners subclass :class:`~mt_agents.common.MultiAgentAlgorithm`. Model files are zips of JSON
and ``.npy`` tensors, loaded without unpickling (:class:`~mt_agents.common.ModelFileError` for
anything wrong). This package may import :mod:`wrappers`, :mod:`mt_envs`, torch and
stable-baselines3 utilities; ``import mt_agents`` never imports matplotlib, tensorboard or ray
(:mod:`mt_agents.plot` imports matplotlib when it draws).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from mt_agents.common.base import MultiAgentAlgorithm
from mt_agents.common.serialization import ModelFileError
from mt_envs import __version__

if TYPE_CHECKING:
    from mt_agents.common.callbacks import MultiAgentEvalCallback
    from mt_agents.common.evaluation import EvaluationResult, evaluate_multitask
    from mt_agents.dcpg import DCPG
    from mt_agents.dec_hdrqn import DecHDRQN
    from mt_agents.distillation import PolicyDistillation
    from mt_agents.distillation.pipeline import PipelineConfig, run_pipeline
    from mt_agents.tabular import MultiDistral, QLearning, SoftQLearning

__all__ = [
    "DCPG",
    "DecHDRQN",
    "EvaluationResult",
    "ModelFileError",
    "MultiAgentAlgorithm",
    "MultiAgentEvalCallback",
    "MultiDistral",
    "PipelineConfig",
    "PolicyDistillation",
    "QLearning",
    "SoftQLearning",
    "__version__",
    "evaluate_multitask",
    "load_model",
    "run_pipeline",
]

# Imported on first use, so that ``import mt_agents`` stays light and the algorithm packages
# register themselves only when needed.
_LAZY = {
    "DecHDRQN": "mt_agents.dec_hdrqn",
    "QLearning": "mt_agents.tabular",
    "SoftQLearning": "mt_agents.tabular",
    "MultiDistral": "mt_agents.tabular",
    "DCPG": "mt_agents.dcpg",
    "EvaluationResult": "mt_agents.common.evaluation",
    "evaluate_multitask": "mt_agents.common.evaluation",
    "MultiAgentEvalCallback": "mt_agents.common.callbacks",
    "PolicyDistillation": "mt_agents.distillation",
    "PipelineConfig": "mt_agents.distillation.pipeline",
    "run_pipeline": "mt_agents.distillation.pipeline",
}
#: Packages that define algorithms (imported by :func:`load_model` to find a file's class).
ALGORITHM_PACKAGES = (
    "mt_agents.dec_hdrqn",
    "mt_agents.distillation",
    "mt_agents.tabular",
    "mt_agents.dcpg",
)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mt_agents' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def load_model(path: Any, env: Any = None, device: Any = "auto", **overrides: Any) -> Any:
    """Load any mt_agents model file, whatever its algorithm (never unpickles).

    Args:
        path: The model file.
        env: Optional env with the model's spaces (see :meth:`MultiAgentAlgorithm.load`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``...
        **overrides: Constructor arguments replacing saved ones.

    Returns:
        The model, an instance of the algorithm named in the file.

    Raises:
        ModelFileError: For a bad file (see :class:`ModelFileError`).
    """
    for package in ALGORITHM_PACKAGES:
        try:
            importlib.import_module(package)
        except ModuleNotFoundError as exc:  # an algorithm package not written yet
            if exc.name != package:
                raise
    return MultiAgentAlgorithm.load(path, env=env, device=device, **overrides)
