"""GridWorld: the multi-task 10x10 GridWorld of paper 003 (Zeng et al., section 5.1, figure 2).

.. figure:: /_static/gridworld_v0.gif
   :alt: Four agents, each in its own copy of a task, walk to their yellow goals past red obstacles.

   Shortest-path agents on the four tasks of ``gridworld-conflict-4`` (made by
   ``docs/make_gifs.py``).

==========================  ==================================================================
Import                      ``from mt_envs import gridworld_v0``
Actions                     ``Discrete(4)``: UP=0, DOWN=1, RIGHT=2, LEFT=3 (no STAY)
Parallel API                yes (native); AEC through ``gridworld_v0.env()``
Agents                      ``agent_0 .. agent_{T-1}``, one per task (team); ``agent_0`` (sampled)
Observation                 ``Discrete(rows * cols)``: the agent's cell ``row * cols + col``
State                       ``Box(0, rows * cols - 1, (agents,), float32)``: every agent's cell
Batched                     ``mt_envs.make_vec("gridworld_v0", num_envs=B)``
Gymnasium                   ``gymnasium.make("mt_envs/GridWorld-v0", tasks=..., task=...)``
Default task set            ``gridworld-conflict-4``
==========================  ==================================================================

A task (:class:`mt_envs.gridworld.GridWorldTask`) is a grid with one goal, a set of obstacles and a
start distribution. The tasks of a set share the grid and the moves and differ only in goal and
obstacles, so one tabular policy over cells can be shared by all of them; the paper asks when one
shared policy can be as good as a policy per task.

Dynamics (one step)
    The agent moves one cell UP, DOWN, RIGHT or LEFT (row 0 is the top row). A move off the grid
    leaves it where it is. Dynamics are deterministic.

Rewards and ends
    +1 for entering the goal, -1 for entering an obstacle; both **terminate** the agent's episode.
    Every other step pays 0. Obstacles are traps, not walls. The episode is **truncated** after
    ``horizon`` steps (default 100). Start cells are drawn from the task's start distribution:
    ``"uniform"`` over the free cells, a corner (``"top-left"``, ``"top-right"``,
    ``"bottom-left"``, ``"bottom-right"``) or a list of cells.

Modes
    ``mode="team"`` (default; DCPG's setting): agent ``i`` plays its own copy of task ``i`` of the
    set, every episode; the copies never interact. An agent leaves ``agents`` when its own episode
    ends; the env's episode ends when every agent is done. ``mode="sampled"``: one agent plays one
    task per episode, chosen by the sampler or by ``reset(options={"task": t})``.

Observation and tabular interface
    The observation is the agent's cell index ``row * cols + col`` (``Discrete(rows * cols)``);
    ``env.state_index(obs)`` returns it unchanged and ``infos[agent]["state_index"]`` carries it.
    ``env.n_states`` (``rows * cols``), ``env.n_actions`` (4) and ``env.models`` (one
    :class:`~mt_envs.tabular.TabularModel` per task: states are the cells in the same order; the
    goal and the obstacles are absorbing with zero reward) give learners and the exact solvers of
    :mod:`mt_envs.tabular.solvers` everything they need. The batched env observes one-hot cells.

Infos
    ``task_id`` and ``task`` (training-time information, never in observations),
    ``action_mask`` (``int8 [4]``, all ones) and ``state_index``.

Arguments
    ``tasks="gridworld-conflict-4"`` (task set, set name, task or list of tasks on one grid size),
    ``mode="team"`` (or ``"sampled"``), ``sampler="uniform"`` (sampled mode), ``seed_task=None``,
    ``start=None`` (a start name or a list of cells given to every task instead of its own),
    ``render_mode=None`` (``"human"``, ``"rgb_array"``, ``"ansi"``).

Task parameters (:class:`mt_envs.gridworld.GridWorldTask`)
    ``goal`` (a cell), ``obstacles`` (cells), ``start`` (name or cells, default ``"uniform"``),
    ``rows`` and ``cols`` (2..256, default 10), ``horizon`` (default 100), ``label``. Build tasks
    from ASCII maps with ``GridWorldTask.from_ascii`` (``.`` free, ``G`` goal, ``X`` or ``#``
    obstacle, ``S`` start).

Baseline
    :class:`mt_envs.gridworld.ShortestPathPolicy` walks a shortest obstacle-free path to each
    task's own goal (breadth-first search from the goal); it is optimal for every task on its own.

Registered task sets
    Each set is drawn as its tasks' maps side by side: ``S`` the start cell, ``G`` the goal,
    ``X`` the obstacles and ``+`` the cells walked by the set's **best shared policy** in that task
    until its episode ends (the paper's light-green path; routes in
    ``mt_envs.gridworld.SHARED_ROUTES``). A set is *solvable* when one shared policy reaches every
    task's goal with probability 1 from the start. Each property below is proved exactly in
    ``tests/test_gridworld.py`` with :mod:`mt_envs.gridworld.analysis`: the best value of eq. 5
    over all shared policies by value iteration on the grid times the set of tasks still running,
    and the sets of tasks one shared policy can finish by search on the grid times each task's
    status. Values below are ``sum_i V_i(start)`` at ``gamma = 0.99``.

    ``gridworld-noconflict-4`` (figure 2a): no task's goal is another task's obstacle. The shared
    route reaches every goal along a shortest path: the best shared policy is optimal for every
    task (best shared value 3.613 = sum of the single-task optima).

    ::

        task 0      task 1      task 2      task 3
        S+++......  S+++......  S+++......  S+++......
        ..X+X.....  ...+..X...  ...+......  ...+......
        ..XG...X..  .X.+++X...  ...+++....  ...+++....
        ...X...X..  .X..X+....  ..X..+.X..  .....+....
        .X........  ....XGX...  ..X..+.X..  .....+..X.
        .X........  .....X....  .....+X...  ..X..+..X.
        ......X...  ........X.  ....X+X...  ..X..+...X
        ..........  ..X.....X.  ....X+GX..  .....+++++
        ...XX.....  ..........  .....XX...  .......XX+
        ..........  ..........  ..........  ......X..G

    ``gridworld-conflict-4`` (figure 2b): task 1's obstacle at (4, 5) is task 2's goal (the
    paper's environments 2 and 3). The conflict is resolvable: the shared route reaches task 1's
    goal first and still reaches every goal along a shortest path (3.685 = the sum of optima).

    ::

        task 0      task 1      task 2      task 3
        S.........  S.........  S.........  S.........
        +.X.......  +.........  +.........  +.........
        ++GX......  +++.X.....  +++....X..  +++.......
        .X........  ..+.X.....  ..+..X.X..  ..+.......
        .......X..  ..++GX....  ..+++GX...  ..++++....
        .....X.X..  ...X......  .....X....  .....+.X..
        ..........  .......X..  .X........  .....+X...
        ..X.......  .......X..  .X........  .....+..X.
        ..X.......  ..........  ..........  ....X+++GX
        ..........  ..........  ..........  .......X..

    ``gridworld-unsolvable-4`` (figure 2c): tasks 1 and 2 swap goal and obstacle ((5, 3) and
    (3, 5)). Whichever of the two cells a walk enters first ends one of the two tasks with -1, so
    no shared policy finishes more than 3 of the 4 tasks (the route finishes tasks 0, 1 and 3),
    and with the paper's +-1 rewards tasks 1 and 2 together are worth at most 0 to any shared
    policy: the best shared value is that of tasks 0 and 3 alone (1.839, against 3.703 for the sum
    of the single-task optima). Finishing task 1 and failing task 2 at the same step, or leaving
    both alone, tie.

    ::

        task 0      task 1      task 2      task 3
        S.........  S.........  S.........  S.........
        +X........  +.........  +.........  +.........
        +X.....X..  +.........  +.........  +...X.....
        +GX....X..  ++...X....  ++..XG....  ++........
        ..X.......  .+.X......  .+...X....  .+........
        ..........  .++GX.....  .++X..X...  .+++......
        ..........  ....X.....  ..........  ...+...X..
        ..........  ..........  ..........  ...+.X....
        ..........  ..........  ..........  ..X+..X...
        ..........  ..........  ..........  ...+++GX..

    ``gridworld-6`` (figure 2d, start top-left) and ``gridworld-6-topright`` (figure 2e, start
    top-right): the same six tasks, whose goals form a chain (task ``k + 1``'s goal is an obstacle
    of task ``k``). From the top-right corner the goals lie in order along one shortest route, and
    the best shared policy is optimal for every task (5.461 = the sum of optima). From the top-left
    corner the goals lie in different directions: no shared policy is optimal for every task; the
    best one first crosses to task 0's goal and sweeps back (5.193, against 5.510). A policy that
    heads for the nearest goal first (task 5's, bottom-left) and sweeps the other way finishes only
    task 5: each goal it enters next is an obstacle of the task before. The paper reports that
    DCPG finds the optimum from the top-right corner but not from the top-left one.

    ``gridworld-6`` (start top-left)::

        task 0      task 1      task 2      task 3      task 4      task 5
        S+++++++..  S+++++++..  S+++++++..  S+++++++..  S+++++++..  S+++++++..
        .......G..  ......++..  ......++..  ......++..  ......++..  ......++..
        .......XX.  .....X+...  ......+...  ......+...  ......+...  ......+...
        ......X...  ......GX..  ...X+++...  ....+++...  ....+++...  ....+++...
        ..........  ....X.X...  ....GX....  ...X+.....  ....+.....  ....+.....
        ........X.  ..........  .....X....  ...X+.....  ....+.....  ....+.....
        ..........  ..........  ...X......  ...G+.....  ..+++.....  .X+++.....
        ..........  ..........  ..........  ...X......  .X+.......  X.+.......
        ..........  ..........  ..........  ..X.......  ..GX......  +++.......
        ..........  ..........  ..........  ..........  X.X.......  G.........

    ``gridworld-6-topright``::

        task 0      task 1      task 2      task 3      task 4      task 5
        .......++S  .......++S  .......++S  .......++S  .......++S  .......++S
        .......G..  ......++..  ......++..  ......++..  ......++..  ......++..
        .......XX.  .....X+...  ......+...  ......+...  ......+...  ......+...
        ......X...  ......GX..  ...X+++...  ....+++...  ....+++...  ....+++...
        ..........  ....X.X...  ....GX....  ...X+.....  ....+.....  ....+.....
        ........X.  ..........  .....X....  ...X+.....  ....+.....  ....+.....
        ..........  ..........  ...X......  ...G+.....  ..+++.....  .X+++.....
        ..........  ..........  ..........  ...X......  .X+.......  X.+.......
        ..........  ..........  ..........  ..X.......  ..GX......  +++.......
        ..........  ..........  ..........  ..........  X.X.......  G.........

Differences from the paper
    The paper does not publish its maps, start distribution or horizon: the maps above are ours,
    designed so that each set has the property its panel of figure 2 shows, with a single start
    cell (the top-left corner for the four-task sets). The horizon (100) is SPECS.md's choice. Use
    ``start="uniform"`` for the paper's "arbitrary initial location".

Version history
    v0: first release.
"""

from __future__ import annotations

from typing import Any

from pettingzoo import AECEnv
from pettingzoo.utils.conversions import parallel_to_aec

from mt_envs.gridworld.env import GridWorldEnv
from mt_envs.tabular.gym import TabularGymEnv
from mt_envs.tabular.vector import TabularVectorEnv

ENV_ID = "gridworld_v0"


def parallel_env(**kwargs: Any) -> GridWorldEnv:
    """The GridWorld ParallelEnv (see the module docstring for arguments)."""
    return GridWorldEnv(**kwargs)


def raw_env(**kwargs: Any) -> AECEnv:
    """The GridWorld env as AEC (``parallel_to_aec`` of the ParallelEnv)."""
    return parallel_to_aec(GridWorldEnv(**kwargs))


env = raw_env


def vector_env(num_envs: int, **kwargs: Any) -> TabularVectorEnv:
    """The native batched GridWorld env (:class:`~mt_envs.tabular.vector.TabularVectorEnv`)."""
    return TabularVectorEnv(num_envs, GridWorldEnv, **kwargs)


def gym_env(**kwargs: Any) -> TabularGymEnv:
    """One GridWorld agent as a single-agent Gymnasium env (the entry point of
    ``mt_envs/GridWorld-v0``): ``tasks``, ``task`` (index, name, task or ``None`` to sample one
    per episode), ``sampler``, ``start``, ``render_mode``."""
    return TabularGymEnv(GridWorldEnv, **kwargs)
