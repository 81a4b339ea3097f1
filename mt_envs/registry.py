"""Environment ids: ``mt_envs.make``, ``mt_envs.make_vec``, ``mt_envs.env_ids``.

Each id names a module of :mod:`mt_envs` that exposes ``parallel_env``, ``env`` (AEC), ``raw_env``
and, when the family has a batched core, ``vector_env``. Ids are also registered with PettingZoo
under the ``mt_envs/`` namespace, so ``pettingzoo.make("parallel", "mt_envs/mamt-v0")`` works.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

from pettingzoo import AECEnv, ParallelEnv

from mt_envs.utils import unknown_name_error
from mt_envs.vector import MultiAgentVectorEnv, SyncVectorEnv

#: Env id -> module path.
ENV_MODULES: dict[str, str] = {
    "mast_v0": "mt_envs.mast_v0",
    "mamt_v0": "mt_envs.mamt_v0",
    "corridor_v0": "mt_envs.corridor_v0",
    "gridworld_v0": "mt_envs.gridworld_v0",
    "chain_v0": "mt_envs.chain_v0",
    "drone_nav_v0": "mt_envs.drone_nav_v0",
}


def env_ids() -> list[str]:
    """All registered environment ids."""
    return sorted(ENV_MODULES)


def env_module(env_id: str) -> ModuleType:
    """The module behind an env id; unknown ids raise ``KeyError`` listing close matches."""
    if not isinstance(env_id, str):
        raise TypeError(
            f"env_id={env_id!r} is invalid: need a registered id (a str) such as 'mamt_v0'; "
            f"ids: {', '.join(env_ids())}"
        )
    if env_id not in ENV_MODULES:
        raise unknown_name_error("environment id", env_id, ENV_MODULES)
    return importlib.import_module(ENV_MODULES[env_id])


def make(env_id: str, *, aec: bool = False, **kwargs: Any) -> ParallelEnv | AECEnv:
    """Build environment ``env_id`` (a ParallelEnv, or AEC with ``aec=True``).

    Args:
        env_id: A registered id such as ``"mamt_v0"``.
        aec: Return the AEC form (``module.env``).
        **kwargs: Passed to the env (``tasks``, ``sampler``, ``render_mode``, ...).
    """
    module = env_module(env_id)
    return module.env(**kwargs) if aec else module.parallel_env(**kwargs)


def make_vec(
    env_id: str,
    num_envs: int,
    tasks: Any = None,
    sampler: Any = "uniform",
    seed: int | None = None,
    *,
    native: bool = True,
    **kwargs: Any,
) -> MultiAgentVectorEnv:
    """Build ``num_envs`` copies of ``env_id`` behind the batched API (:mod:`mt_envs.vector`).

    Args:
        env_id: A registered id.
        num_envs: Batch size ``B``.
        tasks: Task set, set name, task or list of tasks (``None``: the env's default set).
        sampler: Task sampler of each new episode.
        seed: Seed of the first ``reset()`` called without one.
        native: Use the family's batched core when it has one (much faster); ``False`` forces
            :class:`~mt_envs.vector.SyncVectorEnv` over ParallelEnv copies.
        **kwargs: Passed to the env (``obs_encoding``, ``seed_task``, ...).
    """
    module = env_module(env_id)
    if tasks is not None:
        kwargs["tasks"] = tasks
    kwargs["sampler"] = sampler
    if native and hasattr(module, "vector_env"):
        return module.vector_env(num_envs, seed=seed, **kwargs)
    kwargs.pop("render_mode", None)

    def factory() -> ParallelEnv:
        return module.parallel_env(**kwargs)

    return SyncVectorEnv(factory, num_envs=num_envs, seed=seed)


def register_with_pettingzoo() -> None:
    """Register every id with PettingZoo's registry (namespace ``mt_envs``)."""
    import pettingzoo

    for env_id, path in ENV_MODULES.items():
        pz_id = "mt_envs/" + env_id.replace("_v", "-v")
        if pz_id in getattr(pettingzoo.env_registry.registration, "parallel_registry", {}):
            continue
        pettingzoo.register("parallel", pz_id, entry_point=f"{path}:parallel_env")
        pettingzoo.register("aec", pz_id, entry_point=f"{path}:env")
