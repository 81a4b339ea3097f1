"""Drawing GridWorld: one board per task copy (``rgb_array`` with numpy, ``ansi`` text), and the
side-by-side ASCII maps of the env card.

Visual language (as paper 003's figure 2: yellow goals, red obstacles, a light-green path):

* one **board per group**, in a near-square grid of boards: team mode draws agent ``i``'s own copy
  of task ``i``; sampled mode draws the episode's task. A strip above each board, in the agent's
  colour, carries the task id (in team mode also the agent's index);
* the **goal** is yellow with a frame in the agent's colour; **obstacles** are red; the **start
  cells** of a corner or cell-list start are tinted blue (a uniform start tints nothing);
* the **path** walked so far this episode is light green; the **agent** is a disc in its colour,
  drawn pale once its episode has ended;
* a board whose episode has ended is framed: green (goal reached), red (obstacle entered) or grey
  (truncated at the horizon);
* a thin bar at the bottom shows the time used (steps / horizon).

Frames are plain numpy (no pygame needed for ``rgb_array``); their size depends only on the task
set and the mode, never on the state, so the frames of an episode stack into a video.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mt_envs.capture.rendering import agent_colour
from mt_envs.gridworld.task import Cell, GridWorldTask
from mt_envs.tabular.rendering import blank, fill_disc, fill_rect, frame_rect

RGB = tuple[int, int, int]

BACKGROUND: RGB = (34, 38, 46)
CELL_COLOUR: RGB = (240, 240, 234)
GRID_LINE: RGB = (205, 205, 198)
GOAL: RGB = (250, 204, 21)
OBSTACLE: RGB = (200, 50, 45)
START: RGB = (214, 228, 245)
PATH: RGB = (190, 232, 170)
TIME: RGB = (200, 200, 194)
SUCCESS: RGB = (46, 160, 67)
FAILURE: RGB = (230, 70, 60)
TRUNCATED: RGB = (150, 150, 150)

MARGIN = 12
GAP = 14
HEADER = 18
FRAME_PX = 3
TIME_BAR = 4

#: 3x5 bitmaps of the digits, one string of 15 bits per digit (rows top to bottom).
_DIGITS = (
    "111101101101111",
    "010110010010111",
    "111001111100111",
    "111001111001111",
    "101101111001001",
    "111100111001111",
    "111100111101111",
    "111001001001001",
    "111101111101111",
    "111101111001111",
)


#: Agent colours: the capture palette without its red and olive (red means obstacle here, olive
#: is close to the yellow goal), then evenly spread hues.
AGENT_COLOURS: tuple[RGB, ...] = (
    (31, 119, 180),  # blue
    (255, 127, 14),  # orange
    (148, 103, 189),  # purple
    (23, 190, 207),  # cyan
    (140, 86, 75),  # brown
    (227, 119, 194),  # pink
    (40, 110, 90),  # dark teal
    (90, 95, 200),  # indigo
)


def gridworld_agent_colour(i: int) -> RGB:
    """The colour of agent ``i`` (no red: red cells are obstacles)."""
    return AGENT_COLOURS[i] if i < len(AGENT_COLOURS) else agent_colour(i)


def _blend(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def draw_number(frame: np.ndarray, y: int, x: int, value: int, px: int, colour: RGB) -> int:
    """Draw the decimal ``value`` with a 3x5 pixel font scaled by ``px``; returns its width."""
    text = str(int(value))
    for k, ch in enumerate(text):
        bits = _DIGITS[int(ch)]
        x0 = x + k * 4 * px
        for j, bit in enumerate(bits):
            if bit == "1":
                r, c = divmod(j, 3)
                fill_rect(frame, y + r * px, x0 + c * px, px, px, colour)
    return len(text) * 4 * px - px


def board_layout(n_groups: int, rows: int, cols: int) -> tuple[int, int, int]:
    """``(boards per row, board rows, cell px)`` of a frame with ``n_groups`` boards."""
    per_row = max(1, math.ceil(math.sqrt(n_groups)))
    n_rows = math.ceil(n_groups / per_row)
    cell = 32 if n_groups == 1 else 24
    cell = max(4, min(cell, 320 // max(rows, cols)))
    return per_row, n_rows, cell


def _outcome(task: GridWorldTask, cell: Cell, playing: bool) -> str:
    if playing:
        return "playing"
    if cell == task.goal:
        return "goal"
    if cell in task.obstacles:
        return "obstacle"
    return "time up"


def _groups(env: Any) -> list[tuple[int, int, GridWorldTask, list[int], bool]]:
    """Per group: ``(group, task id, task, path, playing)``."""
    n = env.n_group
    active = env.agent_active
    out = []
    for g, (k, path) in enumerate(zip(env.group_tasks, env.paths, strict=True)):
        task = env.task_set[k]
        out.append((g, k, task, path, any(active[g * n : (g + 1) * n])))
    return out


def render_rgb(env: Any) -> np.ndarray:
    """``uint8 [H, W, 3]`` frame of a GridWorld env (see the module docstring)."""
    groups = _groups(env)
    rows, cols = env.grid_shape
    per_row, n_rows, cell = board_layout(len(groups), rows, cols)
    bw, bh = cols * cell, rows * cell
    width = 2 * MARGIN + per_row * bw + (per_row - 1) * GAP
    height = 2 * MARGIN + n_rows * (HEADER + bh) + (n_rows - 1) * GAP + TIME_BAR + 6
    frame = blank(height, width, BACKGROUND)
    for g, k, task, path, playing in groups:
        colour = gridworld_agent_colour(g)
        x0 = MARGIN + (g % per_row) * (bw + GAP)
        y0 = MARGIN + (g // per_row) * (HEADER + bh + GAP)
        fill_rect(frame, y0, x0, HEADER, bw, colour)
        draw_number(frame, y0 + 4, x0 + 5, k, 2, (255, 255, 255))
        by = y0 + HEADER
        fill_rect(frame, by, x0, bh, bw, CELL_COLOUR)

        def paint(c: Cell, col: RGB, by: int = by, x0: int = x0) -> None:
            fill_rect(frame, by + c[0] * cell, x0 + c[1] * cell, cell, cell, col)

        if task.start != "uniform":
            for st in task.start_cells:
                paint(st, START)
        for s in path[:-1]:
            paint(task.cell(s), PATH)
        for ob in task.obstacles:
            paint(ob, OBSTACLE)
        paint(task.goal, GOAL)
        inset = max(1, cell // 8)
        frame_rect(
            frame,
            by + task.goal[0] * cell + inset,
            x0 + task.goal[1] * cell + inset,
            cell - 2 * inset,
            cell - 2 * inset,
            colour,
            max(1, cell // 10),
        )
        for r in range(1, rows):
            fill_rect(frame, by + r * cell, x0, 1, bw, GRID_LINE)
        for col in range(1, cols):
            fill_rect(frame, by, x0 + col * cell, bh, 1, GRID_LINE)
        here = task.cell(path[-1])
        disc = colour if playing else _blend(colour, CELL_COLOUR, 0.55)
        cy, cx = by + (here[0] + 0.5) * cell, x0 + (here[1] + 0.5) * cell
        fill_disc(frame, cy, cx, cell * 0.36, _blend(colour, (0, 0, 0), 0.45))
        fill_disc(frame, cy, cx, cell * 0.36 - max(1, cell // 16), disc)
        outcome = _outcome(task, here, playing)
        if outcome != "playing":
            border = {"goal": SUCCESS, "obstacle": FAILURE}.get(outcome, TRUNCATED)
            frame_rect(frame, by, x0, bh, bw, border, FRAME_PX)
    horizon = max(int(env.compiled.horizon[k]) for k in env.group_tasks)
    used = min(env.num_steps / horizon, 1.0)
    fill_rect(
        frame,
        height - MARGIN - TIME_BAR,
        MARGIN,
        TIME_BAR,
        round((width - 2 * MARGIN) * used),
        TIME,
    )
    return frame


def task_lines(
    task: GridWorldTask, path: Sequence[Cell] = (), here: Cell | None = None, agent: str = "A"
) -> list[str]:
    """The map of ``task`` as compact text rows: ``G`` goal, ``X`` obstacle, ``S`` start cells
    (corner or cell-list starts), ``+`` the cells of ``path``, ``agent`` at ``here``."""
    grid = [["."] * task.cols for _ in range(task.rows)]
    if task.start != "uniform":
        for r, c in task.start_cells:
            grid[r][c] = "S"
    for r, c in path:
        grid[r][c] = "+"
    for r, c in task.obstacles:
        grid[r][c] = "X"
    grid[task.goal[0]][task.goal[1]] = "G"
    if here is not None:
        grid[here[0]][here[1]] = agent
    return ["".join(row) for row in grid]


def side_by_side(blocks: Sequence[Sequence[str]], gap: int = 2) -> list[str]:
    """Text blocks (lists of lines) placed side by side, each padded to its widest line."""
    height = max(len(b) for b in blocks)
    widths = [max((len(line) for line in b), default=0) for b in blocks]
    out = []
    for i in range(height):
        parts = [(b[i] if i < len(b) else "").ljust(w) for b, w in zip(blocks, widths, strict=True)]
        out.append((" " * gap).join(parts).rstrip())
    return out


def ascii_panels(tasks: Sequence[GridWorldTask], route: Sequence[Cell] | None = None) -> str:
    """The maps of ``tasks`` side by side (task 0 first), each under its task id.

    With a ``route`` (cells from the start), each map shows as ``+`` the cells the route walks in
    that task before its episode ends (the goal, or an obstacle, ends it), as in the paper's
    figure 2 where the light-green path stops at each environment's goal.
    """
    blocks = []
    for i, t in enumerate(tasks):
        walked: list[Cell] = []
        if route is not None:
            for cell in route[1:]:
                if t.is_terminal(cell):
                    break
                walked.append(tuple(cell))  # type: ignore[arg-type]
        blocks.append([f"task {i}", *task_lines(t, walked)])
    return "\n".join(side_by_side(blocks))


def render_ansi(env: Any) -> str:
    """Text frame: the maps of the groups side by side (``0``-``9`` the agent, ``+`` its path),
    each under ``agent i`` (team mode) or the task id, with its status below."""
    blocks = []
    for g, k, task, path, playing in _groups(env):
        cells = [task.cell(s) for s in path]
        mark = str(g % 10) if env.team else "A"
        head = f"agent {g}" if env.team else f"task {k}"
        status = _outcome(task, cells[-1], playing)
        blocks.append([head, *task_lines(task, cells[:-1], cells[-1], mark), status])
    horizon = max(int(env.compiled.horizon[k]) for k in env.group_tasks)
    title = f"{env.task_set.name} | {env.mode} | step {env.num_steps}/{horizon}"
    lines = [title, *side_by_side(blocks, gap=3)]
    if not env.team:
        lines.append(f"task {env.group_tasks[0]}: {env.task_set[env.group_tasks[0]].name}")
    return "\n".join(lines)
