"""Exact analysis of *shared* policies on a set of GridWorld tasks (paper 003, section 5.1).

All tasks of a set share the grid and the moves; they differ in goal and obstacles. A shared
policy acts on the agent's cell (and possibly its history) without knowing the task, so from one
start cell every task sees the same walk until its own episode ends. Two exact tools follow:

* :func:`shared_optimum`: the best value of the paper's multi-task objective (eq. 5),
  ``sum_i V_i(s0)``, over **all** shared policies (stochastic or deterministic, history-dependent
  or not), by value iteration on the product of the grid with the set of tasks still running
  (``cells x 2^k`` states). Any shared policy's objective is an average of walk values, so the
  best walk is the optimum; when the best walk visits no cell twice, a deterministic memoryless
  policy (a tabular policy) attains it.
* :func:`solvable_sets`: which sets of tasks one shared policy can finish **with probability 1**
  (reach each task's goal before any of its obstacles), by breadth-first search on the cells
  times each task's status (running, solved, failed). A policy finishes a set with probability 1
  only if almost every walk finishes all of it, so the search answers for every kind of shared
  policy; a found walk that visits no cell twice is followed by a deterministic tabular policy
  (:func:`route_policy`).

Both consider a single start cell (the tasks' common start). With several start cells they are
exact per start cell, and an upper bound for policies that cannot tell start cells apart.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterable, Sequence

import numpy as np

from mt_envs.gridworld.model import cell_reward, successor_table, terminal_mask
from mt_envs.gridworld.policy import UNREACHABLE, distance_to_goal
from mt_envs.gridworld.task import DELTAS, MOVE_LETTERS, N_ACTIONS, Cell, GridWorldTask

#: More tasks than this make the product (``cells x 2^k`` or ``cells x 3^k``) too large.
MAX_TASKS = 10


def _grid_of(tasks: Sequence[GridWorldTask]) -> tuple[int, int]:
    if not tasks:
        raise ValueError("give at least one GridWorldTask")
    if len(tasks) > MAX_TASKS:
        raise ValueError(
            f"{len(tasks)} tasks is too many for the exact search: at most {MAX_TASKS}"
        )
    shapes = {(t.rows, t.cols) for t in tasks}
    if len(shapes) != 1:
        raise ValueError(f"the tasks have different grids {sorted(shapes)}: they must share one")
    return shapes.pop()


def common_start(tasks: Sequence[GridWorldTask]) -> Cell:
    """The start cell every task shares.

    Raises:
        ValueError: When a task's start distribution has several cells or they differ.
    """
    starts = {t.start_cells for t in tasks}
    if len(starts) != 1 or len(next(iter(starts))) != 1:
        raise ValueError(
            "the tasks do not share a single start cell; pass start=(row, col) explicitly"
        )
    return next(iter(starts))[0]


def _check_start(tasks: Sequence[GridWorldTask], start: Cell | None) -> Cell:
    rows, cols = _grid_of(tasks)
    cell = common_start(tasks) if start is None else (int(start[0]), int(start[1]))
    if not (0 <= cell[0] < rows and 0 <= cell[1] < cols):
        raise ValueError(f"start={cell} is outside the {rows}x{cols} grid")
    for i, t in enumerate(tasks):
        if t.is_terminal(cell):
            raise ValueError(f"start={cell} is a terminal cell of task {i} ({t.name})")
    return cell


def single_task_optimum(task: GridWorldTask, cell: Cell, gamma: float) -> float:
    """The optimal value of ``task`` from ``cell``: ``gamma**(d - 1)`` for a shortest
    obstacle-free path of ``d`` steps, 0 when the goal cannot be reached."""
    d = int(distance_to_goal(task)[task.index(cell)])
    return 0.0 if d == UNREACHABLE else float(gamma ** (d - 1))


def shared_optimum(
    tasks: Sequence[GridWorldTask],
    start: Cell | None = None,
    gamma: float = 0.99,
    tol: float = 0.0,
    max_iter: int = 100_000,
) -> tuple[float, list[Cell]]:
    """The optimum of ``sum_i V_i(start)`` over all shared policies, and a best walk.

    Value iteration on states ``(cell, tasks still running)``: entering a cell pays the sum of
    the running tasks' rewards for it and stops the tasks for which it is terminal. Starting from
    zero the iterates increase to the optimum; it stops when they stop changing (by more than
    ``tol``).

    Args:
        tasks: Tasks on one grid.
        start: The start cell; ``None``: the tasks' common single start cell.
        gamma: Discount in (0, 1).
        tol: Convergence threshold on the largest change of an iteration.
        max_iter: Iteration cap.

    Returns:
        ``(value, walk)``: the optimal objective, and a walk attaining it (cells from ``start``,
        greedy with the lowest action id on ties). The walk stops when no task is running or
        when the rest is worth 0 (the tasks still running are then best left alone).

    Raises:
        ValueError: Tasks on different grids, no common start, a start that is terminal for a
            task, or ``gamma`` outside (0, 1).
    """
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"gamma={gamma!r} is invalid: need 0 < gamma < 1")
    s0 = _check_start(tasks, start)
    rows, cols = _grid_of(tasks)
    k = len(tasks)
    n_masks = 1 << k
    nxt = successor_table(rows, cols)
    masks = np.arange(n_masks)
    term_bits = np.zeros(rows * cols, dtype=np.int64)
    reward = np.zeros((n_masks, rows * cols))
    for i, t in enumerate(tasks):
        term_bits |= terminal_mask(t).astype(np.int64) << i
        reward += ((masks >> i) & 1)[:, None] * cell_reward(t)[None, :]
    new_mask = masks[:, None] & ~term_bits[None, :]
    r_next = reward[:, nxt]  # [M, S, 4]
    m_next = new_mask[:, nxt]  # [M, S, 4]
    s_next = np.broadcast_to(nxt, m_next.shape)
    value = np.zeros((n_masks, rows * cols))
    for _ in range(max_iter):
        q = r_next + gamma * value[m_next, s_next]
        new = q.max(axis=2)
        done = np.max(np.abs(new - value)) <= tol
        value = new
        if done:
            break
    else:
        raise RuntimeError(f"shared_optimum did not converge in {max_iter} iterations")
    q = r_next + gamma * value[m_next, s_next]
    full = n_masks - 1
    cell, mask = s0[0] * cols + s0[1], full
    walk = [s0]
    while mask and value[mask, cell] > 0 and len(walk) <= rows * cols * n_masks:
        a = int(np.argmax(q[mask, cell]))
        cell, mask = int(nxt[cell, a]), int(m_next[mask, cell, a])
        walk.append(divmod(cell, cols))
    return float(value[full, s0[0] * cols + s0[1]]), walk


def _statuses(tasks: Sequence[GridWorldTask], start: Cell) -> dict[tuple[int, int, int], tuple]:
    """BFS over ``(cell, running mask, solved mask)``; returns each reached state's parent."""
    rows, cols = _grid_of(tasks)
    nxt = successor_table(rows, cols)
    goal_bits = np.zeros(rows * cols, dtype=np.int64)
    obstacle_bits = np.zeros(rows * cols, dtype=np.int64)
    for i, t in enumerate(tasks):
        goal_bits[t.index(t.goal)] |= 1 << i
        for c in t.obstacles:
            obstacle_bits[t.index(c)] |= 1 << i
    s0 = (start[0] * cols + start[1], (1 << len(tasks)) - 1, 0)
    parent: dict[tuple[int, int, int], tuple] = {s0: ()}
    queue = deque([s0])
    while queue:
        state = queue.popleft()
        cell, running, solved = state
        if not running:
            continue
        for a in range(N_ACTIONS):
            c2 = int(nxt[cell, a])
            reached = running & int(goal_bits[c2])
            hit = running & int(obstacle_bits[c2])
            nstate = (c2, running & ~(reached | hit), solved | reached)
            if nstate not in parent:
                parent[nstate] = (state, a)
                queue.append(nstate)
    return parent


def solvable_sets(
    tasks: Sequence[GridWorldTask], start: Cell | None = None
) -> list[frozenset[int]]:
    """The maximal sets of task ids that one shared policy finishes with probability 1.

    Args:
        tasks: Tasks on one grid.
        start: The start cell; ``None``: the tasks' common single start cell.

    Returns:
        The inclusion-maximal solvable sets, largest first (ties in sorted order). Every subset
        of one of them is solvable too, and no other set is.
    """
    s0 = _check_start(tasks, start)
    solved = {
        frozenset(i for i in range(len(tasks)) if (state[2] >> i) & 1)
        for state in _statuses(tasks, s0)
    }
    maximal = [s for s in solved if not any(s < o for o in solved)]
    return sorted(maximal, key=lambda s: (-len(s), sorted(s)))


def solving_walk(
    tasks: Sequence[GridWorldTask], subset: Iterable[int], start: Cell | None = None
) -> list[Cell] | None:
    """A shortest walk from ``start`` that finishes every task of ``subset`` (reaching its goal
    before any of its obstacles), or ``None`` when no shared policy can."""
    s0 = _check_start(tasks, start)
    _, cols = _grid_of(tasks)
    want = 0
    for i in subset:
        if not 0 <= i < len(tasks):
            raise ValueError(f"task id {i} out of range: valid ids are 0..{len(tasks) - 1}")
        want |= 1 << i
    parent = _statuses(tasks, s0)
    # BFS order: the first reached state solving the subset ends a shortest walk.
    for state in parent:
        if state[2] & want == want:
            walk = []
            node: tuple = state
            while node:
                walk.append(divmod(node[0], cols))
                node = parent[node][0] if parent[node] else ()
            return walk[::-1]
    return None


def route_cells(start: Cell, moves: str) -> list[Cell]:
    """The cells of a route given as move letters from ``start`` (``"RRDD"``: right, right,
    down, down; off-grid moves are not checked here)."""
    cells = [(int(start[0]), int(start[1]))]
    for ch in moves.replace(" ", ""):
        if ch not in MOVE_LETTERS:
            raise ValueError(f"route move {ch!r} is invalid: use {', '.join(MOVE_LETTERS)}")
        dr, dc = DELTAS[MOVE_LETTERS.index(ch)]
        cells.append((cells[-1][0] + dr, cells[-1][1] + dc))
    return cells


def route_policy(
    task: GridWorldTask, route: Sequence[Cell], elsewhere: np.ndarray | None = None
) -> np.ndarray:
    """A deterministic tabular policy (``float64 [S, 4]``) that follows ``route``.

    Args:
        task: Any task of the grid (only its size is used).
        route: Cells visited in order, each a grid neighbour of the previous one; no cell twice
            (a memoryless policy cannot take two ways out of one cell).
        elsewhere: The policy off the route (``[S, 4]``); default uniform.

    Raises:
        ValueError: Cells outside the grid, a step that is not a single move, or a repeated cell.
    """
    out = (
        np.full((task.n_cells, N_ACTIONS), 1.0 / N_ACTIONS)
        if elsewhere is None
        else np.array(elsewhere, dtype=np.float64)
    )
    cells = [(int(c[0]), int(c[1])) for c in route]
    twice = [c for c in set(cells) if cells.count(c) > 1]
    if twice:
        raise ValueError(f"route visits {min(twice)} twice: a tabular policy cannot follow it")
    for here, there in itertools.pairwise(cells):
        delta = (there[0] - here[0], there[1] - here[1])
        if delta not in DELTAS or task.move(here, DELTAS.index(delta)) != there:
            raise ValueError(f"route step {here} -> {there} is not a single move on the grid")
        out[task.index(here)] = 0.0
        out[task.index(here), DELTAS.index(delta)] = 1.0
    return out


def walk_outcomes(tasks: Sequence[GridWorldTask], walk: Sequence[Cell]) -> list[tuple[str, int]]:
    """What the walk does in each task: ``("goal", t)``, ``("obstacle", t)`` (entered at step
    ``t``) or ``("running", len(walk) - 1)``."""
    out = []
    for t in tasks:
        result = ("running", len(walk) - 1)
        for step, cell in enumerate(walk[1:], start=1):
            if tuple(cell) == t.goal:
                result = ("goal", step)
                break
            if tuple(cell) in t.obstacles:
                result = ("obstacle", step)
                break
        out.append(result)
    return out
