"""Drawing the capture envs: a text grid (``ansi``) and pygame frames (``rgb_array``, ``human``).

Visual language, meant to be read at a glance:

* **agents** are filled circles carrying their index, one colour per agent (:func:`agent_colour`);
* **targets** are crosses. In MAMT target ``j`` is drawn in the colour of the agent assigned to
  it, so "who must catch what" is visible although agents never observe it; the single MAST target
  is a neutral dark grey;
* an agent **standing on its own target** gets a gold ring;
* an agent that is **blind** this step (flicker: its last observation hid every target) is drawn
  pale with a dashed ring and a small crossed-out badge;
* the **capture** step tints the board green, frames it in green and says ``CAPTURE!``;
* the status bar shows the task name, the task id and ``t = step / horizon``.

The frame size depends only on the task set (its largest grid side), never on the current task,
so the frames of a mixed-size set stack into one video; smaller grids are centred. The grid is a
torus: a piece leaving one edge enters at the opposite one.

pygame (``pygame-ce``) is imported lazily, only when a frame is drawn, so the envs import and run
without the ``render`` extra.
"""

from __future__ import annotations

import colorsys
import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from mt_envs.utils.text import PygameText

#: Distinct, colour-blind-friendly agent colours (no green: green means capture).
AGENT_COLOURS: tuple[tuple[int, int, int], ...] = (
    (31, 119, 180),  # blue
    (255, 127, 14),  # orange
    (148, 103, 189),  # purple
    (214, 39, 40),  # red
    (23, 190, 207),  # cyan
    (140, 86, 75),  # brown
    (227, 119, 194),  # pink
    (188, 189, 34),  # olive
)
#: Colour of the single MAST target.
NEUTRAL_TARGET = (55, 55, 60)
BACKGROUND = (34, 38, 46)
CELL = (240, 240, 234)
GRID_LINE = (200, 200, 194)
CAPTURE_CELL = (196, 238, 196)
CAPTURE_LINE = (150, 205, 150)
CAPTURE_GREEN = (46, 160, 67)
ON_TARGET_RING = (255, 196, 0)
TEXT = (235, 235, 235)
TEXT_DIM = (160, 166, 178)
BLIND_BADGE = (70, 70, 78)

#: Largest cell side in pixels, and the board side the cell shrinks to fit for large grids.
MAX_CELL_PX = 48
TARGET_BOARD_PX = 400
MIN_WIDTH_PX = 320
MARGIN_PX = 12
STATUS_BAR_PX = 46
#: Frames are drawn this many times larger, then smoothly scaled down (cheap anti-aliasing).
SUPERSAMPLE = 2

_AGENT_CHARS = "0123456789abcdefghijklmnopqrstuv"
_TARGET_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"

RGB = tuple[int, int, int]


def agent_colour(i: int) -> RGB:
    """The colour of agent ``i`` (8 hand-picked colours, then evenly spread hues)."""
    if i < len(AGENT_COLOURS):
        return AGENT_COLOURS[i]
    r, g, b = colorsys.hsv_to_rgb((i * 0.618033988749895) % 1.0, 0.65, 0.85)
    return (round(r * 255), round(g * 255), round(b * 255))


def target_colour(env: Any, j: int) -> RGB:
    """The colour of target ``j``: its assigned agent's colour (MAMT), or neutral (MAST)."""
    core = env.core
    if core.nt == 1:
        return NEUTRAL_TARGET
    for i in range(core.n):
        if core.assignment[i] == j:
            return agent_colour(i)
    return NEUTRAL_TARGET


def agent_char(i: int) -> str:
    """The character of agent ``i`` in :func:`render_ansi` (digits, then lowercase letters)."""
    return _AGENT_CHARS[i] if i < len(_AGENT_CHARS) else "?"


def target_char(j: int) -> str:
    """The character of target ``j`` in :func:`render_ansi` (``A``, ``B``, ...)."""
    return _TARGET_CHARS[j] if j < len(_TARGET_CHARS) else "?"


def _blind_agents(env: Any) -> list[int]:
    visible = list(getattr(env, "_last_visible", []) or [])
    return [i for i, v in enumerate(visible[: env.core.n]) if not v]


def _status_words(env: Any) -> str:
    core = env.core
    if getattr(env, "_captured", False):
        return "CAPTURED"
    if core.t >= core.horizon:
        return "time up (truncated)"
    return ""


# -- ansi ----------------------------------------------------------------------------------------
def render_ansi(env: Any) -> str:
    """The current state of a capture env as a text grid.

    Row ``r`` of the grid is printed on line ``r`` under the column ruler (north is up), one
    character per cell, separated by spaces: ``0``-``9`` agents, ``A``, ``B``, ... targets
    (MAMT: target ``j``; agent ``i`` must reach target ``assignment[i]``), ``*`` a cell where agents
    stand on their own targets and nothing else is, ``+`` any other crowded cell, ``.`` empty.
    Lines below the grid list each agent's cell and its target's cell, the agents that are blind
    this step (flicker) and ``CAPTURED`` when the episode ended by capture.

    Args:
        env: A capture ParallelEnv (:class:`~mt_envs.capture.CaptureEnv`).

    Returns:
        The multi-line text, without a trailing newline.
    """
    core = env.core
    m, n, nt = core.m, core.n, core.nt
    agents_at: dict[tuple[int, int], list[int]] = {}
    targets_at: dict[tuple[int, int], list[int]] = {}
    for i in range(n):
        agents_at.setdefault((core.pos[i][0], core.pos[i][1]), []).append(i)
    for j in range(nt):
        targets_at.setdefault((core.tpos[j][0], core.tpos[j][1]), []).append(j)

    def cell(r: int, c: int) -> str:
        ags, tgs = agents_at.get((r, c), []), targets_at.get((r, c), [])
        if not ags and not tgs:
            return "."
        if len(ags) == 1 and not tgs:
            return agent_char(ags[0])
        if len(tgs) == 1 and not ags:
            return target_char(tgs[0])
        if ags and set(tgs) == {core.assignment[i] for i in ags}:
            return "*"
        return "+"

    width = len(str(m - 1))
    lines = [f"{env.task.name} | task {env.task_id} | step {core.t}/{core.horizon}"]
    lines.append(" " * (width + 1) + " ".join(str(c % 10) for c in range(m)))
    for r in range(m):
        lines.append(f"{r:>{width}} " + " ".join(cell(r, c) for c in range(m)))
    for i in range(n):
        j = core.assignment[i]
        (ar, ac), (tr, tc) = core.pos[i], core.tpos[j]
        lines.append(f"agent {agent_char(i)} ({ar},{ac}) -> target {target_char(j)} ({tr},{tc})")
    blind = _blind_agents(env)
    lines.append(
        "blind this step: " + (", ".join(f"agent {agent_char(i)}" for i in blind) or "none")
    )
    status = _status_words(env)
    if status:
        lines.append(status)
    return "\n".join(lines)


# -- pygame --------------------------------------------------------------------------------------
def _import_pygame() -> Any:
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    try:
        import pygame
    except ImportError as exc:
        raise ImportError(
            'rendering capture envs needs pygame-ce: pip install "mt-envs[render]"'
        ) from exc
    return pygame


@dataclass(frozen=True)
class Layout:
    """Pixel geometry of the frames of one task set (final, not supersampled, pixels).

    Attributes:
        grid_max: Largest grid side of the task set.
        cell: Side of one cell.
        width: Frame width.
        height: Frame height.
    """

    grid_max: int
    cell: int
    width: int
    height: int

    @classmethod
    def for_grid(cls, grid_max: int) -> Layout:
        """The layout for a task set whose largest side is ``grid_max``."""
        cell = max(2, min(MAX_CELL_PX, TARGET_BOARD_PX // grid_max))
        board = cell * grid_max
        width = max(board + 2 * MARGIN_PX, MIN_WIDTH_PX)
        height = STATUS_BAR_PX + board + 2 * MARGIN_PX
        return cls(grid_max, cell, width, height)

    def origin(self, m: int) -> tuple[int, int]:
        """Top-left pixel ``(x, y)`` of an ``m x m`` grid, centred in the board area."""
        board = self.cell * self.grid_max
        x0 = (self.width - self.cell * m) // 2
        y0 = STATUS_BAR_PX + MARGIN_PX + (board - self.cell * m) // 2
        return x0, y0

    def cell_centre(self, m: int, row: int, col: int) -> tuple[int, int]:
        """Pixel ``(x, y)`` of the centre of cell ``(row, col)`` of an ``m x m`` grid."""
        x0, y0 = self.origin(m)
        return x0 + col * self.cell + self.cell // 2, y0 + row * self.cell + self.cell // 2


def _blend(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


class CaptureRenderer:
    """Draws a capture env with pygame, into an array (``rgb_array``) or a window (``human``).

    One renderer serves one env (the env creates it on its first ``render()``); it reads the
    env's state and never changes it. ``human`` mode works headless with
    ``SDL_VIDEODRIVER=dummy``.

    Args:
        render_mode: ``"rgb_array"`` (``draw`` returns ``uint8 [H, W, 3]``) or ``"human"`` (``draw``
            shows the frame in a window at most ``fps`` times a second and returns ``None``).
        fps: Frames per second of ``human`` mode.

    Raises:
        ValueError: For another render mode.
        ImportError: When pygame-ce is not installed.
    """

    def __init__(self, render_mode: str, fps: int = 5) -> None:
        if render_mode not in ("rgb_array", "human"):
            raise ValueError(
                f"render_mode={render_mode!r} is invalid for CaptureRenderer: use 'rgb_array' or "
                "'human' (text frames come from render_ansi)"
            )
        self.render_mode = render_mode
        self.fps = int(fps)
        self._pg = _import_pygame()
        self.layout: Layout | None = None
        self._canvas: Any = None
        self._window: Any = None
        self._clock: Any = None
        self._window_closed = False
        self._texts = PygameText(self._pg)

    # -- public ----------------------------------------------------------------------------------
    def layout_for(self, env: Any) -> Layout:
        """The frame layout of ``env`` (fixed by its task set's largest grid)."""
        grid_max = int(env.table.grid_max)
        if self.layout is None or self.layout.grid_max != grid_max:
            self.layout = Layout.for_grid(grid_max)
            self._canvas = None
        return self.layout

    def cell_centre(self, env: Any, row: int, col: int) -> tuple[int, int]:
        """Pixel ``(x, y)`` of the centre of cell ``(row, col)`` of ``env``'s current grid."""
        return self.layout_for(env).cell_centre(env.core.m, row, col)

    def draw(self, env: Any) -> np.ndarray | None:
        """Draw the current state of ``env``.

        Returns:
            ``uint8 [H, W, 3]`` in ``rgb_array`` mode, ``None`` in ``human`` mode.
        """
        pg = self._pg
        layout = self.layout_for(env)
        frame = pg.transform.smoothscale(self._paint(env, layout), (layout.width, layout.height))
        if self.render_mode == "rgb_array":
            buf = pg.image.tobytes(frame, "RGB")
            return np.frombuffer(buf, dtype=np.uint8).reshape(layout.height, layout.width, 3).copy()
        self._show(frame, layout, env)
        return None

    def close(self) -> None:
        """Close the window (if one is open). The renderer may draw again afterwards."""
        self._window_closed = False
        if self._window is not None:
            self._pg.display.quit()
            self._window = None
            self._clock = None

    # -- window ----------------------------------------------------------------------------------
    def _show(self, frame: Any, layout: Layout, env: Any) -> None:
        pg = self._pg
        if self._window_closed:
            return
        if self._window is None or self._window.get_size() != (layout.width, layout.height):
            pg.display.init()
            self._window = pg.display.set_mode((layout.width, layout.height))
            pg.display.set_caption(f"mt-envs: {env.metadata.get('name', 'capture')}")
            self._clock = pg.time.Clock()
        if pg.event.get(pg.QUIT):
            # The user closed the window: stop showing frames, keep the episode running.
            self.close()
            self._window_closed = True
            return
        self._window.blit(frame, (0, 0))
        pg.display.flip()
        self._clock.tick(self.fps)

    # -- painting (all coordinates supersampled) -------------------------------------------------
    def _font(self, px: int) -> Any:
        return self._texts.font(px)

    def _text(
        self, surf: Any, text: str, px: int, colour: RGB, pos: tuple[int, int], anchor: str
    ) -> int:
        """Blit ``text``; ``anchor`` is a pygame Rect attribute. Returns the width drawn."""
        return self._texts.blit(surf, text, px, colour, pos, anchor)

    def _fit(self, text: str, px: int, width: int) -> tuple[str, int]:
        """Shrink the font (down to 3/4) and then cut ``text`` so that it fits ``width``."""
        for size in (px, round(0.875 * px), round(0.75 * px)):
            font = self._font(size)
            if font is None or font.size(text)[0] <= width:
                return text, size
        while len(text) > 1 and font.size(text + "...")[0] > width:
            text = text[:-1]
        return text + "...", size

    def _paint(self, env: Any, layout: Layout) -> Any:
        pg, s = self._pg, SUPERSAMPLE
        size = (layout.width * s, layout.height * s)
        if self._canvas is None:
            self._canvas = pg.Surface(size, 0, 32)
        surf = self._canvas
        core = env.core
        m, cell = core.m, layout.cell * s
        captured = bool(getattr(env, "_captured", False))
        x0, y0 = (v * s for v in layout.origin(m))
        side = cell * m

        surf.fill(BACKGROUND)
        if captured:
            pad = MARGIN_PX * s // 2
            pg.draw.rect(surf, CAPTURE_GREEN, (x0 - pad, y0 - pad, side + 2 * pad, side + 2 * pad))
        pg.draw.rect(surf, CAPTURE_CELL if captured else CELL, (x0, y0, side, side))
        line = CAPTURE_LINE if captured else GRID_LINE
        lw = max(1, s * (1 if layout.cell < 24 else 2) // 2)
        for k in range(m + 1):
            pg.draw.line(surf, line, (x0 + k * cell, y0), (x0 + k * cell, y0 + side), lw)
            pg.draw.line(surf, line, (x0, y0 + k * cell), (x0 + side, y0 + k * cell), lw)

        def centre(r: int, c: int) -> tuple[float, float]:
            return x0 + (c + 0.5) * cell, y0 + (r + 0.5) * cell

        # Targets first, so agents standing on them stay visible.
        arm = 0.36 * cell
        tw = max(2, round(0.11 * cell))
        for j in range(core.nt):
            cx, cy = centre(*core.tpos[j])
            col = target_colour(env, j)
            pg.draw.line(surf, col, (cx - arm, cy - arm), (cx + arm, cy + arm), tw)
            pg.draw.line(surf, col, (cx - arm, cy + arm), (cx + arm, cy - arm), tw)

        # Agents: several agents on one cell are shrunk and spread around its centre.
        by_cell: dict[tuple[int, int], list[int]] = {}
        for i in range(core.n):
            by_cell.setdefault((core.pos[i][0], core.pos[i][1]), []).append(i)
        blind = set(_blind_agents(env))
        for (r, c), ids in by_cell.items():
            cx, cy = centre(r, c)
            k = len(ids)
            if k == 1:
                radius, spread = 0.36 * cell, 0.0
            else:  # k discs on a ring, neighbours touching, all inside the cell
                radius = 0.45 * cell / (1.0 + 1.0 / math.sin(math.pi / k))
                spread = 0.45 * cell - radius
            for slot, i in enumerate(ids):
                ang = math.pi + 2 * math.pi * slot / k
                ax, ay = cx + spread * math.cos(ang), cy + spread * math.sin(ang)
                on_target = core.pos[i] == core.tpos[core.assignment[i]]
                self._agent(surf, i, (ax, ay), radius, i in blind, on_target)

        self._status(surf, env, layout, captured, blind)
        return surf

    def _agent(
        self,
        surf: Any,
        i: int,
        at: tuple[float, float],
        radius: float,
        blind: bool,
        on_target: bool,
    ) -> None:
        pg = self._pg
        colour = agent_colour(i)
        centre = (round(at[0]), round(at[1]))
        rad = round(radius)
        ring = max(2, round(0.09 * rad * 2))
        if on_target:
            pg.draw.circle(surf, ON_TARGET_RING, centre, rad + ring + 1)
        if blind:
            pg.draw.circle(surf, _blend(colour, (255, 255, 255), 0.6), centre, rad)
            box = pg.Rect(0, 0, 2 * rad, 2 * rad)
            box.center = centre
            dashes = 10
            for d in range(dashes):
                a = 2 * math.pi * d / dashes
                pg.draw.arc(surf, colour, box, a, a + math.pi / dashes, ring)
            # The badge: a small dark disc crossed out, at the agent's top-right.
            b = max(3, round(0.38 * rad))
            bx, by = centre[0] + round(0.72 * rad), centre[1] - round(0.72 * rad)
            pg.draw.circle(surf, BLIND_BADGE, (bx, by), b)
            pg.draw.circle(surf, (255, 255, 255), (bx, by), b, max(1, b // 4))
            off = round(0.6 * b)
            pg.draw.line(
                surf, (255, 255, 255), (bx - off, by + off), (bx + off, by - off), max(1, b // 4)
            )
            label_colour = colour
        else:
            pg.draw.circle(surf, colour, centre, rad)
            pg.draw.circle(surf, _blend(colour, (0, 0, 0), 0.45), centre, rad, max(1, ring // 2))
            label_colour = (255, 255, 255)
        if rad >= 8 * SUPERSAMPLE:
            self._text(surf, str(i), round(1.25 * rad), label_colour, centre, "center")

    def _status(self, surf: Any, env: Any, layout: Layout, captured: bool, blind: set[int]) -> None:
        pg, s = self._pg, SUPERSAMPLE
        core = env.core
        width = layout.width * s
        bar = pg.Rect(0, 0, width, STATUS_BAR_PX * s)
        pg.draw.rect(surf, (24, 96, 44) if captured else (22, 25, 31), bar)
        px = 17 * s
        pad = MARGIN_PX * s
        line1, line2 = round(13 * s), round(33 * s)
        task_label = f"task {env.task_id}"
        right_w = self._text(surf, task_label, px, TEXT_DIM, (width - pad, line1), "midright")
        name, name_px = self._fit(env.task.name, px, width - 2 * pad - right_w - 8 * s)
        self._text(surf, name, name_px, TEXT, (pad, line1), "midleft")
        self._text(surf, f"t = {core.t}/{core.horizon}", px, TEXT, (pad, line2), "midleft")
        if captured:
            at = (width - pad, line2)
            self._text(surf, "CAPTURE!", round(20 * s), (255, 255, 255), at, "midright")
        elif blind:
            who = ", ".join(str(i) for i in sorted(blind))
            self._text(surf, f"blind: {who}", px, TEXT_DIM, (width - pad, line2), "midright")
        elif core.t >= core.horizon:
            self._text(surf, "time up", px, TEXT_DIM, (width - pad, line2), "midright")
