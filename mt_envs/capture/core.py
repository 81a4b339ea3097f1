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
* step: ``N`` slip uniforms, ``T`` target-move uniforms, ``T`` evasive coins and, only when a task
  of the set is evasive, ``5 * T`` tie-break uniforms; then the observation draws;
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
_F32 = np.dtype(np.float32)
_ONE_F32 = np.float32(1.0).tobytes()

OBS_ENCODINGS = ("coords", "onehot")
#: Uniforms SingleCore draws ahead at a time (see SingleCore.rng).
_DRAW_BLOCK = 1024


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
        self.horizon = np.array([t.max_steps for t in tasks], dtype=np.int64)
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
        # Lookup tables of BatchCore, one segment per distinct grid size m:
        # coord[coord_off + k] = k / (m - 1) in float32 (the float64 quotient rounded, as a
        # cast of the float64 division would), wrap[wrap_off + k + 1] = k % m for k in -1..m.
        sizes = sorted({t.grid_size for t in tasks})
        coord_at: dict[int, int] = {}
        wrap_at: dict[int, int] = {}
        coord: list[np.ndarray] = []
        wrap: list[np.ndarray] = []
        for m in sizes:
            coord_at[m], wrap_at[m] = sum(len(c) for c in coord), sum(len(w) for w in wrap)
            coord.append(np.arange(m, dtype=np.float64) / (m - 1))
            wrap.append(np.arange(-1, m + 1, dtype=np.int64) % m)
        self.coord = np.concatenate(coord).astype(np.float32)
        self.wrap = np.concatenate(wrap)
        self.coord_off = np.array([coord_at[t.grid_size] for t in tasks], dtype=np.int64)
        self.wrap_off = np.array([wrap_at[t.grid_size] for t in tasks], dtype=np.int64)
        # tor[tor_base + d] = the toroidal distance of a coordinate difference d in -m..m.
        tor_at: dict[int, int] = {}
        tor: list[np.ndarray] = []
        for m in sizes:
            tor_at[m] = sum(len(t) for t in tor)
            d = np.abs(np.arange(-m, m + 1, dtype=np.int64)) % m
            tor.append(np.minimum(d, m - d))
        self.tor = np.concatenate(tor)
        self.tor_base = np.array([tor_at[t.grid_size] + t.grid_size for t in tasks])
        self.one_grid = len(sizes) == 1
        #: Every agent's own target is the target of the same index (MAMT, identity).
        self.identity_assignment = tt == n and all(
            tuple(t.assignment or ()) == tuple(range(t.n_agents)) for t in tasks
        )


def _rows_all(x: np.ndarray) -> np.ndarray:
    """``x.all(1)`` for a C-contiguous bool ``[B, K]``, without numpy's slow reduction over a
    short last axis (about 60 us at ``B = 4096``, ``K = 4``, against 1 to 10 us here)."""
    k = x.shape[1]
    if k in _ALL_ONES:
        # K bools of value 0/1 side by side read as one unsigned int: all true <=> 0x0101..01.
        word, ones = _ALL_ONES[k]
        return x.view(word)[:, 0] == ones
    out = x[:, 0].copy()
    for j in range(1, k):
        out &= x[:, j]
    return out


_OFFSETS = np.array([-1, 0, 1]).reshape(3, 1, 1, 1)
#: A distance larger than any on the grid (for padded agents, which no target flees).
_FAR = np.iinfo(np.int64).max // 4

_ALL_ONES = {
    1: (np.uint8, 0x01),
    2: (np.uint16, 0x0101),
    4: (np.uint32, 0x01010101),
    8: (np.uint64, 0x0101010101010101),
}


class BatchCore:
    """``B`` capture environments stepped together.

    State (all ``int64``): ``pos [B, N, 2]`` agent (row, col), ``tpos [B, T, 2]`` target (row, col),
    ``t [B]`` steps taken, ``task_id [B]``. Padded agents and targets sit at (0, 0). Steps and
    resets update these arrays in place; they may be edited in place between steps (tests do).

    Speed notes (a step of ``B = 4096`` takes about half a millisecond; every numpy call counts):

    * numpy runs an elementwise op fast only when the operands flatten to one long loop, i.e. are
      contiguous with the same shape, or strided along a single axis. Broadcasting a ``[B, 1]``
      parameter against ``[B, N]``, or slicing ``[B, K]`` to ``[B, :N]``, makes it loop over the
      short last axis and costs 10 to 30 times more. So per-task parameters are Python scalars
      when the whole set shares them, else pre-broadcast ``[B, N]`` / ``[B, T]`` arrays; the
      uniforms of a step are gathered into contiguous per-agent / per-target arrays with one
      ``np.take``; columns are written one at a time.
    * ``np.take`` on a small table replaces fancy indexing (``DELTA[d]``: 80 us, ``np.take(DELTA,
      d, axis=0)``: 6 us) and ``%`` (a wrap table for each grid size).
    """

    # Per-environment task parameters, set by _init_params: arrays with a leading batch axis, or
    # Python scalars when every task of the set has the same value.
    m: np.ndarray  # [B] grid side
    live: np.ndarray  # [B, N] real agent slots
    target_live: np.ndarray  # [B, T] real target slots
    assignment: np.ndarray  # [B, N] target index of each agent
    slip: float | np.ndarray  # [B, N]
    half_slip: float | np.ndarray  # [B, N]
    flicker: float | np.ndarray  # [B, N]
    evasive: float | np.ndarray  # [B, T]
    cum0: float | np.ndarray  # [B, T] target-policy thresholds (see TaskTable.cum)
    cum1: float | np.ndarray
    cum2: float | np.ndarray
    cum3: float | np.ndarray
    horizon: int | np.ndarray  # [B]
    _asg_flat: np.ndarray  # [B, N] b * T + assignment: each agent's target in tpos[B * T]
    _coord_off: np.ndarray  # [B, 1, 1] start of the env's grid in TaskTable.coord
    _wrap_off: np.ndarray  # [B, 1, 2] start of the env's grid in TaskTable.wrap
    _tor_base: np.ndarray  # [B, 1, 1] index of distance 0 of the env's grid in TaskTable.tor

    def __init__(self, table: TaskTable, num_envs: int, obs_encoding: str = "coords") -> None:
        if obs_encoding not in OBS_ENCODINGS:
            raise ValueError(
                f"obs_encoding={obs_encoding!r} is invalid: use one of {OBS_ENCODINGS}"
            )
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
        self._rows = np.arange(b)
        # Index of each agent's / target's uniforms in the flattened [B, step_draws] draw.
        k = table.step_draws
        self._u_agent = (self._rows[:, None] * k + np.arange(n)).ravel()
        self._u_target = (self._rows[:, None] * k + np.arange(n, n + tt)).ravel()
        # Row 2b / 2b + 1 of the observation source table of env b (see _observe_coords).
        self._src_rows = np.repeat(2 * self._rows[:, None], n, axis=1)
        self._src: np.ndarray | None = None  # observation source table (_observe_coords)
        # Scratch arrays reused every step (see _move).
        self._u = np.empty((b, k))
        self._agent_buf = np.empty((b, n, 2), dtype=np.int64)
        self._target_buf = np.empty((b, tt, 2), dtype=np.int64)
        self.all_live = bool(table.live.all())
        self.all_targets_live = bool(table.target_live.all())
        self._init_params()

    def seed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Reseed the dynamics generator."""
        self.rng = np.random.default_rng(seed)

    # -- per-environment task parameters -----------------------------------------------------
    def _init_params(self) -> None:
        """Set the per-environment parameters from ``task_id``.

        Each parameter comes from a per-task table of the row shape it has per environment. A
        parameter the whole task set shares is kept as a Python scalar (fast to compare against);
        the others become ``[B, ...]`` arrays, refreshed row by row on reset.
        """
        tb, n, tt = self.table, self.N, self.T
        per_agent = (len(tb.tasks), n)
        per_target = (len(tb.tasks), tt)
        scalar_or_rows = {
            "slip": np.broadcast_to(tb.slip[:, None], per_agent),
            "half_slip": np.broadcast_to(tb.half_slip[:, None], per_agent),
            "flicker": np.broadcast_to(tb.flicker[:, None], per_agent),
            "evasive": np.broadcast_to(tb.evasive[:, None], per_target),
            "horizon": tb.horizon,
        }
        for j in range(4):
            scalar_or_rows[f"cum{j}"] = np.broadcast_to(tb.cum[:, j, None], per_target)
        rows = {
            "m": tb.m,
            "live": tb.live,
            "target_live": tb.target_live,
            "assignment": tb.assignment,
            # Flat index of each agent's own target in tpos.reshape(B * T, 2), minus b * T.
            "_asg_flat": tb.assignment,
            "_coord_off": tb.coord_off[:, None, None],
            "_wrap_off": np.broadcast_to(tb.wrap_off[:, None, None], (len(tb.tasks), 1, 2)),
            "_tor_base": tb.tor_base[:, None, None],
        }
        self._varying: dict[str, np.ndarray] = {}
        for name, src in scalar_or_rows.items():
            if np.all(src == src.flat[0]):
                setattr(self, name, src.flat[0].item())
            else:
                self._varying[name] = np.ascontiguousarray(src)
        for name, src in rows.items():
            self._varying[name] = np.ascontiguousarray(src)
        for name, src in self._varying.items():
            setattr(self, name, np.take(src, self.task_id, axis=0))
        self._asg_flat += self._rows[:, None] * tt

    def _gather_params(self, env_ids: np.ndarray) -> None:
        """Refresh the per-environment parameters of ``env_ids`` after their task changed."""
        if len(self.table.tasks) == 1:
            return  # every environment always plays task 0
        k = self.task_id[env_ids]
        for name, src in self._varying.items():
            getattr(self, name)[env_ids] = np.take(src, k, axis=0)
        self._asg_flat[env_ids] += env_ids[:, None] * self.T

    # -- reset -------------------------------------------------------------------------------
    def reset(self, env_ids: np.ndarray, task_ids: np.ndarray) -> None:
        """Start new episodes in environments ``env_ids`` with tasks ``task_ids``."""
        env_ids = np.asarray(env_ids, dtype=np.int64)
        self.task_id[env_ids] = task_ids
        self._gather_params(env_ids)
        self.t[env_ids] = 0
        todo = env_ids
        n, tt = self.N, self.T
        while todo.size:
            u = self.rng.random((todo.size, self.table.reset_draws))
            m = self.m[todo][:, None]
            cells = (u * m).astype(np.int64)
            pos = cells[:, : 2 * n].reshape(-1, n, 2)
            tpos = cells[:, 2 * n :].reshape(-1, tt, 2)
            if not self.all_live:
                pos[~self.live[todo]] = 0
            if not self.all_targets_live:
                tpos[~self.target_live[todo]] = 0
            self.pos[todo] = pos
            self.tpos[todo] = tpos
            todo = todo[self._captured(todo)]

    def _captured(self, idx: np.ndarray | slice) -> np.ndarray:
        """Whether every live agent of the environments ``idx`` stands on its own target."""
        pos, tpos = self.pos[idx], self.tpos[idx]
        k = pos.shape[0]
        if self.table.identity_assignment:
            mine = tpos
        else:  # the (row, col) of each agent's own target, by a take of whole rows
            asg = self._asg_flat[idx]
            if isinstance(idx, np.ndarray):  # rows of a subset: re-base b * T to the subset
                asg = asg - ((idx - np.arange(k)) * self.T)[:, None]
            mine = np.take(tpos.reshape(-1, 2), asg, axis=0)
        on = pos == mine  # [k, N, 2]: row and column of every agent
        if not self.all_live:
            on |= ~self.live[idx][:, :, None]
        return _rows_all(on.reshape(k, -1))

    # -- step --------------------------------------------------------------------------------
    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Advance every environment one step.

        Args:
            actions: ``int [B, N]`` valid actions (padded agents' entries are ignored).

        Returns:
            ``reward [B]`` (float32, shared by the team), ``terminated [B]``, ``truncated [B]``.
        """
        n, tt, b = self.N, self.T, self.B
        u = self.rng.random(out=self._u)  # same numbers as rng.random((B, step_draws))
        if not self.all_live:
            actions = np.where(self.live, actions, STAY)
        # Agents: u < half_slip slips to the first perpendicular, half_slip <= u < slip to the
        # second, else the move is as chosen. _TURN_DELTA[3 a + s] is the (row, col) change
        # plus one (the index into the wrap table) of action a with s = 0, 1 or 2 of those.
        us = np.take(u, self._u_agent).reshape(b, n)
        s = (us < self.slip).view(np.int8) + (us < self.half_slip).view(np.int8)
        code = actions * 3
        code += s
        self._move(self.pos, _TURN_DELTA, code, self._agent_buf)
        captured = self._captured(slice(None))

        # Targets: the move is the number of policy thresholds <= u.
        ut = np.take(u, self._u_target).reshape(b, tt)
        move = (ut >= self.cum0).view(np.int8) + (ut >= self.cum1).view(np.int8)
        move += (ut >= self.cum2).view(np.int8)
        move += (ut >= self.cum3).view(np.int8)
        if self.table.any_evasive:
            move = self._evasive_moves(move, u[:, n + tt : n + 2 * tt], u[:, n + 2 * tt :])
        if not self.all_targets_live:
            move = np.where(self.target_live, move, STAY)
        move[np.flatnonzero(captured)] = STAY  # few rows: faster than a boolean mask
        self._move(self.tpos, _DELTA_PLUS_1, move, self._target_buf)
        self.t += 1
        truncated = self.t >= self.horizon
        truncated &= ~captured
        return captured.astype(np.float32), captured, truncated

    def _move(
        self, cells: np.ndarray, deltas: np.ndarray, code: np.ndarray, buf: np.ndarray
    ) -> None:
        """``cells = (cells + deltas[code] - 1) % m`` in place, by two takes into preallocated
        arrays (fresh 100 kB temporaries each step cost page faults once the allocator hands
        their memory back). ``mode="clip"`` only spares numpy's buffering of ``out``: every
        index is in range by construction."""
        np.take(deltas, code, axis=0, out=buf, mode="clip")
        buf += cells
        if not self.table.one_grid:
            buf += self._wrap_off
        np.take(self.table.wrap, buf, out=cells, mode="clip")

    def _evasive_moves(self, move: np.ndarray, coin: np.ndarray, tie: np.ndarray) -> np.ndarray:
        """Where ``coin < evasive``, the move (of the five) maximising the toroidal distance to
        the nearest live agent plus ``0.5 * tie`` (the first such move on exact ties).

        The toroidal distance along an axis depends only on the coordinate difference modulo m,
        so it is read from a table at ``target - agent + delta`` (in -m..m) without wrapping the
        candidate cells; the five candidates share three row and three column offsets."""
        b, tt, n = self.B, self.T, self.N
        tor = self.table.tor
        # target - agent + tor_base: [B, T, N], then + (-1, 0, 1): [3, B, T, N]
        rows = self.tpos[:, :, None, 0] + (self._tor_base - self.pos[:, None, :, 0])
        cols = self.tpos[:, :, None, 1] + (self._tor_base - self.pos[:, None, :, 1])
        along_r = np.take(tor, rows + _OFFSETS)
        along_c = np.take(tor, cols + _OFFSETS)
        # [5, B, T, N]: distance of each candidate cell of each target to each agent
        dist = np.take(along_r, _DELTA_PLUS_1[:, 0], axis=0)
        dist += np.take(along_c, _DELTA_PLUS_1[:, 1], axis=0)
        if not self.all_live:  # padded agents: far from everything, so never the nearest
            dist = np.where(self.live[None, :, None, :], dist, _FAR)
        near = dist[..., 0]
        for i in range(1, n):  # min over agents as N - 1 long loops, not a short-axis min
            near = np.minimum(near, dist[..., i])
        tie = tie.reshape(b, tt, 5)
        if b * tt <= 256:  # few rows: one argmax (first maximum) over the candidate axis
            flee = (near + 0.5 * tie.transpose(2, 0, 1)).argmax(0)
        else:  # argmax over a short axis is slow on many rows: compare candidates in turn
            flee = np.zeros((b, tt), dtype=np.int64)
            best = near[0] + 0.5 * tie[:, :, 0]
            for k in range(1, 5):
                score = near[k] + 0.5 * tie[:, :, k]
                better = score > best  # strictly: the first maximum wins, as with argmax
                flee[better] = k
                best = np.where(better, score, best)
        return np.where(coin < self.evasive, flee, move)

    # -- observe -----------------------------------------------------------------------------
    def observe(self, env_ids: np.ndarray | None = None) -> np.ndarray:
        """Observations ``float32 [B', N, D]`` of all (or the given) environments.

        Draws the flicker of each agent.
        """
        return self._observe(env_ids, with_state=False)[0]

    def observe_with_state(
        self, env_ids: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """``observe(env_ids)`` and ``state(env_ids)`` at once (sharing their coordinates)."""
        obs, state = self._observe(env_ids, with_state=True)
        assert state is not None
        return obs, state

    def _observe(
        self, env_ids: np.ndarray | None, with_state: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        idx: np.ndarray | slice = slice(None) if env_ids is None else env_ids
        pos, tpos = self.pos[idx], self.tpos[idx]
        k = pos.shape[0]
        flicker = self.flicker if isinstance(self.flicker, float) else self.flicker[idx]
        visible = self.rng.random((k, self.N)) >= flicker
        if not self.all_live:
            visible &= self.live[idx]
        xy = txy = None
        if self.obs_encoding == "coords" or with_state:
            xy, txy = self._coords(pos, idx), self._coords(tpos, idx)
        if self.obs_encoding == "coords":
            assert xy is not None and txy is not None
            obs = self._observe_coords(xy, txy, visible, idx)
        else:
            obs = self._observe_onehot(pos, tpos, visible, idx)
        if not with_state:
            return obs, None
        assert xy is not None and txy is not None
        return obs, self._state(xy, txy, idx)

    def _coords(self, cells: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
        """``cells / (m - 1)`` as float32 ``[k, ·, 2]`` (row, col order), from a lookup table."""
        if not self.table.one_grid:
            cells = cells + self._coord_off[idx]
        return np.take(self.table.coord, cells)

    def _observe_coords(
        self, xy: np.ndarray, txy: np.ndarray, visible: np.ndarray, idx: np.ndarray | slice
    ) -> np.ndarray:
        k, tt, d = xy.shape[0], self.T, self.obs_dim
        # Two candidate target blocks per environment: row 2b all zeros (the agent's view
        # flickers), row 2b + 1 the (x, y, 1) of every target. One np.take of whole rows then
        # builds obs[b, i] = src[2b + visible[b, i]], and the agent's own (x, y) is written after.
        # The whole-batch table persists between calls (it is private; obs is a copy): row 2b
        # stays zero and the visible bits 1, so only the target (x, y) columns are rewritten.
        src = self._src
        fresh = k != self.B or src is None
        if fresh:
            src = np.zeros((k, 2, d), dtype=np.float32)
            if k == self.B:
                self._src = src
        assert src is not None
        seen = src[:, 1]
        for j in range(tt):  # one column at a time: long strided loops, not [k, T] ones
            seen[:, 2 + 3 * j] = txy[:, j, 1]
            seen[:, 3 + 3 * j] = txy[:, j, 0]
        if self.all_targets_live:
            if fresh:
                seen[:, 4::3] = 1.0
        else:
            live_t = self.target_live[idx]
            seen[:, 2:].reshape(k, tt, 3)[~live_t] = 0.0
            seen[:, 4::3] = live_t
        obs = np.take(src.reshape(2 * k, d), self._src_rows[:k] + visible, axis=0)
        obs[:, :, 0] = xy[:, :, 1]
        obs[:, :, 1] = xy[:, :, 0]
        if not self.all_live:
            obs[~self.live[idx]] = 0.0
        return obs

    def _observe_onehot(
        self, pos: np.ndarray, tpos: np.ndarray, visible: np.ndarray, idx: np.ndarray | slice
    ) -> np.ndarray:
        k, n, tt, big = pos.shape[0], self.N, self.T, self.M
        mm = big * big
        obs = np.zeros((k, n, 1 + tt, mm), dtype=np.float32)
        flat = obs.reshape(-1)
        # Flat index of grid 0 of each agent's observation.
        base = np.arange(0, k * n * (1 + tt) * mm, (1 + tt) * mm).reshape(k, n)
        own = base + pos[..., 0] * big + pos[..., 1]
        flat[own.ravel() if self.all_live else own[self.live[idx]]] = 1.0
        tcell = tpos[..., 0] * big + tpos[..., 1] + np.arange(1, tt + 1) * mm  # [k, T]
        tvis = visible[:, :, None] & self.target_live[idx][:, None, :]  # [k, N, T]
        flat[(base[:, :, None] + tcell[:, None, :])[tvis]] = 1.0
        return obs.reshape(k, n, self.obs_dim)

    def state(self, env_ids: np.ndarray | None = None) -> np.ndarray:
        """Global state ``float32 [B', S]`` of all (or the given) environments: agent then
        target (x, y), unhidden, then t / horizon."""
        idx: np.ndarray | slice = slice(None) if env_ids is None else env_ids
        return self._state(self._coords(self.pos[idx], idx), self._coords(self.tpos[idx], idx), idx)

    def _state(self, xy: np.ndarray, txy: np.ndarray, idx: np.ndarray | slice) -> np.ndarray:
        k, n2 = xy.shape[0], 2 * self.N
        out = np.empty((k, self.state_dim), dtype=np.float32)
        for i in range(self.N):  # column by column (see the class docstring)
            out[:, 2 * i] = xy[:, i, 1]
            out[:, 2 * i + 1] = xy[:, i, 0]
        for j in range(self.T):
            out[:, n2 + 2 * j] = txy[:, j, 1]
            out[:, n2 + 2 * j + 1] = txy[:, j, 0]
        horizon = self.horizon if isinstance(self.horizon, int) else self.horizon[idx]
        out[:, -1] = self.t[idx] / horizon
        return out


#: (row, col) change plus one of action a with slip outcome s at row 3 a + s (s = 0: as chosen,
#: 1: second perpendicular, 2: first perpendicular); plus one because the wrap tables start at -1.
_DELTA_PLUS_1 = DELTA + 1
_TURN_DELTA = np.array(
    [_DELTA_PLUS_1[d] for a in range(5) for d in (a, PERP[a, 1], PERP[a, 0])], dtype=np.int64
)


class SingleCore:
    """One capture environment in plain Python, drawing the same numbers as a ``B = 1``
    :class:`BatchCore` (see the module docstring)."""

    def __init__(self, table: TaskTable, obs_encoding: str = "coords") -> None:
        if obs_encoding not in OBS_ENCODINGS:
            raise ValueError(
                f"obs_encoding={obs_encoding!r} is invalid: use one of {OBS_ENCODINGS}"
            )
        self.table = table
        self.N, self.T, self.M = table.n_agents_max, table.n_targets_max, table.grid_max
        self.obs_encoding = obs_encoding
        self.obs_dim = (
            2 + 3 * self.T if obs_encoding == "coords" else self.M * self.M * (1 + self.T)
        )
        self.state_dim = 2 * self.N + 2 * self.T + 1
        self._step_draws = table.step_draws
        self._coord_cache: dict[int, list[bytes]] = {}
        self.rng = np.random.default_rng()
        self.task_id = 0
        self.set_task(0)
        self.pos: list[list[int]] = [[0, 0] for _ in range(self.N)]
        self.tpos: list[list[int]] = [[0, 0] for _ in range(self.T)]
        self.t = 0

    # -- random draws ----------------------------------------------------------------------
    # A ``Generator.random(k)`` call costs about a microsecond whatever ``k``, and a step makes
    # two. So the uniforms are drawn in blocks of ``_DRAW_BLOCK`` into a Python list and handed
    # out in order. For PCG64 (numpy's default) ``random(k)`` then ``random(j)`` yields exactly the
    # numbers of ``random(k + j)`` (one 64-bit output per double, nothing cached in between), so
    # the stream the dynamics consume is unchanged: still that of a ``B = 1`` BatchCore. Only the
    # generator's own state runs ahead of what has been consumed.

    @property
    def rng(self) -> np.random.Generator:
        """The dynamics generator (its state runs up to ``_DRAW_BLOCK`` draws ahead)."""
        return self._rng

    @rng.setter
    def rng(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._buf: list[float] = []  # uniforms drawn ahead, not yet consumed
        self._next = 0  # index in _buf of the next uniform to hand out

    def seed(self, seed: int | np.random.SeedSequence | None) -> None:
        self.rng = np.random.default_rng(seed)

    def _draw(self, k: int) -> int:
        """Consume the next ``k`` uniforms; return the index of the first in ``self._buf``."""
        i = self._next
        if i + k > len(self._buf):
            self._buf = self._buf[i:] + self._rng.random(max(k, _DRAW_BLOCK)).tolist()
            i = 0
        self._next = i + k
        return i

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
        self.horizon = task.max_steps
        self.assignment = list(task.assignment or ())
        # Observation pieces as float32 bytes, so that observe() joins bytes instead of building
        # a list of lists for np.array. _coord[k] holds k / (m - 1), rounded to float32 exactly
        # as BatchCore's float64 -> float32 cast does; cached per grid size (resets call this).
        if self.m not in self._coord_cache:
            coords = (np.arange(self.m, dtype=np.float64) / (self.m - 1)).astype(np.float32)
            self._coord_cache[self.m] = [c.tobytes() for c in coords]
        self._coord = self._coord_cache[self.m]
        self._pad_targets = bytes(12 * (self.T - self.nt))  # (0, 0, 0) of padded targets
        self._hidden = bytes(12 * self.T)  # every target hidden
        self._pad_agents = bytes(4 * self.obs_dim * (self.N - self.n))  # zero rows

    def reset(self, task_id: int) -> None:
        self.set_task(task_id)
        self.t = 0
        n, tt, m = self.N, self.T, self.m
        while True:
            i0 = self._draw(self.table.reset_draws)
            cells = [int(v * m) for v in self._buf[i0 : i0 + self.table.reset_draws]]
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
        u0 = self._draw(self._step_draws)  # u[u0 + k] is the k-th uniform of this step
        u = self._buf  # after _draw, which may replace the buffer
        slip, half_slip, pos = self.slip, self.half_slip, self.pos
        for i in range(self.n):
            a = actions[i]
            ui = u[u0 + i]
            if ui < slip:  # half_slip <= slip: the lower half slips one way, the upper the other
                a = _PERP_PY[a][0] if ui < half_slip else _PERP_PY[a][1]
            dr, dc = _DELTA_PY[a]
            p = pos[i]
            p[0] = (p[0] + dr) % m
            p[1] = (p[1] + dc) % m
        tpos, asg = self.tpos, self.assignment
        captured = True
        for i in range(self.n):
            if pos[i] != tpos[asg[i]]:
                captured = False
                break
        self.t += 1
        if captured:
            return 1.0, True, False
        c0, c1, c2, c3 = self.cum
        evasive = self.evasive
        for j in range(self.nt):
            uj = u[u0 + n + j]
            move = (uj >= c0) + (uj >= c1) + (uj >= c2) + (uj >= c3)
            if evasive and u[u0 + n + tt + j] < evasive:
                k = u0 + n + 2 * tt + 5 * j
                move = self._flee(j, u[k : k + 5])
            dr, dc = _DELTA_PY[move]
            q = tpos[j]
            q[0] = (q[0] + dr) % m
            q[1] = (q[1] + dc) % m
        return 0.0, False, self.t >= self.horizon

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
        """Observations ``float32 [N, D]``; draws the flicker of each agent.

        Also sets :attr:`visible`: for each live agent, whether it sees the targets this step.
        """
        u0 = self._draw(self.N)
        u = self._buf
        flick = self.flicker
        self.visible = [u[u0 + i] >= flick for i in range(self.n)]
        if self.obs_encoding == "coords":
            # Rows are assembled as float32 bytes: own (x, y), then (x, y, 1) of every target
            # when the agent sees them, or zeros when its observation flickers.
            xy = self._coord
            seen = b"".join([xy[c] + xy[r] + _ONE_F32 for r, c in self.tpos[: self.nt]])
            seen += self._pad_targets
            hidden = self._hidden
            parts: list[bytes] = []
            for i, vis in enumerate(self.visible):
                r, c = self.pos[i]
                parts += (xy[c], xy[r], seen if vis else hidden)
            parts.append(self._pad_agents)
            return np.ndarray((self.N, self.obs_dim), _F32, bytearray(b"".join(parts)))
        n, tt, big = self.N, self.T, self.M
        mm = big * big
        obs = np.zeros((n, 1 + tt, mm), dtype=np.float32)
        for i, vis in enumerate(self.visible):
            r, c = self.pos[i]
            obs[i, 0, r * big + c] = 1.0
            if vis:
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
