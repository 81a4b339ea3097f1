"""2.5-D indoor worlds of the drone navigation proxy: boxes, vertical cylinders, floor and ceiling.

A :class:`World` is one map: a rectangle ``bounds`` on the ground, a ``floor`` and a ``ceiling``
height, axis-aligned boxes and vertical cylinders (each with its own height range, so a table or a
ceiling beam is as easy to describe as a wall), the start poses of the drones, the map's lighting
(what the depth sensor gets wrong there) and its colours (what ``obs_type="image"`` shows).

Coordinates are metres: ``x`` east, ``y`` north, ``z`` up; yaw is counter-clockwise from ``+x``.

Maps are data: JSON files in ``mt_envs/drone/maps/`` (:func:`load_map` by name, :func:`map_names`
for the list) or any JSON file or dict of the same form (:meth:`World.from_dict`,
:meth:`World.from_json`)::

    {
      "name": "corridor",
      "description": "one line",
      "bounds": [0, 0, 40, 24],                       # xmin, ymin, xmax, ymax
      "floor": 0.0, "ceiling": 3.0,
      "lighting": {"noise_std": 0.005, "dropout": 0.002, "bias": 0.0, "light": 1.0},
      "colors": {"wall": [0.8, 0.7, 0.5], "floor": [0.3, 0.3, 0.3], "ceiling": [0.9, 0.9, 0.9]},
      "boxes": [{"name": "south wall", "xy": [0, 0, 40, 0.2]},          # z: floor..ceiling
                {"name": "table", "xy": [5, 5, 6, 6], "z": [0, 0.8], "color": [0.5, 0.3, 0.1]}],
      "cylinders": [{"name": "pillar", "center": [10, 10], "radius": 0.4}],
      "starts": [[2, 2, 1.5, 45]]                      # x, y, z, yaw in degrees
    }

Two levels of checks: the constructor checks each element on its own (ordered ranges, colours,
lighting, elements inside the bounds); :meth:`World.validate` checks what depends on the drone's
radius: every start pose clear of every obstacle, the floor and the ceiling, and the world closed
(a drone of that radius cannot fly out of the bounds from any start pose). :func:`load_map` runs
both (with the default radius); the env runs :meth:`World.validate` again with its own radius,
start jitter and drone count.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from mt_envs.utils import unknown_name_error

#: Default drone radius (metres) used when a map is loaded; envs re-validate with their own.
DEFAULT_RADIUS = 0.2

_MAP_PACKAGE = "mt_envs.drone"
_MAP_DIR = "maps"
#: Maps registered at run time with :func:`register_map` (by name).
_USER_MAPS: dict[str, World] = {}

Color = tuple[float, float, float]


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def _finite(value: Any, what: str) -> float:
    if not _is_real(value) or not math.isfinite(float(value)):
        raise ValueError(f"{what}={value!r} is invalid: need a finite number")
    return float(value)


def _numbers(value: Any, n: int, what: str) -> tuple[float, ...]:
    """``value`` as ``n`` finite floats, or a ValueError naming ``what``."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise ValueError(f"{what}={value!r} is invalid: need a list of {n} numbers")
    if len(value) != n:
        raise ValueError(f"{what}={list(value)!r} is invalid: need {n} numbers, got {len(value)}")
    return tuple(_finite(v, what) for v in value)


def _color(value: Any, what: str) -> Color:
    rgb = _numbers(value, 3, what)
    if not all(0.0 <= c <= 1.0 for c in rgb):
        raise ValueError(f"{what}={list(rgb)!r} is invalid: need 3 numbers in [0, 1] (RGB)")
    return (rgb[0], rgb[1], rgb[2])


def _readonly(array: Any, dtype: Any = np.float64, shape: tuple[int, ...] | None = None) -> Any:
    out = np.array(array, dtype=dtype)
    if shape is not None:
        out = out.reshape(shape)
    out.flags.writeable = False
    return out


@dataclasses.dataclass(frozen=True)
class Lighting:
    """What the depth sensor gets wrong in a map, and how bright the image observation is.

    Args:
        noise_std: Standard deviation of the Gaussian noise added to every normalised depth
            (units of the camera's maximum range), >= 0.
        dropout: Probability in [0, 1) that a ray returns no reading (observed as 0, as real depth
            cameras report invalid pixels), independently per ray and step.
        bias: Offset added to every normalised depth, in [-0.5, 0.5].
        light: Light level in [0, 1] scaling the brightness of ``obs_type="image"``.
    """

    noise_std: float = 0.0
    dropout: float = 0.0
    bias: float = 0.0
    light: float = 1.0

    def __post_init__(self) -> None:
        checks = {
            "noise_std": (0.0, 1.0, True, True),
            "dropout": (0.0, 1.0, True, False),
            "bias": (-0.5, 0.5, True, True),
            "light": (0.0, 1.0, True, True),
        }
        for field, (lo, hi, lo_in, hi_in) in checks.items():
            v = getattr(self, field)
            ok = _is_real(v) and math.isfinite(float(v))
            if ok:
                v = float(v)
                ok = (lo <= v if lo_in else lo < v) and (v <= hi if hi_in else v < hi)
            if not ok:
                rng = f"{'[' if lo_in else '('}{lo}, {hi}{']' if hi_in else ')'}"
                raise ValueError(f"Lighting.{field}={v!r} is invalid: need a number in {rng}")
            object.__setattr__(self, field, v)


@dataclasses.dataclass(frozen=True, eq=False)
class World:
    """One map of the drone navigation proxy (see the module docstring for the JSON form).

    Array attributes are read-only numpy arrays built by the constructor. Worlds compare and hash
    by identity (tasks refer to maps by name).

    Args:
        name: Map name (the key of :func:`load_map`).
        bounds: ``(xmin, ymin, xmax, ymax)`` of the world in metres.
        floor: Floor height (metres).
        ceiling: Ceiling height (metres), above the floor.
        boxes: Axis-aligned boxes ``float [K, 6]``: ``x0, y0, z0, x1, y1, z1`` with ``x0 < x1``,
            ``y0 < y1``, ``z0 < z1``.
        cylinders: Vertical cylinders ``float [M, 5]``: ``cx, cy, radius, z0, z1``.
        starts: Start poses ``float [S, 4]``: ``x, y, z, yaw`` (yaw in **radians**; the JSON form
            gives degrees).
        lighting: The map's :class:`Lighting`.
        box_names: One name per box (used in error messages); ``None`` gives ``box 0``, ...
        cylinder_names: One name per cylinder; ``None`` gives ``cylinder 0``, ...
        box_colors: ``float [K, 3]`` RGB in [0, 1] per box; ``None`` gives ``wall_color``.
        cylinder_colors: ``float [M, 3]`` per cylinder; ``None`` gives ``wall_color``.
        wall_color: Default obstacle colour.
        floor_color: Floor colour.
        ceiling_color: Ceiling colour.
        description: One line saying what the map is.

    Raises:
        ValueError: An element is malformed or outside the bounds; the message names it.
    """

    name: str
    bounds: tuple[float, float, float, float]
    floor: float
    ceiling: float
    boxes: Any
    cylinders: Any
    starts: Any
    lighting: Lighting = Lighting()
    box_names: tuple[str, ...] | None = None
    cylinder_names: tuple[str, ...] | None = None
    box_colors: Any = None
    cylinder_colors: Any = None
    wall_color: Color = (0.75, 0.75, 0.75)
    floor_color: Color = (0.35, 0.35, 0.35)
    ceiling_color: Color = (0.9, 0.9, 0.9)
    description: str = ""

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        where = f"map {self.name!r}"
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"World.name={self.name!r} is invalid: need a non-empty string")
        x0, y0, x1, y1 = _numbers(self.bounds, 4, f"{where}: bounds")
        if not (x0 < x1 and y0 < y1):
            raise ValueError(
                f"{where}: bounds={[x0, y0, x1, y1]} is invalid: need [xmin, ymin, xmax, ymax] "
                "with xmin < xmax and ymin < ymax"
            )
        set_(self, "bounds", (x0, y0, x1, y1))
        floor = _finite(self.floor, f"{where}: floor")
        ceiling = _finite(self.ceiling, f"{where}: ceiling")
        if not floor < ceiling:
            raise ValueError(f"{where}: ceiling={ceiling} must be above floor={floor} (metres)")
        set_(self, "floor", floor)
        set_(self, "ceiling", ceiling)
        if not isinstance(self.lighting, Lighting):
            raise TypeError(f"{where}: lighting must be a Lighting, got {self.lighting!r}")
        for field in ("wall_color", "floor_color", "ceiling_color"):
            set_(self, field, _color(getattr(self, field), f"{where}: {field}"))

        boxes = np.asarray(self.boxes, dtype=np.float64)
        if boxes.size == 0:
            boxes = np.zeros((0, 6))
        if boxes.ndim != 2 or boxes.shape[1] != 6:
            raise ValueError(
                f"{where}: boxes must have shape [K, 6] (x0, y0, z0, x1, y1, z1), got {boxes.shape}"
            )
        cyl = np.asarray(self.cylinders, dtype=np.float64)
        if cyl.size == 0:
            cyl = np.zeros((0, 5))
        if cyl.ndim != 2 or cyl.shape[1] != 5:
            raise ValueError(
                f"{where}: cylinders must have shape [M, 5] (cx, cy, radius, z0, z1), got "
                f"{cyl.shape}"
            )
        k, m = len(boxes), len(cyl)
        box_names = self._names(self.box_names, k, "box")
        cyl_names = self._names(self.cylinder_names, m, "cylinder")
        set_(self, "box_names", box_names)
        set_(self, "cylinder_names", cyl_names)
        eps = 1e-9
        for i, b in enumerate(boxes):
            what = f"{where}: box {i} ({box_names[i]!r})"
            if not np.all(np.isfinite(b)):
                raise ValueError(f"{what} has non-finite coordinates {b.tolist()}")
            if not (b[0] < b[3] and b[1] < b[4] and b[2] < b[5]):
                raise ValueError(
                    f"{what}: xy={[b[0], b[1], b[3], b[4]]}, z={[b[2], b[5]]} is invalid: need "
                    "x0 < x1, y0 < y1 and z0 < z1"
                )
            if b[0] < x0 - eps or b[1] < y0 - eps or b[3] > x1 + eps or b[4] > y1 + eps:
                raise ValueError(
                    f"{what}: xy={[b[0], b[1], b[3], b[4]]} leaves the map bounds "
                    f"{[x0, y0, x1, y1]}; move it inside or enlarge the bounds"
                )
            if b[5] <= floor or b[2] >= ceiling:
                raise ValueError(
                    f"{what}: z={[b[2], b[5]]} lies outside floor..ceiling [{floor}, {ceiling}]"
                )
        for i, c in enumerate(cyl):
            what = f"{where}: cylinder {i} ({cyl_names[i]!r})"
            if not np.all(np.isfinite(c)):
                raise ValueError(f"{what} has non-finite values {c.tolist()}")
            if not c[2] > 0:
                raise ValueError(f"{what}: radius={c[2]} is invalid: need a radius > 0 (metres)")
            if not c[3] < c[4]:
                raise ValueError(f"{what}: z={[c[3], c[4]]} is invalid: need z0 < z1")
            if (
                c[0] - c[2] < x0 - eps
                or c[0] + c[2] > x1 + eps
                or c[1] - c[2] < y0 - eps
                or c[1] + c[2] > y1 + eps
            ):
                raise ValueError(
                    f"{what}: center={[c[0], c[1]]}, radius={c[2]} leaves the map bounds "
                    f"{[x0, y0, x1, y1]}"
                )
            if c[4] <= floor or c[3] >= ceiling:
                raise ValueError(
                    f"{what}: z={[c[3], c[4]]} lies outside floor..ceiling [{floor}, {ceiling}]"
                )
        # Clip heights to floor..ceiling (a wall given as 0..10 under a 3 m ceiling is full height).
        boxes = boxes.copy()
        boxes[:, 2] = np.maximum(boxes[:, 2], floor)
        boxes[:, 5] = np.minimum(boxes[:, 5], ceiling)
        cyl = cyl.copy()
        cyl[:, 3] = np.maximum(cyl[:, 3], floor)
        cyl[:, 4] = np.minimum(cyl[:, 4], ceiling)
        set_(self, "boxes", _readonly(boxes, shape=(k, 6)))
        set_(self, "cylinders", _readonly(cyl, shape=(m, 5)))
        set_(self, "box_colors", self._colors(self.box_colors, k, "box_colors"))
        set_(self, "cylinder_colors", self._colors(self.cylinder_colors, m, "cylinder_colors"))

        starts = np.asarray(self.starts, dtype=np.float64)
        if starts.ndim != 2 or starts.shape[1] != 4 or len(starts) == 0:
            raise ValueError(
                f"{where}: starts must be a non-empty list of [x, y, z, yaw] poses, got shape "
                f"{starts.shape}"
            )
        for i, s in enumerate(starts):
            if not np.all(np.isfinite(s)):
                raise ValueError(f"{where}: start {i} {s.tolist()} has non-finite values")
            if not (x0 < s[0] < x1 and y0 < s[1] < y1 and floor < s[2] < ceiling):
                raise ValueError(
                    f"{where}: start {i} at {s[:3].tolist()} lies outside the world (bounds "
                    f"{[x0, y0, x1, y1]}, floor {floor}, ceiling {ceiling})"
                )
        set_(self, "starts", _readonly(starts))
        if not isinstance(self.description, str):
            raise ValueError(f"{where}: description must be a string")

    def _names(self, names: Any, n: int, kind: str) -> tuple[str, ...]:
        if names is None:
            return tuple(f"{kind} {i}" for i in range(n))
        out = tuple(str(v) for v in names)
        if len(out) != n:
            raise ValueError(f"map {self.name!r}: {len(out)} {kind} names for {n} {kind}es")
        return out

    def _colors(self, colors: Any, n: int, field: str) -> Any:
        if colors is None:
            return _readonly(np.tile(self.wall_color, (n, 1)), shape=(n, 3))
        arr = np.asarray(colors, dtype=np.float64).reshape(-1, 3) if n else np.zeros((0, 3))
        if arr.shape != (n, 3) or not np.all((arr >= 0) & (arr <= 1)):
            raise ValueError(f"map {self.name!r}: {field} must be [{n}, 3] RGB values in [0, 1]")
        return _readonly(arr)

    # -- derived views ------------------------------------------------------------------------
    @property
    def n_obstacles(self) -> int:
        """Boxes plus cylinders. Obstacle ids: boxes ``0..K-1``, then cylinders ``K..K+M-1``."""
        return len(self.boxes) + len(self.cylinders)

    @property
    def height(self) -> float:
        """``ceiling - floor`` (metres)."""
        return self.ceiling - self.floor

    @property
    def size(self) -> tuple[float, float]:
        """``(width, depth)`` of the bounds in metres."""
        x0, y0, x1, y1 = self.bounds
        return x1 - x0, y1 - y0

    def obstacle_name(self, index: int) -> str:
        """Name of obstacle ``index`` (boxes first, then cylinders)."""
        k = len(self.boxes)
        assert self.box_names is not None and self.cylinder_names is not None
        return self.box_names[index] if index < k else self.cylinder_names[index - k]

    def colors(self) -> np.ndarray:
        """Colour table ``float [K + M + 4, 3]`` indexed by hit id: obstacles (boxes, cylinders),
        then floor, ceiling, another drone and nothing (black)."""
        return np.concatenate(
            [
                self.box_colors,
                self.cylinder_colors,
                [self.floor_color, self.ceiling_color, (0.85, 0.15, 0.1), (0.0, 0.0, 0.0)],
            ]
        )

    def with_lighting(self, **changes: float | None) -> World:
        """This world with some :class:`Lighting` fields replaced (``None`` keeps the map's)."""
        kept = {k: v for k, v in changes.items() if v is not None}
        if not kept:
            return self
        return dataclasses.replace(self, lighting=dataclasses.replace(self.lighting, **kept))

    # -- radius-dependent checks --------------------------------------------------------------
    def blocking(self, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """Which boxes and cylinders a drone of ``radius`` can neither pass over nor under (their
        gap to the floor and to the ceiling is under the drone's diameter)."""
        d = 2.0 * radius
        b, c = self.boxes, self.cylinders
        box_block = (b[:, 2] - self.floor < d) & (self.ceiling - b[:, 5] < d)
        cyl_block = (c[:, 3] - self.floor < d) & (self.ceiling - c[:, 4] < d)
        return box_block, cyl_block

    def clearance(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Distance from each point ``[P, 3]`` to the nearest obstacle surface (0 inside one), and
        that obstacle's id (``-1`` when the map has none)."""
        p = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        dists = [np.full((len(p), 1), np.inf)]
        b = self.boxes
        if len(b):
            lo, hi = b[None, :, :3], b[None, :, 3:]
            gap = np.maximum(np.maximum(lo - p[:, None, :], p[:, None, :] - hi), 0.0)
            dists.append(np.sqrt((gap**2).sum(-1)))
        c = self.cylinders
        if len(c):
            horiz = np.hypot(p[:, None, 0] - c[None, :, 0], p[:, None, 1] - c[None, :, 1])
            gh = np.maximum(horiz - c[None, :, 2], 0.0)
            gz = np.maximum(
                np.maximum(c[None, :, 3] - p[:, None, 2], p[:, None, 2] - c[None, :, 4]), 0.0
            )
            dists.append(np.hypot(gh, gz))
        d = np.concatenate(dists, axis=1)
        return d.min(axis=1), d.argmin(axis=1) - 1

    def validate(
        self,
        radius: float = DEFAULT_RADIUS,
        start_jitter: float = 0.0,
        n_drones: int = 1,
    ) -> None:
        """Check what depends on the drone: starts clear of obstacles, floor and ceiling; starts
        far enough apart for ``n_drones`` drones; the world closed for a drone of ``radius``.

        Args:
            radius: Drone radius (metres), > 0.
            start_jitter: Largest random offset (metres, per horizontal axis) added to a start
                position at reset; starts must be clear by ``radius`` plus this offset.
            n_drones: Drones sharing the map (at most one per start pose).

        Raises:
            ValueError: The message names the start pose, obstacle or gap at fault.
        """
        where = f"map {self.name!r}"
        radius = _finite(radius, "radius")
        if radius <= 0:
            raise ValueError(f"radius={radius} is invalid: need a drone radius > 0 (metres)")
        jitter = math.sqrt(2.0) * _finite(start_jitter, "start_jitter")
        starts = self.starts
        if n_drones > len(starts):
            raise ValueError(
                f"n_drones={n_drones} is invalid for {where}: it has {len(starts)} start poses "
                "(one drone per start pose); add start poses or use fewer drones"
            )
        need = radius + jitter
        clear, which = self.clearance(starts[:, :3])
        for i, (s, c, k) in enumerate(zip(starts, clear, which, strict=True)):
            if c < need:
                inside = "inside" if c == 0 else f"{c:.3f} m from"
                raise ValueError(
                    f"{where}: start {i} at {s[:3].round(3).tolist()} is {inside} "
                    f"{self.obstacle_name(int(k))!r}; a drone of radius {radius} m (start jitter "
                    f"{start_jitter} m) needs {need:.3f} m of clearance: move the start pose"
                )
            if s[2] - self.floor < need or self.ceiling - s[2] < need:
                raise ValueError(
                    f"{where}: start {i} at height {s[2]} is within {need:.3f} m of the floor "
                    f"({self.floor}) or ceiling ({self.ceiling}): a drone of radius {radius} m "
                    "would touch it"
                )
        if n_drones > 1:
            gap = 2.0 * (radius + jitter)
            d = np.linalg.norm(starts[:, None, :3] - starts[None, :, :3], axis=-1)
            d[np.diag_indices(len(starts))] = np.inf
            a, c = (int(v) for v in np.unravel_index(int(np.argmin(d)), d.shape))
            if d[a, c] < gap:
                raise ValueError(
                    f"{where}: starts {min(a, c)} and {max(a, c)} are {d[a, c]:.3f} m apart: "
                    f"{n_drones} drones of radius {radius} m (start jitter {start_jitter} m) "
                    f"could overlap at the start (need {gap:.3f} m); move them apart or use "
                    "n_drones=1"
                )
        _check_closed(self, radius)


def _check_closed(world: World, radius: float) -> None:
    """Raise ValueError when a drone of ``radius`` can fly out of the bounds from a start pose.

    The free space of the drone's centre (clearance of at least ``radius`` from every blocking
    obstacle, in the horizontal plane) is rasterised on a grid of cell ``h`` and flood-filled
    (8-connected) from the start poses. A cell counts as free when its clearance is at least
    ``radius - h``: every continuous escape path then crosses a chain of free cells, so an open
    world is never reported closed (a gap slightly under ``2 * radius`` may be reported open).
    """
    key = (
        world.name,
        world.bounds,
        world.floor,
        world.ceiling,
        world.boxes.tobytes(),
        world.cylinders.tobytes(),
        world.starts.tobytes(),
        float(radius),
    )
    if key in _CLOSED:
        return
    _flood(world, float(radius))
    if len(_CLOSED) > 256:
        _CLOSED.clear()
    _CLOSED.add(key)


#: Geometry keys of worlds already found closed (the flood fill takes tens of milliseconds).
_CLOSED: set[tuple[Any, ...]] = set()


def _flood(world: World, radius: float) -> None:
    x0, y0, x1, y1 = world.bounds
    h = min(0.1, radius / 2.0)
    nx = math.ceil((x1 - x0) / h) + 2  # one ring of cells outside the bounds
    ny = math.ceil((y1 - y0) / h) + 2
    cx = x0 + (np.arange(nx) - 0.5) * h  # centres; cells 0 and nx - 1 lie outside
    cy = y0 + (np.arange(ny) - 0.5) * h
    free = np.ones((ny, nx), dtype=bool)
    inflate = radius - h
    box_block, cyl_block = world.blocking(radius)
    for b in world.boxes[box_block]:
        i0, i1 = np.searchsorted(cx, [b[0] - inflate, b[3] + inflate])
        j0, j1 = np.searchsorted(cy, [b[1] - inflate, b[4] + inflate])
        if i0 >= i1 or j0 >= j1:
            continue
        gx = np.maximum(np.maximum(b[0] - cx[i0:i1], cx[i0:i1] - b[3]), 0.0)
        gy = np.maximum(np.maximum(b[1] - cy[j0:j1], cy[j0:j1] - b[4]), 0.0)
        free[j0:j1, i0:i1] &= gy[:, None] ** 2 + gx[None, :] ** 2 >= inflate**2
    for c in world.cylinders[cyl_block]:
        reach = c[2] + inflate
        i0, i1 = np.searchsorted(cx, [c[0] - reach, c[0] + reach])
        j0, j1 = np.searchsorted(cy, [c[1] - reach, c[1] + reach])
        if i0 >= i1 or j0 >= j1:
            continue
        d2 = (cy[j0:j1, None] - c[1]) ** 2 + (cx[None, i0:i1] - c[0]) ** 2
        free[j0:j1, i0:i1] &= d2 >= reach**2
    outside = np.zeros_like(free)
    outside[0, :] = outside[-1, :] = outside[:, 0] = outside[:, -1] = True
    free |= outside
    reached = np.zeros_like(free)
    for s in world.starts:
        i = min(max(int(np.searchsorted(cx, s[0])), 0), nx - 1)
        j = min(max(int(np.searchsorted(cy, s[1])), 0), ny - 1)
        # The nearest cell centre may sit a little too close to an obstacle: seed the free cells
        # of the 3 x 3 block around the start (all within the start's clearance of 2 radius).
        reached[max(j - 1, 0) : j + 2, max(i - 1, 0) : i + 2] = True
    reached &= free
    while True:
        before = int(reached.sum())
        for _ in range(16):
            grown = reached.copy()
            grown[1:, :] |= reached[:-1, :]
            grown[:-1, :] |= reached[1:, :]
            grown[:, 1:] |= grown[:, :-1].copy()
            grown[:, :-1] |= grown[:, 1:].copy()
            reached = grown & free
        if (reached & outside).any():
            # Report an outside cell next to a reached cell inside the bounds: the gap.
            inner = reached & ~outside
            near = inner.copy()
            near[1:, :] |= inner[:-1, :]
            near[:-1, :] |= inner[1:, :]
            near[:, 1:] |= near[:, :-1].copy()
            near[:, :-1] |= near[:, 1:].copy()
            gap = near & reached & outside
            j, i = np.argwhere(gap if gap.any() else reached & outside)[0]
            px = float(np.clip(cx[i], x0, x1))
            py = float(np.clip(cy[j], y0, y1))
            raise ValueError(
                f"map {world.name!r} is open: a drone of radius {radius} m can leave the bounds "
                f"{list(world.bounds)} near ({px:.1f}, {py:.1f}); close the boundary with walls "
                "(boxes or cylinders from floor to ceiling; gaps under 2 x radius are closed)"
            )
        if int(reached.sum()) == before:
            return


# -- loading ----------------------------------------------------------------------------------
_TOP_KEYS = {
    "name",
    "description",
    "bounds",
    "floor",
    "ceiling",
    "lighting",
    "colors",
    "boxes",
    "cylinders",
    "starts",
}


def world_from_dict(data: Mapping[str, Any]) -> World:
    """Build a :class:`World` from the JSON form (see the module docstring).

    Raises:
        ValueError: Unknown keys or malformed elements (the message names the element).
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"a map must be a JSON object (dict), got {type(data).__name__}")
    name = data.get("name")
    where = f"map {name!r}"
    extra = sorted(set(data) - _TOP_KEYS)
    if extra:
        raise ValueError(f"{where}: unknown key(s) {extra}; valid keys: {sorted(_TOP_KEYS)}")
    for key in ("name", "bounds", "ceiling", "starts"):
        if key not in data:
            raise ValueError(f"{where}: the key {key!r} is required")
    floor = data.get("floor", 0.0)
    ceiling = data["ceiling"]
    light = data.get("lighting", {})
    if not isinstance(light, Mapping):
        raise ValueError(f"{where}: lighting must be an object, got {light!r}")
    unknown = sorted(set(light) - {f.name for f in dataclasses.fields(Lighting)})
    if unknown:
        raise ValueError(f"{where}: unknown lighting key(s) {unknown}")
    lighting = Lighting(**light)
    colors = data.get("colors", {})
    if not isinstance(colors, Mapping) or set(colors) - {"wall", "floor", "ceiling"}:
        raise ValueError(f"{where}: colors must be an object with keys wall, floor, ceiling")
    wall = _color(colors.get("wall", (0.75, 0.75, 0.75)), f"{where}: colors.wall")
    boxes, box_names, box_colors = [], [], []
    for i, b in enumerate(data.get("boxes", [])):
        what = f"{where}: box {i}"
        if not isinstance(b, Mapping) or "xy" not in b:
            raise ValueError(f"{what}: need an object with 'xy': [x0, y0, x1, y1]")
        unknown = sorted(set(b) - {"name", "xy", "z", "color"})
        if unknown:
            raise ValueError(f"{what}: unknown key(s) {unknown}; valid: name, xy, z, color")
        label = str(b.get("name", f"box {i}"))
        what = f"{where}: box {i} ({label!r})"
        bx0, by0, bx1, by1 = _numbers(b["xy"], 4, f"{what}: xy")
        bz0, bz1 = _numbers(b.get("z", (floor, ceiling)), 2, f"{what}: z")
        boxes.append((bx0, by0, bz0, bx1, by1, bz1))
        box_names.append(label)
        box_colors.append(_color(b.get("color", wall), f"{what}: color"))
    cyls, cyl_names, cyl_colors = [], [], []
    for i, c in enumerate(data.get("cylinders", [])):
        what = f"{where}: cylinder {i}"
        if not isinstance(c, Mapping) or "center" not in c or "radius" not in c:
            raise ValueError(f"{what}: need an object with 'center': [x, y] and 'radius'")
        unknown = sorted(set(c) - {"name", "center", "radius", "z", "color"})
        if unknown:
            raise ValueError(
                f"{what}: unknown key(s) {unknown}; valid: name, center, radius, z, color"
            )
        label = str(c.get("name", f"cylinder {i}"))
        what = f"{where}: cylinder {i} ({label!r})"
        ccx, ccy = _numbers(c["center"], 2, f"{what}: center")
        cr = _finite(c["radius"], f"{what}: radius")
        cz0, cz1 = _numbers(c.get("z", (floor, ceiling)), 2, f"{what}: z")
        cyls.append((ccx, ccy, cr, cz0, cz1))
        cyl_names.append(label)
        cyl_colors.append(_color(c.get("color", wall), f"{what}: color"))
    starts = []
    for i, s in enumerate(data["starts"]):
        sx, sy, sz, yaw = _numbers(s, 4, f"{where}: start {i} [x, y, z, yaw_deg]")
        starts.append((sx, sy, sz, math.radians(yaw)))
    return World(
        name=str(name),
        bounds=tuple(data["bounds"]),
        floor=floor,
        ceiling=ceiling,
        boxes=np.array(boxes, dtype=np.float64).reshape(-1, 6),
        cylinders=np.array(cyls, dtype=np.float64).reshape(-1, 5),
        starts=np.array(starts, dtype=np.float64).reshape(-1, 4),
        lighting=lighting,
        box_names=tuple(box_names),
        cylinder_names=tuple(cyl_names),
        box_colors=np.array(box_colors).reshape(-1, 3),
        cylinder_colors=np.array(cyl_colors).reshape(-1, 3),
        wall_color=wall,
        floor_color=_color(colors.get("floor", (0.35, 0.35, 0.35)), f"{where}: colors.floor"),
        ceiling_color=_color(colors.get("ceiling", (0.9, 0.9, 0.9)), f"{where}: colors.ceiling"),
        description=str(data.get("description", "")),
    )


def world_to_dict(world: World) -> dict[str, Any]:
    """The JSON form of a world (inverse of :func:`world_from_dict`)."""
    assert world.box_names is not None and world.cylinder_names is not None

    def r(v: Any) -> Any:
        return [round(float(x), 6) for x in v]

    return {
        "name": world.name,
        "description": world.description,
        "bounds": r(world.bounds),
        "floor": world.floor,
        "ceiling": world.ceiling,
        "lighting": dataclasses.asdict(world.lighting),
        "colors": {
            "wall": r(world.wall_color),
            "floor": r(world.floor_color),
            "ceiling": r(world.ceiling_color),
        },
        "boxes": [
            {"name": n, "xy": r(b[[0, 1, 3, 4]]), "z": r(b[[2, 5]]), "color": r(c)}
            for n, b, c in zip(world.box_names, world.boxes, world.box_colors, strict=True)
        ],
        "cylinders": [
            {"name": n, "center": r(c[:2]), "radius": float(c[2]), "z": r(c[3:]), "color": r(k)}
            for n, c, k in zip(
                world.cylinder_names, world.cylinders, world.cylinder_colors, strict=True
            )
        ],
        "starts": [[*r(s[:3]), round(math.degrees(float(s[3])), 6)] for s in world.starts],
    }


def map_names() -> list[str]:
    """Names of the built-in maps (``mt_envs/drone/maps/*.json``) and registered user maps."""
    folder = resources.files(_MAP_PACKAGE) / _MAP_DIR
    names = {p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json")}
    return sorted(names | set(_USER_MAPS))


def register_map(world: World, overwrite: bool = False) -> None:
    """Make ``world`` loadable by name (``load_map(world.name)``, ``DroneTask(map=name)``).

    Raises:
        ValueError: The name is taken (pass ``overwrite=True`` to replace a registered map;
            built-in maps cannot be replaced) or the world fails :meth:`World.validate`.
    """
    if not isinstance(world, World):
        raise TypeError(f"register_map takes a World, got {type(world).__name__}")
    builtin = world.name in _builtin_names()
    if builtin or (world.name in _USER_MAPS and not overwrite):
        raise ValueError(
            f"map name {world.name!r} is taken"
            + ("" if builtin else "; pass overwrite=True to replace it")
        )
    world.validate()
    _USER_MAPS[world.name] = world
    load_map.cache_clear()


def _builtin_names() -> set[str]:
    folder = resources.files(_MAP_PACKAGE) / _MAP_DIR
    return {p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json")}


@functools.lru_cache(maxsize=64)
def load_map(name: str) -> World:
    """The map ``name`` (built-in or registered), or a JSON file when ``name`` ends in ``.json``;
    validated for a drone of :data:`DEFAULT_RADIUS`.

    Raises:
        KeyError: Unknown map name (the message lists close matches).
        ValueError: The map fails validation (the message names the element at fault), or a
            ``.json`` file cannot be read or parsed.
    """
    if not isinstance(name, str):
        raise TypeError(f"map names are strings, got {name!r}")
    if name.endswith(".json"):
        try:
            text = Path(name).read_text()
        except OSError as err:
            raise ValueError(f"cannot read the drone map file {name!r}: {err}") from None
        try:
            world = world_from_dict(json.loads(text))
        except (TypeError, KeyError, IndexError, AttributeError, RecursionError) as err:
            # a damaged or hand-edited file: a field of the wrong type or shape
            raise ValueError(
                f"the drone map file {name!r} is malformed ({type(err).__name__}: {err})"
            ) from err
    elif name in _USER_MAPS:
        return _USER_MAPS[name]
    else:
        if name not in _builtin_names():
            raise unknown_name_error("drone map", name, map_names())
        path = resources.files(_MAP_PACKAGE) / _MAP_DIR / f"{name}.json"
        world = world_from_dict(json.loads(path.read_text()))
        if world.name != name:
            raise ValueError(f"map file {name}.json names its map {world.name!r}")
    world.validate()
    return world
