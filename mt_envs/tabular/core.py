"""The tabular simulation: every task's tables compiled into one lookup structure, stepped by two
kernels that read the same random numbers in the same order.

* :class:`BatchCore` steps ``B`` environments at once with numpy (the vector API);
* :class:`SingleCore` steps one environment in plain Python (the ParallelEnv).

At ``B = 1`` a numpy call costs about a microsecond whatever its size, so the ParallelEnv reads
Python lists built lazily, one state at a time, from the same compiled arrays. For one environment
and one seed both kernels produce identical trajectories (a test checks it over many seeds, task
sets and both modes).

**Groups.** An environment holds ``G`` independent copies of a task model ("groups"), each
played by the ``n`` agents of that model: ``G = 1`` in ``"sampled"`` mode (the task of the
episode), and ``G = len(tasks)`` in ``"team"`` mode (group ``g`` always plays task ``g``). Agent
slot ``g * n + i`` is agent ``i`` of group ``g``.

**Random draws, per environment, in this fixed layout** (``u`` uniforms in ``[0, 1)`` of the
dynamics generator; which of them happen depends only on the task *set*, never on the current
task or state, so the layout is the same for every environment of a batch):

* reset: ``G`` uniforms, one per group, when some task of the set has more than one possible start
  state (none otherwise). Group ``g`` starts in the ``j``-th state of its task's start support,
  ``j`` = the number of cumulative start probabilities ``<= u_g``.
* step: ``G`` uniforms, one per group (finished groups included), when some transition of some task
  of the set has more than one successor of positive probability (none otherwise). The successor
  is the ``j``-th positive-probability entry of the successor list, ``j`` = the number of cumulative
  probabilities ``<= u_g``.

The task sampler of ``"sampled"`` mode has its own generator (see :mod:`mt_envs.tasks.samplers`).

**Agents that are done** (not alive in their group's state, or truncated) play the last action of
their action space (the no-op of the grid families) in their group's joint action; their reward is
zero (the tables guarantee it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Uniforms SingleCore draws ahead at a time (see SingleCore._draw).
_DRAW_BLOCK = 1024
#: Threshold of successor slots that can never be drawn (uniforms are < 1).
_NEVER = 2.0


def _thresholds(prob: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Compact successor lists: positive-probability slots first, cumulative thresholds after.

    Args:
        prob: ``[M, K]`` probabilities of ``M`` successor lists.
        width: Number of slots to keep (at least the largest positive count).

    Returns:
        ``order [M, width]`` slot of each kept entry and ``cum [M, width - 1]`` thresholds (the
        number of thresholds ``<= u`` picks the entry; unused entries have threshold 2).
    """
    positive = prob > 0
    # Stable sort of "not positive" puts the positive slots first, in their original order.
    order = np.argsort(~positive, axis=1, kind="stable")[:, :width]
    p = np.take_along_axis(prob, order, axis=1)
    count = positive.sum(axis=1)
    cum = np.cumsum(p, axis=1) / p.sum(axis=1, keepdims=True)
    cum = cum[:, : width - 1].copy()
    cols = np.arange(width - 1)
    cum[cols[None, :] >= (count[:, None] - 1)] = _NEVER
    return order, cum


@dataclass(eq=False)
class CompiledTables:
    """All tasks of a set as concatenated arrays over a global state index.

    Task ``k``'s state ``s`` has the global index ``offset[k] + s``. Built by
    :meth:`mt_envs.tabular.TabularEnv._compile`; shared (read-only) by every env of the set.

    Attributes:
        n_tasks: ``T``.
        n: Agents per group.
        n_act: Actions per agent.
        n_joint: Joint actions ``A = n_act ** n``.
        strides: Multiplier of each agent's action in the joint action (C order).
        offset: ``int64 [T]`` first global state of each task.
        n_total: Total number of states.
        k: Successor slots kept (1 for deterministic sets).
        stochastic: Whether a step draws (``k > 1``).
        random_start: Whether a reset draws.
        next_flat: ``int64 [n_total * A * k]`` global successor of ``((s * A) + a) * k + j``.
        cum: ``float64 [n_total * A, k - 1]`` successor thresholds.
        reward: ``float64 [n_total * A * k, n]`` reward of each agent on each successor.
        terminal: ``bool [n_total]``.
        alive: ``bool [n_total, n]``.
        obs: ``[n_total, n, ...]`` per-agent observation (the ParallelEnv's).
        obs_index: ``int64 [n_total, n]`` tabular observation index.
        vec_obs: ``float32 [n_total, n, D]`` per-agent observation of the vector API, or
            ``None`` when it was not built (the envs leave it to the batched env, which builds it
            on demand: a one-hot table of a 256 x 256 GridWorld would take 16 GiB).
        state_part: ``float32 [n_total, n * d]`` a group's slice of the global state.
        horizon: ``int64 [T]``.
        start_states: ``int64 [T, k0]`` global start states (padded by repetition).
        start_cum: ``float64 [T, k0 - 1]`` their thresholds.
    """

    n_tasks: int
    n: int
    n_act: int
    n_joint: int
    strides: tuple[int, ...]
    offset: np.ndarray
    n_total: int
    k: int
    stochastic: bool
    random_start: bool
    next_flat: np.ndarray
    cum: np.ndarray
    reward: np.ndarray
    terminal: np.ndarray
    alive: np.ndarray
    obs: np.ndarray
    obs_index: np.ndarray
    vec_obs: np.ndarray | None
    state_part: np.ndarray
    horizon: np.ndarray
    start_states: np.ndarray
    start_cum: np.ndarray

    @classmethod
    def build(
        cls,
        tables: Sequence[Any],
        obs_index: Sequence[np.ndarray],
        vec_obs: Sequence[np.ndarray] | None,
        state_part: Sequence[np.ndarray],
    ) -> CompiledTables:
        """Concatenate per-task :class:`~mt_envs.tabular.TabularTaskTables`.

        Args:
            tables: One ``TabularTaskTables`` per task (same ``n`` and action shape).
            obs_index: Per task ``int64 [S, n]`` observation indices.
            vec_obs: Per task ``float32 [S, n, D]`` vector observations, or ``None``.
            state_part: Per task ``float32 [S, n * d]`` global-state slices.
        """
        models = [t.model for t in tables]
        n = int(tables[0].n_agents)
        n_act = int(models[0].action_shape[0])
        n_joint = int(models[0].n_actions)
        strides = tuple(int(n_act ** (n - 1 - i)) for i in range(n))
        sizes = np.array([m.n_states for m in models], dtype=np.int64)
        offset = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        n_total = int(sizes.sum())
        k = max(int((m.prob > 0).sum(axis=2).max()) for m in models)
        nexts, cums, rewards = [], [], []
        for m, off in zip(models, offset, strict=True):
            s, a, kk = m.next_state.shape
            width = max(k, 1)
            prob = m.prob.reshape(s * a, kk)
            if kk < width:  # pad to the set's width with never-drawn slots
                pad = width - kk
                prob = np.concatenate([prob, np.zeros((s * a, pad))], axis=1)
            order, cum = _thresholds(prob, width)
            ns = m.next_state.reshape(s * a, kk)
            rw = m.successor_reward.reshape(s * a, kk, n)
            if kk < width:
                ns = np.concatenate([ns, np.repeat(ns[:, :1], width - kk, axis=1)], axis=1)
                rw = np.concatenate([rw, np.repeat(rw[:, :1] * 0, width - kk, axis=1)], axis=1)
            nexts.append(np.take_along_axis(ns, order, axis=1) + off)
            rewards.append(np.take_along_axis(rw, order[:, :, None], axis=1))
            cums.append(cum)
        starts, start_cums = [], []
        k0 = max(int((m.start > 0).sum()) for m in models)
        for m, off in zip(models, offset, strict=True):
            support = np.flatnonzero(m.start > 0)
            p = np.zeros((1, k0))
            p[0, : support.size] = m.start[support]
            order, cum = _thresholds(p, k0)
            idx = np.concatenate([support, np.repeat(support[:1], k0 - support.size)])
            starts.append(idx[order[0]] + off)
            start_cums.append(cum[0])
        out = cls(
            n_tasks=len(models),
            n=n,
            n_act=n_act,
            n_joint=n_joint,
            strides=strides,
            offset=offset,
            n_total=n_total,
            k=k,
            stochastic=k > 1,
            random_start=k0 > 1,
            next_flat=np.concatenate(nexts).reshape(-1),
            cum=np.concatenate(cums),
            reward=np.concatenate(rewards).reshape(-1, n),
            terminal=np.concatenate([m.terminal for m in models]),
            alive=np.concatenate([t.alive for t in tables]),
            obs=np.concatenate([t.obs for t in tables]),
            obs_index=np.concatenate(list(obs_index)).astype(np.int64),
            vec_obs=None if vec_obs is None else np.concatenate(list(vec_obs)).astype(np.float32),
            state_part=np.concatenate(list(state_part)).astype(np.float32),
            horizon=np.array([t.horizon for t in tables], dtype=np.int64),
            start_states=np.stack(starts).astype(np.int64),
            start_cum=np.stack(start_cums),
        )
        for value in vars(out).values():
            if isinstance(value, np.ndarray):
                value.flags.writeable = False
        return out


class BatchCore:
    """``B`` environments of ``G`` groups stepped together with numpy.

    State: ``s int64 [B, G]`` global model state of each group, ``t int64 [B]`` steps taken,
    ``task_id int64 [B]`` (the sampled task; 0 in team mode), ``group_task int64 [B, G]``,
    ``active bool [B, G * n]`` agents still playing.

    Args:
        tables: The compiled task set.
        num_envs: ``B``.
        team: Team mode (``G = T`` groups, group ``g`` plays task ``g``), else sampled mode
            (``G = 1``).
        vec_obs: The vector observation table ``[n_total, n, D]`` (the family env's
            :meth:`~mt_envs.tabular.TabularEnv.vector_table`) when ``tables`` has none; needed
            only by :meth:`vec_obs`.
    """

    def __init__(
        self,
        tables: CompiledTables,
        num_envs: int,
        team: bool,
        vec_obs: np.ndarray | None = None,
    ) -> None:
        self.tables = tables
        self.B = int(num_envs)
        self.team = team
        self.G = tables.n_tasks if team else 1
        self.N = self.G * tables.n
        self.rng = np.random.default_rng()
        b, g = self.B, self.G
        self.s = np.zeros((b, g), dtype=np.int64)
        self.t = np.zeros(b, dtype=np.int64)
        self.task_id = np.zeros(b, dtype=np.int64)
        self.group_task = np.zeros((b, g), dtype=np.int64)
        if team:
            self.group_task[:] = np.arange(g)
        self.horizon = np.take(tables.horizon, self.group_task)
        self.active = np.zeros((b, self.N), dtype=bool)
        self._strides = np.array(tables.strides, dtype=np.int64)
        table = tables.vec_obs if vec_obs is None else vec_obs
        self._vec_rows: np.ndarray | None = None
        self._zero_row = 0
        if table is not None:
            d = table.shape[2]
            self._vec_rows = np.concatenate(
                [table.reshape(-1, d), np.zeros((1, d), dtype=np.float32)]
            )
            self._zero_row = self._vec_rows.shape[0] - 1
        self._agent_offsets = np.arange(tables.n, dtype=np.int64)

    def seed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Reseed the dynamics generator."""
        self.rng = np.random.default_rng(seed)

    def reset(self, env_ids: np.ndarray, task_ids: np.ndarray | None = None) -> None:
        """Start new episodes in ``env_ids`` (sampled mode: with tasks ``task_ids``)."""
        tb = self.tables
        env_ids = np.asarray(env_ids, dtype=np.int64)
        if not self.team:
            assert task_ids is not None
            self.task_id[env_ids] = task_ids
            self.group_task[env_ids, 0] = task_ids
            self.horizon[env_ids, 0] = np.take(tb.horizon, task_ids)
        tasks = self.group_task[env_ids]
        if tb.random_start:
            u = self.rng.random((env_ids.size, self.G))
            j = (u[:, :, None] >= np.take(tb.start_cum, tasks, axis=0)).sum(axis=2)
            self.s[env_ids] = tb.start_states[tasks, j]
        else:
            self.s[env_ids] = np.take(tb.start_states[:, 0], tasks)
        self.t[env_ids] = 0
        self.active[env_ids] = np.take(tb.alive, self.s[env_ids], axis=0).reshape(-1, self.N)

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Step every environment with ``actions int64 [B, N]`` (any value for done agents).

        Returns:
            ``reward float64 [B, N]`` (zero for agents that did not act), ``acting bool [B, N]``
            (agents active before the step), ``term_now`` and ``trunc_now`` ``bool [B, N]`` (agents
            whose episode ended in this step, by termination or truncation).
        """
        tb, b, g, n = self.tables, self.B, self.G, self.tables.n
        acting = self.active
        acts = np.where(acting, actions, tb.n_act - 1).reshape(b, g, n)
        joint = acts[:, :, 0] if n == 1 else acts @ self._strides
        sa = self.s * tb.n_joint + joint  # [B, G]
        if tb.stochastic:
            u = self.rng.random((b, g))
            j = (u[:, :, None] >= np.take(tb.cum, sa, axis=0)).sum(axis=2)
            flat = sa * tb.k + j
        else:
            flat = sa
        s_new = np.take(tb.next_flat, flat)
        reward = np.take(tb.reward, flat, axis=0).reshape(b, self.N)
        reward *= acting
        self.t += 1
        alive = np.take(tb.alive, s_new, axis=0).reshape(b, self.N)
        still = acting & alive
        term_now = acting & ~alive
        over = self.t[:, None] >= self.horizon  # [B, G]
        if n > 1:
            over = np.repeat(over, n, axis=1)
        trunc_now = still & over
        still &= ~over
        # Finished groups (no active agent: terminal or truncated) keep their state.
        moving = acting if n == 1 else acting.reshape(b, g, n).any(axis=2)
        self.s = np.where(moving, s_new, self.s)
        self.active = still
        return reward, acting, term_now, trunc_now

    def vec_obs(
        self, states: np.ndarray | None = None, mask: np.ndarray | None = None
    ) -> np.ndarray:
        """``float32 [B', N, D]`` observations of group states ``states [B', G]`` (default: the
        current ones), zero where ``mask [B', N]`` (default: ``active``) is False."""
        states = self.s if states is None else states
        mask = self.active if mask is None else mask
        n = self.tables.n
        # Row s * n + i of the flat table is agent i's view of state s; the extra last row is
        # zeros, read by masked slots (one gather, no multiply).
        rows = (states[:, :, None] * n + self._agent_offsets).reshape(states.shape[0], self.N)
        rows = np.where(mask, rows, self._zero_row)
        if self._vec_rows is None:
            raise RuntimeError(
                "this BatchCore has no vector observation table: build it with "
                "vec_obs=env.vector_table() (TabularVectorEnv does)"
            )
        return np.take(self._vec_rows, rows, axis=0)

    def state(self, env_ids: np.ndarray | slice = slice(None)) -> np.ndarray:
        """``float32 [B', N * d]`` global states."""
        parts = np.take(self.tables.state_part, self.s[env_ids], axis=0)
        return parts.reshape(parts.shape[0], -1)

    def obs_index(self) -> np.ndarray:
        """``int64 [B, N]`` tabular observation index of every agent slot (done agents too)."""
        return np.take(self.tables.obs_index, self.s, axis=0).reshape(self.B, self.N)


class SingleCore:
    """One environment in plain Python, drawing the same numbers as a ``B = 1``
    :class:`BatchCore` (see the module docstring).

    State: ``s`` (list of global states, one per group), ``t``, ``active`` (list of bools, one per
    agent slot), ``task_id``, ``group_task``.
    """

    def __init__(self, tables: CompiledTables, team: bool) -> None:
        self.tables = tables
        self.team = team
        self.G = tables.n_tasks if team else 1
        self.n = tables.n
        self.N = self.G * self.n
        self.rng = np.random.default_rng()
        self.group_task = list(range(self.G))
        self.horizon = [int(tables.horizon[k]) for k in self.group_task]
        self.task_id = 0
        self.s = [0] * self.G
        self.t = 0
        self.active = [False] * self.N
        self._strides = list(tables.strides)
        self._noop = tables.n_act - 1
        # Lazily built per-state rows (see _trans / _look).
        self._trans: list[Any] = [None] * tables.n_total
        self._look: list[Any] = [None] * tables.n_total

    # -- random draws: blocks of uniforms handed out in order (as capture's SingleCore) ------------
    @property
    def rng(self) -> np.random.Generator:
        """The dynamics generator (its state runs up to ``_DRAW_BLOCK`` draws ahead)."""
        return self._rng

    @rng.setter
    def rng(self, rng: np.random.Generator) -> None:
        # For PCG64, random(k) then random(j) yields the numbers of random(k + j), so drawing
        # ahead leaves the consumed stream that of a B = 1 BatchCore.
        self._rng = rng
        self._buf: list[float] = []
        self._next = 0

    def seed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Reseed the dynamics generator."""
        self.rng = np.random.default_rng(seed)

    def _draw(self, k: int) -> int:
        i = self._next
        if i + k > len(self._buf):
            self._buf = self._buf[i:] + self._rng.random(max(k, _DRAW_BLOCK)).tolist()
            i = 0
        self._next = i + k
        return i

    # -- lazily built rows ---------------------------------------------------------------------
    def trans(self, s: int) -> Any:
        """Transition row of global state ``s``: per joint action, ``(successor, rewards)`` for
        deterministic sets, or ``(thresholds, successors, rewards)`` (rewards: one list of ``n``
        floats per successor)."""
        row = self._trans[s]
        if row is None:
            tb = self.tables
            a, k = tb.n_joint, tb.k
            lo = s * a * k
            if k == 1:
                nxt = tb.next_flat[lo : lo + a].tolist()
                row = list(zip(nxt, tb.reward[lo : lo + a].tolist(), strict=True))
            else:
                succ = tb.next_flat[lo : lo + a * k].reshape(a, k).tolist()
                rew = tb.reward[lo : lo + a * k].reshape(a, k, tb.n).tolist()
                cum = tb.cum[s * a : (s + 1) * a].tolist()
                row = list(zip(cum, succ, rew, strict=True))
            self._trans[s] = row
        return row

    def look(self, s: int) -> Any:
        """What agents see of global state ``s``: ``(alive, obs, obs_index)`` tuples over the
        group's agents (observations read-only, shared between steps)."""
        row = self._look[s]
        if row is None:
            tb = self.tables
            alive = tuple(bool(v) for v in tb.alive[s])
            obs = tuple(_frozen_obs(tb.obs[s, i]) for i in range(tb.n))
            index = tuple(int(v) for v in tb.obs_index[s])
            row = self._look[s] = (alive, obs, index)
        return row

    # -- dynamics ------------------------------------------------------------------------------
    def reset(self, task_id: int = 0) -> None:
        tb = self.tables
        if not self.team:
            self.task_id = task_id
            self.group_task = [task_id]
            self.horizon = [int(tb.horizon[task_id])]
        if tb.random_start:
            u0 = self._draw(self.G)
            u = self._buf
            s = []
            for g, k in enumerate(self.group_task):
                j = 0
                for c in tb.start_cum[k].tolist():
                    if u[u0 + g] >= c:
                        j += 1
                s.append(int(tb.start_states[k, j]))
            self.s = s
        else:
            self.s = [int(tb.start_states[k, 0]) for k in self.group_task]
        self.t = 0
        active: list[bool] = []
        for s_g in self.s:
            active.extend(self.look(s_g)[0])
        self.active = active

    def step(self, actions: Sequence[int]) -> tuple[list[float], list[bool], list[bool]]:
        """Step with one action per agent slot (values of done slots are ignored).

        Returns:
            ``rewards``, ``term_now``, ``trunc_now`` per agent slot (for agents that were active
            before the step; the others read 0.0 / False).
        """
        n, big_n = self.n, self.N
        stochastic = self.tables.stochastic
        if stochastic:
            u0 = self._draw(self.G)
            u = self._buf
        self.t = t = self.t + 1
        rewards = [0.0] * big_n
        term_now = [False] * big_n
        trunc_now = [False] * big_n
        active, states, horizon = self.active, self.s, self.horizon
        trans, looks = self._trans, self._look
        for g in range(self.G):
            base = g * n
            if n == 1:
                if not active[base]:
                    continue  # a finished group (terminal or truncated) does not move
                joint = actions[base]
            else:
                if not any(active[base : base + n]):
                    continue
                joint = 0
                for i in range(n):
                    a = actions[base + i] if active[base + i] else self._noop
                    joint += a * self._strides[i]
            s = states[g]
            row = (trans[s] or self.trans(s))[joint]
            if stochastic:
                cum, succ, rew = row
                ug = u[u0 + g]
                j = 0
                for c in cum:
                    if ug >= c:
                        j += 1
                s2, r = succ[j], rew[j]
            else:
                s2, r = row
            alive = (looks[s2] or self.look(s2))[0]
            states[g] = s2
            if n == 1:
                rewards[base] = r[0]
                if not alive[0]:
                    term_now[base] = True
                    active[base] = False
                elif t >= horizon[g]:
                    trunc_now[base] = True
                    active[base] = False
                continue
            over = t >= horizon[g]
            for i in range(n):
                k = base + i
                if active[k]:
                    rewards[k] = r[i]
                    if not alive[i]:
                        term_now[k] = True
                        active[k] = False
                    elif over:
                        trunc_now[k] = True
                        active[k] = False
        return rewards, term_now, trunc_now


def _frozen_obs(value: np.ndarray) -> Any:
    """A read-only observation: a numpy scalar for scalar observations, else a read-only array."""
    if value.ndim == 0:
        return value[()]
    out = np.array(value, copy=True)
    out.flags.writeable = False
    return out
