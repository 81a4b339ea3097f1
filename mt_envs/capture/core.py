"""The capture simulation, on numpy arrays over a batch axis.

Two kernels run the same dynamics and read the same random numbers in the same order:

* :class:`BatchCore` steps ``B`` environments at once with vectorised numpy (the vector API);
* :class:`SingleCore` steps one environment in plain Python (the ParallelEnv).

Why two: at ``B = 1`` every numpy call costs about a microsecond of overhead and a step needs
dozens of them, so the vectorised kernel runs a single environment several times slower than plain
Python arithmetic. Both kernels draw their uniforms from one generator with identical shapes and
order, so for one environment and one seed they produce bit-identical trajectories; a test checks it
over many seeds and tasks.

Random draws, per environment, in this order:

* reset: ``2 * (N + T)`` uniforms for agent then target cells (``floor(u * m)``, row then column),
  repeated while the team is captured at reset; then the observation draws;
* step: ``N`` slip uniforms, ``T`` target-move uniforms, ``T`` evasive coins and, only when a task of
  the set is evasive, ``5 * T`` tie-break uniforms; then the observation draws;
* observation: ``N`` flicker uniforms.

``N``, ``T`` are the largest agent and target counts of the task set; padded agents and targets
consume draws but never move and are never observed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mt_envs.capture.task import STAY, CaptureTask
from mt_envs.tasks import TaskSet

#: Row / column change of each action (north is row - 1).
DELTA = np.array([[-1, 0], [1, 0], [0, 1], [0, -1], [0, 0]], dtype=np.int64)
#: The two perpendicular directions a move may slip to (STAY maps to itself).
PERP = np.array([[2, 3], [2, 3], [0, 1], [0, 1], [4, 4]], dtype=np.int64)
_DELTA_PY = [tuple(int(v) for v in d) for d in DELTA]
_PERP_PY = [tuple(int(v) for v in p) for p in PERP]

OBS_ENCODINGS = ("coords", "onehot")


class TaskTable:
    """Per-task parameters of a capture task set as arrays indexed by task id."""

    def __init__(self, task_set: TaskSet) -> None:
        tasks: list[CaptureTask] = []
        for i, t in enumerate(task_set):
            if not isinstance(t, CaptureTask):
                raise TypeError(
                    f"task {i} of set {task_set.name!r} is a {type(t).__name__}; the capture "
                    "envs take CaptureTask tasks only"
                )
            tasks.append(t)
        self.tasks = tasks
        self.n_agents_max = max(t.n_agents for t in tasks)
        self.n_targets_max = max(t.n_targets for t in tasks)
        self.grid_max = max(t.grid_size for t in tasks)
        n, tt = self.n_agents_max, self.n_targets_max
        self.m = np.array([t.grid_size for t in tasks], dtype=np.int64)
        self.n_agents = np.array([t.n_agents for t in tasks], dtype=np.int64)
        self.n_targets = np.array([t.n_targets for t in tasks], dtype=np.int64)
        self.flicker = np.array([t.flicker for t in tasks], dtype=np.float64)
        self.slip = np.array([t.slip for t in tasks], dtype=np.float64)
        self.half_slip = self.slip * 0.5
        self.evasive = np.array([t.evasive for t in tasks], dtype=np.float64)
        self.horizon = np.array([t.horizon for t in tasks], dtype=np.int64)
        p = np.array([t.target_policy for t in tasks], dtype=np.float64)
        cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
        cum[:, -1] = 1.0
        #: Thresholds: the target move is the number of thresholds <= u.
        self.cum = cum[:, :4].copy()
        self.assignment = np.zeros((len(tasks), n), dtype=np.int64)
        self.live = np.zeros((len(tasks), n), dtype=bool)
        self.target_live = np.zeros((len(tasks), tt), dtype=bool)
        for i, t in enumerate(tasks):
            self.assignment[i, : t.n_agents] = t.assignment or ()
            self.live[i, : t.n_agents] = True
            self.target_live[i, : t.n_targets] = True
        self.any_evasive = bool(np.any(self.evasive > 0))
        self.step_draws = n + 2 * tt + (5 * tt if self.any_evasive else 0)
        self.reset_draws = 2 * (n + tt)


def _toroidal(d: np.ndarray, m: np.ndarray) -> np.ndarray:
    d = np.abs(d)
    return np.minimum(d, m - d)


class BatchCore:
    """``B`` capture environments stepped together.

    State (all ``int64``): ``pos [B, N, 2]`` agent (row, col), ``tpos [B, T, 2]`` target (row, col),
    ``t [B]`` steps taken, ``task_id [B]``. Padded agents and targets sit at (0, 0).
    """

    def __init__(self, table: TaskTable, num_envs: int, obs_encoding: str = "coords") -> None:
        if obs_encoding not in OBS_ENCODINGS:
            raise ValueError(f"obs_encoding={obs_encoding!r} is invalid: use one of {OBS_ENCODINGS}")
        self.table = table
        self.B = int(num_envs)
        self.N, self.T, self.M = table.n_agents_max, table.n_targets_max, table.grid_max
        self.obs_encoding = obs_encoding
        self.obs_dim = (
            2 + 3 * self.T if obs_encoding == "coords" else self.M * self.M * (1 + self.T)
        )
        self.state_dim = 2 * self.N + 2 * self.T + 1
        self.rng = np.random.default_rng()
        b, n, tt = self.B, self.N, self.T
        self.pos = np.zeros((b, n, 2), dtype=np.int64)
        self.tpos = np.zeros((b, tt, 2), dtype=np.int64)
        self.t = np.zeros(b, dtype=np.int64)
        self.task_id = np.zeros(b, dtype=np.int64)
        self._gather_params()
        self._rows = np.arange(b)

    def seed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Reseed the dynamics generator."""
        self.rng = np.random.default_rng(seed)

    def _gather_params(self) -> None:
        tb, k = self.table, self.task_id
        self.m = tb.m[k]
        self.m3 = self.m[:, None, None]
        self.inv = 1.0 / (self.m - 1)
        self.half_slip = tb.half_slip[k][:, None]
        self.slip = tb.slip[k][:, None]
        self.flicker = tb.flicker[k][:, None]
        self.evasive = tb.evasive[k][:, None]
        self.cum = tb.cum[k][:, None, :]
        self.horizon = tb.horizon[k]
        self.live = tb.live[k]
        self.target_live = tb.target_live[k]
        self.assignment = tb.assignment[k]
        self.all_live = bool(self.live.all())
        self.all_targets_live = bool(self.target_live.all())

    # -- reset -------------------------------------------------------------------------------
    def reset(self, env_ids: np.ndarray, task_ids: np.ndarray) -> None:
        """Start new episodes in environments ``env_ids`` with tasks ``task_ids``."""
        env_ids = np.asarray(env_ids, dtype=np.int64)
        self.task_id[env_ids] = task_ids
        self._gather_params()
        self.t[env_ids] = 0
        todo = env_ids
        n, tt = self.N, self.T
        while todo.size:
            u = self.rng.random((todo.size, self.table.reset_draws))
            m = self.m[todo][:, None]
            cells = (u * m).astype(np.int64)
            pos = cells[:, : 2 * n].reshape(-1, n, 2)
            tpos = cells[:, 2 * n :].reshape(-1, tt, 2)
            pos[~self.live[todo]] = 0
            tpos[~self.target_live[todo]] = 0
            self.pos[todo] = pos
            self.tpos[todo] = tpos
            todo = todo[self._captured(todo)]

    def _captured(self, idx: np.ndarray | slice) -> np.ndarray:
        pos, tpos = self.pos[idx], self.tpos[idx]
        if self.T == 1:
            on = (pos == tpos).all(-1)
        else:
            mine = np.take_along_axis(tpos, self.assignment[idx][:, :, None], axis=1)
            on = (pos == mine).all(-1)
        if not self.all_live:
            on |= ~self.live[idx]
        return on.all(1)

    # -- step --------------------------------------------------------------------------------
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every environment one step.

        Args:
            actions: ``int [B, N]`` valid actions (padded agents' entries are ignored).

        Returns:
            ``reward [B]`` (float32, shared by the team), ``terminated [B]``, ``truncated [B]``.
        """
        n, tt = self.N, self.T
        u = self.rng.random((self.B, self.table.step_draws))
        if not self.all_live:
            actions = np.where(self.live, actions, STAY)
        us = u[:, :n]
        perp = PERP[actions]
        d = np.where(
            us < self.half_slip,
            perp[..., 0],
            np.where(us < self.slip, perp[..., 1], actions),
        )
        self.pos = (self.pos + DELTA[d]) % self.m3
        captured = self._captured(slice(None))

        ut = u[:, n : n + tt]
        move = (ut[..., None] >= self.cum).sum(-1)
        if self.table.any_evasive:
            move = self._evasive_moves(move, u[:, n + tt : n + 2 * tt], u[:, n + 2 * tt :])
        if not self.all_targets_live:
            move = np.where(self.target_live, move, STAY)
        move[captured] = STAY
        self.tpos = (self.tpos + DELTA[move]) % self.m3
        self.t += 1
        truncated = (self.t >= self.horizon) & ~captured
        return captured.astype(np.float32), captured, truncated

    def _evasive_moves(self, move: np.ndarray, coin: np.ndarray, tie: np.ndarray) -> np.ndarray:
        b, tt, n = self.B, self.T, self.N
        cand = (self.tpos[:, :, None, :] + DELTA[None, None]) % self.m[:, None, None, None]
        diff = cand[:, :, :, None, :] - self.pos[:, None, None, :, :]  # [B, T, 5, N, 2]
        dist = _toroidal(diff, self.m[:, None, None, None, None]).sum(-1)
        if not self.all_live:
            dist = np.where(self.live[:, None, None, :], dist, np.iinfo(np.int64).max // 4)
        nearest = dist.min(-1).astype(np.float64) + 0.5 * tie.reshape(b, tt, 5)
        flee = nearest.argmax(-1)
        del n
        return np.where(coin < self.evasive, flee, move)

    # -- observe -----------------------------------------------------------------------------
    def observe(self, env_ids: np.ndarray | None = None) -> np.ndarray:
        """Observations ``float32 [B', N, D]`` of all (or the given) environments.

        Draws the flicker of each agent.
        """
        idx: np.ndarray | slice = slice(None) if env_ids is None else env_ids
        pos, tpos = self.pos[idx], self.tpos[idx]
        k = pos.shape[0]
        visible = self.rng.random((k, self.N)) >= self.flicker[idx]
        live = self.live[idx]
        visible &= live
        tvis = visible[:, :, None] & self.target_live[idx][:, None, :]  # [k, N, T]
        if self.obs_encoding == "coords":
            mm1 = (self.m[idx] - 1)[:, None].astype(np.float64)
            a_xy = pos[:, :, ::-1] / mm1[:, :, None]  # (x, y) = (col, row)
            t_xy = tpos[:, :, ::-1] / mm1[:, :, None]
            obs = np.zeros((k, self.N, self.obs_dim), dtype=np.float32)
            obs[:, :, :2] = a_xy
            tv = obs[:, :, 2:].reshape(k, self.N, self.T, 3)
            tv[..., :2] = t_xy[:, None, :, :] * tvis[..., None]
            tv[..., 2] = tvis
            if not self.all_live:
                obs[~live] = 0.0
            return obs
        mm = self.M * self.M
        obs = np.zeros((k, self.N, 1 + self.T, mm), dtype=np.float32)
        cell = pos[..., 0] * self.M + pos[..., 1]  # [k, N]
        kk, nn = np.nonzero(live)
        obs[kk, nn, 0, cell[kk, nn]] = 1.0
        tcell = tpos[..., 0] * self.M + tpos[..., 1]  # [k, T]
        kk, nn, jj = np.nonzero(tvis)
        obs[kk, nn, 1 + jj, tcell[kk, jj]] = 1.0
        return obs.reshape(k, self.N, self.obs_dim)

    def state(self) -> np.ndarray:
        """Global state ``float32 [B, S]``: agent then target (x, y), unhidden, then t / horizon."""
        mm1 = (self.m - 1)[:, None, None].astype(np.float64)
        out = np.zeros((self.B, self.state_dim), dtype=np.float32)
        n2 = 2 * self.N
        out[:, :n2] = (self.pos[:, :, ::-1] / mm1).reshape(self.B, -1)
        out[:, n2:-1] = (self.tpos[:, :, ::-1] / mm1).reshape(self.B, -1)
        out[:, -1] = self.t / self.horizon
        return out


class SingleCore:
    """One capture environment in plain Python, drawing the same numbers as a ``B = 1``
    :class:`BatchCore` (see the module docstring)."""

    def __init__(self, table: TaskTable, obs_encoding: str = "coords") -> None:
        if obs_encoding not in OBS_ENCODINGS:
            raise ValueError(f"obs_encoding={obs_encoding!r} is invalid: use one of {OBS_ENCODINGS}")
        self.table = table
        self.N, self.T, self.M = table.n_agents_max, table.n_targets_max, table.grid_max
        self.obs_encoding = obs_encoding
        self.obs_dim = (
            2 + 3 * self.T if obs_encoding == "coords" else self.M * self.M * (1 + self.T)
        )
        self.state_dim = 2 * self.N + 2 * self.T + 1
        self.rng = np.random.default_rng()
        self.task_id = 0
        self.set_task(0)
        self.pos: list[list[int]] = [[0, 0] for _ in range(self.N)]
        self.tpos: list[list[int]] = [[0, 0] for _ in range(self.T)]
        self.t = 0

    def seed(self, seed: int | np.random.SeedSequence | None) -> None:
        self.rng = np.random.default_rng(seed)

    def set_task(self, task_id: int) -> None:
        tb = self.table
        task = tb.tasks[task_id]
        self.task_id = task_id
        self.task = task
        self.m = task.grid_size
        self.n = task.n_agents
        self.nt = task.n_targets
        self.slip = task.slip
        self.half_slip = float(tb.half_slip[task_id])
        self.flicker = task.flicker
        self.evasive = task.evasive
        self.cum = [float(c) for c in tb.cum[task_id]]
        self.horizon = int(task.horizon or 0)
        self.assignment = list(task.assignment or ())

    def reset(self, task_id: int) -> None:
        self.set_task(task_id)
        self.t = 0
        n, tt, m = self.N, self.T, self.m
        while True:
            u = self.rng.random(self.table.reset_draws).tolist()
            cells = [int(v * m) for v in u]
            self.pos = [
                [cells[2 * i], cells[2 * i + 1]] if i < self.n else [0, 0] for i in range(n)
            ]
            off = 2 * n
            self.tpos = [
                [cells[off + 2 * j], cells[off + 2 * j + 1]] if j < self.nt else [0, 0]
                for j in range(tt)
            ]
            if not self.captured():
                return

    def captured(self) -> bool:
        tpos, asg = self.tpos, self.assignment
        return all(self.pos[i] == tpos[asg[i]] for i in range(self.n))

    def step(self, actions: Sequence[int]) -> tuple[float, bool, bool]:
        """One step with ``actions`` of the ``n`` live agents; returns reward, term, trunc."""
        n, tt, m = self.N, self.T, self.m
        u = self.rng.random(self.table.step_draws).tolist()
        for i in range(self.n):
            a = actions[i]
            ui = u[i]
            if ui < self.half_slip:
                a = _PERP_PY[a][0]
            elif ui < self.slip:
                a = _PERP_PY[a][1]
            dr, dc = _DELTA_PY[a]
            p = self.pos[i]
            p[0] = (p[0] + dr) % m
            p[1] = (p[1] + dc) % m
        captured = self.captured()
        self.t += 1
        if not captured:
            cum = self.cum
            for j in range(self.nt):
                uj = u[n + j]
                move = (uj >= cum[0]) + (uj >= cum[1]) + (uj >= cum[2]) + (uj >= cum[3])
                if self.evasive and u[n + tt + j] < self.evasive:
                    move = self._flee(j, u[n + 2 * tt + 5 * j : n + 2 * tt + 5 * j + 5])
                dr, dc = _DELTA_PY[move]
                q = self.tpos[j]
                q[0] = (q[0] + dr) % m
                q[1] = (q[1] + dc) % m
            return 0.0, False, self.t >= self.horizon
        return 1.0, True, False

    def _flee(self, j: int, tie: list[float]) -> int:
        m = self.m
        r0, c0 = self.tpos[j]
        best, best_score = 0, -1.0
        for k in range(5):
            dr, dc = _DELTA_PY[k]
            r, c = (r0 + dr) % m, (c0 + dc) % m
            near = min(
                min(abs(r - p[0]), m - abs(r - p[0])) + min(abs(c - p[1]), m - abs(c - p[1]))
                for p in self.pos[: self.n]
            )
            score = near + 0.5 * tie[k]
            if score > best_score:
                best, best_score = k, score
        return best

    def observe(self) -> np.ndarray:
        """Observations ``float32 [N, D]``; draws the flicker of each agent."""
        u = self.rng.random(self.N).tolist()
        n, tt, mm1 = self.N, self.T, self.m - 1
        flick = self.flicker
        if self.obs_encoding == "coords":
            rows = []
            for i in range(n):
                if i >= self.n:
                    rows.append([0.0] * self.obs_dim)
                    continue
                r, c = self.pos[i]
                row = [c / mm1, r / mm1]
                vis = u[i] >= flick
                for j in range(tt):
                    if vis and j < self.nt:
                        tr, tc = self.tpos[j]
                        row += [tc / mm1, tr / mm1, 1.0]
                    else:
                        row += [0.0, 0.0, 0.0]
                rows.append(row)
            return np.array(rows, dtype=np.float32)
        big = self.M
        mm = big * big
        obs = np.zeros((n, 1 + tt, mm), dtype=np.float32)
        for i in range(self.n):
            r, c = self.pos[i]
            obs[i, 0, r * big + c] = 1.0
            if u[i] >= flick:
                for j in range(self.nt):
                    tr, tc = self.tpos[j]
                    obs[i, 1 + j, tr * big + tc] = 1.0
        return obs.reshape(n, self.obs_dim)

    def state(self) -> np.ndarray:
        mm1 = self.m - 1
        vals = [v for r, c in self.pos for v in (c / mm1, r / mm1)]
        vals += [v for r, c in self.tpos for v in (c / mm1, r / mm1)]
        vals.append(self.t / self.horizon)
        return np.array(vals, dtype=np.float32)
