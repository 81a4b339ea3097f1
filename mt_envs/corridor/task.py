"""The corridor task: one start/goal configuration of the two-chamber corridor (paper 002).

The layout is fixed (SPECS.md section 3): a 7 x 9 grid with walls on the border, a left chamber
(rows 1-5, columns 1-2), a right chamber (rows 1-5, columns 6-7) and a one-cell-wide corridor on
row 3, columns 3-5, joining them::

      012345678
    0 #########
    1 #..###..#
    2 #..###..#
    3 #.......#
    4 #..###..#
    5 #..###..#
    6 #########

A task places the two agents (``agent_0``, ``agent_1``) on start cells and gives each its own goal
cell. Cells are ``(row, col)`` pairs; north is row - 1.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

from mt_envs.tasks import Task, register_task_family

#: Action enum shared by all grid families (north is row - 1).
NORTH, SOUTH, EAST, WEST, STAY = 0, 1, 2, 3, 4
ACTION_NAMES = ("NORTH", "SOUTH", "EAST", "WEST", "STAY")
N_ACTIONS = 5
#: The "previous action" code of an agent that has not acted yet (the first observation).
NO_ACTION = 5
#: Row and column change of each action (``STAY`` and ``NO_ACTION`` do not move).
DELTAS: tuple[tuple[int, int], ...] = ((-1, 0), (1, 0), (0, 1), (0, -1), (0, 0))

#: The map, row by row: ``#`` wall, ``.`` floor.
LAYOUT: tuple[str, ...] = (
    "#########",
    "#..###..#",
    "#..###..#",
    "#.......#",
    "#..###..#",
    "#..###..#",
    "#########",
)
N_ROWS = len(LAYOUT)
N_COLS = len(LAYOUT[0])
#: The corridor cells (row 3, columns 3-5) and the chamber cells at its two ends ("mouths").
CORRIDOR_ROW = 3
CORRIDOR_CELLS: tuple[tuple[int, int], ...] = ((3, 3), (3, 4), (3, 5))
LEFT_MOUTH = (3, 2)
RIGHT_MOUTH = (3, 6)

Cell = tuple[int, int]


def is_wall(row: int, col: int) -> bool:
    """True where ``(row, col)`` is a wall or outside the grid."""
    return not (0 <= row < N_ROWS and 0 <= col < N_COLS) or LAYOUT[row][col] == "#"


#: Every walkable cell in row-major order; the position of a cell in this tuple is its **cell id**
#: (0..22), used by the compact flat observation index.
FLOOR_CELLS: tuple[Cell, ...] = tuple(
    (r, c) for r in range(N_ROWS) for c in range(N_COLS) if not is_wall(r, c)
)
N_CELLS = len(FLOOR_CELLS)
CELL_ID: dict[Cell, int] = {cell: i for i, cell in enumerate(FLOOR_CELLS)}

#: The turn limit (truncation) of SPECS.md section 3.
DEFAULT_HORIZON = 200


def side(cell: Cell) -> str:
    """Which part of the map ``cell`` is in: ``"left"``, ``"corridor"`` or ``"right"``."""
    col = cell[1]
    if col <= LEFT_MOUTH[1]:
        return "left"
    if col >= RIGHT_MOUTH[1]:
        return "right"
    return "corridor"


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _check_cells(field: str, value: Any) -> tuple[Cell, Cell]:
    """Validate a pair of floor cells (one per agent) and return it as tuples of ints."""
    how = (
        "need two (row, col) floor cells, one per agent, e.g. ((1, 1), (1, 7)); floor cells "
        "are rows 1-5 of columns 1-2 and 6-7, and row 3 of columns 3-5 (see "
        "mt_envs.corridor.LAYOUT)"
    )
    try:
        cells = tuple(tuple(cell) for cell in value)
    except TypeError:
        raise ValueError(f"CorridorTask.{field}={value!r} is invalid: {how}") from None
    if len(cells) != 2 or not all(len(c) == 2 and all(_is_int(v) for v in c) for c in cells):
        raise ValueError(f"CorridorTask.{field}={value!r} is invalid: {how}")
    for i, (r, c) in enumerate(cells):
        if is_wall(r, c):
            where = (
                "outside the 7x9 grid" if not (0 <= r < N_ROWS and 0 <= c < N_COLS) else "a wall"
            )
            raise ValueError(f"CorridorTask.{field}[{i}]=({r}, {c}) (agent_{i}) is {where}: {how}")
    a, b = cells
    return (int(a[0]), int(a[1])), (int(b[0]), int(b[1]))


@register_task_family
@dataclasses.dataclass(frozen=True)
class CorridorTask(Task):
    """One task of the two-chamber corridor (paper 002, section 3.3; SPECS.md section 3).

    Args:
        starts: Start cell ``(row, col)`` of ``agent_0`` and of ``agent_1``; two different floor
            cells.
        goals: Goal cell of ``agent_0`` and of ``agent_1``; two different floor cells, each
            different from its own agent's start (an agent may start on the other's goal).
        horizon: Turn limit (truncation), >= 1; default 200.
        tag: Optional label appended to the name, e.g. ``"copy"``: it tells apart tasks with the
            same cells inside one set (``corridor-symmetric`` holds task 1 twice), so that
            per-task results and ``reset(options={"task": task})`` keep them apart. Letters,
            digits and ``_`` only; default ``""``.

    Raises:
        ValueError: A cell is not a ``(row, col)`` pair of ints, lies on a wall or outside the
            grid, the two starts or the two goals coincide, an agent starts on its own goal, or
            ``horizon`` is not an int >= 1, or ``tag`` is not a word.
    """

    family: ClassVar[str] = "corridor"

    starts: tuple[Cell, Cell]
    goals: tuple[Cell, Cell]
    horizon: int = DEFAULT_HORIZON
    tag: str = ""

    def __post_init__(self) -> None:
        starts = _check_cells("starts", self.starts)
        goals = _check_cells("goals", self.goals)
        if starts[0] == starts[1]:
            raise ValueError(
                f"CorridorTask.starts={starts!r} is invalid: the two agents cannot start on the "
                "same cell"
            )
        if goals[0] == goals[1]:
            raise ValueError(
                f"CorridorTask.goals={goals!r} is invalid: the two agents need different goals"
            )
        for i in range(2):
            if starts[i] == goals[i]:
                raise ValueError(
                    f"CorridorTask: agent_{i} starts on its own goal {goals[i]}: give it a start "
                    "different from its goal"
                )
        h = self.horizon
        if not _is_int(h) or h < 1:
            raise ValueError(f"CorridorTask.horizon={h!r} is invalid: need an int >= 1")
        if not isinstance(self.tag, str) or not all(ch.isalnum() or ch == "_" for ch in self.tag):
            raise ValueError(
                f"CorridorTask.tag={self.tag!r} is invalid: need a string of letters, digits and "
                "'_' (or '')"
            )
        object.__setattr__(self, "starts", starts)
        object.__setattr__(self, "goals", goals)

    @property
    def name(self) -> str:
        """``corridor-<a0 start>to<a0 goal>-<a1 start>to<a1 goal>``, cells as ``<row><col>``,
        plus ``-h<horizon>`` when the horizon is not 200 and ``-<tag>`` when there is a tag
        (e.g. ``corridor-11to57-17to51``, ``corridor-11to57-17to51-copy``)."""

        def cell(c: Cell) -> str:
            return f"{c[0]}{c[1]}"

        (s0, s1), (g0, g1) = self.starts, self.goals
        name = f"corridor-{cell(s0)}to{cell(g0)}-{cell(s1)}to{cell(g1)}"
        if self.horizon != DEFAULT_HORIZON:
            name += f"-h{self.horizon}"
        if self.tag:
            name += f"-{self.tag}"
        return name

    @property
    def max_steps(self) -> int:
        """The turn limit in force (``horizon``)."""
        return self.horizon

    def crosses(self, agent: int) -> bool:
        """True when ``agent`` (0 or 1) must pass the corridor to reach its goal."""
        return side(self.starts[agent]) != side(self.goals[agent])
