"""Registry of named task sets: ``mt_envs.task_sets.get(name)``, ``mt_envs.task_sets.names()``.

Families register their sets when :mod:`mt_envs` is imported. Registered sets are immutable values;
register your own with :func:`register`.
"""

from __future__ import annotations

from collections.abc import Callable

from mt_envs.tasks import TaskSet
from mt_envs.utils import unknown_name_error

_REGISTRY: dict[str, Callable[[], TaskSet]] = {}
_ENV_OF: dict[str, str] = {}
_CACHE: dict[str, TaskSet] = {}


def register(
    name: str, factory: Callable[[], TaskSet], env_id: str, overwrite: bool = False
) -> None:
    """Register a named task set.

    Args:
        name: The set's name (for example ``"mamt-2a-3to6"``).
        factory: A zero-argument callable building the :class:`TaskSet` (called once, lazily).
        env_id: The environment id the set is meant for (for example ``"mamt_v0"``).
        overwrite: Replace an existing registration instead of raising.
    """
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"task set {name!r} is already registered; pass overwrite=True to replace")
    _REGISTRY[name] = factory
    _ENV_OF[name] = env_id
    _CACHE.pop(name, None)


def get(name: str) -> TaskSet:
    """The registered task set ``name``; unknown names raise ``KeyError`` listing close matches."""
    if name not in _REGISTRY:
        raise unknown_name_error("task set", name, _REGISTRY)
    if name not in _CACHE:
        ts = _REGISTRY[name]()
        if ts.name != name:
            raise RuntimeError(f"task set factory for {name!r} built a set named {ts.name!r}")
        _CACHE[name] = ts
    return _CACHE[name]


def names(env_id: str | None = None) -> list[str]:
    """Names of all registered task sets, or of those meant for ``env_id``."""
    return sorted(n for n in _REGISTRY if env_id is None or _ENV_OF[n] == env_id)


def env_id_of(name: str) -> str:
    """The environment id a registered task set is meant for."""
    if name not in _ENV_OF:
        raise unknown_name_error("task set", name, _REGISTRY)
    return _ENV_OF[name]
