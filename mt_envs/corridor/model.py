"""Corridor dynamics: the one-step rule (:func:`corridor_step`), the joint Markov model of a task
(:func:`build_model`) and the agents' observations (:func:`observation_table`,
:func:`obs_index`).

The step rule (SPECS.md section 3) is written once, in plain Python, in :func:`corridor_step` and
tested by hand. The :class:`~mt_envs.tabular.model.TabularModel` of a task is built by calling it
on every pair of agent cells and every joint action, so the model (and the env, which is driven by
the model) cannot disagree with the hand-tested rule.

Joint state
    ``(cell of agent_0, cell of agent_1, previous action of agent_0, previous action of
    agent_1)``. An agent is *done* exactly when it stands on its own goal (it cannot start there,
    and reaching it ends its episode), so the done flags are part of the cells. Previous actions
    are ``0..4`` (the action enum) or :data:`~mt_envs.corridor.task.NO_ACTION` (5) before the
    first step; a done agent's previous action stays frozen at the move that reached the goal.
    Only states reachable from the start are kept, numbered in breadth-first order from the start
    state 0 (about 12,000 to 13,000 per task). A state where both agents are done is terminal.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from mt_envs.corridor.task import (
    ACTION_NAMES,
    CELL_ID,
    DELTAS,
    FLOOR_CELLS,
    N_ACTIONS,
    N_CELLS,
    N_COLS,
    N_ROWS,
    NO_ACTION,
    Cell,
    CorridorTask,
    is_wall,
)
from mt_envs.tabular.model import TabularModel

#: Reward of every live agent in every step, including the step that reaches its goal.
STEP_REWARD = -0.1
#: Extra reward of the step that enters the agent's own goal (that step pays 100 - 0.1 = 99.9).
GOAL_REWARD = 100.0

#: Why a move stayed put (see :func:`corridor_step`), in the order the rules are checked.
BLOCK_REASONS = ("edge", "wall", "occupied", "contested")

#: Number of previous-action codes (the 5 actions and ``NO_ACTION``).
N_PREV = N_ACTIONS + 1
#: Per-agent observation: own row, own col, other row, other col, own previous action, other's
#: previous action, other done.
OBS_NVEC: tuple[int, ...] = (N_ROWS, N_COLS, N_ROWS, N_COLS, N_PREV, N_PREV, 2)
OBS_DIM = len(OBS_NVEC)
#: Number of flat observation indices (:func:`obs_index`): 23 * 23 * 6 * 6 * 2 = 38088.
N_OBS_STATES = N_CELLS * N_CELLS * N_PREV * N_PREV * 2
#: Divisors that map the integer observation into [0, 1] (``obs_type="float"``).
OBS_SCALE: tuple[float, ...] = (
    N_ROWS - 1,
    N_COLS - 1,
    N_ROWS - 1,
    N_COLS - 1,
    NO_ACTION,
    NO_ACTION,
    1,
)


@dataclass(frozen=True)
class StepOutcome:
    """The result of one corridor step (:func:`corridor_step`).

    Attributes:
        pos: Cell of each agent after the step.
        rewards: Reward of each agent (0.0 for an agent that was already done).
        done: Whether each agent is done after the step.
        blocked: For each agent, ``None`` if it moved, stayed on purpose or was already done,
            else the first rule that stopped it: ``"edge"`` (leaves the grid), ``"wall"``,
            ``"occupied"`` (the other agent's current cell) or ``"contested"`` (the other agent's
            intended new cell).
    """

    pos: tuple[Cell, Cell]
    rewards: tuple[float, float]
    done: tuple[bool, bool]
    blocked: tuple[str | None, str | None]


def corridor_step(
    task: CorridorTask,
    pos: tuple[Cell, Cell],
    actions: tuple[int, int],
    done: tuple[bool, bool] = (False, False),
) -> StepOutcome:
    """One simultaneous step of the two agents (SPECS.md section 3), in plain Python.

    Rules, applied to each live agent with the positions and intended cells *before* the step:

    * its intended cell is its cell moved by its action (``STAY`` intends its own cell);
    * the move stays put if the intended cell is outside the grid (``"edge"``), a wall
      (``"wall"``), the other live agent's **current** cell (``"occupied"``), even when that agent
      is moving away this step (so no swaps and no following: a cell can only be entered when it
      was free at the start of the step), or the other live agent's **intended** cell
      (``"contested"``: two agents heading for one cell both stay);
    * a live agent gets :data:`STEP_REWARD` (-0.1), plus :data:`GOAL_REWARD` (+100) when it
      enters its own goal; it is then done. Entering the other agent's goal is an ordinary move.

    A done agent has left the board: it neither moves (its action is ignored) nor blocks, gets
    0.0, and keeps its goal cell as its position.

    Args:
        task: The task (gives the goals).
        pos: Cell ``(row, col)`` of each agent.
        actions: Action of each agent (``0..4``; ignored for done agents).
        done: Whether each agent is already done.

    Returns:
        The :class:`StepOutcome`.

    Raises:
        ValueError: An action of a live agent is not in ``0..4``.
    """
    intended: list[Cell] = []
    for i in range(2):
        a = actions[i]
        if done[i]:
            intended.append(pos[i])
            continue
        if not isinstance(a, (int, np.integer)) or not 0 <= a < N_ACTIONS:
            raise ValueError(f"action {a!r} of agent_{i} is invalid: need an int in [0, 4]")
        dr, dc = DELTAS[a]
        intended.append((pos[i][0] + dr, pos[i][1] + dc))
    new_pos = list(pos)
    rewards = [0.0, 0.0]
    new_done = list(done)
    blocked: list[str | None] = [None, None]
    for i in range(2):
        if done[i]:
            continue
        j = 1 - i
        r, c = intended[i]
        reason: str | None = None
        if intended[i] != pos[i]:
            if not (0 <= r < N_ROWS and 0 <= c < N_COLS):
                reason = "edge"
            elif is_wall(r, c):
                reason = "wall"
            elif not done[j] and intended[i] == pos[j]:
                reason = "occupied"
            elif not done[j] and intended[i] == intended[j]:
                reason = "contested"
        blocked[i] = reason
        if reason is None:
            new_pos[i] = intended[i]
        rewards[i] = STEP_REWARD
        if new_pos[i] == task.goals[i]:
            rewards[i] += GOAL_REWARD
            new_done[i] = True
    return StepOutcome(
        (new_pos[0], new_pos[1]),
        (rewards[0], rewards[1]),
        (new_done[0], new_done[1]),
        (blocked[0], blocked[1]),
    )


@dataclass(frozen=True, eq=False)
class CorridorModel:
    """The joint Markov model of one corridor task and the meaning of its states.

    Attributes:
        task: The task.
        model: The :class:`~mt_envs.tabular.model.TabularModel`: ``S`` reachable joint states,
            25 joint actions (``action_shape=(5, 5)``, ``a = 5 * a0 + a1``), deterministic
            (``K = 1``), rewards ``[S, 25, 2]``; a done agent's action does not matter.
        cell: ``int64 [S, 2]`` cell id (index into ``FLOOR_CELLS``) of each agent.
        prev: ``int64 [S, 2]`` previous action of each agent (``NO_ACTION`` = 5 at the start).
        done: ``bool [S, 2]`` whether each agent is done (stands on its own goal).
    """

    task: CorridorTask
    model: TabularModel
    cell: np.ndarray
    prev: np.ndarray
    done: np.ndarray

    @property
    def n_states(self) -> int:
        """Number of reachable joint states."""
        return self.model.n_states

    def state(self, pos: tuple[Cell, Cell], prev: tuple[int, int] = (NO_ACTION, NO_ACTION)) -> int:
        """The joint state index of agents on cells ``pos`` with previous actions ``prev``.

        Raises:
            KeyError: The combination is not reachable from the task's start.
        """
        key = _full_index(CELL_ID[pos[0]], CELL_ID[pos[1]], prev[0], prev[1])
        s = int(self._lookup[key]) if 0 <= key < self._lookup.size else -1
        if s < 0:
            raise KeyError(f"joint state {pos} with previous actions {prev} is not reachable")
        return s

    @functools.cached_property
    def _lookup(self) -> np.ndarray:
        out = np.full(N_CELLS * N_CELLS * N_PREV * N_PREV, -1, dtype=np.int64)
        keys = _full_index(self.cell[:, 0], self.cell[:, 1], self.prev[:, 0], self.prev[:, 1])
        out[keys] = np.arange(self.n_states)
        return out

    def positions(self, s: int) -> tuple[Cell, Cell]:
        """The cells ``(row, col)`` of both agents in joint state ``s``."""
        return FLOOR_CELLS[int(self.cell[s, 0])], FLOOR_CELLS[int(self.cell[s, 1])]


def _full_index(c0: Any, c1: Any, a0: Any, a1: Any) -> Any:
    """Index of the unreduced joint state (cell ids and previous actions; ints or arrays)."""
    return ((c0 * N_CELLS + c1) * N_PREV + a0) * N_PREV + a1


def _pair_table(task: CorridorTask) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Next cell pair and rewards of every (cell pair, joint action), from :func:`corridor_step`.

    Returns ``next [P, 25]`` (pair index ``c0 * 23 + c1``, ``-1`` for impossible pairs: both live
    on one cell), ``reward [P, 25, 2]`` and ``live [P, 2]``.
    """
    n_pairs = N_CELLS * N_CELLS
    nxt = np.full((n_pairs, N_ACTIONS * N_ACTIONS), -1, dtype=np.int64)
    rew = np.zeros((n_pairs, N_ACTIONS * N_ACTIONS, 2))
    live = np.zeros((n_pairs, 2), dtype=bool)
    g0, g1 = task.goals
    for c0, p0 in enumerate(FLOOR_CELLS):
        for c1, p1 in enumerate(FLOOR_CELLS):
            done = (p0 == g0, p1 == g1)
            if c0 == c1 and not any(done):
                continue
            pair = c0 * N_CELLS + c1
            live[pair] = (not done[0], not done[1])
            for a0 in range(N_ACTIONS):
                for a1 in range(N_ACTIONS):
                    out = corridor_step(task, (p0, p1), (a0, a1), done)
                    a = a0 * N_ACTIONS + a1
                    nxt[pair, a] = CELL_ID[out.pos[0]] * N_CELLS + CELL_ID[out.pos[1]]
                    rew[pair, a] = out.rewards
    return nxt, rew, live


def _plain(task: CorridorTask) -> CorridorTask:
    """``task`` without what the model does not depend on (tag and horizon)."""
    return CorridorTask(starts=task.starts, goals=task.goals)


def _state_name(p: tuple[Cell, Cell], prev: tuple[int, int], done: tuple[bool, bool]) -> str:
    def one(i: int) -> str:
        a = "-" if prev[i] == NO_ACTION else ACTION_NAMES[prev[i]][0]
        return f"a{i}({p[i][0]},{p[i][1]}){'*' if done[i] else ''}:{a}"

    return f"{one(0)} {one(1)}"


@functools.lru_cache(maxsize=64)
def build_model(task: CorridorTask) -> CorridorModel:
    """The joint Markov model of ``task`` over the states reachable from its start.

    Built from :func:`corridor_step` on every pair of cells and joint action, then extended with
    the previous actions and restricted to the reachable states (breadth-first from the start,
    which is state 0). Cached per task (tasks are immutable values); tasks that differ only in
    ``tag`` or ``horizon`` share their arrays.

    Args:
        task: The corridor task.

    Returns:
        The :class:`CorridorModel`.
    """
    plain = _plain(task)
    if plain != task:
        cm = build_model(plain)
        return CorridorModel(task, cm.model, cm.cell, cm.prev, cm.done)
    pair_next, pair_rew, pair_live = _pair_table(task)
    n_joint = N_ACTIONS * N_ACTIONS
    joint = np.arange(n_joint)
    act0, act1 = joint // N_ACTIONS, joint % N_ACTIONS
    # Full (unreduced) state f = ((c0 * 23 + c1) * 6 + p0) * 6 + p1, i.e. pair * 36 + p0 * 6 + p1.
    n_full = N_CELLS * N_CELLS * N_PREV * N_PREV
    full = np.arange(n_full)
    pair, prev0, prev1 = full // (N_PREV * N_PREV), (full // N_PREV) % N_PREV, full % N_PREV
    live0, live1 = pair_live[pair, 0], pair_live[pair, 1]
    new_prev0 = np.where(live0[:, None], act0[None, :], prev0[:, None])
    new_prev1 = np.where(live1[:, None], act1[None, :], prev1[:, None])
    next_pair = pair_next[pair]  # [F, 25]
    full_next = np.where(next_pair >= 0, (next_pair * N_PREV + new_prev0) * N_PREV + new_prev1, -1)
    terminal_full = ~(live0 | live1)
    # Terminal states are absorbing with zero reward.
    full_next[terminal_full] = full[terminal_full, None]

    start_full = int(
        _full_index(CELL_ID[task.starts[0]], CELL_ID[task.starts[1]], NO_ACTION, NO_ACTION)
    )
    order = [start_full]
    seen = np.zeros(n_full, dtype=bool)
    seen[start_full] = True
    frontier = np.array([start_full])
    while frontier.size:
        succ = np.unique(full_next[frontier].ravel())
        succ = succ[~seen[succ]]
        seen[succ] = True
        order.extend(succ.tolist())
        frontier = succ
    states = np.array(order, dtype=np.int64)
    remap = np.full(n_full, -1, dtype=np.int64)
    remap[states] = np.arange(states.size)

    next_state = remap[full_next[states]]
    reward = pair_rew[pair[states]]
    terminal = terminal_full[states]
    reward[terminal] = 0.0
    start = np.zeros(states.size)
    start[0] = 1.0
    cell = np.stack([pair[states] // N_CELLS, pair[states] % N_CELLS], axis=1)
    prev = np.stack([prev0[states], prev1[states]], axis=1)
    done = ~np.stack([live0[states], live1[states]], axis=1)
    names = tuple(
        _state_name(
            (FLOOR_CELLS[c[0]], FLOOR_CELLS[c[1]]), (int(p[0]), int(p[1])), (bool(d[0]), bool(d[1]))
        )
        for c, p, d in zip(cell.tolist(), prev.tolist(), done.tolist(), strict=True)
    )
    model = TabularModel(
        next_state=next_state[:, :, None],
        prob=np.ones((*next_state.shape, 1)),
        reward=reward,
        start=start,
        terminal=terminal,
        action_shape=(N_ACTIONS, N_ACTIONS),
        state_names=names,
    )
    for arr in (cell, prev, done):
        arr.flags.writeable = False
    return CorridorModel(task, model, cell, prev, done)


def observation_table(cm: CorridorModel, obs_type: str = "multidiscrete") -> np.ndarray:
    """Each agent's observation in every joint state of ``cm``.

    Agent ``i`` observes the paper's septuple ``(own row, own col, other row, other col, own
    previous action, other's previous action, other done)``. Previous actions are ``0..4`` or
    ``NO_ACTION`` (5) before the first step; a done agent is seen on its goal with its last action.

    Args:
        cm: The joint model of a task.
        obs_type: ``"multidiscrete"`` (``int64``, bounds :data:`OBS_NVEC`) or ``"float"``
            (``float32``, the integers divided by :data:`OBS_SCALE`, so every entry is in [0, 1]).

    Returns:
        ``[S, 2, 7]`` read-only array.

    Raises:
        ValueError: Unknown ``obs_type``.
    """
    if obs_type not in ("multidiscrete", "float"):
        raise ValueError(f"obs_type={obs_type!r} is invalid: use 'multidiscrete' or 'float'")
    cells = np.array(FLOOR_CELLS, dtype=np.int64)
    rc = cells[cm.cell]  # [S, 2, 2]
    obs = np.zeros((cm.n_states, 2, OBS_DIM), dtype=np.int64)
    for i in range(2):
        j = 1 - i
        obs[:, i, 0:2] = rc[:, i]
        obs[:, i, 2:4] = rc[:, j]
        obs[:, i, 4] = cm.prev[:, i]
        obs[:, i, 5] = cm.prev[:, j]
        obs[:, i, 6] = cm.done[:, j]
    out: np.ndarray = obs
    if obs_type == "float":
        out = (obs / np.array(OBS_SCALE)).astype(np.float32)
    out.flags.writeable = False
    return out


_CELL_ID_GRID = np.full((N_ROWS, N_COLS), -1, dtype=np.int64)
for _i, (_r, _c) in enumerate(FLOOR_CELLS):
    _CELL_ID_GRID[_r, _c] = _i


def obs_index(obs: np.ndarray) -> np.ndarray | int:
    """The compact flat index of septuple observations (either ``obs_type``).

    ``index = (((own_cell * 23 + other_cell) * 6 + own_prev) * 6 + other_prev) * 2 + other_done``
    with ``own_cell`` / ``other_cell`` the cell ids (positions in ``FLOOR_CELLS``, row-major over
    the 23 floor cells) instead of rows and columns, so indices run over ``0..38087``
    (:data:`N_OBS_STATES`) without gaps for wall cells.

    Args:
        obs: ``[..., 7]`` observations, integer or normalised float.

    Returns:
        ``int64 [...]`` indices (a Python int for a single observation).

    Raises:
        ValueError: The last axis is not 7 long or an observation is not a valid septuple.
    """
    arr = np.asarray(obs)
    if arr.shape[-1:] != (OBS_DIM,):
        raise ValueError(f"observations must have a last axis of {OBS_DIM}, got shape {arr.shape}")
    if arr.dtype.kind == "f":
        arr = np.rint(arr * np.array(OBS_SCALE)).astype(np.int64)
    else:
        arr = arr.astype(np.int64)
    if np.any(arr < 0) or np.any(arr >= np.array(OBS_NVEC)):
        raise ValueError(f"observation values out of range: bounds are {OBS_NVEC}")
    own = _CELL_ID_GRID[arr[..., 0], arr[..., 1]]
    other = _CELL_ID_GRID[arr[..., 2], arr[..., 3]]
    if np.any(own < 0) or np.any(other < 0):
        raise ValueError("an observation places an agent on a wall cell")
    idx = (((own * N_CELLS + other) * N_PREV + arr[..., 4]) * N_PREV + arr[..., 5]) * 2 + arr[
        ..., 6
    ]
    return int(idx) if idx.ndim == 0 else idx


__all__ = [
    "BLOCK_REASONS",
    "GOAL_REWARD",
    "N_OBS_STATES",
    "OBS_DIM",
    "OBS_NVEC",
    "OBS_SCALE",
    "STEP_REWARD",
    "CorridorModel",
    "StepOutcome",
    "build_model",
    "corridor_step",
    "obs_index",
    "observation_table",
]
