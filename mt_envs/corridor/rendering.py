"""Drawing the corridor: a text grid (``ansi``) and pygame frames (``rgb_array``; ``human`` shows
the same frames in the engine's window).

Visual language:

* **walls** are dark slate, the two **chambers** light floor, the one-cell **corridor** a sand
  coloured floor so the bottleneck stands out;
* each **agent** is a filled circle carrying its index, in its own colour (blue ``agent_0``,
  orange ``agent_1``, the colours of the capture family);
* each agent's **goal** is a square outline in the agent's colour on a pale tint of it;
* an agent that is **done** has left the board: its goal is filled solid in its colour with a
  white tick, and the status bar says so;
* the status bar shows the task name, the task id, ``t = step / horizon`` and who is done.

The frame size is fixed (the map never changes), so frames of different tasks stack into one
video. pygame (``pygame-ce``) is imported lazily, only when a frame is drawn.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from mt_envs.corridor.model import CorridorModel
from mt_envs.corridor.task import (
    ACTION_NAMES,
    CORRIDOR_CELLS,
    N_COLS,
    N_ROWS,
    NO_ACTION,
    Cell,
    CorridorTask,
    is_wall,
)
from mt_envs.utils.text import PygameText

RGB = tuple[int, int, int]

#: Agent colours (the capture family's first two: blue, orange).
AGENT_COLOURS: tuple[RGB, RGB] = ((31, 119, 180), (255, 127, 14))
BACKGROUND = (34, 38, 46)
WALL = (70, 76, 88)
FLOOR = (240, 240, 234)
CORRIDOR_FLOOR = (228, 214, 176)
GRID_LINE = (205, 205, 198)
TEXT = (235, 235, 235)
TEXT_DIM = (160, 166, 178)
DONE_GREEN = (46, 160, 67)

CELL_PX = 48
MARGIN_PX = 12
STATUS_BAR_PX = 46
WIDTH_PX = N_COLS * CELL_PX + 2 * MARGIN_PX
HEIGHT_PX = STATUS_BAR_PX + N_ROWS * CELL_PX + 2 * MARGIN_PX
#: Frames are drawn this many times larger, then smoothly scaled down (cheap anti-aliasing).
SUPERSAMPLE = 2


@dataclass(frozen=True)
class CorridorFrame:
    """What a frame shows: one moment of one corridor episode.

    Attributes:
        task: The task being played.
        task_id: Its id in the env's task set.
        pos: Cell of each agent (a done agent's cell is its goal).
        done: Whether each agent is done.
        prev: Previous action of each agent (``NO_ACTION`` before the first step).
        t: Steps taken in the episode.
        horizon: The turn limit.
    """

    task: CorridorTask
    task_id: int
    pos: tuple[Cell, Cell]
    done: tuple[bool, bool]
    prev: tuple[int, int]
    t: int
    horizon: int

    @classmethod
    def from_state(cls, cm: CorridorModel, state: int, task_id: int, t: int) -> CorridorFrame:
        """The frame of joint state ``state`` of model ``cm`` after ``t`` steps."""
        p0, p1 = cm.positions(state)
        return cls(
            task=cm.task,
            task_id=int(task_id),
            pos=(p0, p1),
            done=(bool(cm.done[state, 0]), bool(cm.done[state, 1])),
            prev=(int(cm.prev[state, 0]), int(cm.prev[state, 1])),
            t=int(t),
            horizon=cm.task.horizon,
        )

    @property
    def status(self) -> str:
        """``"both done"``, ``"agent_i done"``, ``"time up (truncated)"`` or ``""``."""
        if all(self.done):
            return "both done"
        if self.t >= self.horizon:
            return "time up (truncated)"
        if any(self.done):
            return f"agent_{self.done.index(True)} done"
        return ""


# -- ansi ----------------------------------------------------------------------------------------
def render_ansi(frame: CorridorFrame) -> str:
    """The frame as a text grid.

    One character per cell, separated by spaces, north up: ``#`` wall, ``.`` floor, ``0`` / ``1``
    a live agent, ``A`` / ``B`` the goal of ``agent_0`` / ``agent_1``, ``*`` the goal of a done
    agent (it has left the board). Lines below list each agent's cell, goal, previous action and
    whether it is done, then the episode status.

    Args:
        frame: What to draw.

    Returns:
        The multi-line text, without a trailing newline.
    """
    grid = [["#" if is_wall(r, c) else "." for c in range(N_COLS)] for r in range(N_ROWS)]
    for i, (r, c) in enumerate(frame.task.goals):
        grid[r][c] = "*" if frame.done[i] else "AB"[i]
    for i, (r, c) in enumerate(frame.pos):
        if not frame.done[i]:
            grid[r][c] = str(i)
    lines = [f"{frame.task.name} | task {frame.task_id} | step {frame.t}/{frame.horizon}"]
    lines.append("  " + " ".join(str(c) for c in range(N_COLS)))
    lines.extend(f"{r} " + " ".join(row) for r, row in enumerate(grid))
    for i in range(2):
        (r, c), (gr, gc) = frame.pos[i], frame.task.goals[i]
        prev = "none" if frame.prev[i] == NO_ACTION else ACTION_NAMES[frame.prev[i]]
        state = "done" if frame.done[i] else f"at ({r},{c})"
        lines.append(f"agent_{i} {state} -> goal {'AB'[i]} ({gr},{gc}) | last action {prev}")
    if frame.status:
        lines.append(frame.status)
    return "\n".join(lines)


# -- pygame --------------------------------------------------------------------------------------
def _import_pygame() -> Any:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as exc:
        raise ImportError(
            'rendering corridor envs needs pygame-ce: pip install "mt-envs[render]"'
        ) from exc
    return pygame


def _blend(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


class CorridorRenderer:
    """Draws corridor frames with pygame into ``uint8 [H, W, 3]`` arrays.

    ``human`` mode is the engine's: :class:`~mt_envs.tabular.TabularEnv` shows these frames in
    its own window.

    Raises:
        ImportError: When pygame-ce is not installed.
    """

    def __init__(self) -> None:
        self._pg = _import_pygame()
        self._canvas: Any = None
        self._texts = PygameText(self._pg)

    def draw(self, frame: CorridorFrame) -> np.ndarray:
        """Draw ``frame`` as ``uint8 [HEIGHT_PX, WIDTH_PX, 3]``."""
        pg = self._pg
        image = pg.transform.smoothscale(self._paint(frame), (WIDTH_PX, HEIGHT_PX))
        buf = pg.image.tobytes(image, "RGB")
        return np.frombuffer(buf, dtype=np.uint8).reshape(HEIGHT_PX, WIDTH_PX, 3).copy()

    # -- painting (all coordinates supersampled) -------------------------------------------------
    def _font(self, px: int) -> Any:
        return self._texts.font(px)

    def _text(
        self, surf: Any, text: str, px: int, colour: RGB, pos: tuple[int, int], anchor: str
    ) -> int:
        """Blit ``text``; ``anchor`` is a pygame Rect attribute. Returns the width drawn."""
        return self._texts.blit(surf, text, px, colour, pos, anchor)

    def _paint(self, frame: CorridorFrame) -> Any:
        pg, s = self._pg, SUPERSAMPLE
        if self._canvas is None:
            self._canvas = pg.Surface((WIDTH_PX * s, HEIGHT_PX * s), 0, 32)
        surf = self._canvas
        cell = CELL_PX * s
        x0, y0 = MARGIN_PX * s, (STATUS_BAR_PX + MARGIN_PX) * s
        surf.fill(BACKGROUND)

        def rect(r: int, c: int, inset: float = 0.0) -> Any:
            d = round(inset * cell)
            return pg.Rect(x0 + c * cell + d, y0 + r * cell + d, cell - 2 * d, cell - 2 * d)

        lw = max(1, s)
        for r in range(N_ROWS):
            for c in range(N_COLS):
                if is_wall(r, c):
                    pg.draw.rect(surf, WALL, rect(r, c))
                    continue
                colour = CORRIDOR_FLOOR if (r, c) in CORRIDOR_CELLS else FLOOR
                pg.draw.rect(surf, colour, rect(r, c))
                pg.draw.rect(surf, GRID_LINE, rect(r, c), lw)

        for i, (r, c) in enumerate(frame.task.goals):
            colour = AGENT_COLOURS[i]
            box = rect(r, c, 0.1)
            if frame.done[i]:
                pg.draw.rect(surf, colour, box, border_radius=round(0.12 * cell))
                self._tick(surf, box)
            else:
                pg.draw.rect(surf, _blend(colour, (255, 255, 255), 0.75), box)
                pg.draw.rect(surf, colour, box, max(2, round(0.07 * cell)))

        for i, (r, c) in enumerate(frame.pos):
            if frame.done[i]:
                continue
            colour = AGENT_COLOURS[i]
            centre = (x0 + c * cell + cell // 2, y0 + r * cell + cell // 2)
            rad = round(0.33 * cell)
            pg.draw.circle(surf, colour, centre, rad)
            pg.draw.circle(surf, _blend(colour, (0, 0, 0), 0.45), centre, rad, max(1, s * 2))
            self._text(surf, str(i), round(1.25 * rad), (255, 255, 255), centre, "center")

        self._status(surf, frame)
        return surf

    def _tick(self, surf: Any, box: Any) -> None:
        w = max(3, box.width // 9)
        a = (box.left + round(0.22 * box.width), box.top + round(0.52 * box.height))
        b = (box.left + round(0.42 * box.width), box.top + round(0.72 * box.height))
        c = (box.left + round(0.78 * box.width), box.top + round(0.3 * box.height))
        self._pg.draw.lines(surf, (255, 255, 255), False, [a, b, c], w)

    def _status(self, surf: Any, frame: CorridorFrame) -> None:
        pg, s = self._pg, SUPERSAMPLE
        width = WIDTH_PX * s
        finished = all(frame.done)
        bar = pg.Rect(0, 0, width, STATUS_BAR_PX * s)
        pg.draw.rect(surf, (24, 96, 44) if finished else (22, 25, 31), bar)
        px, pad = 17 * s, MARGIN_PX * s
        line1, line2 = round(13 * s), round(33 * s)
        right = self._text(
            surf, f"task {frame.task_id}", px, TEXT_DIM, (width - pad, line1), "midright"
        )
        del right  # task names are short (at most about 30 characters): they always fit
        self._text(surf, frame.task.name, px, TEXT, (pad, line1), "midleft")
        self._text(surf, f"t = {frame.t}/{frame.horizon}", px, TEXT, (pad, line2), "midleft")
        x = width - pad
        for i in (1, 0):
            label = f"{i} done" if frame.done[i] else f"{i}"
            colour = AGENT_COLOURS[i]
            w = self._text(surf, label, px, (255, 255, 255), (x, line2), "midright")
            dot = (x - w - 9 * s, line2)
            if frame.done[i]:
                pg.draw.circle(surf, DONE_GREEN, dot, 6 * s)
            pg.draw.circle(surf, colour, dot, 5 * s)
            x = dot[0] - 12 * s
        if frame.t >= frame.horizon and not finished:
            self._text(surf, "time up", px, TEXT_DIM, (x, line2), "midright")
