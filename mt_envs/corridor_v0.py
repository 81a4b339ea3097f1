"""Corridor: two agents, two chambers, one corridor (Jappert et al., MultiDistral, section 3.3).

.. figure:: /_static/corridor_v0.gif
   :alt: Two agents (blue and orange discs) cross between two chambers through a one-cell
         corridor to goals of their own colour; the first to reach the corridor goes, the other
         waits beside the mouth.

   The scripted policy on the five tasks of ``corridor-5`` (made by ``docs/make_gifs.py``).

==========================  ==================================================================
Import                      ``from mt_envs import corridor_v0``
Actions                     ``Discrete(5)``: NORTH=0, SOUTH=1, EAST=2, WEST=3, STAY=4
Parallel API                yes (native); AEC through ``corridor_v0.env()``
Agents                      ``agent_0``, ``agent_1``
Observation                 ``MultiDiscrete([7, 9, 7, 9, 6, 6, 2])`` or ``Box(0, 1, (7,), float32)``
State                       ``Box((14,), float32)``: both agents' observations
Tabular                     38,088 observation indices; joint model of 7,267 states per task
Batched                     ``mt_envs.make_vec("corridor_v0", num_envs=B)``
Default task set            ``corridor-5``
==========================  ==================================================================

The map is fixed: a 7 x 9 grid, walls (``#``) on the border, a left chamber (rows 1-5, columns
1-2), a right chamber (rows 1-5, columns 6-7) and a one-cell-wide corridor on row 3, columns 3-5::

      012345678
    0 #########
    1 #..###..#
    2 #..###..#
    3 #.......#
    4 #..###..#
    5 #..###..#
    6 #########

A task gives each agent a start cell and a goal cell. Cells are ``(row, col)``; north is row - 1.
Both agents play the episode's task (sampled per episode).

Dynamics (one step)
    Both agents move at once. An agent's intended cell is its cell moved by its action (``STAY``
    intends its own cell). The move stays put when the intended cell

    1. is outside the grid or a wall (the border is all wall, so only walls occur in play);
    2. is the other agent's **current** cell, even when that agent moves away in the same step:
       a cell can only be entered if it was free at the start of the step, so there are no swaps
       and no following (two agents in a row move one step apart);
    3. is the other agent's **intended** cell (both stay when they head for the same cell).

    An agent that is done has left the board: it does not move, does not block (the other agent
    may cross its goal) and its action is ignored.

Rewards and ends
    Each agent is paid on its own: -0.1 for every step it plays, including the step that enters
    its own goal, which pays +100 more (99.9 in all). The agent is then **terminated** and leaves
    ``agents``; the other agent plays on. Entering the other agent's goal is an ordinary move.
    The episode is **truncated** for the agents still playing after ``horizon`` steps (default
    200). The first agent through the corridor in task 1 needs 10 steps: a return of 99.0, or
    90.40 discounted with gamma 0.99.

Observation of agent ``i`` (``obs_type="multidiscrete"``, the default)
    The paper's septuple ``(own row, own col, other row, other col, own previous action, other's
    previous action, other done)``. Previous actions are 0-4 (the action taken, whether or not the
    move was blocked) and **5 before the first step** (no action yet). When the other agent is
    done it is seen on its goal with the action that took it there, and ``other done = 1``.
    ``obs_type="float"`` gives the same seven numbers divided by ``(6, 8, 6, 8, 5, 5, 1)``, all in
    [0, 1].

Tabular interface
    ``env.state_index(obs)`` (also ``infos[agent]["state_index"]``) is the compact flat index
    ``(((own_cell * 23 + other_cell) * 6 + own_prev) * 6 + other_prev) * 2 + other_done`` with
    ``own_cell`` and ``other_cell`` the ids of the 23 floor cells in row-major order (rows and
    columns would leave gaps for walls), so ``env.n_states = 38088`` and ``env.n_actions = 5``.
    ``env.models`` holds the joint Markov model of each task
    (:class:`~mt_envs.tabular.TabularModel`): the states reachable from the start, 7,267 per
    paper task, joint action ``5 * a0 + a1``, rewards ``[S, 25, 2]``; ``env.corridor_models``
    says what each joint state means (cells, previous actions, done flags). The model is built by
    calling the one-step rule :func:`mt_envs.corridor.corridor_step` on every pair of cells and
    joint action, so it agrees with the env by construction.

Infos
    ``task_id``, ``task`` (training-time information, never in observations), ``action_mask``
    (``int8 [5]``, all ones) and ``state_index``.

Arguments
    ``tasks="corridor-5"`` (task set, set name, task or list of tasks), ``sampler="uniform"``
    (``"round_robin"`` or a :class:`~mt_envs.tasks.TaskSampler`), ``seed_task=None``,
    ``obs_type="multidiscrete"`` (or ``"float"``), ``render_mode=None`` (``"human"``,
    ``"rgb_array"``, ``"ansi"``), ``mode="sampled"`` (the only mode).
    ``reset(options={"task": t})`` plays task ``t`` (an id or a task of the set).

Task parameters (:class:`mt_envs.corridor.CorridorTask`)
    ``starts`` and ``goals``: one floor cell per agent; the two starts differ, the two goals
    differ, and no agent starts on its own goal. ``horizon`` >= 1 (default 200).

Registered task sets
    ``corridor-5``: the five tasks of figure 2 (``0``/``1`` start of ``agent_0``/``agent_1``,
    ``A``/``B`` their goals)::

        task 1 (id 0)    task 2 (id 1)    task 3 (id 2)    task 4 (id 3)    task 5 (id 4)
        #########        #########        #########        #########        #########
        #0.###.1#        #B.###.A#        #B.###.1#        #..###.1#        #1.###.0#
        #..###..#        #..###..#        #..###..#        #..###..#        #..###..#
        #.......#        #.......#        #.......#        #.0.....#        #.......#
        #..###..#        #..###..#        #..###..#        #..###..#        #..###..#
        #B.###.A#        #0.###.1#        #0.###.A#        #B.###.A#        #B.###.A#
        #########        #########        #########        #########        #########

    Task 4 is asymmetric: ``agent_0`` starts at the corridor mouth. ``corridor-symmetric``:
    the same set with task 4 replaced by a copy of task 1 (section 4.2.2).

Baseline
    :class:`mt_envs.corridor.CorridorPolicy` walks shortest paths; when both agents must cross,
    the one nearer the far end of the corridor goes (``agent_0`` on ties) and the other waits
    beside its mouth. It solves every task of both sets (success rate 1.0) with the team-optimal
    discounted return (gamma 0.99) of the joint model:

    ========  ==============  ==============  =================  =================
    task      agent_0 steps   agent_1 steps   agent_0 return     agent_1 return
    ========  ==============  ==============  =================  =================
    1, 2, 3   10              16              99.0 (90.40)       98.4 (84.52)
    4         7               13              99.3 (93.47)       98.7 (87.41)
    5         4               4               99.6 (96.64)       99.6 (96.64)
    ========  ==============  ==============  =================  =================

    (undiscounted return, discounted in brackets)

Differences from the paper
    The paper fixes the map, the five tasks, the septuple and the rewards (-0.1 per step, 100 at
    the goal); SPECS.md section 3 fixes the blocking rules. Our choices: the step that reaches
    the goal also pays -0.1 (SPECS: "-0.1 every step"; the paper's "optimal return around 91" at
    gamma 0.99 fits both readings: 90.40 here, 90.49 without it); an agent that is done leaves
    the board and no longer blocks; the turn limit of 200 (truncation); the previous-action code
    5 at the start; the compact flat index; the float observation. The public code of the paper
    applied rewards one step late and read a stale state index for the second agent; neither is
    reproduced.

Version history
    v0: first release.
"""

from __future__ import annotations

from typing import Any

from pettingzoo import AECEnv
from pettingzoo.utils.conversions import parallel_to_aec

from mt_envs.corridor.env import CorridorEnv
from mt_envs.tabular.vector import TabularVectorEnv

ENV_ID = "corridor_v0"


def parallel_env(**kwargs: Any) -> CorridorEnv:
    """The corridor ParallelEnv (see the module docstring for arguments)."""
    return CorridorEnv(**kwargs)


def raw_env(**kwargs: Any) -> AECEnv:
    """The corridor env as AEC (``parallel_to_aec`` of the ParallelEnv)."""
    return parallel_to_aec(CorridorEnv(**kwargs))


env = raw_env


def vector_env(num_envs: int, **kwargs: Any) -> TabularVectorEnv:
    """The native batched corridor env (:class:`~mt_envs.tabular.vector.TabularVectorEnv`)."""
    return TabularVectorEnv(num_envs, CorridorEnv, **kwargs)
