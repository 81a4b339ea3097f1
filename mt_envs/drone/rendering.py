"""Drawing the drone env: a top-down view of the map with the drones and their camera rays, and
each drone's camera image in a strip below (``rgb_array`` with numpy; ``human`` shows the same
frames in a pygame window).

Visual language:

* the **floor** is the map's floor colour, lightened so the obstacles stand out, with faint lines
  every 5 m; the area outside the map's bounds is the dark background;
* **obstacles** are drawn in their own colours from the map file, each with a dark outline.
  Obstacles from floor to ceiling are solid; **low** ones (furniture a drone can fly over) are
  drawn half-transparent, **overhead** ones (beams, ducts: a drone can fly under) as a pale
  outline-only shape on top of everything else on the floor;
* each **drone** is a disc in its own colour (not to scale: at least 4 pixels) with a short
  **heading** tick; the **camera rays** of the camera row nearest to level fan out from it in a
  pale version of its colour, each drawn to its hit point (the clean range, before the lighting's
  noise), which carries a dark dot; rays that reach the camera's range end without a dot;
* the **path** flown this episode trails behind each drone (recorded while frames are drawn);
* a drone that **crashed** gets a red ring and a red cross at its point of contact, and its
  strip label says ``CRASH``; a drone whose episode was truncated is drawn pale, labelled
  ``DONE``;
* under the map, one **camera cell** per drone: its label (``D<i>`` and the horizontal metres
  flown, the safe flight so far) above its depth image (near is bright yellow, far is dark
  purple; the clean depth, as the reward reads it), and with ``obs_type="image"`` the shaded
  image next to it (the map's colours and light level, clean);
* the header names the task and shows ``T step/limit``; a thin bar at the bottom shows the time
  used.

In ``"team"`` mode each map copy gets its own panel (map, drones, camera cells), panels in a
near-square grid. The frame size depends only on the env's task set, camera, mode and drone
count, never on the state, so the frames of an episode (and of different tasks) stack into one
video.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

from mt_envs.gridworld.rendering import gridworld_agent_colour

RGB = tuple[int, int, int]

BACKGROUND: RGB = (34, 38, 46)
PANEL: RGB = (40, 44, 53)
TEXT: RGB = (235, 235, 235)
TEXT_DIM: RGB = (160, 166, 178)
CRASH_RED: RGB = (230, 40, 35)
HIT_DOT: RGB = (20, 20, 24)
OUTLINE: RGB = (25, 25, 30)
TIME: RGB = (200, 200, 194)
GRID: RGB = (0, 0, 0)

MARGIN = 10
GAP = 12
HEADER = 18
LABEL = 14
TIME_BAR = 4
#: Largest map area of one panel, ``(width, height)`` pixels: one panel, several panels.
MAP_PX_ONE = (480, 360)
MAP_PX_MANY = (320, 240)
#: Target width of one camera image, one panel / several panels.
CAMERA_PX_ONE = 192
CAMERA_PX_MANY = 144
#: Tallest camera image (pixels).
CAMERA_MAX_H = 112
#: Smallest drone disc radius (pixels).
DRONE_MIN_PX = 4.0
#: Font scale (each glyph is 3 x 5 cells of this many pixels).
FONT_PX = 2
#: Recorded path points per drone at most.
TRAIL_MAX = 2000

# A 3 x 5 pixel font (rows top to bottom, '#' set), drawn in our own style.
_GLYPHS: dict[str, tuple[str, ...]] = {
    "A": (".#.", "#.#", "###", "#.#", "#.#"),
    "B": ("##.", "#.#", "##.", "#.#", "##."),
    "C": (".##", "#..", "#..", "#..", ".##"),
    "D": ("##.", "#.#", "#.#", "#.#", "##."),
    "E": ("###", "#..", "##.", "#..", "###"),
    "F": ("###", "#..", "##.", "#..", "#.."),
    "G": (".##", "#..", "#.#", "#.#", ".##"),
    "H": ("#.#", "#.#", "###", "#.#", "#.#"),
    "I": ("###", ".#.", ".#.", ".#.", "###"),
    "J": ("..#", "..#", "..#", "#.#", ".#."),
    "K": ("#.#", "#.#", "##.", "#.#", "#.#"),
    "L": ("#..", "#..", "#..", "#..", "###"),
    "M": ("#.#", "###", "###", "#.#", "#.#"),
    "N": ("##.", "#.#", "#.#", "#.#", "#.#"),
    "O": (".#.", "#.#", "#.#", "#.#", ".#."),
    "P": ("##.", "#.#", "##.", "#..", "#.."),
    "Q": (".#.", "#.#", "#.#", "##.", ".##"),
    "R": ("##.", "#.#", "##.", "#.#", "#.#"),
    "S": (".##", "#..", ".#.", "..#", "##."),
    "T": ("###", ".#.", ".#.", ".#.", ".#."),
    "U": ("#.#", "#.#", "#.#", "#.#", "###"),
    "V": ("#.#", "#.#", "#.#", "#.#", ".#."),
    "W": ("#.#", "#.#", "###", "###", "#.#"),
    "X": ("#.#", "#.#", ".#.", "#.#", "#.#"),
    "Y": ("#.#", "#.#", ".#.", ".#.", ".#."),
    "Z": ("###", "..#", ".#.", "#..", "###"),
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", "..#", "..#", "..#"),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    ".": ("...", "...", "...", "...", ".#."),
    "/": ("..#", "..#", ".#.", "#..", "#.."),
    "-": ("...", "...", "###", "...", "..."),
    "=": ("...", "###", "...", "###", "..."),
    ":": ("...", ".#.", "...", ".#.", "..."),
    "+": ("...", ".#.", "###", ".#.", "..."),
    "(": (".#.", "#..", "#..", "#..", ".#."),
    ")": (".#.", "..#", "..#", "..#", ".#."),
    "_": ("...", "...", "...", "...", "###"),
    " ": ("...", "...", "...", "...", "..."),
}
_GLYPH_BITS = {
    ch: np.array([[c == "#" for c in row] for row in rows], dtype=bool)
    for ch, rows in _GLYPHS.items()
}
_UNKNOWN = np.zeros((5, 3), dtype=bool)

#: Depth colour map anchors (normalised depth, RGB): near is bright, far is dark.
_DEPTH_ANCHORS = (
    (0.0, (255, 245, 150)),
    (0.2, (250, 160, 60)),
    (0.45, (205, 70, 85)),
    (0.7, (110, 35, 110)),
    (1.0, (22, 16, 40)),
)


#: Colour levels of the depth images (flat bands read better and compress well in GIFs).
DEPTH_LEVELS = 16


def _depth_lut() -> np.ndarray:
    x = (np.floor(np.linspace(0.0, 1.0, 256) * DEPTH_LEVELS).clip(0, DEPTH_LEVELS - 1) + 0.5) / (
        DEPTH_LEVELS
    )
    keys = np.array([a for a, _ in _DEPTH_ANCHORS])
    cols = np.array([c for _, c in _DEPTH_ANCHORS], dtype=np.float64)
    lut = np.stack([np.interp(x, keys, cols[:, i]) for i in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


DEPTH_LUT = _depth_lut()


# -- small numpy drawing helpers -----------------------------------------------------------------
def text_width(text: str, px: int = FONT_PX) -> int:
    """Width in pixels of ``text`` drawn by :func:`draw_text`."""
    return max(0, len(text) * 4 * px - px)


def draw_text(frame: np.ndarray, y: int, x: int, text: str, colour: RGB, px: int = FONT_PX) -> int:
    """Draw ``text`` (upper-cased; unknown characters are blank) with its top-left at ``(y, x)``.

    Returns:
        The width drawn in pixels.
    """
    text = text.upper()
    if not text:
        return 0
    glyphs = [_GLYPH_BITS.get(ch, _UNKNOWN) for ch in text]
    gap = np.zeros((5, 1), dtype=bool)
    parts: list[np.ndarray] = []
    for g in glyphs:
        parts += [g, gap]
    bits = np.concatenate(parts[:-1], axis=1)
    mask = np.repeat(np.repeat(bits, px, axis=0), px, axis=1)
    h, w = frame.shape[:2]
    y1, x1 = min(y + mask.shape[0], h), min(x + mask.shape[1], w)
    if y1 <= y or x1 <= x or y < 0 or x < 0:
        return 0
    frame[y:y1, x:x1][mask[: y1 - y, : x1 - x]] = colour
    return text_width(text, px)


def _blend_into(region: np.ndarray, mask: np.ndarray | None, colour: RGB, alpha: float) -> None:
    """Blend ``colour`` into ``region`` (a view of the frame) where ``mask`` is set."""
    c = np.asarray(colour, dtype=np.float32)
    if alpha >= 1.0:
        if mask is None:
            region[:] = colour
        else:
            region[mask] = colour
        return
    if mask is None:
        region[:] = (region * (1.0 - alpha) + c * alpha).astype(np.uint8)
    else:
        region[mask] = (region[mask] * (1.0 - alpha) + c * alpha).astype(np.uint8)


def fill_box(
    frame: np.ndarray, y0: float, x0: float, y1: float, x1: float, colour: RGB, alpha: float = 1.0
) -> None:
    """Fill the pixels whose centres lie in ``[y0, y1) x [x0, x1)`` (at least one pixel per axis
    for a box thinner than a pixel), blending with ``alpha``."""
    h, w = frame.shape[:2]
    r0, r1 = round(y0), round(y1)
    c0, c1 = round(x0), round(x1)
    if r1 <= r0:
        r0 = math.floor((y0 + y1) / 2)
        r1 = r0 + 1
    if c1 <= c0:
        c0 = math.floor((x0 + x1) / 2)
        c1 = c0 + 1
    r0, r1, c0, c1 = max(r0, 0), min(r1, h), max(c0, 0), min(c1, w)
    if r1 > r0 and c1 > c0:
        _blend_into(frame[r0:r1, c0:c1], None, colour, alpha)


def outline_box(
    frame: np.ndarray, y0: float, x0: float, y1: float, x1: float, colour: RGB, alpha: float = 1.0
) -> None:
    """Draw the one-pixel outline of the box of :func:`fill_box`."""
    r0, c0 = round(y0), round(x0)
    r1, c1 = max(round(y1), r0 + 1), max(round(x1), c0 + 1)
    for a, b, c, d in (
        (r0, c0, r0 + 1, c1),
        (r1 - 1, c0, r1, c1),
        (r0, c0, r1, c0 + 1),
        (r0, c1 - 1, r1, c1),
    ):
        fill_box(frame, a, b, c, d, colour, alpha)


def fill_circle(
    frame: np.ndarray,
    cy: float,
    cx: float,
    radius: float,
    colour: RGB,
    alpha: float = 1.0,
    ring: float | None = None,
) -> None:
    """Fill the disc of centre ``(cy, cx)`` (pixel coordinates, pixel centres at ``+0.5``) and
    ``radius``; with ``ring``, only the band of that width inside the edge."""
    h, w = frame.shape[:2]
    radius = max(radius, 0.5)
    y0, y1 = max(int(cy - radius) - 1, 0), min(int(cy + radius) + 2, h)
    x0, x1 = max(int(cx - radius) - 1, 0), min(int(cx + radius) + 2, w)
    if y1 <= y0 or x1 <= x0:
        return
    yy = np.arange(y0, y1, dtype=np.float64)[:, None] + 0.5 - cy
    xx = np.arange(x0, x1, dtype=np.float64)[None, :] + 0.5 - cx
    d2 = yy * yy + xx * xx
    mask = d2 <= radius * radius
    if ring is not None:
        inner = max(radius - ring, 0.0)
        mask &= d2 > inner * inner
    if mask.any():
        _blend_into(frame[y0:y1, x0:x1], mask, colour, alpha)


def draw_segments(
    frame: np.ndarray,
    ya: np.ndarray,
    xa: np.ndarray,
    yb: np.ndarray,
    xb: np.ndarray,
    colour: RGB,
    alpha: float = 1.0,
    width: int = 1,
) -> None:
    """Draw straight segments from ``(ya, xa)`` to ``(yb, xb)`` (arrays of equal length,
    pixel coordinates), sampled at least once per pixel; ``width`` 2 doubles them."""
    ya, xa = np.atleast_1d(ya).astype(np.float64), np.atleast_1d(xa).astype(np.float64)
    yb, xb = np.atleast_1d(yb).astype(np.float64), np.atleast_1d(xb).astype(np.float64)
    if ya.size == 0:
        return
    n = int(np.ceil(np.max(np.maximum(np.abs(yb - ya), np.abs(xb - xa))))) + 2
    t = np.linspace(0.0, 1.0, n)[None, :]
    ys = ya[:, None] + (yb - ya)[:, None] * t
    xs = xa[:, None] + (xb - xa)[:, None] * t
    r = np.floor(ys).astype(np.int64).ravel()
    c = np.floor(xs).astype(np.int64).ravel()
    if width > 1:
        r = np.concatenate([r, r, r + 1, r + 1])
        c = np.concatenate([c, c + 1, c, c + 1])
    h, w = frame.shape[:2]
    ok = (r >= 0) & (r < h) & (c >= 0) & (c < w)
    r, c = r[ok], c[ok]
    if r.size == 0:
        return
    flat = np.unique(r * w + c)
    r, c = flat // w, flat % w
    if alpha >= 1.0:
        frame[r, c] = colour
    else:
        col = np.asarray(colour, dtype=np.float32)
        frame[r, c] = (frame[r, c] * (1.0 - alpha) + col * alpha).astype(np.uint8)


def _rgb(colour: Any, scale: float = 1.0) -> RGB:
    """A colour in [0, 1] floats as 0..255 ints."""
    r, g, b = (min(max(float(v) * scale, 0.0), 1.0) for v in colour)
    return (round(255 * r), round(255 * g), round(255 * b))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (
        round(a[0] + (b[0] - a[0]) * t),
        round(a[1] + (b[1] - a[1]) * t),
        round(a[2] + (b[2] - a[2]) * t),
    )


def _luma(c: RGB) -> float:
    return 0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2]


def _contrast(colour: RGB, floor: RGB) -> RGB:
    """``colour``, darkened when it is too close to the floor's brightness to stand out."""
    if abs(_luma(colour) - _luma(floor)) >= 60.0:
        return colour
    return _mix(colour, (0, 0, 0), 0.45)


def drone_colour(i: int) -> RGB:
    """The colour of drone slot ``i`` (no red: red marks crashes)."""
    return gridworld_agent_colour(i)


# -- layout --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DroneLayout:
    """Pixel geometry of the frames of one env (fixed by its task set, camera, mode and drone
    count).

    Attributes:
        n_panels: Map panels (1 in shared mode, one per task in team mode).
        per_row: Panels per row of the frame.
        drones_per_panel: Drones drawn in each panel.
        target: The box ``(width, height)`` every map is scaled to fit (pixels).
        map_w: Width of a panel's map area (pixels).
        map_h: Height of a panel's map area.
        cam_kx: Pixels per camera column.
        cam_ky: Pixels per camera row.
        cam_w: Width of one camera image.
        cam_h: Height of one camera image.
        images: Camera images per drone (2 with ``obs_type="image"``: depth and shaded view).
        cell_w: Width of one drone's camera cell.
        cells_per_line: Camera cells side by side in a panel.
        panel_w: Panel width.
        panel_h: Panel height.
        width: Frame width.
        height: Frame height.
    """

    n_panels: int
    per_row: int
    drones_per_panel: int
    target: tuple[int, int]
    map_w: int
    map_h: int
    cam_kx: int
    cam_ky: int
    cam_w: int
    cam_h: int
    images: int
    cell_w: int
    cells_per_line: int
    panel_w: int
    panel_h: int
    width: int
    height: int

    @classmethod
    def for_env(cls, env: Any) -> DroneLayout:
        """The layout of a drone ParallelEnv."""
        worlds = env.worlds
        n_panels = len(worlds) if env.team else 1
        n = int(env.n_drones)
        many = n_panels > 1
        target = MAP_PX_MANY if many else MAP_PX_ONE
        fitted = [(w.size[0] * _fit(w, target), w.size[1] * _fit(w, target)) for w in worlds]
        map_w = math.ceil(max(f[0] for f in fitted) - 1e-9)
        map_h = math.ceil(max(f[1] for f in fitted) - 1e-9)
        cam = env.camera
        kx = max(1, min(12, (CAMERA_PX_MANY if many else CAMERA_PX_ONE) // cam.cols))
        aspect = (cam.fov_v / cam.rows) / (cam.fov_h / cam.cols)
        ky = max(1, min(round(kx * aspect), max(1, CAMERA_MAX_H // cam.rows)))
        cam_w, cam_h = cam.cols * kx, cam.rows * ky
        images = 2 if env.config.obs_type == "image" else 1
        cell_w = images * cam_w + (images - 1) * 4
        panel_w = max(map_w, cell_w)
        per_line = max(1, min(n, (panel_w + GAP) // (cell_w + GAP)))
        lines = math.ceil(n / per_line)
        panel_h = HEADER + map_h + lines * (GAP // 2 + LABEL + cam_h)
        per_row = max(1, math.ceil(math.sqrt(n_panels)))
        rows = math.ceil(n_panels / per_row)
        width = 2 * MARGIN + per_row * panel_w + (per_row - 1) * GAP
        height = 2 * MARGIN + rows * panel_h + (rows - 1) * GAP + GAP // 2 + TIME_BAR
        return cls(
            n_panels=n_panels,
            per_row=per_row,
            drones_per_panel=n,
            target=target,
            map_w=map_w,
            map_h=map_h,
            cam_kx=kx,
            cam_ky=ky,
            cam_w=cam_w,
            cam_h=cam_h,
            images=images,
            cell_w=cell_w,
            cells_per_line=per_line,
            panel_w=panel_w,
            panel_h=panel_h,
            width=width,
            height=height,
        )

    def panel_origin(self, panel: int) -> tuple[int, int]:
        """Top-left pixel ``(y, x)`` of panel ``panel``."""
        r, c = divmod(panel, self.per_row)
        return MARGIN + r * (self.panel_h + GAP), MARGIN + c * (self.panel_w + GAP)

    def cell_origin(self, panel: int, j: int) -> tuple[int, int]:
        """Top-left pixel ``(y, x)`` of the depth image of the ``j``-th drone of panel ``panel``
        (its label sits :data:`LABEL` pixels above; the shaded image, if any, 4 pixels right of
        the depth image)."""
        py, px = self.panel_origin(panel)
        line, col = divmod(j, self.cells_per_line)
        span = self.cells_per_line * self.cell_w + (self.cells_per_line - 1) * GAP
        y = py + HEADER + self.map_h + GAP // 2 + line * (LABEL + self.cam_h + GAP // 2) + LABEL
        x = px + (self.panel_w - span) // 2 + col * (self.cell_w + GAP)
        return y, x

    def scale(self, world: Any) -> float:
        """Pixels per metre of ``world``'s top-down view (each map fills the map area as far as
        its shape allows)."""
        return _fit(world, self.target)

    def map_origin(self, panel: int, world: Any) -> tuple[float, float]:
        """Pixel ``(y, x)`` of the north-west corner of ``world``'s bounds in panel ``panel``
        (maps are centred in the map area)."""
        py, px = self.panel_origin(panel)
        w, h = world.size
        s = self.scale(world)
        ox = px + (self.panel_w - w * s) / 2.0
        oy = py + HEADER + (self.map_h - h * s) / 2.0
        return oy, ox

    def to_pixels(self, panel: int, world: Any, xy: Any) -> tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates ``(rows, cols)`` (floats) of world points ``xy [..., 2]`` (metres;
        north is up)."""
        oy, ox = self.map_origin(panel, world)
        p = np.asarray(xy, dtype=np.float64)
        x0, _y0, _x1, y1 = world.bounds
        s = self.scale(world)
        return oy + (y1 - p[..., 1]) * s, ox + (p[..., 0] - x0) * s


def _fit(world: Any, target: tuple[int, int]) -> float:
    w, h = world.size
    return min(target[0] / w, target[1] / h)


# -- what a frame shows --------------------------------------------------------------------------
def level_row(camera: Any) -> int:
    """The camera row whose pitch is nearest to level (the row the top-down view draws)."""
    return int(np.argmin(np.abs(camera.pitches)))


def ray_endpoints(env: Any, drone: int) -> tuple[np.ndarray, np.ndarray]:
    """Where the rays of the level row of ``drone``'s camera end, seen from above.

    Args:
        env: A drone ParallelEnv.
        drone: Drone slot.

    Returns:
        ``xy float [cols, 2]``: the horizontal position of each ray's hit point (the clean
        range of the last observation, capped at the camera range), and ``hit bool [cols]``:
        the ray hit something within range.
    """
    cam = env.camera
    row = level_row(cam)
    depth = np.asarray(env.last_depth[drone, row], dtype=np.float64)
    dirs = env.ray_directions(drone)[row]  # [cols, 3]
    dist = depth * cam.max_range
    xy = env.positions[drone, :2][None, :] + dist[:, None] * dirs[:, :2]
    return xy, depth < 1.0


class _Trails:
    """Positions of each drone slot over the frames drawn in the current episode."""

    def __init__(self) -> None:
        self.points: list[list[tuple[float, float]]] = []
        self.step = -1
        self.tasks: list[int] = []

    def update(self, env: Any) -> list[list[tuple[float, float]]]:
        step = int(env.num_steps)
        tasks = list(env.drone_task_ids)
        pos = env.positions
        if step < self.step or step == 0 or tasks != self.tasks or len(self.points) != len(pos):
            self.points = [[] for _ in range(len(pos))]
        self.step, self.tasks = step, tasks
        for i, trail in enumerate(self.points):
            p = (float(pos[i, 0]), float(pos[i, 1]))
            if not trail or trail[-1] != p:
                trail.append(p)
                if len(trail) > TRAIL_MAX:
                    del trail[: len(trail) - TRAIL_MAX]
        return self.points


_TRAILS: weakref.WeakKeyDictionary[Any, _Trails] = weakref.WeakKeyDictionary()
_LAYOUTS: weakref.WeakKeyDictionary[Any, DroneLayout] = weakref.WeakKeyDictionary()
_BACKDROPS: weakref.WeakKeyDictionary[Any, dict[tuple[Any, ...], np.ndarray]] = (
    weakref.WeakKeyDictionary()
)


def layout_of(env: Any) -> DroneLayout:
    """The (cached) :class:`DroneLayout` of ``env``."""
    base = getattr(env, "unwrapped", env)
    layout = _LAYOUTS.get(base)
    if layout is None:
        layout = DroneLayout.for_env(base)
        _LAYOUTS[base] = layout
    return layout


# -- drawing -------------------------------------------------------------------------------------
def _draw_world(frame: np.ndarray, layout: DroneLayout, panel: int, world: Any) -> None:
    """The map of one panel: floor, 5 m lines, obstacles (cached per env and world)."""
    s = layout.scale(world)
    oy, ox = layout.map_origin(panel, world)
    w, h = world.size
    floor = _mix(_rgb(world.floor_color), (255, 255, 255), 0.55)
    fill_box(frame, oy, ox, oy + h * s, ox + w * s, floor)
    x0, y0, x1, y1 = world.bounds
    for gx in np.arange(math.ceil(x0 / 5.0) * 5.0, x1, 5.0):
        fill_box(frame, oy, ox + (gx - x0) * s, oy + h * s, ox + (gx - x0) * s + 1, GRID, 0.08)
    for gy in np.arange(math.ceil(y0 / 5.0) * 5.0, y1, 5.0):
        fill_box(frame, oy + (y1 - gy) * s, ox, oy + (y1 - gy) * s + 1, ox + w * s, GRID, 0.08)
    fl, ce = world.floor, world.ceiling
    eps = 1e-9

    def kind(z0: float, z1: float) -> str:
        if z0 > fl + eps:
            return "overhead"
        return "full" if z1 >= ce - eps else "low"

    shapes: list[tuple[str, str, Any, Any]] = []
    for b, col in zip(world.boxes, world.box_colors, strict=True):
        shapes.append((kind(b[2], b[5]), "box", b, col))
    for c, col in zip(world.cylinders, world.cylinder_colors, strict=True):
        shapes.append((kind(c[3], c[4]), "cyl", c, col))
    order = {"low": 0, "full": 1, "overhead": 2}
    shapes.sort(key=lambda t: order[t[0]])
    for k, shape, g, col in shapes:
        colour = _contrast(_rgb(col), floor)
        edge = _mix(colour, OUTLINE, 0.6)
        fill_alpha = {"full": 1.0, "low": 0.55, "overhead": 0.18}[k]
        edge_alpha = 0.5 if k == "overhead" else 1.0
        if shape == "box":
            ya, xa = oy + (y1 - g[4]) * s, ox + (g[0] - x0) * s
            yb, xb = oy + (y1 - g[1]) * s, ox + (g[3] - x0) * s
            fill_box(frame, ya, xa, yb, xb, colour, fill_alpha)
            if min(yb - ya, xb - xa) >= 3:
                outline_box(frame, ya, xa, yb, xb, edge, edge_alpha)
        else:
            cy, cx = oy + (y1 - g[1]) * s, ox + (g[0] - x0) * s
            r = g[2] * s
            fill_circle(frame, cy, cx, r, colour, fill_alpha)
            if r >= 2.5:
                fill_circle(frame, cy, cx, r, edge, edge_alpha, ring=1.0)


def _backdrop(env: Any, layout: DroneLayout, panel_worlds: list[Any]) -> np.ndarray:
    """The frame without drones: background, panels and maps (cached per env)."""
    base = getattr(env, "unwrapped", env)
    cache = _BACKDROPS.setdefault(base, {})
    key = tuple(id(w) for w in panel_worlds)
    frame = cache.get(key)
    if frame is None:
        frame = np.empty((layout.height, layout.width, 3), dtype=np.uint8)
        frame[:] = BACKGROUND
        for p, world in enumerate(panel_worlds):
            py, px = layout.panel_origin(p)
            fill_box(frame, py + HEADER, px, py + HEADER + layout.map_h, px + layout.panel_w, PANEL)
            _draw_world(frame, layout, p, world)
        if len(cache) > 16:
            cache.clear()
        cache[key] = frame
    return frame.copy()


def _camera_images(env: Any, slots: list[int]) -> np.ndarray | None:
    """Clean shaded images ``float [len(slots), rows, cols, 3]`` in [0, 1] (``obs_type="image"``),
    as the observation shows them before the lighting's noise; ``None`` otherwise."""
    core = getattr(env, "core", None)
    if env.config.obs_type != "image" or core is None or core.hit_ids is None:
        return None
    from mt_envs.drone.core import SHADE_FALLOFF

    depth = core.depth[slots]
    shade = core.light[slots][:, :, None] * (1.0 - SHADE_FALLOFF * depth)
    out: np.ndarray = env.table.colors[core.hit_ids[slots]] * shade[..., None]
    return out


def _draw_drone(
    frame: np.ndarray,
    layout: DroneLayout,
    panel: int,
    world: Any,
    env: Any,
    k: int,
    trail: list[tuple[float, float]],
    state: str,
) -> None:
    colour = drone_colour(k)
    pale = _mix(colour, (255, 255, 255), 0.55)
    pos = env.positions[k]
    py, px = layout.to_pixels(panel, world, pos[:2])
    cy, cx = float(py), float(px)
    # Path flown so far.
    if len(trail) >= 2:
        ty, tx = layout.to_pixels(panel, world, np.asarray(trail))
        draw_segments(frame, ty[:-1], tx[:-1], ty[1:], tx[1:], _mix(colour, OUTLINE, 0.25))
    # Camera rays of the level row, to their hit points.
    if state == "flying":
        xy, hit = ray_endpoints(env, k)
        ey, ex = layout.to_pixels(panel, world, xy)
        n = len(ey)
        draw_segments(frame, np.full(n, cy), np.full(n, cx), ey, ex, pale)
        for y, x in zip(ey[hit], ex[hit], strict=True):
            fill_box(frame, y - 1, x - 1, y + 1, x + 1, HIT_DOT)
    radius = max(DRONE_MIN_PX, env.config.radius * layout.scale(world))
    body = colour if state != "done" else _mix(colour, (255, 255, 255), 0.5)
    fill_circle(frame, cy, cx, radius + 1.0, OUTLINE)
    fill_circle(frame, cy, cx, radius, body)
    hd = float(env.headings[k])
    tip = radius + 6.0
    draw_segments(
        frame,
        np.array([cy]),
        np.array([cx]),
        np.array([cy - tip * math.sin(hd)]),
        np.array([cx + tip * math.cos(hd)]),
        OUTLINE,
        1.0,
        width=2,
    )
    if state == "crashed":
        fill_circle(frame, cy, cx, radius + 5.0, CRASH_RED, ring=2.0)
        a = radius + 3.0
        ys = np.array([cy - a, cy - a])
        xs = np.array([cx - a, cx + a])
        draw_segments(frame, ys, xs, ys + 2 * a, xs[::-1], CRASH_RED, 1.0, width=2)


def render_frame(env: Any) -> np.ndarray:
    """The current moment of a drone ParallelEnv as ``uint8 [H, W, 3]`` (see the module
    docstring for what it shows).

    Args:
        env: A :class:`~mt_envs.drone.DroneNavEnv` (or a wrapper of one).

    Returns:
        The frame; its size is fixed by the env (:func:`layout_of`).
    """
    env = getattr(env, "unwrapped", env)
    layout = layout_of(env)
    n = layout.drones_per_panel
    worlds = env.worlds
    task_ids = env.drone_task_ids
    panel_tasks = [int(task_ids[p * n]) for p in range(layout.n_panels)]
    panel_worlds = [worlds[t] for t in panel_tasks]
    frame = _backdrop(env, layout, panel_worlds)
    trails = _TRAILS.get(env)
    if trails is None:
        trails = _Trails()
        _TRAILS[env] = trails
    paths = trails.update(env)
    active, crashed, flown = env.active, env.crashed, env.safe_flight
    started = env.num_steps > 0 or bool(active.any())
    images = _camera_images(env, list(range(len(active))))
    depth_all = env.last_depth
    step = int(env.num_steps)
    horizon = max(int(env.task_set[t].horizon) for t in panel_tasks)
    for p, (task, world) in enumerate(zip(panel_tasks, panel_worlds, strict=True)):
        py, px = layout.panel_origin(p)
        name = f"{task} {world.name}"
        right = f"T {step}/{int(env.task_set[task].horizon)}"
        rw = text_width(right)
        draw_text(frame, py + 3, px + layout.panel_w - rw, right, TEXT_DIM)
        room = (layout.panel_w - rw - 8) // (4 * FONT_PX)
        draw_text(frame, py + 3, px, name[: max(room, 1)], TEXT)
        slots = list(range(p * n, (p + 1) * n))
        states = []
        for k in slots:
            if crashed[k]:
                states.append("crashed")
            elif active[k] or not started:
                states.append("flying")
            else:
                states.append("done")
        # Crashed and finished drones first, flying ones on top.
        for k, state in sorted(zip(slots, states, strict=True), key=lambda t: t[1] == "flying"):
            _draw_drone(frame, layout, p, world, env, k, paths[k], state)
        # Camera cells.
        for j, (k, state) in enumerate(zip(slots, states, strict=True)):
            iy, cx0 = layout.cell_origin(p, j)
            cy0 = iy - LABEL
            colour = drone_colour(k)
            x = cx0 + draw_text(frame, cy0 + 2, cx0, f"D{k}", colour) + 2 * FONT_PX
            if state == "crashed":
                x += draw_text(frame, cy0 + 2, x, "CRASH", CRASH_RED) + 2 * FONT_PX
            elif state == "done":
                x += draw_text(frame, cy0 + 2, x, "DONE", TEXT_DIM) + 2 * FONT_PX
            draw_text(frame, cy0 + 2, x, f"{float(flown[k]):.1f}M", TEXT)
            idx = np.clip(np.rint(depth_all[k] * 255.0), 0, 255).astype(np.intp)
            img = DEPTH_LUT[idx]
            big = np.repeat(np.repeat(img, layout.cam_ky, axis=0), layout.cam_kx, axis=1)
            frame[iy : iy + layout.cam_h, cx0 : cx0 + layout.cam_w] = big
            if images is not None:
                shaded = np.clip(np.rint(images[k] * 255.0), 0, 255).astype(np.uint8)
                big = np.repeat(np.repeat(shaded, layout.cam_ky, axis=0), layout.cam_kx, axis=1)
                x2 = cx0 + layout.cam_w + 4
                frame[iy : iy + layout.cam_h, x2 : x2 + layout.cam_w] = big
            if state == "crashed":
                outline_box(
                    frame,
                    iy - 1,
                    cx0 - 1,
                    iy + layout.cam_h + 1,
                    cx0 + layout.cell_w + 1,
                    CRASH_RED,
                )
    used = min(step / max(horizon, 1), 1.0)
    fill_box(
        frame,
        layout.height - MARGIN - TIME_BAR,
        MARGIN,
        layout.height - MARGIN,
        MARGIN + (layout.width - 2 * MARGIN) * used,
        TIME,
    )
    return frame
