"""Identity in the observation, on request: which agent (:class:`AgentIndicator`) and which task
(:class:`TaskIndicator`, a one-hot task id or a task-context vector).

Both append entries at the end of flat ``Box`` observations; :meth:`strip` removes them exactly.
When infos carry an ``obs_mask`` (the observation was padded) it is extended with ``True`` for the
appended entries, so it keeps describing the whole observation. Task identity never enters an
observation unless :class:`TaskIndicator` is applied.

Why not SuperSuit's ``agent_indicator_v0`` (3.11): it refuses agents whose spaces differ, writes
``max(high)`` instead of 1 (and gives the indicator entries an upper bound of ``min(high)``, which
is ``inf`` for mpe2's unbounded observations), knows nothing of ``obs_mask``, and pads with
``np.pad`` on every step. There is no SuperSuit task indicator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from gymnasium.spaces import Box
from pettingzoo import ParallelEnv

from wrappers.base import BaseWrapper, Infos, own_infos

__all__ = ["AgentIndicator", "TaskIndicator"]

#: ``context(task_id, task) -> vector`` of :class:`TaskIndicator`.
ContextFn = Callable[[int, Any], Any]


def _flat_box(space: Any, agent: str, wrapper: str) -> Box:
    if not isinstance(space, Box) or len(space.shape) != 1:
        raise TypeError(
            f"{wrapper} appends to flat Box observations, but {agent} has {space}; flatten "
            "them first (gymnasium.spaces.flatten_space)"
        )
    return space


def _extend_box(space: Box, low: np.ndarray, high: np.ndarray) -> Box:
    return Box(
        low=np.concatenate([space.low, low.astype(space.dtype)]),
        high=np.concatenate([space.high, high.astype(space.dtype)]),
        dtype=space.dtype,
    )


class _AppendWrapper(BaseWrapper):
    """Shared machinery: append a per-agent vector to observations and extend ``obs_mask``.

    Subclasses call :meth:`_setup_append` and implement :meth:`_vectors` (the vector of each agent
    for the episode that ``reset`` just started).

    Stacked indicators step as one layer: when the wrapped env is itself an indicator of this
    module, ``step`` calls the env below the whole run of indicators and writes each agent's
    observation and all the run's vectors into one new array (the same result as appending them
    one by one; each indicator's ``reset`` still runs in turn, so each knows its episode's
    vectors).
    """

    _n_extra: int

    def _setup_append(self, lows: np.ndarray, highs: np.ndarray) -> None:
        self._n_extra = int(lows.shape[0])
        self.original_spaces: dict[str, Box] = {}
        for agent in self.possible_agents:
            space = _flat_box(self._obs_spaces[agent], agent, type(self).__name__)
            self.original_spaces[agent] = space
            self._obs_spaces[agent] = _extend_box(space, lows, highs)
        inner = self.env
        if isinstance(inner, _AppendWrapper):
            # The run of indicators below this one, innermost first, and the env under them.
            self._chain: list[_AppendWrapper] = [*inner._chain, inner]
            self._source: ParallelEnv = inner._source
        else:
            self._chain, self._source = [], inner
        n_total = self._n_extra + sum(w._n_extra for w in self._chain)
        self._tails: dict[str, np.ndarray] = {}
        self._templates: dict[str, np.ndarray] = {}
        self._heads: dict[str, slice] = {}
        self._plans: dict[Any, tuple[dict, dict, dict]] = {}
        self._plan_key: Any = None
        self._extra_true = {n: np.ones(n, dtype=bool) for n in (self._n_extra, n_total)}
        self._n_total = n_total
        # Per path (reset: extend the inner mask; step: extend the source's mask by all the
        # entries of the run): agent -> (inner mask object, extended mask).
        self._mask_cache: dict[int, dict[str, tuple[Any, np.ndarray]]] = {
            self._n_extra: {},
            n_total: {},
        }
        if n_total == self._n_extra:
            self._mask_cache[n_total] = self._mask_cache[self._n_extra]

    def _vectors(self, infos: Mapping[str, Mapping[str, Any]]) -> Mapping[str, np.ndarray]:
        raise NotImplementedError

    def _vectors_key(self, infos: Mapping[str, Mapping[str, Any]]) -> Any:
        """A hashable key that identifies what :meth:`_vectors` returns for these infos."""
        raise NotImplementedError

    def _plan(
        self, own: Mapping[str, np.ndarray]
    ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, slice]]:
        """Step plan of an episode: per agent, the vectors of the whole run of indicators
        (tails) and a template with zeros where the source's observation goes, then the tail.
        A step copies the template and writes the observation into its head (cheaper than
        np.concatenate). Plans are cached by the vectors' keys (the vectors never change)."""
        below = self._chain[-1]._tails if self._chain else None
        tails, templates, heads = {}, {}, {}
        for agent in self.possible_agents:
            tail = own[agent] if below is None else np.concatenate((below[agent], own[agent]))
            head = int(self._source.observation_space(agent).shape[0])
            tails[agent] = tail
            templates[agent] = np.concatenate((np.zeros(head, tail.dtype), tail))
            heads[agent] = slice(0, head)
        return tails, templates, heads

    def _extended(self, agent: str, inner: Any, n: int) -> np.ndarray:
        """``inner`` (an ``obs_mask``) with ``n`` True entries appended, cached while ``inner``
        is the same read-only array."""
        cache = self._mask_cache[n]
        hit = cache.get(agent)
        if hit is not None and hit[0] is inner:
            return hit[1]
        mask = np.concatenate([np.asarray(inner, dtype=bool), self._extra_true[n]])
        mask.flags.writeable = False
        if isinstance(inner, np.ndarray) and not inner.flags.writeable:
            cache[agent] = (inner, mask)
        return mask

    def _extend_masks(
        self, infos: Mapping[str, Mapping[str, Any]], n: int
    ) -> dict[str, dict[str, Any]]:
        infos = own_infos(infos)
        cache = self._mask_cache[n]
        for agent, info in infos.items():
            inner = info.get("obs_mask")
            if inner is not None:
                hit = cache.get(agent)
                info["obs_mask"] = (
                    hit[1]
                    if hit is not None and hit[0] is inner
                    else self._extended(agent, inner, n)
                )
        return infos

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Reset the inner env; this episode's vectors appended to the observations."""
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = self.env.agents
        own = self._vectors(infos)
        key = (self._chain[-1]._plan_key if self._chain else None, self._vectors_key(infos))
        plan = self._plans.get(key)
        if plan is None:
            plan = self._plan(own)
            self._plans[key] = plan
        self._plan_key = key
        self._tails, self._templates, self._heads = plan
        cat = np.concatenate
        obs = {agent: cat((o, own[agent])) for agent, o in obs.items()}
        return obs, self._extend_masks(infos, self._n_extra)

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Step the env below the indicators; every indicator's vector appended at once."""
        if not self._templates:
            raise RuntimeError("step() called before reset(): call reset() first")
        source = self._source
        obs, rew, term, trunc, infos = source.step(actions)
        agents = source.agents
        for wrapper in self._chain:
            wrapper.agents = agents
        self.agents = agents
        templates, heads = self._templates, self._heads
        out = {}
        for agent, o in obs.items():
            padded = templates[agent].copy()
            padded[heads[agent]] = o
            out[agent] = padded
        # _extend_masks, inlined: this loop runs on every step.
        if type(infos) is not Infos:
            infos = own_infos(infos)
        n = self._n_total
        cache = self._mask_cache[n]
        for agent, info in infos.items():
            inner = info.get("obs_mask")
            if inner is not None:
                hit = cache.get(agent)
                info["obs_mask"] = (
                    hit[1]
                    if hit is not None and hit[0] is inner
                    else self._extended(agent, inner, n)
                )
        return out, rew, term, trunc, infos

    def strip(self, obs: np.ndarray) -> np.ndarray:
        """The observation without this wrapper's entries (works on batches ``[..., D]``).

        Entries appended by indicators applied outside this one must be stripped first.
        """
        return np.asarray(obs)[..., : -self._n_extra]


class AgentIndicator(_AppendWrapper):
    """Append a one-hot agent id (index in ``possible_agents``) to every agent's observation.

    The id is appended as ``len(possible_agents)`` entries (1.0 at the agent's index), with bounds
    ``[0, 1]``. Apply it outside :class:`~wrappers.padding.PadAgents` (or
    :class:`~wrappers.multitask.MultiTaskEnv` with ``pad=True``) so the one-hot covers the padded
    agent count and means the same agent slot in every task; dummy agents get no observation, so
    their zeros stay zeros.

    Args:
        env: The ParallelEnv to wrap (flat ``Box`` observations).

    Raises:
        TypeError: For observations that are not flat ``Box`` spaces.
    """

    def __init__(self, env: ParallelEnv) -> None:
        super().__init__(env)
        n = len(self.possible_agents)
        self._setup_append(np.zeros(n), np.ones(n))
        eye = np.eye(n)
        self._onehot = {}
        for i, agent in enumerate(self.possible_agents):
            row = eye[i].astype(self._obs_spaces[agent].dtype)
            row.flags.writeable = False
            self._onehot[agent] = row

    def _vectors(self, infos: Mapping[str, Mapping[str, Any]]) -> Mapping[str, np.ndarray]:
        return self._onehot

    def _vectors_key(self, infos: Mapping[str, Mapping[str, Any]]) -> Any:
        return None


class TaskIndicator(_AppendWrapper):
    """Append the current task's identity to every agent's observation (on request only).

    Each agent's task comes from its ``infos[agent]["task_id"]`` at ``reset`` (set by
    :class:`~wrappers.multitask.MultiTaskEnv` and by every mt-envs env; in team envs agents play
    different tasks) and holds for the whole episode. Two encodings:

    * one-hot (default): ``n_tasks`` entries in ``[0, 1]``;
    * task context: ``context(task_id, task)`` returns a vector (for example the task's
      parameters); it is called once per task id and cached.

    Args:
        env: The ParallelEnv to wrap (flat ``Box`` observations, ``task_id`` in infos).
        n_tasks: Number of task ids; ``None``: the size of ``env.unwrapped.task_set``.
        context: ``(task_id, task) -> vector`` to append instead of a one-hot id.
        context_space: ``Box`` of the context vectors. ``None``: computed from the context of every
            task of ``env.unwrapped.task_set`` (bounds are their elementwise min and max).

    Raises:
        TypeError: For non-flat observations or a non-callable ``context``.
        ValueError: When the number of tasks or the context size cannot be known, or a context
            vector does not fit ``context_space``.
    """

    def __init__(
        self,
        env: ParallelEnv,
        n_tasks: int | None = None,
        *,
        context: ContextFn | None = None,
        context_space: Box | None = None,
    ) -> None:
        super().__init__(env)
        task_set = getattr(env.unwrapped, "task_set", None)
        if n_tasks is None:
            if task_set is None:
                raise ValueError(
                    f"TaskIndicator cannot tell how many tasks {type(env.unwrapped).__name__} "
                    "has (no task_set): pass n_tasks="
                )
            n_tasks = len(task_set)
        if isinstance(n_tasks, bool) or not isinstance(n_tasks, (int, np.integer)) or n_tasks < 1:
            raise ValueError(f"n_tasks={n_tasks!r} is invalid: need an int >= 1")
        self.n_tasks = int(n_tasks)
        self.context = context
        self._by_task: dict[int, np.ndarray] = {}
        dtype = next(iter(self._obs_spaces.values())).dtype
        self._dtype = dtype
        if context is None:
            eye = np.eye(self.n_tasks, dtype=dtype)
            eye.flags.writeable = False  # rows are read-only views
            self._by_task = dict(enumerate(eye))
            self.context_space: Box = Box(0.0, 1.0, (self.n_tasks,), dtype=dtype)  # type: ignore[arg-type]
        else:
            if not callable(context):
                raise TypeError(f"context must be a callable (task_id, task) -> vector: {context}")
            if context_space is None:
                if task_set is None:
                    raise ValueError(
                        "TaskIndicator(context=...) needs context_space= when the env has no "
                        "task_set to compute the contexts from"
                    )
                vecs = [self._context_vector(i, task_set[i]) for i in range(len(task_set))]
                if len({v.shape for v in vecs}) > 1:
                    shapes = {i: v.shape for i, v in enumerate(vecs)}
                    raise ValueError(f"context vectors differ in shape by task id: {shapes}")
                stacked = np.stack(vecs)
                context_space = Box(stacked.min(0), stacked.max(0), dtype=dtype)  # type: ignore[arg-type]
                self._by_task = dict(enumerate(vecs))
            elif not isinstance(context_space, Box) or len(context_space.shape) != 1:
                raise TypeError(f"context_space must be a flat Box, got {context_space!r}")
            self.context_space = context_space
        self._setup_append(self.context_space.low, self.context_space.high)
        self._zeros = np.zeros(self.context_space.shape, dtype=dtype)
        self._zeros.flags.writeable = False

    def _context_vector(self, task_id: int, task: Any) -> np.ndarray:
        assert self.context is not None
        raw = self.context(task_id, task)
        try:
            vec = np.asarray(raw, dtype=self._dtype)
        except (TypeError, ValueError):
            raise ValueError(
                f"context({task_id}, {task}) returned {raw!r}: need a flat vector of numbers"
            ) from None
        if not np.all(np.isfinite(vec)):
            raise ValueError(
                f"context({task_id}, {task}) returned {vec.tolist()}: entries must be finite"
            )
        space = getattr(self, "context_space", None)
        if vec.ndim != 1 or (space is not None and vec.shape != space.shape):
            want = "a flat vector" if space is None else f"shape {space.shape}"
            raise ValueError(f"context({task_id}, {task}) returned shape {vec.shape}: need {want}")
        if space is not None and not space.contains(vec):
            raise ValueError(f"context({task_id}, {task}) = {vec.tolist()} is outside {space}")
        vec.flags.writeable = False
        return vec

    def _vector(self, info: Mapping[str, Any]) -> np.ndarray:
        """The vector of the task named by one agent's reset info."""
        if "task_id" not in info:
            raise ValueError(
                "TaskIndicator needs infos[agent]['task_id'] from reset(): wrap the env in "
                "wrappers.MultiTaskEnv or use an mt-envs env"
            )
        task_id = int(info["task_id"])
        vec = self._by_task.get(task_id)
        if vec is None:
            if self.context is None or not 0 <= task_id < self.n_tasks:
                raise ValueError(
                    f"task_id {task_id} is outside the {self.n_tasks} task ids "
                    f"0..{self.n_tasks - 1} this TaskIndicator was built for: pass n_tasks="
                )
            vec = self._context_vector(task_id, info.get("task"))
            self._by_task[task_id] = vec
        return vec

    def _vectors(self, infos: Mapping[str, Mapping[str, Any]]) -> Mapping[str, np.ndarray]:
        # Each agent's own task: in team envs agents play different tasks. Agents absent at
        # reset take no part in the episode; they get zeros that are never shown.
        zeros = self._zeros
        return {
            agent: zeros if (info := infos.get(agent)) is None else self._vector(info)
            for agent in self.possible_agents
        }

    def _vectors_key(self, infos: Mapping[str, Mapping[str, Any]]) -> Any:
        return tuple(
            None if (info := infos.get(agent)) is None else int(info["task_id"])
            for agent in self.possible_agents
        )
