"""Concurrent experience replay trajectories (CERTs, paper 000, section 5.1.2-5.1.3).

One replay of whole episodes holding all agents' transitions side by side (figure 1a): a FIFO over
episodes (the oldest is dropped first) stored in numpy ring arrays of shape
``[capacity, max_steps (+1), N, ...]``. The batched env's auto-reset stream feeds it: each of the
``B`` environments fills its own staging row, and an episode is copied into the ring when it ends.

A minibatch (figure 1b) picks episodes and, for each, one start ``t0`` uniform in
``{-tau + 1, ..., H_e}`` (``H_e`` is the index of the episode's last transition), the same for
every agent because all agents' transitions are one row. Elements outside the episode are
discarded and the trace is zero-padded at the end (suffix), so a trace starting before the episode
starts at its first step, where the zero LSTM state it is unrolled from is the true one.

**Choice** (``sampling="transition"``, the default): episodes are drawn with probability
proportional to their number of start times ``H_e + tau``, that is, ``(episode, t0)`` pairs are
drawn uniformly. Then every stored transition, in long and short episodes alike, is used with the
same probability ``tau / sum_e (H_e + tau)`` per trace, which is the paper's stated goal.
``sampling="episode"`` draws episodes uniformly (transitions of short episodes are then used more).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

import numpy as np

CertSampling = Literal["transition", "episode"]


class CERTBatch(NamedTuple):
    """A minibatch of ``M`` traces of length ``tau`` for ``N`` agents (numpy arrays).

    Attributes:
        obs: ``float32 [M, tau + 1, N, D]``: observations ``o_t0 .. o_t0+tau`` (the last one is
            the next observation of the last transition); zero where padded.
        actions: ``int64 [M, tau, N]``; zero where padded.
        rewards: ``float32 [M, tau, N]``; zero where padded.
        terminated: ``float32 [M, tau, N]``: 1 where the transition ends the episode by
            termination (no bootstrap); time-limit truncation stays 0 (bootstrap).
        mask: ``float32 [M, tau, N]``: 1 for real transitions of live agents, 0 for padding.
        next_action_mask: ``bool [M, tau, N, A]``: legal actions at the next observation.
        episode: ``int64 [M]``: ring slot of each trace's episode.
        start: ``int64 [M]``: the drawn ``t0`` (may be negative).
        length: ``int64 [M]``: number of real transitions in each trace (``1 .. tau``).
    """

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    mask: np.ndarray
    next_action_mask: np.ndarray
    episode: np.ndarray
    start: np.ndarray
    length: np.ndarray


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
        raise ValueError(f"CERTBuffer {name}={value!r} is invalid: need an int >= 1")
    return int(value)


class CERTBuffer:
    """FIFO replay of whole episodes of ``N`` agents, sampled as concurrent traces.

    Args:
        capacity: Episodes kept (the oldest is dropped first).
        max_steps: Longest episode stored whole. A longer episode is cut into pieces of
            ``max_steps`` transitions; each cut is stored as a time-limit truncation (the value
            of the next observation is bootstrapped) and the next piece starts from a zero LSTM
            state. Use the env's horizon so that this never happens.
        num_envs: Environments ``B`` of the stream passed to :meth:`add`.
        num_agents: Agent slots ``N``.
        obs_dim: Observation size ``D``.
        n_actions: Number of actions ``A``.
        trace_length: ``tau``.
        sampling: ``"transition"`` (every stored transition equally likely to be used) or
            ``"episode"`` (episodes drawn uniformly); see the module docstring.

    Raises:
        ValueError: If a size is not a positive int or ``sampling`` is unknown.
    """

    def __init__(
        self,
        capacity: int,
        max_steps: int,
        num_envs: int,
        num_agents: int,
        obs_dim: int,
        n_actions: int,
        trace_length: int = 4,
        sampling: CertSampling = "transition",
    ) -> None:
        self.capacity = _positive_int("capacity", capacity)
        self.max_steps = _positive_int("max_steps", max_steps)
        self.num_envs = _positive_int("num_envs", num_envs)
        self.num_agents = n = _positive_int("num_agents", num_agents)
        self.obs_dim = d = _positive_int("obs_dim", obs_dim)
        self.n_actions = a = _positive_int("n_actions", n_actions)
        self.trace_length = _positive_int("trace_length", trace_length)
        if sampling not in ("transition", "episode"):
            raise ValueError(
                f"CERTBuffer sampling={sampling!r} is invalid: need 'transition' or 'episode'"
            )
        self.sampling: CertSampling = sampling
        e, t = self.capacity, self.max_steps
        # Ring over episodes. Position t of obs / action_mask is o_t; position len is the
        # observation after the last transition.
        self.obs = np.zeros((e, t + 1, n, d), dtype=np.float32)
        self.action_mask = np.zeros((e, t + 1, n, a), dtype=bool)
        self.actions = np.zeros((e, t, n), dtype=np.int64)
        self.rewards = np.zeros((e, t, n), dtype=np.float32)
        self.terminated = np.zeros((e, t, n), dtype=bool)
        self.truncated = np.zeros((e, t, n), dtype=bool)
        self.agent_mask = np.zeros((e, t, n), dtype=bool)
        self.lengths = np.zeros(e, dtype=np.int64)
        self.task_id = np.zeros(e, dtype=np.int64)
        self.pos = 0  # next ring slot to write
        self.full = False
        self.episodes_added = 0
        # Staging: the episode in progress of each environment.
        b = self.num_envs
        self._s_obs = np.zeros((b, t + 1, n, d), dtype=np.float32)
        self._s_action_mask = np.zeros((b, t + 1, n, a), dtype=bool)
        self._s_actions = np.zeros((b, t, n), dtype=np.int64)
        self._s_rewards = np.zeros((b, t, n), dtype=np.float32)
        self._s_terminated = np.zeros((b, t, n), dtype=bool)
        self._s_truncated = np.zeros((b, t, n), dtype=bool)
        self._s_agent_mask = np.zeros((b, t, n), dtype=bool)
        self._s_task = np.zeros(b, dtype=np.int64)
        self._s_len = np.zeros(b, dtype=np.int64)
        self._rows = np.arange(b)
        self._cum: np.ndarray | None = None  # cumulative start-time counts, rebuilt lazily

    @property
    def size(self) -> int:
        """Number of complete episodes stored."""
        return self.capacity if self.full else self.pos

    @property
    def num_transitions(self) -> int:
        """Number of transitions in the stored episodes."""
        return int(self.lengths[: self.size].sum())

    def __len__(self) -> int:
        return self.size

    def reset_staging(self) -> None:
        """Drop the episodes in progress (call when the env is reset outside the stream)."""
        self._s_len[:] = 0

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        next_obs: np.ndarray,
        done: np.ndarray,
        agent_mask: np.ndarray,
        action_mask: np.ndarray,
        task_id: np.ndarray,
    ) -> int:
        """Append one step of all ``B`` environments; store the episodes that ended.

        Args:
            obs: ``[B, N, D]`` observations the actions were chosen from.
            actions: ``int [B, N]``.
            rewards: ``[B, N]``.
            terminated: ``bool [B, N]``.
            truncated: ``bool [B, N]``.
            next_obs: ``[B, N, D]`` observations after the step, before any auto-reset
                (``info["final_obs"]``).
            done: ``bool [B]``: an episode ended in this step (``info["_final"]``).
            agent_mask: ``bool [B, N]`` of ``obs`` (live agents).
            action_mask: ``bool [B, N, A]`` of ``obs``. The ring reuses the last step's mask
                for the observation after an episode's last transition.
            task_id: ``int [B]`` task of each environment's episode.

        Returns:
            The number of episodes (or pieces of over-long episodes) stored.
        """
        rows, t = self._rows, self._s_len
        self._s_obs[rows, t] = obs
        self._s_action_mask[rows, t] = action_mask
        self._s_actions[rows, t] = actions
        self._s_rewards[rows, t] = rewards
        self._s_terminated[rows, t] = terminated
        self._s_truncated[rows, t] = truncated
        self._s_agent_mask[rows, t] = agent_mask
        self._s_task[t == 0] = np.asarray(task_id)[t == 0]
        t += 1
        ended = np.asarray(done, dtype=bool) | (t >= self.max_steps)
        if not ended.any():
            return 0
        idx = np.flatnonzero(ended)
        cut = idx[~np.asarray(done, dtype=bool)[idx]]
        if cut.size:
            self._s_truncated[cut, self.max_steps - 1] |= self._s_agent_mask[
                cut, self.max_steps - 1
            ]
        self._s_obs[idx, t[idx]] = np.asarray(next_obs)[idx]
        self._s_action_mask[idx, t[idx]] = np.asarray(action_mask)[idx]
        self._commit(idx)
        return int(idx.size)

    def _commit(self, idx: np.ndarray) -> None:
        for b in idx:  # few episodes end per step; whole rows are copied
            slot, n_t = self.pos, int(self._s_len[b])
            self.obs[slot] = self._s_obs[b]
            self.action_mask[slot] = self._s_action_mask[b]
            self.actions[slot] = self._s_actions[b]
            self.rewards[slot] = self._s_rewards[b]
            self.terminated[slot] = self._s_terminated[b]
            self.truncated[slot] = self._s_truncated[b]
            self.agent_mask[slot] = self._s_agent_mask[b]
            # Zero what lies past the episode so a slot never mixes in an older episode.
            self.obs[slot, n_t + 1 :] = 0.0
            self.action_mask[slot, n_t + 1 :] = False
            self.actions[slot, n_t:] = 0
            self.rewards[slot, n_t:] = 0.0
            self.terminated[slot, n_t:] = False
            self.truncated[slot, n_t:] = False
            self.agent_mask[slot, n_t:] = False
            self.lengths[slot] = n_t
            self.task_id[slot] = self._s_task[b]
            self.pos = (self.pos + 1) % self.capacity
            self.full = self.full or self.pos == 0
            self.episodes_added += 1
        self._s_len[idx] = 0
        self._cum = None

    def sample(self, batch_size: int, rng: np.random.Generator) -> CERTBatch:
        """Draw ``batch_size`` concurrent traces (with replacement).

        Args:
            batch_size: Number of traces ``M``.
            rng: The generator of the draws (one per learner, so runs are reproducible).

        Returns:
            The traces, padded at the end, with masks (see :class:`CERTBatch`).

        Raises:
            ValueError: If no episode is stored yet.
        """
        size, tau = self.size, self.trace_length
        if size == 0:
            raise ValueError(
                "CERTBuffer.sample: no complete episode is stored yet: add episodes first "
                "(raise learning_starts)"
            )
        lengths = self.lengths[:size]
        episode: np.ndarray
        start: np.ndarray
        if self.sampling == "transition":
            if self._cum is None:
                self._cum = np.cumsum(lengths + tau - 1)
            u = rng.integers(int(self._cum[-1]), size=batch_size)
            episode = np.searchsorted(self._cum, u, side="right")
            start = u - (self._cum[episode] - (lengths[episode] + tau - 1)) - tau + 1
        else:
            episode = rng.integers(size, size=batch_size)
            start = rng.integers(-tau + 1, lengths[episode])  # H_e = length - 1, inclusive
        ep_len = lengths[episode]
        first = np.maximum(start, 0)
        n_real = np.minimum(start + tau - 1, ep_len - 1) - first + 1
        k = np.arange(tau + 1)
        t_obs = first[:, None] + k  # [M, tau + 1]
        obs_valid = k[None, :] <= n_real[:, None]
        valid = obs_valid[:, :tau] & (k[None, :tau] < n_real[:, None])
        e_col = episode[:, None]
        t_obs = np.minimum(t_obs, self.max_steps)
        t_step = np.minimum(t_obs[:, :tau], self.max_steps - 1)
        obs = self.obs[e_col, t_obs] * obs_valid[:, :, None, None]
        next_action_mask = self.action_mask[e_col, t_obs[:, 1:]] & valid[:, :, None, None]
        mask = self.agent_mask[e_col, t_step] & valid[:, :, None]
        actions = np.where(mask, self.actions[e_col, t_step], 0)
        rewards = np.where(mask, self.rewards[e_col, t_step], np.float32(0.0))
        terminated = self.terminated[e_col, t_step] & mask
        return CERTBatch(
            obs=obs.astype(np.float32, copy=False),
            actions=actions,
            rewards=rewards.astype(np.float32, copy=False),
            terminated=terminated.astype(np.float32),
            mask=mask.astype(np.float32),
            next_action_mask=next_action_mask,
            episode=episode.astype(np.int64, copy=False),
            start=start.astype(np.int64, copy=False),
            length=n_real.astype(np.int64, copy=False),
        )
