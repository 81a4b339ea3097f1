"""Vectorised ray casting and swept-sphere collision in a :class:`~mt_envs.drone.world.World`.

Two entry points:

* :func:`cast_rays`: any rays ``[..., 3]`` from any origins, by the textbook methods (slab method
  for boxes, a quadratic for cylinders, planes for the floor and the ceiling). Simple and general:
  the reference the fast camera is tested against, and what renderers use.
* :meth:`MapGeometry.camera`: the drone's level front camera for a batch of drones in one map, the
  hot path of the simulation.

Why the camera path is faster: camera ray ``(row r, column c)`` points at yaw ``psi_c`` and pitch
``theta_r``, ``d = (cos theta cos psi, cos theta sin psi, sin theta)``, so every ray of a column has
the same horizontal direction and ``s = t cos theta`` (horizontal distance) parametrises all of
them. The horizontal part of the slab and cylinder tests is then computed once per column and
obstacle; obstacles spanning floor to ceiling need nothing more (a ray meets their side before it
could pass above or below), so only the few partial-height obstacles and the floor and ceiling
planes are tested per row, and those tests use per-row constants. Distances are computed as ``s``
and converted back with ``t = s / cos theta`` at the end.

Hit ids: obstacle ``k`` of the world (boxes ``0..K-1``, then cylinders), then
``floor = K + M``, ``ceiling = K + M + 1``, ``drone = K + M + 2`` (another drone) and
``none = K + M + 3`` (nothing within the maximum range); :meth:`World.colors` is indexed by them.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np

from mt_envs.drone.world import World

#: Directions closer than this to an axis plane are nudged, so slabs never divide by zero.
_TINY = 1e-12
#: Coordinates of absent drones (far beyond any camera range).
FAR_AWAY = 1.0e7


def _safe(v: np.ndarray) -> np.ndarray:
    """``v`` with entries of magnitude below ``_TINY`` replaced by ``+-_TINY`` (sign kept)."""
    return np.copysign(np.maximum(np.abs(v), _TINY), v)


@dataclasses.dataclass(frozen=True)
class Camera:
    """The drone's front depth camera.

    Ray ``(r, c)`` points at yaw offset ``yaw_offsets[c]`` (counter-clockwise from the heading:
    column 0 is the leftmost) and pitch ``pitches[r]`` (row 0 is the top), at the centres of a
    regular grid over the field of view. The camera stays level (the drone does not roll or
    pitch its body). Depth is the range along the ray divided by ``max_range``, capped at 1.

    Args:
        rows: Rays per column, >= 1.
        cols: Rays per row, >= 1.
        fov_h: Horizontal field of view in degrees, in (0, 180).
        fov_v: Vertical field of view in degrees, in (0, 180).
        max_range: Maximum range in metres, > 0.

    Raises:
        ValueError: A value out of range (the message names it).
    """

    rows: int = 8
    cols: int = 32
    fov_h: float = 80.0
    fov_v: float = 45.0
    max_range: float = 10.0

    def __post_init__(self) -> None:
        for field in ("rows", "cols"):
            v = getattr(self, field)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or not 1 <= v <= 4096:
                raise ValueError(
                    f"{field}={v!r} is invalid: need an int number of rays in [1, 4096]"
                )
            object.__setattr__(self, field, int(v))
        for field in ("fov_h", "fov_v"):
            v = getattr(self, field)
            ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            if not ok or not math.isfinite(v) or not 0.0 < v < 180.0:
                raise ValueError(
                    f"{field}={v!r} is invalid: need a field of view in degrees in (0, 180)"
                )
            object.__setattr__(self, field, float(v))
        v = self.max_range
        ok = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
        if not ok or not math.isfinite(v) or not v > 0.0:
            raise ValueError(f"max_range={v!r} is invalid: need a range > 0 (metres)")
        object.__setattr__(self, "max_range", float(v))

    @property
    def n_rays(self) -> int:
        """``rows * cols``."""
        return self.rows * self.cols

    @property
    def yaw_offsets(self) -> np.ndarray:
        """``float [cols]`` yaw of each column relative to the heading (radians, left positive)."""
        h = math.radians(self.fov_h)
        return h / 2 - (np.arange(self.cols) + 0.5) * (h / self.cols)

    @property
    def pitches(self) -> np.ndarray:
        """``float [rows]`` pitch of each row (radians, up positive, row 0 at the top)."""
        v = math.radians(self.fov_v)
        return v / 2 - (np.arange(self.rows) + 0.5) * (v / self.rows)

    def directions(self, heading: float) -> np.ndarray:
        """Unit ray directions ``float [rows, cols, 3]`` in the world frame for a drone heading
        ``heading`` (radians)."""
        yaw = heading + self.yaw_offsets[None, :]
        p = self.pitches[:, None]
        return np.stack(
            np.broadcast_arrays(np.cos(p) * np.cos(yaw), np.cos(p) * np.sin(yaw), np.sin(p)),
            axis=-1,
        )


class MapGeometry:
    """One world compiled for ray casting and collision tests.

    Args:
        world: The map.
        camera: The camera whose per-row tables to precompute.
    """

    def __init__(self, world: World, camera: Camera) -> None:
        self.world = world
        self.camera = camera
        b, c = world.boxes, world.cylinders
        k, m = len(b), len(c)
        fl, ce = world.floor, world.ceiling
        self.floor, self.ceiling = fl, ce
        self.id_floor, self.id_ceiling = k + m, k + m + 1
        self.id_drone, self.id_none = k + m + 2, k + m + 3
        box_full = (b[:, 2] <= fl) & (b[:, 5] >= ce)
        cyl_full = (c[:, 3] <= fl) & (c[:, 4] >= ce)
        # Horizontal tests run on all boxes (full-height first) and all cylinders (full-height
        # first) at once; partial-height ones then get a height test per row.
        order_b = np.r_[np.flatnonzero(box_full), np.flatnonzero(~box_full)]
        order_c = np.r_[np.flatnonzero(cyl_full), np.flatnonzero(~cyl_full)]
        bo, co = b[order_b], c[order_c]
        self.box_xy = (bo[:, 0].copy(), bo[:, 1].copy(), bo[:, 3].copy(), bo[:, 4].copy())
        self.cyl_xy = (co[:, 0].copy(), co[:, 1].copy(), (co[:, 2] ** 2).copy())
        self.kbf = int(box_full.sum())  # full-height boxes come first
        self.kcf = int(cyl_full.sum())
        self.fb_id = np.flatnonzero(box_full)
        self.fc_id = k + np.flatnonzero(cyl_full)
        self.pb_id = np.flatnonzero(~box_full)
        self.pc_id = k + np.flatnonzero(~cyl_full)
        pb, pc = b[~box_full], c[~cyl_full]
        #: Height ranges of the partial obstacles, boxes then cylinders (as ``partial_id``).
        self.pz0 = np.concatenate([pb[:, 2], pc[:, 3]])
        self.pz1 = np.concatenate([pb[:, 5], pc[:, 4]])
        self.n_full = len(self.fb_id) + len(self.fc_id)
        self.full_id = np.concatenate([self.fb_id, self.fc_id])
        self.n_partial = len(self.pb_id) + len(self.pc_id)
        self.partial_id = np.concatenate([self.pb_id, self.pc_id])
        # Per-row camera constants.
        p = camera.pitches
        tan = _safe(np.tan(p))
        self.inv_tan = 1.0 / tan  # [rows]
        self.row_up = tan > 0
        self.cos_p = np.cos(p)
        self.sin_p = np.sin(p)
        #: Horizontal distance -> normalised depth, per row: 1 / (cos theta * max_range).
        self.s_to_depth = 1.0 / (self.cos_p * camera.max_range)
        self.yaw_offsets = camera.yaw_offsets
        self.colors = world.colors()

    # -- camera -------------------------------------------------------------------------------
    def camera_depth(
        self,
        pos: np.ndarray,
        heading: np.ndarray,
        others: np.ndarray | None = None,
        radius: float = 0.0,
        want_ids: bool = False,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Normalised depth images of ``b`` drones in this map.

        Args:
            pos: ``float [b, 3]`` camera positions.
            heading: ``float [b]`` headings (radians).
            others: ``float [b, J, 3]`` centres of other drones each camera can see (spheres of
                ``radius``); put absent ones at :data:`FAR_AWAY`. ``None``: no drones.
            radius: Radius of the other drones.
            want_ids: Also return the hit id of every ray.

        Returns:
            ``depth float [b, rows, cols]`` in [0, 1] and ``ids int64 [b, rows, cols]`` (or
            ``None``).
        """
        x, y, z = pos[:, 0], pos[:, 1], pos[:, 2]
        yaw = heading[:, None] + self.yaw_offsets[None, :]  # [b, C]
        ux, uy = np.cos(yaw), np.sin(yaw)
        b = len(x)
        rows, cols = self.camera.rows, self.camera.cols
        # Floor / ceiling, per row: s = (plane - z) / tan(theta).
        plane = np.where(self.row_up[None, :], self.ceiling - z[:, None], self.floor - z[:, None])
        s_fc = plane * self.inv_tan[None, :]  # [b, rows], > 0
        # Horizontal entry / exit of every obstacle, then full-height obstacles per column.
        boxes, circles = self._horizontal(x, y, ux, uy)
        s_col, id_col = self._full_columns(boxes, circles, b, cols, want_ids)
        s = np.minimum(s_col[:, None, :], s_fc[:, :, None])  # [b, rows, C]
        ids = None
        if want_ids:
            fc_id = np.where(self.row_up, self.id_ceiling, self.id_floor)
            ids = np.where(
                s_col[:, None, :] <= s_fc[:, :, None], id_col[:, None, :], fc_id[None, :, None]
            )
        if self.n_partial:
            s_p, id_p = self._partial(boxes, circles, z, want_ids)
            if want_ids:
                assert ids is not None and id_p is not None
                ids = np.where(s_p < s, id_p, ids)
            s = np.minimum(s, s_p)
        if others is not None and others.shape[1]:
            s_d = self._spheres(pos, ux, uy, others, radius)
            if want_ids:
                assert ids is not None
                ids = np.where(s_d < s, self.id_drone, ids)
            s = np.minimum(s, s_d)
        depth = s * self.s_to_depth[None, :, None]
        if want_ids:
            assert ids is not None
            ids = np.where(depth >= 1.0, self.id_none, ids)
        np.minimum(depth, 1.0, out=depth)
        assert depth.shape == (b, rows, cols)
        return depth, ids

    # Layout: per-obstacle arrays are [K, b, C] (obstacle, drone, column). Elementwise numpy ops
    # are fast when the operands share one contiguous shape, or broadcast along leading axes;
    # broadcasting along a short last axis (a [b, C, K] layout) made every op several times
    # slower, and a reduction over axis 0 is a cheap running minimum over contiguous slabs.

    def _box_slabs(
        self,
        x0: np.ndarray,
        y0: np.ndarray,
        x1: np.ndarray,
        y1: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        ix: np.ndarray,
        iy: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Horizontal entry and exit distances ``[K, b, C]`` of the slab test (``-inf``/``inf``
        style: a miss has entry > exit)."""
        tx0 = (x0[:, None] - x[None, :])[:, :, None] * ix
        tx1 = (x1[:, None] - x[None, :])[:, :, None] * ix
        ty0 = (y0[:, None] - y[None, :])[:, :, None] * iy
        ty1 = (y1[:, None] - y[None, :])[:, :, None] * iy
        tn = np.minimum(tx0, tx1)
        np.maximum(tn, np.minimum(ty0, ty1), out=tn)
        tf = np.maximum(tx0, tx1, out=tx0)
        np.minimum(tf, np.maximum(ty0, ty1, out=ty0), out=tf)
        return tn, tf

    def _circles(
        self,
        cx: np.ndarray,
        cy: np.ndarray,
        r2: np.ndarray,
        x: np.ndarray,
        y: np.ndarray,
        ux: np.ndarray,
        uy: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Horizontal entry and exit distances ``[M, b, C]`` of circles, and ``miss``."""
        dx = x[None, :] - cx[:, None]  # [M, b]
        dy = y[None, :] - cy[:, None]
        bq = dx[:, :, None] * ux
        bq += dy[:, :, None] * uy
        cq = dx * dx + dy * dy - r2[:, None]
        disc = bq * bq
        disc -= cq[:, :, None]
        miss = disc < 0.0
        root = np.sqrt(np.maximum(disc, 0.0, out=disc), out=disc)
        s_out = root - bq
        s_in = np.add(bq, root, out=bq)
        np.negative(s_in, out=s_in)
        return s_in, s_out, miss

    def _horizontal(
        self, x: np.ndarray, y: np.ndarray, ux: np.ndarray, uy: np.ndarray
    ) -> tuple[tuple[np.ndarray, np.ndarray] | None, tuple[np.ndarray, np.ndarray] | None]:
        """Horizontal entry and exit distances ``[K, b, C]`` of every box and every cylinder
        (full-height ones first); a miss has entry > exit."""
        boxes = circles = None
        if len(self.box_xy[0]):
            ix = 1.0 / _safe(ux)
            iy = 1.0 / _safe(uy)
            boxes = self._box_slabs(*self.box_xy, x, y, ix, iy)
        if len(self.cyl_xy[0]):
            s_in, s_out, miss = self._circles(*self.cyl_xy, x, y, ux, uy)
            np.copyto(s_in, np.inf, where=miss)
            np.copyto(s_out, -np.inf, where=miss)
            circles = (s_in, s_out)
        return boxes, circles

    def _full_columns(
        self,
        boxes: tuple[np.ndarray, np.ndarray] | None,
        circles: tuple[np.ndarray, np.ndarray] | None,
        b: int,
        c: int,
        want_ids: bool,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Horizontal distance ``[b, C]`` to the nearest full-height obstacle of each column."""
        best = np.full((b, c), np.inf)
        ids = np.full((b, c), self.id_none, dtype=np.int64) if want_ids else np.empty(0, int)
        for part, n, part_ids in ((boxes, self.kbf, self.fb_id), (circles, self.kcf, self.fc_id)):
            if part is None or n == 0:
                continue
            tn, tf = part[0][:n], part[1][:n]
            np.maximum(tn, 0.0, out=tn)  # 0 when inside; a hit needs 0 <= tn <= tf
            np.copyto(tn, np.inf, where=tn > tf)
            if want_ids:
                k = tn.argmin(axis=0)
                s_k = np.take_along_axis(tn, k[None], axis=0)[0]
                closer = s_k < best
                ids = np.where(closer, part_ids[k], ids)
                best = np.where(closer, s_k, best)
            else:
                np.minimum(best, tn.min(axis=0), out=best)
        return best, ids

    def _partial(
        self,
        boxes: tuple[np.ndarray, np.ndarray] | None,
        circles: tuple[np.ndarray, np.ndarray] | None,
        z: np.ndarray,
        want_ids: bool,
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Horizontal distance ``[b, rows, C]`` to the nearest partial-height obstacle.

        The horizontal intervals ``[K, b, C]`` come from :meth:`_horizontal`; the per-row height
        test runs only on the (drone, column, obstacle) triples whose horizontal ray meets the
        obstacle within range (a few percent of them), and the minimum over obstacles is taken
        per column with ``minimum.reduceat`` over those triples (sorted by column).
        """
        hn_parts, hf_parts = [], []
        for part, n in ((boxes, self.kbf), (circles, self.kcf)):
            if part is not None and len(part[0]) > n:
                hn_parts.append(part[0][n:])
                hf_parts.append(part[1][n:])
        hn = hn_parts[0] if len(hn_parts) == 1 else np.concatenate(hn_parts, axis=0)
        hf = hf_parts[0] if len(hf_parts) == 1 else np.concatenate(hf_parts, axis=0)
        k, b, c = hn.shape
        rows = self.camera.rows
        s_p = np.full((b * c, rows), np.inf)
        ids_p = np.full((b * c, rows), self.id_none, dtype=np.int64) if want_ids else None
        near = (hn <= hf) & (hf >= 0.0) & (hn < self.camera.max_range)
        hits = np.flatnonzero(near.transpose(1, 2, 0))  # (drone, column, obstacle) order
        if hits.size:
            bc, kk = np.divmod(hits, k)
            bb = bc // c
            flat = kk * (b * c) + bc
            hn_h = hn.reshape(-1)[flat][:, None]
            hf_h = hf.reshape(-1)[flat][:, None]
            it = self.inv_tan[None, :]
            a0 = (self.pz0[kk] - z[bb])[:, None] * it  # [H, rows]
            a1 = (self.pz1[kk] - z[bb])[:, None] * it
            tn = np.maximum(hn_h, np.minimum(a0, a1))
            tf = np.minimum(hf_h, np.maximum(a0, a1))
            np.maximum(tn, 0.0, out=tn)
            np.copyto(tn, np.inf, where=tn > tf)
            starts = np.r_[True, bc[1:] != bc[:-1]]
            first = np.flatnonzero(starts)
            seg_min = np.minimum.reduceat(tn, first, axis=0)  # [U, rows]
            cols_u = bc[first]
            s_p[cols_u] = seg_min
            if want_ids:
                assert ids_p is not None
                seg = np.cumsum(starts) - 1
                best = np.where(tn == seg_min[seg], kk[:, None], k)
                kmin = np.minimum.reduceat(best, first, axis=0)
                found = np.isfinite(seg_min)
                ids_u = np.where(found, self.partial_id[np.minimum(kmin, k - 1)], self.id_none)
                ids_p[cols_u] = ids_u
        s_out = s_p.reshape(b, c, rows).transpose(0, 2, 1)
        if want_ids:
            assert ids_p is not None
            return s_out, ids_p.reshape(b, c, rows).transpose(0, 2, 1)
        return s_out, None

    def _spheres(
        self, pos: np.ndarray, ux: np.ndarray, uy: np.ndarray, others: np.ndarray, radius: float
    ) -> np.ndarray:
        """Horizontal distance ``[b, rows, C]`` to the nearest other drone (sphere)."""
        o = pos[:, None, :] - others  # [b, J, 3]
        hx = o[:, None, :, 0] * ux[:, :, None] + o[:, None, :, 1] * uy[:, :, None]  # [b, C, J]
        cp = self.cos_p[None, :, None, None]
        bq = cp * hx[:, None, :, :] + self.sin_p[None, :, None, None] * o[:, None, None, :, 2]
        cq = (o * o).sum(-1) - radius * radius  # [b, J]
        disc = bq * bq - cq[:, None, None, :]
        t = -bq - np.sqrt(np.maximum(disc, 0.0))
        hit = (disc >= 0.0) & (t >= 0.0)
        return np.where(hit, t * cp, np.inf).min(axis=3)

    # -- collisions --------------------------------------------------------------------------
    def sweep(self, p0: np.ndarray, p1: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
        """First contact of spheres of ``radius`` moving from ``p0`` to ``p1`` (``[b, 3]``).

        Boxes are inflated by ``radius`` along each axis (the sphere's bounding cube: exact on
        faces, up to ``radius * (sqrt(3) - 1)`` early at corners), cylinders by ``radius`` in
        radius and height; the floor and ceiling are reached when the centre comes within
        ``radius`` of them; leaving the map bounds (centre outside) also counts.

        Returns:
            ``tau float [b]``: the fraction of the move at first contact, in [0, 1], or ``inf``
            when the move is free; ``what int64 [b]``: hit id (obstacle, ``id_floor``,
            ``id_ceiling``, or ``id_none`` for the bounds or no contact).
        """
        d = p1 - p0
        b = len(p0)
        w = self.world
        taus = [np.full((b, 1), np.inf)]
        ids = [np.full(1, self.id_none)]
        inv = 1.0 / _safe(d)
        if len(w.boxes):
            lo = w.boxes[None, :, :3] - radius
            hi = w.boxes[None, :, 3:] + radius
            t0 = (lo - p0[:, None, :]) * inv[:, None, :]
            t1 = (hi - p0[:, None, :]) * inv[:, None, :]
            tn = np.minimum(t0, t1).max(axis=2)
            tf = np.maximum(t0, t1).min(axis=2)
            hit = (tn <= tf) & (tf >= 0.0) & (tn <= 1.0)
            taus.append(np.where(hit, np.maximum(tn, 0.0), np.inf))
            ids.append(np.arange(len(w.boxes)))
        if len(w.cylinders):
            c = w.cylinders
            dx = p0[:, None, 0] - c[None, :, 0]
            dy = p0[:, None, 1] - c[None, :, 1]
            r = c[None, :, 2] + radius
            a = _safe(d[:, 0] ** 2 + d[:, 1] ** 2)[:, None]
            bq = dx * d[:, None, 0] + dy * d[:, None, 1]
            cq = dx * dx + dy * dy - r * r
            disc = bq * bq - a * cq
            root = np.sqrt(np.maximum(disc, 0.0))
            hn, hf = (-bq - root) / a, (-bq + root) / a
            z0 = (c[None, :, 3] - radius - p0[:, None, 2]) * inv[:, None, 2]
            z1 = (c[None, :, 4] + radius - p0[:, None, 2]) * inv[:, None, 2]
            tn = np.maximum(hn, np.minimum(z0, z1))
            tf = np.minimum(hf, np.maximum(z0, z1))
            hit = (disc >= 0.0) & (tn <= tf) & (tf >= 0.0) & (tn <= 1.0)
            taus.append(np.where(hit, np.maximum(tn, 0.0), np.inf))
            ids.append(len(w.boxes) + np.arange(len(c)))
        # Floor and ceiling: the centre must stay within [floor + r, ceiling - r].
        zf = (self.floor + radius - p0[:, 2]) * inv[:, 2]
        zc = (self.ceiling - radius - p0[:, 2]) * inv[:, 2]
        taus.append(np.where((d[:, 2] < 0) & (zf <= 1.0), np.maximum(zf, 0.0), np.inf)[:, None])
        ids.append(np.array([self.id_floor]))
        taus.append(np.where((d[:, 2] > 0) & (zc <= 1.0), np.maximum(zc, 0.0), np.inf)[:, None])
        ids.append(np.array([self.id_ceiling]))
        # Bounds (a safety net: validated maps are closed).
        x0, y0, x1, y1 = w.bounds
        lo2 = np.array([x0, y0])
        hi2 = np.array([x1, y1])
        e0 = np.where(d[:, :2] < 0, (lo2 - p0[:, :2]) * inv[:, :2], np.inf)
        e1 = np.where(d[:, :2] > 0, (hi2 - p0[:, :2]) * inv[:, :2], np.inf)
        tb = np.minimum(e0, e1).min(axis=1)
        taus.append(np.where(tb <= 1.0, np.maximum(tb, 0.0), np.inf)[:, None])
        ids.append(np.array([self.id_none]))
        allt = np.concatenate(taus, axis=1)
        k = allt.argmin(axis=1)
        return allt[np.arange(b), k], np.concatenate(ids)[k]


def cast_rays(
    world: World, origins: Any, directions: Any, max_range: float = np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Distance along each ray to the first surface of ``world`` (general reference version).

    Args:
        world: The map.
        origins: ``float [..., 3]`` ray origins (broadcast against ``directions``).
        directions: ``float [..., 3]`` ray directions (normalised here).
        max_range: Rays that hit nothing closer report this range.

    Returns:
        ``dist float [...]`` (metres, capped at ``max_range``) and ``ids int64 [...]`` (hit ids as
        in the module docstring; ``none`` when capped).
    """
    o, d = np.broadcast_arrays(np.asarray(origins, float), np.asarray(directions, float))
    shape = o.shape[:-1]
    o = o.reshape(-1, 3)
    d = d.reshape(-1, 3)
    d = d / np.linalg.norm(d, axis=1, keepdims=True)
    n = len(o)
    k, m = len(world.boxes), len(world.cylinders)
    cand = [np.full((n, 1), np.inf)]
    ids = [np.array([k + m + 3])]
    inv = 1.0 / _safe(d)
    if k:
        lo, hi = world.boxes[None, :, :3], world.boxes[None, :, 3:]
        t0 = (lo - o[:, None, :]) * inv[:, None, :]
        t1 = (hi - o[:, None, :]) * inv[:, None, :]
        tn = np.minimum(t0, t1).max(axis=2)
        tf = np.maximum(t0, t1).min(axis=2)
        cand.append(np.where((tn <= tf) & (tf >= 0), np.maximum(tn, 0.0), np.inf))
        ids.append(np.arange(k))
    if m:
        c = world.cylinders
        ox = o[:, None, 0] - c[None, :, 0]
        oy = o[:, None, 1] - c[None, :, 1]
        a = _safe(d[:, 0] ** 2 + d[:, 1] ** 2)[:, None]
        bq = ox * d[:, None, 0] + oy * d[:, None, 1]
        cq = ox * ox + oy * oy - c[None, :, 2] ** 2
        disc = bq * bq - a * cq
        root = np.sqrt(np.maximum(disc, 0.0))
        hn, hf = (-bq - root) / a, (-bq + root) / a
        z0 = (c[None, :, 3] - o[:, None, 2]) * inv[:, None, 2]
        z1 = (c[None, :, 4] - o[:, None, 2]) * inv[:, None, 2]
        tn = np.maximum(hn, np.minimum(z0, z1))
        tf = np.minimum(hf, np.maximum(z0, z1))
        cand.append(np.where((disc >= 0) & (tn <= tf) & (tf >= 0), np.maximum(tn, 0.0), np.inf))
        ids.append(k + np.arange(m))
    tfl = (world.floor - o[:, 2]) * inv[:, 2]
    tce = (world.ceiling - o[:, 2]) * inv[:, 2]
    cand.append(np.where(d[:, 2] < 0, tfl, np.inf)[:, None])
    ids.append(np.array([k + m]))
    cand.append(np.where(d[:, 2] > 0, tce, np.inf)[:, None])
    ids.append(np.array([k + m + 1]))
    allc = np.concatenate(cand, axis=1)
    j = allc.argmin(axis=1)
    dist = allc[np.arange(n), j]
    hit_id = np.concatenate(ids)[j]
    capped = dist >= max_range
    dist = np.where(capped, max_range, dist)
    hit_id = np.where(capped, k + m + 3, hit_id)
    return dist.reshape(shape), hit_id.reshape(shape)
