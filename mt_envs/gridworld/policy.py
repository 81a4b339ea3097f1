"""The scripted GridWorld baseline: the shortest path to the task's own goal.

:class:`ShortestPathPolicy` knows every task's map (privileged information: a learner in the
paper's setting sees only its cell) and walks a shortest path to the goal that never enters an
obstacle, found by breadth-first search from the goal. It is optimal for every task on its own
(its value equals the optimal value of the exact solver for every discount), so it is the
single-task upper bound a shared policy is compared against.

Tie-breaks (documented so results are reproducible): among the moves that shorten the remaining
distance, the lowest action id (UP, DOWN, RIGHT, LEFT). From a cell that cannot reach the goal it
takes the lowest action id that does not enter an obstacle (so it wanders safely until the
horizon), or UP when every move enters one.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mt_envs.gridworld.model import successor_table, terminal_mask
from mt_envs.gridworld.task import N_ACTIONS, GridWorldTask
from mt_envs.tasks import Task, TaskSet

UNREACHABLE = -1


def distance_to_goal(task: GridWorldTask) -> np.ndarray:
    """Length of a shortest obstacle-free path from every cell to the goal, ``int64 [S]``.

    The goal has distance 0; obstacles and cells that cannot reach the goal without entering an
    obstacle have :data:`UNREACHABLE` (-1).
    """
    nxt = successor_table(task.rows, task.cols)
    term = terminal_mask(task)
    dist = np.full(task.n_cells, UNREACHABLE, dtype=np.int64)
    goal = task.index(task.goal)
    dist[goal] = 0
    # Moves are symmetric between neighbours, so the BFS from the goal over grid neighbours
    # gives the distance *to* the goal; it expands only free cells (terminal cells end walks).
    queue = deque([goal])
    while queue:
        u = queue.popleft()
        for v in nxt[u]:
            if v != u and dist[v] == UNREACHABLE and not term[v]:
                dist[v] = dist[u] + 1
                queue.append(int(v))
    return dist


def optimal_actions(task: GridWorldTask) -> np.ndarray:
    """``bool [S, 4]``: the actions of an optimal policy, for every discount in (0, 1).

    In a cell that can reach the goal: the moves that shorten the distance by one. In a free cell
    that cannot: every move that does not enter an obstacle (all have value 0). In terminal
    cells: every action.
    """
    nxt = successor_table(task.rows, task.cols)
    term = terminal_mask(task)
    dist = distance_to_goal(task)
    out = np.ones((task.n_cells, N_ACTIONS), dtype=bool)
    reach = (dist > 0) & ~term
    out[reach] = dist[nxt[reach]] == dist[reach][:, None] - 1
    stuck = (dist == UNREACHABLE) & ~term
    obstacle = term.copy()
    obstacle[task.index(task.goal)] = False
    out[stuck] = ~obstacle[nxt[stuck]]
    return out


def shortest_path_table(task: GridWorldTask) -> np.ndarray:
    """The shortest-path action of every cell, ``int64 [S]`` (tie-breaks in the module doc)."""
    ok = optimal_actions(task)
    # argmax returns the first True; a row without any (a cell walled in by obstacles) gives UP.
    return np.argmax(ok, axis=1).astype(np.int64)


class ShortestPathPolicy:
    """Shortest-path actions for every task of a task set.

    Observations are flat cell indices (the GridWorld env's observation). Use :meth:`act` on
    arrays (batched envs), ``policy(obs, infos)`` on PettingZoo dicts, or :meth:`probs` for the
    exact solvers.

    Args:
        tasks: A task set, a registered set name, one :class:`GridWorldTask` or a list of them.

    Raises:
        TypeError: A task is not a :class:`GridWorldTask`.
    """

    def __init__(self, tasks: TaskSet | str | Task | Sequence[Task]) -> None:
        task_set = TaskSet.coerce(tasks)
        for i, t in enumerate(task_set):
            if not isinstance(t, GridWorldTask):
                raise TypeError(
                    f"task {i} is a {type(t).__name__}: ShortestPathPolicy needs GridWorldTask"
                )
        self.task_set = task_set
        self.tasks: tuple[GridWorldTask, ...] = tuple(
            t for t in task_set if isinstance(t, GridWorldTask)
        )
        width = max(t.n_cells for t in self.tasks)
        table = np.zeros((len(self.tasks), width), dtype=np.int64)
        for i, t in enumerate(self.tasks):
            table[i, : t.n_cells] = shortest_path_table(t)
        table.flags.writeable = False
        #: ``int64 [n_tasks, S]``: the action of task ``i`` in cell index ``s``.
        self.table = table

    @classmethod
    def for_env(cls, env: Any) -> ShortestPathPolicy:
        """The policy for a GridWorld env (ParallelEnv, vector env or a wrapper of one)."""
        return cls(getattr(env, "unwrapped", env).task_set)

    def act(self, obs: Any, task_id: Any) -> np.ndarray:
        """Actions for cell indices ``obs`` of tasks ``task_id`` (broadcast against each other).

        Args:
            obs: Cell indices, any integer array shape (``[B, N]`` for a batched env).
            task_id: Task ids, broadcastable to ``obs`` (``[B, 1]`` for a sampled-mode batch,
                ``numpy.arange(N)`` for team mode where agent ``i`` plays task ``i``). With the
                batched env: ``policy.act(info["state_index"], info["agent_task_id"])``.

        Returns:
            ``int64`` actions, the broadcast shape.
        """
        return self.table[np.asarray(task_id, dtype=np.int64), np.asarray(obs, dtype=np.int64)]

    def __call__(
        self,
        observations: Mapping[str, Any],
        infos: Mapping[str, Mapping[str, Any]],
        agents: Sequence[str] | None = None,
    ) -> dict[str, int]:
        """Actions of a PettingZoo step, ``{agent: action}``, from each agent's cell and its
        ``infos[agent]["task_id"]``.

        Args:
            observations: The env's last observations.
            infos: The env's last infos.
            agents: The agents to act for; pass ``env.agents`` (observations also hold the
                agents whose episode just ended). Default: every agent in ``observations``.
        """
        who = list(observations) if agents is None else list(agents)
        return {
            agent: int(
                self.table[int(infos[agent]["task_id"]), int(np.asarray(observations[agent]))]
            )
            for agent in who
        }

    def probs(self, task_id: int = 0) -> np.ndarray:
        """The deterministic policy of task ``task_id`` as ``float64 [S, 4]`` one-hot rows (the
        form :mod:`mt_envs.tabular.solvers` evaluates)."""
        task = self.tasks[task_id]
        out = np.zeros((task.n_cells, N_ACTIONS))
        out[np.arange(task.n_cells), self.table[task_id, : task.n_cells]] = 1.0
        return out
