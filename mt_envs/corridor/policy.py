"""The scripted corridor policy: a baseline, a sanity check of the dynamics and a test oracle.

Each agent walks a shortest path to its own goal. When both agents still have to pass the corridor
in opposite directions (a *conflict*), the one that reaches the corridor first goes and the other
waits outside:

* the agent with the shorter walk to the far end of the corridor (the mouth cell on its goal's
  side) has priority; on a tie ``agent_0`` has priority (the two walks are equal in the
  symmetric tasks, so a fixed tie-break is needed; both agents compute it from the same
  positions, so they always agree);
* the other agent walks to a *waiting cell*: the neighbour of its own-side mouth (not the mouth
  itself, which the first agent needs in order to leave the corridor, and never a corridor cell)
  farthest from the first agent's goal (ties: north first, then west). It stays there until the
  first agent has left the corridor on its side; if it stood at the mouth or in the corridor it
  backs out.

Moves: among the moves that shorten the walk it takes the first, in the order N, S, E, W, that
does not enter the other agent's current cell (such a move would be blocked); ``agent_1`` also
leaves to ``agent_0`` the cell ``agent_0`` is about to enter (both would be blocked). When the
only shortening moves enter the other agent's cell the agent waits, except in a head-on meeting
(each one's only way on is the other's cell), where ``agent_1`` steps aside to the free
neighbour closest to its target.

The policy is decentralised: agent ``i`` acts on its own observation (both cells and the other's
done flag) and the task it reads from ``infos[agent]["task"]`` (its own goal and the other
agent's goal: privileged training-time information, like the capture family's greedy chaser).
Previous actions are not used. It solves every task of ``corridor-5`` and ``corridor-symmetric``
with the team-optimal return of the joint model; other tasks are not guaranteed.
"""

from __future__ import annotations

import functools
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np

from mt_envs.corridor.model import OBS_DIM, OBS_SCALE, CorridorModel
from mt_envs.corridor.task import (
    CELL_ID,
    CORRIDOR_CELLS,
    DELTAS,
    FLOOR_CELLS,
    LEFT_MOUTH,
    N_CELLS,
    N_COLS,
    N_ROWS,
    RIGHT_MOUTH,
    STAY,
    Cell,
    CorridorTask,
    is_wall,
    side,
)
from mt_envs.tasks import TaskSet

_MOVES = (0, 1, 2, 3)  # N, S, E, W


@functools.cache
def _distances(target: Cell) -> dict[Cell, int]:
    """Breadth-first walking distance from every floor cell to ``target``."""
    dist = {target: 0}
    queue = deque([target])
    while queue:
        cell = queue.popleft()
        for dr, dc in DELTAS[:4]:
            nxt = (cell[0] + dr, cell[1] + dc)
            if not is_wall(*nxt) and nxt not in dist:
                dist[nxt] = dist[cell] + 1
                queue.append(nxt)
    return dist


def _direction(cell: Cell, goal: Cell) -> int:
    """+1 when an agent on ``cell`` still has to pass the corridor eastwards, -1 westwards, 0
    when it does not have to pass it."""
    here, there = side(cell), side(goal)
    if here == there and here != "corridor":
        return 0
    if here == "corridor" and there == "corridor":
        return int(np.sign(goal[1] - cell[1]))
    return 1 if goal[1] > cell[1] else -1


def _shortening(own: Cell, target: Cell) -> list[tuple[int, Cell]]:
    """The moves (action, cell) from ``own`` that shorten the walk to ``target``, in N, S, E, W
    order."""
    dist = _distances(target)
    out = []
    for a in _MOVES:
        nxt = (own[0] + DELTAS[a][0], own[1] + DELTAS[a][1])
        if not is_wall(*nxt) and dist[nxt] < dist[own]:
            out.append((a, nxt))
    return out


def _sidestep(own: Cell, target: Cell, other: Cell, other_goal: Cell) -> int:
    """Step aside: the free neighbour closest to ``target`` (then farthest from the other agent's
    goal), never the other agent's cell nor a corridor cell (which could block the way)."""
    dist, theirs = _distances(target), _distances(other_goal)
    aside = [
        (dist[nxt], -theirs[nxt], a)
        for a in _MOVES
        for nxt in [(own[0] + DELTAS[a][0], own[1] + DELTAS[a][1])]
        if not is_wall(*nxt) and nxt != other and nxt not in CORRIDOR_CELLS
    ]
    return min(aside)[2] if aside else STAY


def _waiting_cell(own_mouth: Cell, winner_goal: Cell) -> Cell:
    """The waiting cell next to ``own_mouth`` farthest from the goal of the agent that goes."""
    dist = _distances(winner_goal)
    options = []
    for dr, dc in DELTAS[:4]:
        cell = (own_mouth[0] + dr, own_mouth[1] + dc)
        if not is_wall(*cell) and cell not in CORRIDOR_CELLS:
            options.append((-dist[cell], cell[0], cell[1]))
    _, r, c = min(options)
    return (r, c)


def _target(task: CorridorTask, agent: int, own: Cell, other: Cell) -> Cell:
    """Where ``agent`` is heading with the other agent live on ``other``: its goal, or its waiting
    cell while the other agent has priority in a corridor conflict."""
    j = 1 - agent
    goal = task.goals[agent]
    mine, theirs = _direction(own, goal), _direction(other, task.goals[j])
    if mine * theirs < 0:
        exit_mine = RIGHT_MOUTH if mine > 0 else LEFT_MOUTH
        exit_theirs = RIGHT_MOUTH if theirs > 0 else LEFT_MOUTH
        key_mine = (_distances(exit_mine)[own], agent)
        key_theirs = (_distances(exit_theirs)[other], j)
        if key_theirs < key_mine:
            # Wait outside the corridor; the other agent leaves it through our mouth.
            return _waiting_cell(exit_theirs, task.goals[j])
    return goal


def corridor_action(
    task: CorridorTask, agent: int, own: Cell, other: Cell, other_done: bool
) -> int:
    """The scripted action of ``agent`` (0 or 1) on cell ``own`` with the other agent on
    ``other`` (``other_done``: the other agent has finished and left the board).

    Args:
        task: The task being played (gives both goals).
        agent: Index of the acting agent.
        own: Its cell ``(row, col)``.
        other: The other agent's cell.
        other_done: Whether the other agent is done.

    Returns:
        An action in ``0..4``.
    """
    if own == task.goals[agent]:
        return STAY
    if other_done:
        return _shortening(own, task.goals[agent])[0][0]
    j = 1 - agent
    target = _target(task, agent, own, other)
    moves = _shortening(own, target)
    free = [(a, nxt) for a, nxt in moves if nxt != other]
    if free:
        if agent == 1:
            # Leave the cell agent_0 is about to enter to it (both would be blocked).
            free = [(a, nxt) for a, nxt in free if nxt != _planned(task, j, other, own)]
        return free[0][0] if free else STAY
    if not moves:
        return STAY
    # Our only way on is the other agent's cell. If its only way on is our cell too (a head-on
    # meeting) agent_1 steps aside; otherwise we wait for it to move on.
    theirs = _shortening(other, _target(task, j, other, own))
    if agent == 1 and theirs and all(nxt == own for _, nxt in theirs):
        return _sidestep(own, target, other, task.goals[j])
    return STAY


def _planned(task: CorridorTask, agent: int, own: Cell, other: Cell) -> Cell | None:
    """The cell ``agent`` on ``own`` moves to next by its first preference (ignoring yielding)."""
    for _, nxt in _shortening(own, _target(task, agent, own, other)):
        if nxt != other:
            return nxt
    return None


@functools.lru_cache(maxsize=64)
def action_table(task: CorridorTask) -> np.ndarray:
    """``int64 [2, 23, 23, 2]``: the scripted action of agent ``i`` on cell id ``c`` with the other
    agent on cell id ``o`` and done flag ``d`` is ``table[i, c, o, d]`` (read-only)."""
    table = np.full((2, N_CELLS, N_CELLS, 2), STAY, dtype=np.int64)
    for i in range(2):
        for c, own in enumerate(FLOOR_CELLS):
            for o, other in enumerate(FLOOR_CELLS):
                for d in (0, 1):
                    if c == o and not d:
                        continue
                    table[i, c, o, d] = corridor_action(task, i, own, other, bool(d))
    table.flags.writeable = False
    return table


def joint_actions(cm: CorridorModel) -> np.ndarray:
    """``int64 [S]``: the flat joint action (``5 * a0 + a1``) the policy takes in every joint state
    of ``cm`` (a deterministic tabular policy for the exact solvers)."""
    table = action_table(cm.task)
    a0 = table[0, cm.cell[:, 0], cm.cell[:, 1], cm.done[:, 1].astype(np.int64)]
    a1 = table[1, cm.cell[:, 1], cm.cell[:, 0], cm.done[:, 0].astype(np.int64)]
    return np.asarray(a0 * 5 + a1, dtype=np.int64)


_CELL_GRID = np.full((N_ROWS, N_COLS), 0, dtype=np.int64)
for _cell, _i in CELL_ID.items():
    _CELL_GRID[_cell] = _i


class CorridorPolicy:
    """The scripted corridor policy for a corridor env, batched (``act``) or PettingZoo-dict
    (``__call__``). It is memoryless (no ``reset`` needed).

    Args:
        task_set: The env's task set (``env.task_set``); used to read both goals of each task id.
    """

    def __init__(self, task_set: TaskSet) -> None:
        tasks = [t for t in task_set if isinstance(t, CorridorTask)]
        if len(tasks) != len(task_set):
            raise TypeError("CorridorPolicy needs a task set of CorridorTask tasks")
        self.task_set = task_set
        self.tables = np.stack([action_table(t) for t in tasks])  # [T, 2, 23, 23, 2]

    @classmethod
    def for_env(cls, env: Any) -> CorridorPolicy:
        """The policy of a corridor ParallelEnv or vector env (wrappers are unwrapped)."""
        return cls(getattr(env, "unwrapped", env).task_set)

    def reset(self, env_ids: np.ndarray | None = None) -> None:
        """Nothing to forget (the policy is memoryless); kept for the common policy interface."""

    def act(self, obs: np.ndarray, task_id: np.ndarray) -> np.ndarray:
        """Actions ``int64 [B, 2]`` for septuple observations ``[B, 2, 7]`` (integer or normalised
        float) of tasks ``task_id [B]``."""
        arr = np.asarray(obs)
        if arr.shape[-1] != OBS_DIM or arr.ndim != 3:
            raise ValueError(f"obs must have shape [B, 2, {OBS_DIM}], got {arr.shape}")
        if arr.dtype.kind == "f":
            arr = np.rint(arr * np.array(OBS_SCALE)).astype(np.int64)
        tid = np.asarray(task_id, dtype=np.int64)[:, None]
        agent = np.arange(2)[None, :]
        own = _CELL_GRID[arr[..., 0], arr[..., 1]]
        other = _CELL_GRID[arr[..., 2], arr[..., 3]]
        out: np.ndarray = self.tables[tid, agent, own, other, arr[..., 6].astype(np.int64)]
        return out

    def __call__(
        self, observations: Mapping[str, np.ndarray], infos: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, int]:
        """PettingZoo form: ``{agent: obs}`` and the env's infos in, ``{agent: action}`` out.

        Agents whose observation shows them on their own goal (they finished in the last step
        and have left ``env.agents``) get no action, so the result can be passed to
        ``env.step`` as it is.
        """
        out = {}
        for agent, ob in observations.items():
            task = infos[agent]["task"]
            i = int(agent.rsplit("_", 1)[1])
            vals = np.asarray(ob)
            if vals.dtype.kind == "f":
                vals = np.rint(vals * np.array(OBS_SCALE)).astype(np.int64)
            own = (int(vals[0]), int(vals[1]))
            if own == task.goals[i]:
                continue
            other = (int(vals[2]), int(vals[3]))
            out[agent] = int(action_table(task)[i, CELL_ID[own], CELL_ID[other], int(vals[6])])
        return out
