"""The GridWorld task: one goal, a set of obstacles and a start distribution on a small grid.

Cells are ``(row, col)`` pairs, row 0 at the top, column 0 at the left. The flat index of a cell
(the model state and the observation) is ``row * cols + col``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import numpy as np

from mt_envs.tasks import Task, register_task_family
from mt_envs.utils import unknown_name_error

Cell = tuple[int, int]

#: The four moves (no STAY). The ids are those of the other grid families' NORTH, SOUTH, EAST,
#: WEST, so an action id means the same direction in every family.
UP, DOWN, RIGHT, LEFT = 0, 1, 2, 3
ACTION_NAMES = ("UP", "DOWN", "RIGHT", "LEFT")
N_ACTIONS = 4
#: ``(d_row, d_col)`` of each action.
DELTAS: tuple[Cell, ...] = ((-1, 0), (1, 0), (0, 1), (0, -1))
#: One-letter move names (used by routes, e.g. ``"RRDD"``).
MOVE_LETTERS = "UDRL"

#: Named start distributions. ``uniform`` is uniform over the free cells (neither goal nor
#: obstacle); the corners put all mass on one corner cell.
START_NAMES = ("uniform", "top-left", "top-right", "bottom-left", "bottom-right")

MIN_SIDE = 2
MAX_SIDE = 256
DEFAULT_HORIZON = 100

_FREE = "."
_GOAL = "G"
_OBSTACLES = "X#"
_START = "S"


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_))


def _digest(cells: Iterable[Cell]) -> str:
    text = ";".join(f"{r},{c}" for r, c in cells)
    return hashlib.sha1(text.encode()).hexdigest()[:6]


def _as_cell(value: Any, field: str, rows: int, cols: int) -> Cell:
    """``value`` as a ``(row, col)`` tuple inside the grid, or a ValueError naming ``field``."""
    try:
        r, c = value
    except (TypeError, ValueError):
        raise ValueError(
            f"GridWorldTask.{field}={value!r} is invalid: need a (row, col) pair of ints"
        ) from None
    if not (_is_int(r) and _is_int(c)):
        raise ValueError(
            f"GridWorldTask.{field}={value!r} is invalid: need a (row, col) pair of ints"
        )
    r, c = int(r), int(c)
    if not (0 <= r < rows and 0 <= c < cols):
        raise ValueError(
            f"GridWorldTask.{field}={value!r} is outside the {rows}x{cols} grid: need "
            f"0 <= row <= {rows - 1} and 0 <= col <= {cols - 1}"
        )
    return (r, c)


def _as_cells(value: Any, field: str, rows: int, cols: int) -> tuple[Cell, ...]:
    if isinstance(value, str):
        raise ValueError(
            f"GridWorldTask.{field}={value!r} is invalid: need a sequence of (row, col) pairs"
        )
    try:
        items = list(value)
    except TypeError:
        raise ValueError(
            f"GridWorldTask.{field}={value!r} is invalid: need a sequence of (row, col) pairs"
        ) from None
    return tuple(sorted({_as_cell(v, field, rows, cols) for v in items}))


def corner(name: str, rows: int, cols: int) -> Cell:
    """The cell of a named corner start (``"top-left"``, ...) on a ``rows x cols`` grid."""
    return {
        "top-left": (0, 0),
        "top-right": (0, cols - 1),
        "bottom-left": (rows - 1, 0),
        "bottom-right": (rows - 1, cols - 1),
    }[name]


@register_task_family
@dataclasses.dataclass(frozen=True)
class GridWorldTask(Task):
    """One GridWorld task (paper 003, section 5.1): reach the goal, avoid the obstacles.

    The agent moves UP, DOWN, RIGHT or LEFT by one cell; a move off the grid leaves it where it
    is. Entering the goal pays +1, entering an obstacle pays -1; both end the episode. Every
    other step pays 0. The episode is truncated after ``horizon`` steps.

    Build tasks from ASCII maps with :meth:`from_ascii`; vary them with
    :func:`dataclasses.replace`.

    Args:
        goal: The goal cell ``(row, col)``.
        obstacles: Obstacle cells (stored sorted, without duplicates). Obstacles are traps, not
            walls: entering one ends the episode with -1.
        start: The start distribution: a name from :data:`START_NAMES` (``"uniform"``: uniform
            over the free cells; ``"top-left"`` etc.: that corner), or a sequence of cells, each
            drawn with equal probability (stored sorted, without duplicates).
        rows: Number of rows, 2..256 (the paper: 10).
        cols: Number of columns, 2..256 (the paper: 10).
        horizon: Step limit (truncation), >= 1. Default 100.
        label: Optional short name used in :attr:`name` instead of the map's geometry
            (letters, digits, ``-``, ``_`` and ``.``).

    Raises:
        ValueError: A side below 2 or above 256, a cell outside the grid, the goal on an
            obstacle, a start cell on the goal or an obstacle (also a named corner that is one),
            no free cell, a horizon below 1 or a label with other characters.
        KeyError: An unknown start name (the message lists the valid names).
    """

    family: ClassVar[str] = "gridworld"

    goal: Cell
    obstacles: tuple[Cell, ...] = ()
    start: str | tuple[Cell, ...] = "uniform"
    rows: int = 10
    cols: int = 10
    horizon: int = DEFAULT_HORIZON
    label: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        for field in ("rows", "cols"):
            v = getattr(self, field)
            if not _is_int(v) or not MIN_SIDE <= v <= MAX_SIDE:
                raise ValueError(
                    f"GridWorldTask.{field}={v!r} is invalid: need an int in "
                    f"[{MIN_SIDE}, {MAX_SIDE}] (a grid needs at least 2 cells per side)"
                )
            set_(self, field, int(v))
        rows, cols = self.rows, self.cols
        goal = _as_cell(self.goal, "goal", rows, cols)
        set_(self, "goal", goal)
        obstacles = _as_cells(self.obstacles, "obstacles", rows, cols)
        if goal in obstacles:
            raise ValueError(
                f"GridWorldTask.goal={goal} is also an obstacle: a cell is either the goal or "
                "an obstacle; remove it from obstacles or move the goal"
            )
        set_(self, "obstacles", obstacles)
        blocked = set(obstacles) | {goal}
        if len(blocked) >= rows * cols:
            raise ValueError(
                f"GridWorldTask has no free cell: the goal and {len(obstacles)} obstacles fill "
                f"the {rows}x{cols} grid"
            )
        start = self.start
        if isinstance(start, str):
            if start not in START_NAMES:
                raise unknown_name_error("GridWorld start distribution", start, START_NAMES)
            if start != "uniform":
                cell = corner(start, rows, cols)
                if cell in blocked:
                    what = "the goal" if cell == goal else "an obstacle"
                    raise ValueError(
                        f"GridWorldTask.start={start!r} is cell {cell}, which is {what}: "
                        "choose another start or free that corner"
                    )
        else:
            cells = _as_cells(start, "start", rows, cols)
            if not cells:
                raise ValueError(
                    "GridWorldTask.start=() is empty: give a start name from "
                    f"{START_NAMES} or at least one cell"
                )
            bad = [c for c in cells if c in blocked]
            if bad:
                what = "the goal" if bad[0] == goal else "an obstacle"
                raise ValueError(
                    f"GridWorldTask.start cell {bad[0]} is {what}: start cells must be free"
                )
            set_(self, "start", cells)
        h = self.horizon
        if not _is_int(h) or h < 1:
            raise ValueError(f"GridWorldTask.horizon={h!r} is invalid: need an int >= 1")
        set_(self, "horizon", int(h))
        label = self.label
        if not isinstance(label, str) or not all(ch.isalnum() or ch in "-_." for ch in label):
            raise ValueError(
                f"GridWorldTask.label={label!r} is invalid: use letters, digits, '-', '_' and '.'"
            )

    # -- construction --------------------------------------------------------------------------
    @classmethod
    def from_ascii(
        cls,
        text: str | Sequence[str],
        start: str | Sequence[Cell] | None = None,
        horizon: int = DEFAULT_HORIZON,
        label: str = "",
    ) -> GridWorldTask:
        """A task from an ASCII map, one text line per grid row (spaces are ignored).

        ``.`` is a free cell, ``G`` the goal (exactly one), ``X`` or ``#`` an obstacle and ``S``
        a start cell (a free cell the start distribution draws from, uniformly). Blank lines
        are skipped. For example::

            GridWorldTask.from_ascii('''
                S . . X
                . X . .
                . . . G
            ''')

        Args:
            text: The map, as one string or a sequence of row strings.
            start: The start distribution when the map has no ``S`` (default ``"uniform"``);
                giving it together with ``S`` cells is an error.
            horizon: Step limit.
            label: Optional short name (see :class:`GridWorldTask`).

        Returns:
            The validated task.

        Raises:
            ValueError: Rows of different lengths, an unknown character, no goal or several,
                ``start`` given together with ``S`` cells, or anything the task itself refuses.
        """
        lines = text.splitlines() if isinstance(text, str) else list(text)
        grid = ["".join(line.split()) for line in lines]
        grid = [row for row in grid if row]
        if not grid:
            raise ValueError("GridWorld map is empty: give one line of cells per grid row")
        cols = len(grid[0])
        for r, row in enumerate(grid):
            if len(row) != cols:
                raise ValueError(
                    f"GridWorld map row {r} has {len(row)} cells, row 0 has {cols}: every row "
                    "needs the same number of cells"
                )
        goals: list[Cell] = []
        obstacles: list[Cell] = []
        starts: list[Cell] = []
        for r, row in enumerate(grid):
            for c, ch in enumerate(row):
                if ch == _GOAL:
                    goals.append((r, c))
                elif ch in _OBSTACLES:
                    obstacles.append((r, c))
                elif ch == _START:
                    starts.append((r, c))
                elif ch != _FREE:
                    raise ValueError(
                        f"GridWorld map cell ({r}, {c}) is {ch!r}: use '.' (free), 'G' (goal), "
                        "'X' or '#' (obstacle) and 'S' (start)"
                    )
        if len(goals) != 1:
            raise ValueError(
                f"GridWorld map has {len(goals)} goal cells ('G'): a task needs exactly one"
            )
        if starts and start is not None:
            raise ValueError(
                f"GridWorld map has start cells ('S') and start={start!r} was given too: use one"
            )
        start_value: str | tuple[Cell, ...]
        if starts:
            start_value = tuple(starts)
        elif start is None:
            start_value = "uniform"
        elif isinstance(start, str):
            start_value = start
        else:
            start_value = tuple(tuple(c) for c in start)  # type: ignore[misc]
        return cls(
            goal=goals[0],
            obstacles=tuple(obstacles),
            start=start_value,
            rows=len(grid),
            cols=cols,
            horizon=horizon,
            label=label,
        )

    def to_ascii(self, spaced: bool = True) -> str:
        """The map as text (the inverse of :meth:`from_ascii` up to whitespace).

        ``S`` marks the start cells of a corner or cell-list start; a ``"uniform"`` start marks
        none (every free cell is a start).

        Args:
            spaced: Separate cells by a space (easier to read) or not (compact).
        """
        rows = [[_FREE] * self.cols for _ in range(self.rows)]
        if self.start != "uniform":
            for r, c in self.start_cells:
                rows[r][c] = _START
        for r, c in self.obstacles:
            rows[r][c] = "X"
        rows[self.goal[0]][self.goal[1]] = _GOAL
        sep = " " if spaced else ""
        return "\n".join(sep.join(row) for row in rows)

    # -- geometry ------------------------------------------------------------------------------
    @property
    def n_cells(self) -> int:
        """Number of cells ``rows * cols`` (the model's number of states)."""
        return self.rows * self.cols

    @property
    def max_steps(self) -> int:
        """The step limit in force (``horizon``)."""
        return self.horizon

    def index(self, cell: Cell) -> int:
        """Flat index ``row * cols + col`` of ``cell``."""
        return int(cell[0]) * self.cols + int(cell[1])

    def cell(self, index: int) -> Cell:
        """The cell ``(row, col)`` of flat index ``index``."""
        return divmod(int(index), self.cols)

    def is_terminal(self, cell: Cell) -> bool:
        """Whether entering ``cell`` ends the episode (the goal or an obstacle)."""
        return tuple(cell) == self.goal or tuple(cell) in self.obstacles

    def move(self, cell: Cell, action: int) -> Cell:
        """The cell reached from ``cell`` by ``action`` (a move off the grid stays put)."""
        dr, dc = DELTAS[action]
        r, c = cell[0] + dr, cell[1] + dc
        if 0 <= r < self.rows and 0 <= c < self.cols:
            return (r, c)
        return (int(cell[0]), int(cell[1]))

    @property
    def free_cells(self) -> tuple[Cell, ...]:
        """Cells that are neither the goal nor an obstacle, in index order."""
        blocked = set(self.obstacles) | {self.goal}
        return tuple(
            (r, c) for r in range(self.rows) for c in range(self.cols) if (r, c) not in blocked
        )

    @property
    def start_cells(self) -> tuple[Cell, ...]:
        """The cells the start distribution draws from (uniformly), in index order."""
        if self.start == "uniform":
            return self.free_cells
        if isinstance(self.start, str):
            return (corner(self.start, self.rows, self.cols),)
        return tuple(self.start)

    def start_distribution(self) -> np.ndarray:
        """The start distribution over flat cell indices (``float64 [rows * cols]``)."""
        p = np.zeros(self.n_cells)
        cells = self.start_cells
        for cell in cells:
            p[self.index(cell)] = 1.0 / len(cells)
        return p

    # -- naming --------------------------------------------------------------------------------
    @property
    def start_tag(self) -> str:
        """Short text for the start distribution (``""`` for uniform)."""
        if isinstance(self.start, str):
            return "" if self.start == "uniform" else self.start
        if len(self.start) == 1:
            ((r, c),) = self.start
            return f"s{r}.{c}"
        return f"{len(self.start)}starts{_digest(self.start)}"

    @property
    def name(self) -> str:
        if self.label:
            parts = [f"gw-{self.label}"]
        else:
            r, c = self.goal
            geometry = f"gw{self.rows}x{self.cols}-g{r}.{c}-{len(self.obstacles)}obs"
            if self.obstacles:
                geometry += _digest(self.obstacles)
            parts = [geometry]
        if self.start_tag:
            parts.append(self.start_tag)
        if self.horizon != DEFAULT_HORIZON:
            parts.append(f"h{self.horizon}")
        return "-".join(parts)
