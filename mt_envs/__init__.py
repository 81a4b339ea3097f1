"""mt-envs: multi-task multi-agent environments for PettingZoo.

Quick start::

    import mt_envs
    from mt_envs import mamt_v0

    env = mamt_v0.parallel_env(tasks="mamt-2a-3to6")
    obs, infos = env.reset(seed=0)
    venv = mt_envs.make_vec("mamt_v0", num_envs=256, seed=0)   # batched, numpy
"""

from __future__ import annotations

from mt_envs import task_sets
from mt_envs.capture import task_sets as _capture_sets
from mt_envs.registry import env_ids, make, make_vec, register_with_pettingzoo
from mt_envs.tasks import Task, TaskSet

__version__ = "0.1.0"

_capture_sets.register_all()
register_with_pettingzoo()

from mt_envs import mamt_v0, mast_v0  # noqa: E402  (modules, after registration)

__all__ = [
    "Task",
    "TaskSet",
    "__version__",
    "env_ids",
    "make",
    "make_vec",
    "mamt_v0",
    "mast_v0",
    "task_sets",
]
