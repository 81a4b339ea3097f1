"""Distillation memories: the per-task regression CERTs of paper 000, section 5.2.

While the specialist team of task ``k`` plays task ``k``, every agent's observation ``o_t`` and
its teacher's Q-vector ``Q_t`` (computed from the teacher's own history) are stored, episode by
episode and with all agents side by side, in the memory of task ``k``
(:class:`DistillationMemory`, a FIFO over whole episodes). :class:`DistillationMemories` holds one
memory per task and stages the episodes in progress of the ``B`` environments of a batched env,
filing each finished episode under the task it was played in.

A minibatch holds ``M`` traces of ``tau`` consecutive steps, the same steps for every agent. As
for the CERTs of Dec-HDRQN, a trace of an episode with ``H_e + 1`` steps starts at ``t0`` uniform
in ``{-tau + 1, ..., H_e}``; steps outside the episode are dropped and the trace is zero-padded at
its end, with a mask. **Choices** (the paper says traces come "from all tasks"): each trace's task
is drawn uniformly among the tasks with data, so every task weighs the same whatever its episode
lengths; within a task, ``(episode, t0)`` pairs are drawn uniformly, so every stored step is used
equally often.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["DistillationBatch", "DistillationMemories", "DistillationMemory"]


class DistillationBatch(NamedTuple):
    """``M`` traces of ``tau`` steps for ``N`` agents (numpy arrays).

    Attributes:
        obs: ``float32 [M, tau, N, D]`` observations; zero where padded.
        teacher_q: ``float32 [M, tau, N, A]`` the teachers' Q-vectors; zero where padded.
        legal: ``bool [M, tau, N, A]`` legal actions; all ``True`` where padded.
        mask: ``float32 [M, tau, N]``: 1 for real steps of live agents, 0 for padding.
        task_id: ``int64 [M]`` the task of each trace (for diagnostics only: the student never
            sees it).
        length: ``int64 [M]`` real steps of each trace (``1 .. tau``).
    """

    obs: np.ndarray
    teacher_q: np.ndarray
    legal: np.ndarray
    mask: np.ndarray
    task_id: np.ndarray
    length: np.ndarray


def _positive_int(owner: str, name: str, value: object) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{owner} {name}={value!r} is invalid: need an int >= 1")
    return int(value)


class DistillationMemory:
    """FIFO of whole episodes of one task: observations and teacher Q-vectors of all agents.

    Args:
        capacity: Episodes kept (the oldest is dropped first).
        max_steps: Longest episode stored whole (a longer one is cut; use the task's horizon).
        num_agents: Agent slots ``N``.
        obs_dim: Observation size ``D``.
        n_actions: Number of actions ``A``.

    Raises:
        ValueError: If a size is not a positive int.
    """

    def __init__(
        self, capacity: int, max_steps: int, num_agents: int, obs_dim: int, n_actions: int
    ) -> None:
        owner = "DistillationMemory"
        self.capacity = e = _positive_int(owner, "capacity", capacity)
        self.max_steps = t = _positive_int(owner, "max_steps", max_steps)
        self.num_agents = n = _positive_int(owner, "num_agents", num_agents)
        self.obs_dim = d = _positive_int(owner, "obs_dim", obs_dim)
        self.n_actions = a = _positive_int(owner, "n_actions", n_actions)
        self.obs = np.zeros((e, t, n, d), dtype=np.float32)
        self.teacher_q = np.zeros((e, t, n, a), dtype=np.float32)
        self.legal = np.ones((e, t, n, a), dtype=bool)
        self.live = np.zeros((e, t, n), dtype=bool)
        self.lengths = np.zeros(e, dtype=np.int64)
        self.pos = 0
        self.full = False
        self.episodes_added = 0
        self._cum: np.ndarray | None = None

    @property
    def size(self) -> int:
        """Number of stored episodes."""
        return self.capacity if self.full else self.pos

    @property
    def num_steps(self) -> int:
        """Number of stored steps (over the stored episodes)."""
        return int(self.lengths[: self.size].sum())

    def __len__(self) -> int:
        return self.size

    def add_episode(
        self, obs: np.ndarray, teacher_q: np.ndarray, legal: np.ndarray, live: np.ndarray
    ) -> None:
        """Store one episode of ``L`` steps (``1 <= L <= max_steps``).

        Args:
            obs: ``[L, N, D]``.
            teacher_q: ``[L, N, A]``.
            legal: ``bool [L, N, A]``.
            live: ``bool [L, N]`` agents present at each step.

        Raises:
            ValueError: For an empty or too long episode or mismatched shapes.
        """
        length = int(np.shape(obs)[0])
        if not 1 <= length <= self.max_steps:
            raise ValueError(
                f"an episode of {length} steps does not fit: need 1..{self.max_steps} "
                "(raise max_steps to the task's horizon)"
            )
        n, d, a = self.num_agents, self.obs_dim, self.n_actions
        for name, arr, want in (
            ("obs", obs, (length, n, d)),
            ("teacher_q", teacher_q, (length, n, a)),
            ("legal", legal, (length, n, a)),
            ("live", live, (length, n)),
        ):
            if np.shape(arr) != want:
                raise ValueError(f"{name} has shape {np.shape(arr)}, expected {want}")
        slot = self.pos
        self.obs[slot, :length] = obs
        self.obs[slot, length:] = 0.0
        self.teacher_q[slot, :length] = teacher_q
        self.teacher_q[slot, length:] = 0.0
        self.legal[slot, :length] = legal
        self.legal[slot, length:] = True
        self.live[slot, :length] = live
        self.live[slot, length:] = False
        self.lengths[slot] = length
        self.pos = (self.pos + 1) % self.capacity
        self.full = self.full or self.pos == 0
        self.episodes_added += 1
        self._cum = None

    def sample_traces(
        self, count: int, trace_length: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, ...]:
        """Draw ``count`` traces (with replacement), ``(episode, t0)`` pairs uniformly.

        Args:
            count: Number of traces.
            trace_length: ``tau``.
            rng: The generator of the draws.

        Returns:
            ``(obs, teacher_q, legal, mask, length)`` as in :class:`DistillationBatch`.

        Raises:
            ValueError: If the memory is empty.
        """
        if self.size == 0:
            raise ValueError("DistillationMemory.sample_traces: the memory is empty")
        tau = trace_length
        lengths = self.lengths[: self.size]
        if self._cum is None:
            self._cum = np.cumsum(lengths + tau - 1)
        u = rng.integers(int(self._cum[-1]), size=count)
        episode = np.searchsorted(self._cum, u, side="right")
        start = u - (self._cum[episode] - (lengths[episode] + tau - 1)) - tau + 1
        first = np.maximum(start, 0)
        n_real = np.minimum(start + tau - 1, lengths[episode] - 1) - first + 1
        k = np.arange(tau)
        valid = k[None, :] < n_real[:, None]  # [M, tau]
        t_idx = np.minimum(first[:, None] + k, self.max_steps - 1)
        e_col = episode[:, None]
        obs = self.obs[e_col, t_idx] * valid[:, :, None, None]
        teacher_q = self.teacher_q[e_col, t_idx] * valid[:, :, None, None]
        legal = self.legal[e_col, t_idx] | ~valid[:, :, None, None]
        mask = self.live[e_col, t_idx] & valid[:, :, None]
        return (
            obs.astype(np.float32, copy=False),
            teacher_q.astype(np.float32, copy=False),
            legal,
            mask.astype(np.float32),
            n_real.astype(np.int64),
        )


class DistillationMemories:
    """One :class:`DistillationMemory` per task, fed by the stream of a batched env.

    Args:
        n_tasks: Number of tasks (memory ``k`` holds the episodes of task ``k``).
        capacity: Episodes kept per task.
        max_steps: Longest episode stored whole.
        num_envs: Environments ``B`` of the stream given to :meth:`add`.
        num_agents: Agent slots ``N``.
        obs_dim: Observation size ``D``.
        n_actions: Number of actions ``A``.

    Raises:
        ValueError: If a size is not a positive int.
    """

    def __init__(
        self,
        n_tasks: int,
        capacity: int,
        max_steps: int,
        num_envs: int,
        num_agents: int,
        obs_dim: int,
        n_actions: int,
    ) -> None:
        owner = "DistillationMemories"
        self.n_tasks = _positive_int(owner, "n_tasks", n_tasks)
        self.num_envs = b = _positive_int(owner, "num_envs", num_envs)
        self.max_steps = t = _positive_int(owner, "max_steps", max_steps)
        self.memories = [
            DistillationMemory(capacity, max_steps, num_agents, obs_dim, n_actions)
            for _ in range(self.n_tasks)
        ]
        n, d, a = num_agents, obs_dim, n_actions
        self._s_obs = np.zeros((b, t, n, d), dtype=np.float32)
        self._s_q = np.zeros((b, t, n, a), dtype=np.float32)
        self._s_legal = np.ones((b, t, n, a), dtype=bool)
        self._s_live = np.zeros((b, t, n), dtype=bool)
        self._s_task = np.zeros(b, dtype=np.int64)
        self._s_len = np.zeros(b, dtype=np.int64)
        self._rows = np.arange(b)

    def __getitem__(self, task_id: int) -> DistillationMemory:
        return self.memories[task_id]

    def __len__(self) -> int:
        return self.n_tasks

    @property
    def sizes(self) -> list[int]:
        """Stored episodes per task."""
        return [m.size for m in self.memories]

    def reset_staging(self) -> None:
        """Drop the episodes in progress (when the env is reset outside the stream)."""
        self._s_len[:] = 0

    def add(
        self,
        obs: np.ndarray,
        teacher_q: np.ndarray,
        legal: np.ndarray,
        live: np.ndarray,
        task_id: np.ndarray,
        done: np.ndarray,
    ) -> int:
        """Stage one step of all ``B`` environments; file the episodes that ended.

        Args:
            obs: ``[B, N, D]`` the observations the teachers acted on.
            teacher_q: ``[B, N, A]`` the teachers' Q-vectors at those observations.
            legal: ``bool [B, N, A]`` legal actions at those observations.
            live: ``bool [B, N]`` live agents.
            task_id: ``int [B]`` the task each environment's episode is played in.
            done: ``bool [B]``: the episode ended with this step.

        Returns:
            The number of episodes filed (an episode longer than ``max_steps`` is filed in
            pieces).
        """
        rows, t = self._rows, self._s_len
        self._s_obs[rows, t] = obs
        self._s_q[rows, t] = teacher_q
        self._s_legal[rows, t] = legal
        self._s_live[rows, t] = live
        starting = t == 0
        self._s_task[starting] = np.asarray(task_id)[starting]
        t += 1
        ended = np.asarray(done, dtype=bool) | (t >= self.max_steps)
        if not ended.any():
            return 0
        idx = np.flatnonzero(ended)
        for b in idx:  # few episodes end per step
            length = int(t[b])
            self.memories[int(self._s_task[b])].add_episode(
                self._s_obs[b, :length],
                self._s_q[b, :length],
                self._s_legal[b, :length],
                self._s_live[b, :length],
            )
        t[idx] = 0
        return int(idx.size)

    def sample(
        self, batch_size: int, trace_length: int, rng: np.random.Generator
    ) -> DistillationBatch:
        """Draw ``batch_size`` traces from all tasks (each trace's task uniform among the tasks
        with data).

        Args:
            batch_size: Number of traces ``M``.
            trace_length: ``tau``.
            rng: The generator of the draws.

        Returns:
            The traces, zero-padded at the end, with masks.

        Raises:
            ValueError: If no episode is stored yet.
        """
        _positive_int("DistillationMemories.sample", "batch_size", batch_size)
        _positive_int("DistillationMemories.sample", "trace_length", trace_length)
        have = np.flatnonzero(np.asarray(self.sizes) > 0)
        if have.size == 0:
            raise ValueError(
                "DistillationMemories.sample: no episode is stored yet (collect data first: "
                "raise learning_starts)"
            )
        tasks = have[rng.integers(have.size, size=batch_size)]
        parts: list[tuple[np.ndarray, ...]] = []
        order: list[np.ndarray] = []
        for k in np.unique(tasks):
            where = np.flatnonzero(tasks == k)
            parts.append(self.memories[int(k)].sample_traces(where.size, trace_length, rng))
            order.append(where)
        # Put the traces back in draw order, so the batch does not depend on task grouping.
        position = np.argsort(np.concatenate(order), kind="stable")
        cols = [np.concatenate([p[i] for p in parts])[position] for i in range(5)]
        return DistillationBatch(
            obs=cols[0],
            teacher_q=cols[1],
            legal=cols[2],
            mask=cols[3],
            task_id=tasks.astype(np.int64),
            length=cols[4],
        )
