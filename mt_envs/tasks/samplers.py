"""Task samplers: which task each new episode plays.

Every sampler owns a ``numpy.random.Generator`` seeded by :meth:`TaskSampler.seed`, separate from
the environment's dynamics generator, so the task stream can be reproduced (or held fixed) on its
own. Samplers are small stateful objects; environments copy the sampler they are given, so one
sampler object can configure several environments without sharing state.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from mt_envs.utils import unknown_name_error


class TaskSampler:
    """Base class. Subclasses implement :meth:`_sample`.

    Attributes:
        n_tasks: Number of tasks, set by :meth:`bind`.
        episodes: Number of episodes sampled so far (since the last :meth:`seed`).
    """

    def __init__(self) -> None:
        self.n_tasks = 0
        self.episodes = 0
        self.rng = np.random.default_rng()

    def bind(self, n_tasks: int) -> TaskSampler:
        """Attach to a task set of ``n_tasks`` tasks; validates the sampler's parameters."""
        if n_tasks < 1:
            raise ValueError(f"a sampler needs at least one task, got n_tasks={n_tasks}")
        self.n_tasks = int(n_tasks)
        self._check()
        return self

    def _check(self) -> None:
        """Validate parameters against ``n_tasks``."""

    def seed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Reseed the sampler's own generator and restart its episode count."""
        self.rng = np.random.default_rng(seed)
        self.episodes = 0

    def sample(self, k: int = 1) -> np.ndarray:
        """Task ids of the next ``k`` episodes, as an ``int64`` array."""
        if self.n_tasks < 1:
            raise RuntimeError("sampler is not bound to a task set: call bind(n_tasks) first")
        out = np.asarray(self._sample(k), dtype=np.int64)
        self.episodes += k
        return out

    def _sample(self, k: int) -> np.ndarray:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Uniform(TaskSampler):
    """Each episode's task uniformly at random."""

    def _sample(self, k: int) -> np.ndarray:
        return self.rng.integers(0, self.n_tasks, size=k)


class RoundRobin(TaskSampler):
    """Tasks in order 0, 1, ..., n-1, 0, ... (reseeding restarts at task 0)."""

    def _sample(self, k: int) -> np.ndarray:
        return (self.episodes + np.arange(k)) % self.n_tasks


class Fixed(TaskSampler):
    """Always task ``index``."""

    def __init__(self, index: int) -> None:
        super().__init__()
        if not isinstance(index, (int, np.integer)) or isinstance(index, bool):
            raise TypeError(f"fixed(index) needs an int task id, got {index!r}")
        self.index = int(index)

    def _check(self) -> None:
        if not 0 <= self.index < self.n_tasks:
            raise ValueError(
                f"fixed task id {self.index} out of range: valid ids are 0..{self.n_tasks - 1}"
            )

    def _sample(self, k: int) -> np.ndarray:
        return np.full(k, self.index)

    def __repr__(self) -> str:
        return f"Fixed({self.index})"


def _check_probs(p: np.ndarray, n_tasks: int, what: str) -> np.ndarray:
    if p.ndim != 1 or p.shape[0] != n_tasks:
        raise ValueError(f"{what}: expected {n_tasks} probabilities (one per task), got {p.shape}")
    if not np.all(np.isfinite(p)) or np.any(p < 0):
        raise ValueError(f"{what}: probabilities must be finite and >= 0, got {p.tolist()}")
    if not np.isclose(p.sum(), 1.0, atol=1e-6):
        raise ValueError(f"{what}: probabilities must sum to 1, got sum {p.sum():.6g}")
    return p / p.sum()


class Weighted(TaskSampler):
    """Each episode's task drawn with fixed probabilities ``p`` (one per task, summing to 1)."""

    def __init__(self, p: Sequence[float]) -> None:
        super().__init__()
        self.p = np.asarray(p, dtype=np.float64)

    def _check(self) -> None:
        self.p = _check_probs(self.p, self.n_tasks, "weighted(p)")

    def _sample(self, k: int) -> np.ndarray:
        return self.rng.choice(self.n_tasks, size=k, p=self.p)

    def __repr__(self) -> str:
        return f"Weighted({self.p.tolist()})"


class Curriculum(TaskSampler):
    """A task schedule given by a callable.

    Args:
        schedule: Called as ``schedule(episode)`` with the number of episodes sampled so far. It
            returns either a task id (``int``) or a probability vector over tasks, from which the
            task is drawn with the sampler's generator.
    """

    def __init__(self, schedule: Callable[[int], int | Sequence[float] | np.ndarray]) -> None:
        super().__init__()
        if not callable(schedule):
            raise TypeError(f"curriculum(schedule) needs a callable, got {schedule!r}")
        self.schedule = schedule

    def _sample(self, k: int) -> np.ndarray:
        out = np.empty(k, dtype=np.int64)
        for j in range(k):
            choice: Any = self.schedule(self.episodes + j)
            if isinstance(choice, (int, np.integer)) and not isinstance(choice, bool):
                if not 0 <= int(choice) < self.n_tasks:
                    raise ValueError(
                        f"curriculum returned task id {choice}; valid ids are 0..{self.n_tasks - 1}"
                    )
                out[j] = int(choice)
            else:
                p = _check_probs(np.asarray(choice, dtype=np.float64), self.n_tasks, "curriculum")
                out[j] = self.rng.choice(self.n_tasks, p=p)
        return out


def uniform() -> Uniform:
    """Uniformly random tasks."""
    return Uniform()


def round_robin() -> RoundRobin:
    """Tasks in turn."""
    return RoundRobin()


def fixed(index: int) -> Fixed:
    """Always the same task."""
    return Fixed(index)


def weighted(p: Sequence[float]) -> Weighted:
    """Tasks drawn with probabilities ``p``."""
    return Weighted(p)


def curriculum(schedule: Callable[[int], int | Sequence[float] | np.ndarray]) -> Curriculum:
    """Tasks chosen by ``schedule(episode)`` (a task id or a probability vector)."""
    return Curriculum(schedule)


_BY_NAME: dict[str, Callable[[], TaskSampler]] = {"uniform": Uniform, "round_robin": RoundRobin}


def make_sampler(
    spec: str | TaskSampler, n_tasks: int, seed: int | np.random.SeedSequence | None = None
) -> TaskSampler:
    """A fresh sampler bound to ``n_tasks`` tasks.

    Args:
        spec: ``"uniform"``, ``"round_robin"``, or a sampler object (copied, so the caller's
            object is never mutated by an environment).
        n_tasks: The number of tasks.
        seed: Seed of the sampler's own generator.
    """
    if isinstance(spec, str):
        if spec not in _BY_NAME:
            raise unknown_name_error(
                "sampler", spec, [*_BY_NAME, "weighted(p)", "fixed(i)", "curriculum(fn)"]
            )
        sampler = _BY_NAME[spec]()
    elif isinstance(spec, TaskSampler):
        sampler = copy.deepcopy(spec)
    else:
        raise TypeError(
            f"sampler must be a name ('uniform', 'round_robin') or a TaskSampler, got {spec!r}"
        )
    sampler.bind(n_tasks)
    sampler.seed(seed)
    return sampler
