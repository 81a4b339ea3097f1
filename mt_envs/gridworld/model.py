"""The exact Markov model of a GridWorld task (:class:`~mt_envs.tabular.model.TabularModel`).

States are the cells in flat order ``row * cols + col``; actions are UP, DOWN, RIGHT, LEFT
(:data:`~mt_envs.gridworld.task.DELTAS`); dynamics are deterministic (``K = 1``). The goal and the
obstacles are terminal: absorbing, with zero reward once entered. A step into the goal pays +1, a
step into an obstacle -1, every other step 0. The model has one reward channel (``N = 1``).
"""

from __future__ import annotations

import numpy as np

from mt_envs.gridworld.task import DELTAS, N_ACTIONS, GridWorldTask
from mt_envs.tabular.model import TabularModel


def successor_table(rows: int, cols: int) -> np.ndarray:
    """Next cell of every cell and action on an open ``rows x cols`` grid, ``int64 [S, 4]``.

    Moves off the grid stay put. Terminal cells are not special here (see :func:`build_model`).
    """
    r, c = np.divmod(np.arange(rows * cols), cols)
    out = np.empty((rows * cols, N_ACTIONS), dtype=np.int64)
    for a, (dr, dc) in enumerate(DELTAS):
        nr, nc = r + dr, c + dc
        inside = (nr >= 0) & (nr < rows) & (nc >= 0) & (nc < cols)
        out[:, a] = np.where(inside, nr * cols + nc, r * cols + c)
    return out


def terminal_mask(task: GridWorldTask) -> np.ndarray:
    """``bool [S]``: True on the goal and the obstacles."""
    term = np.zeros(task.n_cells, dtype=bool)
    term[task.index(task.goal)] = True
    for cell in task.obstacles:
        term[task.index(cell)] = True
    return term


def cell_reward(task: GridWorldTask) -> np.ndarray:
    """``float64 [S]``: the reward of entering each cell (+1 goal, -1 obstacle, 0 otherwise)."""
    rew = np.zeros(task.n_cells)
    rew[task.index(task.goal)] = 1.0
    for cell in task.obstacles:
        rew[task.index(cell)] = -1.0
    return rew


def build_model(task: GridWorldTask) -> TabularModel:
    """The single-agent tabular model of ``task``.

    Args:
        task: The task.

    Returns:
        A :class:`~mt_envs.tabular.model.TabularModel` with ``S = rows * cols`` states,
        ``A = 4`` actions, ``K = 1`` and ``N = 1``; ``state_names`` are ``"r,c"``.
    """
    n = task.n_cells
    term = terminal_mask(task)
    nxt = successor_table(task.rows, task.cols)
    rew = cell_reward(task)[nxt]
    # Terminal states are absorbing with zero reward.
    nxt[term] = np.flatnonzero(term)[:, None]
    rew[term] = 0.0
    return TabularModel(
        next_state=nxt[:, :, None],
        prob=np.ones((n, N_ACTIONS, 1)),
        reward=rew[:, :, None],
        start=task.start_distribution(),
        terminal=term,
        action_shape=(N_ACTIONS,),
        state_names=tuple(f"{r},{c}" for r in range(task.rows) for c in range(task.cols)),
    )


def observation_table(task: GridWorldTask) -> np.ndarray:
    """Observation of every model state: the flat cell index, ``int64 [S, 1]`` (one agent)."""
    return np.arange(task.n_cells, dtype=np.int64)[:, None]
