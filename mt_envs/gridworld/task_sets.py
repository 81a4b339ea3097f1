"""The named GridWorld task sets of SPECS.md section 5 (paper 003, section 5.1, figure 2).

Each set is written below as its tasks' maps side by side (task 0 first; ``G`` the goal, ``X`` an
obstacle), and has a documented **shared route**: the walk of a best shared policy from the
set's start cell, as move letters (``U``, ``D``, ``R``, ``L``). ``tests/test_gridworld.py`` proves
each set's property with :mod:`mt_envs.gridworld.analysis`:

* ``gridworld-noconflict-4`` (figure 2a): no task's goal is another's obstacle; the route reaches
  every goal along a shortest path, so the best shared policy is optimal for every task (the
  optimum of eq. 5 is the sum of the single-task optima).
* ``gridworld-conflict-4`` (figure 2b): task 1's obstacle at (4, 5) is task 2's goal (the paper's
  environments 2 and 3); the route still reaches every goal along a shortest path, visiting task
  1's goal first.
* ``gridworld-unsolvable-4`` (figure 2c): tasks 1 and 2 swap goal and obstacle; no shared policy
  finishes more than 3 of the 4 tasks, and the optimum of eq. 5 is the sum of tasks 0 and 3's
  optima (tasks 1 and 2 together are worth at most 0).
* ``gridworld-6`` (figure 2d, start top-left) and ``gridworld-6-topright`` (figure 2e, start
  top-right): six tasks whose goals form a chain (task ``k + 1``'s goal is an obstacle of task
  ``k``). From the top-right corner the goals lie in order along one shortest route; from the
  top-left corner no shared policy is optimal for all six, and the best one first crosses to
  task 0's goal in the top-right and sweeps back.
"""

from __future__ import annotations

import types
from collections.abc import Mapping

from mt_envs import task_sets
from mt_envs.gridworld.task import GridWorldTask
from mt_envs.tasks import TaskSet

NOCONFLICT_4 = """
..........  ..........  ..........  ..........
..X.X.....  ......X...  ..........  ..........
..XG...X..  .X....X...  ..........  ..........
...X...X..  .X..X.....  ..X....X..  ..........
.X........  ....XGX...  ..X....X..  ........X.
.X........  .....X....  ......X...  ..X.....X.
......X...  ........X.  ....X.X...  ..X......X
..........  ..X.....X.  ....X.GX..  ..........
...XX.....  ..........  .....XX...  .......XX.
..........  ..........  ..........  ......X..G
"""

CONFLICT_4 = """
..........  ..........  ..........  ..........
..X.......  ..........  ..........  ..........
..GX......  ....X.....  .......X..  ..........
.X........  ....X.....  .....X.X..  ..........
.......X..  ....GX....  .....GX...  ..........
.....X.X..  ...X......  .....X....  .......X..
..........  .......X..  .X........  ......X...
..X.......  .......X..  .X........  ........X.
..X.......  ..........  ..........  ....X...GX
..........  ..........  ..........  .......X..
"""

UNSOLVABLE_4 = """
..........  ..........  ..........  ..........
.X........  ..........  ..........  ..........
.X.....X..  ..........  ..........  ....X.....
.GX....X..  .....X....  ....XG....  ..........
..X.......  ...X......  .....X....  ..........
..........  ...GX.....  ...X..X...  ..........
..........  ....X.....  ..........  .......X..
..........  ..........  ..........  .....X....
..........  ..........  ..........  ..X...X...
..........  ..........  ..........  ......GX..
"""

SIX = """
..........  ..........  ..........  ..........  ..........  ..........
.......G..  ..........  ..........  ..........  ..........  ..........
.......XX.  .....X....  ..........  ..........  ..........  ..........
......X...  ......GX..  ...X......  ..........  ..........  ..........
..........  ....X.X...  ....GX....  ...X......  ..........  ..........
........X.  ..........  .....X....  ...X......  ..........  ..........
..........  ..........  ...X......  ...G......  ..........  .X........
..........  ..........  ..........  ...X......  .X........  X.........
..........  ..........  ..........  ..X.......  ..GX......  ..........
..........  ..........  ..........  ..........  X.X.......  G.........
"""

#: The walk of a best shared policy of each set from its start cell (move letters; spaces
#: separate the legs between goals). Checked exactly by the tests.
SHARED_ROUTES: Mapping[str, str] = types.MappingProxyType(
    {
        "gridworld-noconflict-4": "RRRDD RRDD DDDR RRRDD",
        "gridworld-conflict-4": "DDRR DDRR R DDDDRRR",
        "gridworld-unsolvable-4": "DDDR DDRR DDDDRRR",
        "gridworld-6": "RRRRRRRD LDD LLD DDL LDD LLD",
        "gridworld-6-topright": "LLD LDD LLD DDL LDD LLD",
    }
)


def maps_from_panels(text: str, start: str, label: str) -> tuple[GridWorldTask, ...]:
    """Tasks from maps written side by side (one column of text per task, separated by
    whitespace), labelled ``f"{label}-{i}"``.

    Args:
        text: The panels, one text line per grid row.
        start: The start distribution of every task.
        label: Label prefix of the tasks.

    Raises:
        ValueError: Lines with different numbers of panels, or a map the task refuses.
    """
    lines = [line.split() for line in text.strip("\n").splitlines() if line.strip()]
    n = len(lines[0])
    if any(len(line) != n for line in lines):
        raise ValueError("every line of a panel picture needs the same number of maps")
    return tuple(
        GridWorldTask.from_ascii([line[i] for line in lines], start=start, label=f"{label}-{i}")
        for i in range(n)
    )


def noconflict_4() -> TaskSet:
    return TaskSet(
        "gridworld-noconflict-4",
        maps_from_panels(NOCONFLICT_4, "top-left", "noconflict"),
        "Figure 2a: 4 tasks without conflicts; one shared policy is optimal for every task",
    )


def conflict_4() -> TaskSet:
    return TaskSet(
        "gridworld-conflict-4",
        maps_from_panels(CONFLICT_4, "top-left", "conflict"),
        "Figure 2b: task 1's obstacle is task 2's goal; one shared policy is still optimal for "
        "every task",
    )


def unsolvable_4() -> TaskSet:
    return TaskSet(
        "gridworld-unsolvable-4",
        maps_from_panels(UNSOLVABLE_4, "top-left", "unsolvable"),
        "Figure 2c: tasks 1 and 2 swap goal and obstacle; a shared policy finishes at most 3 "
        "of 4 tasks",
    )


def six_topleft() -> TaskSet:
    return TaskSet(
        "gridworld-6",
        maps_from_panels(SIX, "top-left", "six"),
        "Figure 2d: 6 chained tasks from the top-left corner; no shared policy is optimal for "
        "every task",
    )


def six_topright() -> TaskSet:
    return TaskSet(
        "gridworld-6-topright",
        maps_from_panels(SIX, "top-right", "six"),
        "Figure 2e: the 6 tasks of gridworld-6 from the top-right corner; one shared policy is "
        "optimal for every task",
    )


FACTORIES = types.MappingProxyType(
    {
        "gridworld-noconflict-4": noconflict_4,
        "gridworld-conflict-4": conflict_4,
        "gridworld-unsolvable-4": unsolvable_4,
        "gridworld-6": six_topleft,
        "gridworld-6-topright": six_topright,
    }
)


def register_all() -> None:
    """Register the GridWorld sets (a no-op for those already registered)."""
    have = set(task_sets.names())
    for name, factory in FACTORIES.items():
        if name not in have:
            task_sets.register(name, factory, "gridworld_v0")
