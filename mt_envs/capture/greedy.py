"""The scripted greedy chaser: a baseline, a sanity check of the dynamics, and a test oracle.

Each agent heads for its own target (MAMT: the target of its assignment; MAST: the one target) by
the shortest toroidal path. It is decentralised and acts from its own observation, but it reads
the task (grid side and assignment) from ``infos[agent]["task"]`` / ``info["task_id"]``: privileged
training-time information that learners in the paper's setting do not get.

Tie-breaks (documented so results are reproducible):

* it moves along the axis with the larger remaining toroidal distance, the row axis (N/S) first
  when both are equal;
* when a target is exactly half the grid away along an axis, it goes the positive way (S or E);
* when its observation flickers, it chases the last position where it saw its target; before it
  has seen the target at all it stays put; on the target it stays put.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mt_envs.capture.task import EAST, NORTH, SOUTH, STAY, WEST, CaptureTask
from mt_envs.tasks import TaskSet


def greedy_actions(own: np.ndarray, target: np.ndarray, m: np.ndarray | int) -> np.ndarray:
    """Greedy moves from cells ``own`` to cells ``target`` (``int [..., 2]`` rows and columns)
    on toroidal grids of side ``m`` (broadcast against ``own[..., 0]``)."""
    m = np.asarray(m)
    dr = (target[..., 0] - own[..., 0]) % m
    dc = (target[..., 1] - own[..., 1]) % m
    row_dist = np.minimum(dr, m - dr)
    col_dist = np.minimum(dc, m - dc)
    row_move = np.where(dr <= m - dr, SOUTH, NORTH)
    col_move = np.where(dc <= m - dc, EAST, WEST)
    act = np.where(row_dist >= col_dist, row_move, col_move)
    return np.where((row_dist == 0) & (col_dist == 0), STAY, act).astype(np.int64)


class GreedyPolicy:
    """Greedy chaser for a capture env, batched (``act``) or PettingZoo-dict (``__call__``).

    Args:
        task_set: The env's task set (``env.task_set``); used to read the grid side and the
            assignment of each task id.
        obs_encoding: The env's observation encoding, ``"coords"`` or ``"onehot"``.
    """

    def __init__(self, task_set: TaskSet, obs_encoding: str = "coords") -> None:
        tasks = [t for t in task_set if isinstance(t, CaptureTask)]
        if len(tasks) != len(task_set):
            raise TypeError("GreedyPolicy needs a task set of CaptureTask tasks")
        self.n_agents = max(t.n_agents for t in tasks)
        self.n_targets = max(t.n_targets for t in tasks)
        self.grid_max = max(t.grid_size for t in tasks)
        self.obs_encoding = obs_encoding
        self.m = np.array([t.grid_size for t in tasks], dtype=np.int64)
        self.assignment = np.zeros((len(tasks), self.n_agents), dtype=np.int64)
        for i, t in enumerate(tasks):
            self.assignment[i, : t.n_agents] = t.assignment or ()
        self._memory = np.zeros((0, self.n_agents, 2), dtype=np.int64)
        self._seen = np.zeros((0, self.n_agents), dtype=bool)

    @classmethod
    def for_env(cls, env: Any) -> GreedyPolicy:
        """The greedy policy of a capture ParallelEnv or vector env (wrappers are unwrapped)."""
        base = getattr(env, "unwrapped", env)
        return cls(base.task_set, base.obs_encoding)

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        """Forget remembered target positions (all, or of ``env_ids``) at episode starts."""
        if env_ids is None:
            self._seen[:] = False
        else:
            self._seen[env_ids] = False

    def _decode(self, obs: np.ndarray, m: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        b, n = obs.shape[:2]
        asg = self.assignment_for
        if self.obs_encoding == "coords":
            scale = (m - 1)[:, None, None]
            own = np.rint(obs[:, :, 1::-1] * scale).astype(np.int64)  # (row, col)
            tgt = obs[:, :, 2:].reshape(b, n, self.n_targets, 3)
            mine = np.take_along_axis(tgt, asg[:, :, None, None], axis=2)[:, :, 0]
            target = np.rint(mine[:, :, 1::-1] * scale).astype(np.int64)
            visible = mine[:, :, 2] > 0.5
        else:
            big = self.grid_max
            grids = obs.reshape(b, n, 1 + self.n_targets, big * big)
            cell = grids[:, :, 0].argmax(-1)
            own = np.stack([cell // big, cell % big], -1)
            mine = np.take_along_axis(grids[:, :, 1:], asg[:, :, None, None], axis=2)[:, :, 0]
            visible = mine.max(-1) > 0.5
            tcell = mine.argmax(-1)
            target = np.stack([tcell // big, tcell % big], -1)
        return own, target, visible

    def act(
        self, obs: np.ndarray, task_id: np.ndarray, episode_start: np.ndarray | None = None
    ) -> np.ndarray:
        """Actions ``int [B, N]`` for observations ``[B, N, D]`` of tasks ``task_id [B]``.

        Args:
            obs: Batched observations.
            task_id: Task id of each environment.
            episode_start: ``bool [B]``, True where an episode starts (memory is cleared).
        """
        obs = np.asarray(obs)
        task_id = np.asarray(task_id, dtype=np.int64)
        b = obs.shape[0]
        if self._memory.shape[0] != b:
            self._memory = np.zeros((b, self.n_agents, 2), dtype=np.int64)
            self._seen = np.zeros((b, self.n_agents), dtype=bool)
        if episode_start is not None:
            self._seen[np.asarray(episode_start, dtype=bool)] = False
        m = self.m[task_id]
        self.assignment_for = self.assignment[task_id]
        own, target, visible = self._decode(obs, m)
        self._memory = np.where(visible[..., None], target, self._memory)
        self._seen |= visible
        act = greedy_actions(own, self._memory, m[:, None])
        return np.where(self._seen, act, STAY)

    def __call__(
        self, observations: Mapping[str, np.ndarray], infos: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, int]:
        """PettingZoo form: ``{agent: obs}`` and the env's infos in, ``{agent: action}`` out.

        Call :meth:`reset` after each ``env.reset()``.
        """
        agents = list(observations)
        if not agents:
            return {}
        task_id = int(infos[agents[0]]["task_id"])
        obs = np.zeros((1, self.n_agents, len(observations[agents[0]])), dtype=np.float32)
        for agent in agents:
            obs[0, int(agent.rsplit("_", 1)[1])] = observations[agent]
        act = self.act(obs, np.array([task_id]))[0]
        return {agent: int(act[int(agent.rsplit("_", 1)[1])]) for agent in agents}
