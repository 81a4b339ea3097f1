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
from mt_envs.chain import task_sets as _chain_sets
from mt_envs.corridor import task_sets as _corridor_sets
from mt_envs.drone import task_sets as _drone_sets
from mt_envs.gridworld import task_sets as _gridworld_sets
from mt_envs.mpe import task_sets as _mpe_sets
from mt_envs.registry import env_ids, make, make_vec, register_with_pettingzoo
from mt_envs.tabular.gym import register_gymnasium
from mt_envs.tasks import Task, TaskSet

__version__ = "0.2.0"

for _family in (
    _capture_sets,
    _corridor_sets,
    _gridworld_sets,
    _chain_sets,
    _drone_sets,
    _mpe_sets,
):
    _family.register_all()
register_with_pettingzoo()
register_gymnasium()

# Env modules, after registration.
from mt_envs import (  # noqa: E402
    chain_v0,
    corridor_v0,
    drone_nav_v0,
    gridworld_v0,
    mamt_v0,
    mast_v0,
)

__all__ = [
    "Task",
    "TaskSet",
    "__version__",
    "chain_v0",
    "corridor_v0",
    "drone_nav_v0",
    "env_ids",
    "gridworld_v0",
    "make",
    "make_vec",
    "mamt_v0",
    "mast_v0",
    "task_sets",
]
