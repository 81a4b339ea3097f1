"""The drone simulation on numpy arrays: ``E`` environments, each with ``G`` world copies of
``n`` drones (``B = E * G * n`` drone rows), stepped together.

One kernel serves both APIs: the ParallelEnv is a ``E = 1`` :class:`DroneCore` and the vector env
a ``E = num_envs`` one, so for one environment and one seed they draw the same numbers and give the
same trajectories (a test checks it). Ray casting dominates a step and is vectorised over rays
and drones either way, so a separate scalar kernel for ``E = 1`` would gain little.

Worlds: in ``"shared"`` mode every environment has one world copy (``G = 1``) whose map is the
episode's task; in ``"team"`` mode environment ``e`` has one copy of every task's map
(``G = T``), copy ``g`` always playing task ``g``. Drones of one copy see each other (spheres of
the drone radius) and collide (within two radii); drones of different copies never interact.

Random draws (one generator per core), in this order:

* reset of environments ``idx``: ``[len(idx) * G, S]`` uniforms choosing distinct start poses
  (``S`` the most start poses of any map; the ``n`` smallest of each copy's own poses win), then
  ``[len(idx) * G * n, 3]`` uniforms for the start jitter (``x``, ``y``, yaw), then the
  observation draws of those environments' drones;
* step: ``[B, 2]`` standard normals for the yaw and pitch noise (only when a task has angle noise),
  then the observation draws;
* observation of ``b`` drone rows: ``[b, R]`` float32 standard normals (only when a task has depth
  noise), then ``[b, R]`` float32 uniforms (only when a task has dropout); drawn for every row,
  also for drones that are done.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from mt_envs.drone.raycast import FAR_AWAY, Camera, MapGeometry
from mt_envs.drone.task import DroneTask
from mt_envs.drone.world import World
from mt_envs.tasks import TaskSet

OBS_TYPES = ("depth", "image")
EXTRAS = ("altitude", "last_action")
MODES = ("shared", "team")
#: Discrete actions: 5 yaw offsets x 5 pitch offsets.
GRID = 5
N_ACTIONS = GRID * GRID
#: Straight ahead (no yaw, no pitch).
STRAIGHT = 12
#: Fraction of the centre window's depths averaged by the reward (the smallest 5 %).
REWARD_QUANTILE = 0.05
#: Reward (and the end of the drone's episode) on a collision or a crash.
CRASH_REWARD = -1.0
#: Image shading: brightness ``light * (1 - SHADE_FALLOFF * depth)``.
SHADE_FALLOFF = 0.75
#: ``last_hit`` codes besides obstacle / floor / ceiling ids: no contact, another drone, the
#: crash threshold (nothing touched, but the centre view came too close).
HIT_NONE, HIT_DRONE, HIT_CRASH = -1, -2, -3
#: Per-drone state columns: x, y, z (normalised by the map's bounds, floor and ceiling),
#: cos(heading), sin(heading), active.
STATE_PER_DRONE = 6


def _is_real(x: Any) -> bool:
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def action_angles(action: int) -> tuple[float, float]:
    """The normalised ``(yaw, pitch)`` in ``{-1, -0.5, 0, 0.5, 1}`` of discrete action
    ``a = 5 * i + k``: ``yaw = (2 - k) / 2`` (positive turns left), ``pitch = (2 - i) / 2``
    (positive climbs). Action 12 is straight ahead; the grid matches the image layout (row ``i``
    from the top, column ``k`` from the left)."""
    i, k = divmod(int(action), GRID)
    return (2 - k) / 2.0, (2 - i) / 2.0


#: ``float [25, 2]`` normalised (yaw, pitch) of every discrete action.
ACTION_TABLE = np.array([action_angles(a) for a in range(N_ACTIONS)], dtype=np.float64)


@dataclasses.dataclass(frozen=True)
class DroneConfig:
    """Everything the envs share across tasks (observation and action shapes, drone body, reward).

    Args:
        camera: The depth camera.
        obs_type: ``"depth"`` (normalised depth per ray) or ``"image"`` (shaded RGB per ray).
        extras: Extra observation entries, any of ``"altitude"`` (height above the floor over the
            room height, in [0, 1]) and ``"last_action"`` (the normalised (yaw, pitch) of the
            previous action, in [-1, 1]; zeros after a reset).
        continuous_actions: ``Box(-1, 1, (2,))`` (yaw, pitch) instead of ``Discrete(25)``.
        step_length: Metres flown per step, > 0.
        radius: Drone radius in metres, > 0.
        crash_distance: The drone crashes when the reward statistic (the mean of the smallest 5 %
            of centre-window depths, in metres) falls under this, >= 0.
        centre_window: ``(rows, cols)`` of the centred window the reward reads; ``None``: half
            the image each way (at least one ray).
    """

    camera: Camera = dataclasses.field(default_factory=Camera)
    obs_type: str = "depth"
    extras: tuple[str, ...] = ()
    continuous_actions: bool = False
    step_length: float = 0.4
    radius: float = 0.2
    crash_distance: float = 0.3
    centre_window: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        if not isinstance(self.camera, Camera):
            raise TypeError(f"camera must be a Camera, got {self.camera!r}")
        if self.obs_type not in OBS_TYPES:
            raise ValueError(f"obs_type={self.obs_type!r} is invalid: use one of {OBS_TYPES}")
        extras = (self.extras,) if isinstance(self.extras, str) else tuple(self.extras)
        for e in extras:
            if e not in EXTRAS:
                raise ValueError(f"extras entry {e!r} is invalid: use any of {EXTRAS}")
        if len(set(extras)) != len(extras):
            raise ValueError(f"extras={extras!r} repeats an entry")
        set_(self, "extras", tuple(e for e in EXTRAS if e in extras))
        if not isinstance(self.continuous_actions, (bool, np.bool_)):
            raise ValueError(
                f"continuous_actions={self.continuous_actions!r} is invalid: need True or False"
            )
        set_(self, "continuous_actions", bool(self.continuous_actions))
        for field, lo, strict in (
            ("step_length", 0.0, True),
            ("radius", 0.0, True),
            ("crash_distance", 0.0, False),
        ):
            v = getattr(self, field)
            ok = _is_real(v) and math.isfinite(v) and (v > lo if strict else v >= lo)
            if not ok:
                raise ValueError(
                    f"{field}={v!r} is invalid: need a number {'>' if strict else '>='} {lo:g} "
                    "(metres)"
                )
            set_(self, field, float(v))
        cam = self.camera
        w = self.centre_window
        if w is None:
            w = (max(1, cam.rows // 2), max(1, cam.cols // 2))
        try:
            wr, wc = (int(v) for v in w)
            ok = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in w) and (
                1 <= wr <= cam.rows and 1 <= wc <= cam.cols
            )
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ValueError(
                f"centre_window={self.centre_window!r} is invalid: need (rows, cols) with "
                f"1 <= rows <= {cam.rows} and 1 <= cols <= {cam.cols}"
            )
        set_(self, "centre_window", (wr, wc))

    @property
    def window_slices(self) -> tuple[slice, slice]:
        """Row and column slices of the centre window."""
        assert self.centre_window is not None
        wr, wc = self.centre_window
        r0 = (self.camera.rows - wr) // 2
        c0 = (self.camera.cols - wc) // 2
        return slice(r0, r0 + wr), slice(c0, c0 + wc)

    @property
    def reward_k(self) -> int:
        """How many centre-window depths the reward averages (the smallest 5 %, at least 1)."""
        assert self.centre_window is not None
        wr, wc = self.centre_window
        return max(1, math.ceil(REWARD_QUANTILE * wr * wc - 1e-9))

    @property
    def yaw_max(self) -> float:
        """Yaw (radians) of actions at the edge of the grid: ``2/5`` of the horizontal FOV."""
        return math.radians(self.camera.fov_h) * 2.0 / GRID

    @property
    def pitch_max(self) -> float:
        """Pitch (radians) of actions at the edge of the grid: ``2/5`` of the vertical FOV."""
        return math.radians(self.camera.fov_v) * 2.0 / GRID

    @property
    def image_dim(self) -> int:
        """Length of the flattened camera part of the observation."""
        return self.camera.n_rays * (3 if self.obs_type == "image" else 1)

    @property
    def obs_dim(self) -> int:
        """Length of one observation."""
        return self.image_dim + ("altitude" in self.extras) + 2 * ("last_action" in self.extras)

    def obs_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """``(low, high)`` float32 bounds of one observation."""
        lo = np.zeros(self.obs_dim, dtype=np.float32)
        hi = np.ones(self.obs_dim, dtype=np.float32)
        if "last_action" in self.extras:
            lo[-2:] = -1.0
        return lo, hi


def reward_statistic(depth: np.ndarray, config: DroneConfig) -> np.ndarray:
    """The reward statistic of depth images ``[..., rows, cols]``: the mean of the smallest 5 %
    of the normalised depths in the centre window (``float [...]``)."""
    rs, cs = config.window_slices
    win = depth[..., rs, cs]
    win = win.reshape(*win.shape[:-2], -1)
    k = config.reward_k
    if k == 1:
        return win.min(axis=-1)
    return np.partition(win, k - 1, axis=-1)[..., :k].mean(axis=-1)


class DroneTable:
    """Per-task arrays of a task set for one :class:`DroneConfig`.

    Raises:
        TypeError: A task is not a :class:`DroneTask`.
        ValueError: A map fails :meth:`World.validate` for the config's radius, the tasks' start
            jitter and ``n_drones``.
    """

    def __init__(self, task_set: TaskSet, config: DroneConfig, n_drones: int) -> None:
        tasks: list[DroneTask] = []
        for i, t in enumerate(task_set):
            if not isinstance(t, DroneTask):
                raise TypeError(
                    f"task {i} of set {task_set.name!r} is a {type(t).__name__}; drone_nav_v0 "
                    "takes DroneTask tasks"
                )
            tasks.append(t)
        self.tasks = tasks
        self.config = config
        self.worlds: tuple[World, ...] = tuple(t.world for t in tasks)
        for t, w in zip(tasks, self.worlds, strict=True):
            w.validate(config.radius, t.start_jitter, n_drones)
        self.geoms = tuple(MapGeometry(w, config.camera) for w in self.worlds)
        n = len(tasks)
        self.n_starts = np.array([len(w.starts) for w in self.worlds], dtype=np.int64)
        s_max = int(self.n_starts.max())
        self.starts = np.zeros((n, s_max, 4))
        for i, w in enumerate(self.worlds):
            self.starts[i, : len(w.starts)] = w.starts
        self.start_pad = np.arange(s_max)[None, :] >= self.n_starts[:, None]  # [T, S]
        light = [w.lighting for w in self.worlds]
        self.noise_std = np.array([li.noise_std for li in light])
        self.dropout = np.array([li.dropout for li in light])
        self.bias = np.array([li.bias for li in light])
        self.light = np.array([li.light for li in light])
        self.horizon = np.array([t.horizon for t in tasks], dtype=np.int64)
        self.angle_noise = np.radians([t.angle_noise_deg for t in tasks])
        self.jitter = np.array([t.start_jitter for t in tasks])
        self.yaw_jitter = np.radians([t.yaw_jitter_deg for t in tasks])
        self.any_angle_noise = bool(np.any(self.angle_noise > 0))
        self.any_noise = bool(np.any(self.noise_std > 0))
        self.any_dropout = bool(np.any(self.dropout > 0))
        self.floor = np.array([w.floor for w in self.worlds])
        self.ceiling = np.array([w.ceiling for w in self.worlds])
        self.bounds = np.array([w.bounds for w in self.worlds])
        # Colour tables of every task, end to end; offset[t] + hit id indexes it.
        tables = [w.colors() for w in self.worlds]
        self.color_offset = np.cumsum([0] + [len(c) for c in tables[:-1]]).astype(np.int64)
        self.colors = np.concatenate(tables).astype(np.float32)


class DroneCore:
    """``E`` environments of drones on numpy arrays (see the module docstring).

    State (rows ``b = (e * G + g) * n + i``): ``pos float [B, 3]``, ``heading float [B]``,
    ``active bool [B]`` (still flying in this episode), ``crashed bool [B]``, ``safe_flight
    float [B]`` (horizontal metres flown this episode), ``task float [B]`` (task id of each drone),
    ``t int [E]`` (steps taken), ``depth float [B, rows, cols]`` (clean normalised depth of the
    last observation), ``last_action float [B, 2]``.

    Args:
        table: The task set's arrays.
        num_envs: ``E``.
        n_drones: ``n``, drones per world copy.
        team: Team mode (``G = T`` copies per environment, copy ``g`` playing task ``g``);
            shared mode otherwise (``G = 1``).
    """

    def __init__(self, table: DroneTable, num_envs: int, n_drones: int, team: bool) -> None:
        self.table = table
        self.config = table.config
        cfg = self.config
        self.E = int(num_envs)
        self.G = len(table.tasks) if team else 1
        self.n = int(n_drones)
        self.team = team
        self.W = self.E * self.G
        self.B = self.W * self.n
        self.drones_per_env = self.G * self.n
        b = self.B
        self.rng = np.random.default_rng()
        self.pos = np.zeros((b, 3))
        self.heading = np.zeros(b)
        self.active = np.zeros(b, dtype=bool)
        self.crashed = np.zeros(b, dtype=bool)
        self.safe_flight = np.zeros(b)
        self.world_task = np.tile(np.arange(self.G), self.E) if team else np.zeros(self.W, int)
        self.task = np.repeat(self.world_task, self.n)
        self.t = np.zeros(self.E, dtype=np.int64)
        cam = cfg.camera
        self.depth = np.ones((b, cam.rows, cam.cols))
        self.hit_ids: np.ndarray | None = None
        self.last_action = np.zeros((b, 2))
        #: Why each drone's episode ended: a hit id of its map, or HIT_DRONE / HIT_CRASH.
        self.last_hit = np.full(b, HIT_NONE, dtype=np.int64)
        self.env_of = np.repeat(np.arange(self.E), self.drones_per_env)
        self._want_ids = cfg.obs_type == "image"
        # Index of the other drones of each drone's world copy (for visibility).
        n = self.n
        self._others = np.array([[j for j in range(n) if j != i] for i in range(n)], dtype=int)
        self._refresh_params()

    def seed(self, seed: int | np.random.SeedSequence | None) -> None:
        """Reseed the dynamics generator."""
        self.rng = np.random.default_rng(seed)

    def _refresh_params(self) -> None:
        """Per-row task parameters gathered from ``task``."""
        tb, k = self.table, self.task
        self.horizon = tb.horizon[k]
        self.angle_noise = tb.angle_noise[k]
        self.noise_std = tb.noise_std[k][:, None].astype(np.float32)
        self.dropout = tb.dropout[k][:, None].astype(np.float32)
        self.bias = tb.bias[k][:, None].astype(np.float32)
        self.light = tb.light[k][:, None].astype(np.float32)
        self.floor = tb.floor[k]
        self.ceiling = tb.ceiling[k]
        self.bounds = tb.bounds[k]
        self._single_task = bool(np.all(k == k[0]))

    # -- reset ---------------------------------------------------------------------------------
    def reset(self, env_ids: np.ndarray, task_ids: np.ndarray | None = None) -> None:
        """Start new episodes in environments ``env_ids`` (shared mode: with tasks
        ``task_ids``, one per environment; team mode: ``None``). Casts the cameras of the new
        drones; :meth:`observe` then adds the lighting."""
        env_ids = np.asarray(env_ids, dtype=np.int64)
        g, n = self.G, self.n
        worlds = (env_ids[:, None] * g + np.arange(g)[None, :]).ravel()
        if not self.team:
            assert task_ids is not None
            self.world_task[worlds] = np.asarray(task_ids, dtype=np.int64)
        wt = self.world_task[worlds]
        rows = (worlds[:, None] * n + np.arange(n)[None, :]).ravel()
        self.task[rows] = np.repeat(wt, n)
        tb = self.table
        u = self.rng.random((len(worlds), tb.starts.shape[1]))
        u[tb.start_pad[wt]] = 2.0
        pick = np.argsort(u, axis=1, kind="stable")[:, :n]  # [W', n] distinct start poses
        start = tb.starts[np.repeat(wt, n), pick.ravel()]  # [b', 4]
        j = self.rng.random((len(rows), 3)) * 2.0 - 1.0
        rt = self.task[rows]
        self.pos[rows, 0] = start[:, 0] + j[:, 0] * tb.jitter[rt]
        self.pos[rows, 1] = start[:, 1] + j[:, 1] * tb.jitter[rt]
        self.pos[rows, 2] = start[:, 2]
        self.heading[rows] = _wrap(start[:, 3] + j[:, 2] * tb.yaw_jitter[rt])
        self.active[rows] = True
        self.crashed[rows] = False
        self.safe_flight[rows] = 0.0
        self.last_action[rows] = 0.0
        self.last_hit[rows] = HIT_NONE
        self.t[env_ids] = 0
        if not self.team and len(tb.tasks) > 1:
            self._refresh_params()
        self._cast(rows)

    def rows_of(self, env_ids: np.ndarray) -> np.ndarray:
        """Drone rows of environments ``env_ids``."""
        d = self.drones_per_env
        return (np.asarray(env_ids)[:, None] * d + np.arange(d)[None, :]).ravel()

    # -- step ----------------------------------------------------------------------------------
    def step(self, angles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Move every active drone by the normalised ``(yaw, pitch)`` ``angles [B, 2]``.

        Returns:
            ``reward float [B]``, ``term bool [B]``, ``trunc bool [B]`` (zero / False for drones
            that were not active) and ``acting bool [B]`` (the drones that were active).
        """
        cfg = self.config
        acting = self.active.copy()
        b = self.B
        yaw = angles[:, 0] * cfg.yaw_max
        pitch = angles[:, 1] * cfg.pitch_max
        if self.table.any_angle_noise:
            noise = self.rng.standard_normal((b, 2))
            yaw = yaw + noise[:, 0] * self.angle_noise
            pitch = pitch + noise[:, 1] * self.angle_noise
        heading = np.where(acting, _wrap(self.heading + yaw), self.heading)
        cp = cfg.step_length * np.cos(pitch)
        move = np.stack(
            [cp * np.cos(heading), cp * np.sin(heading), cfg.step_length * np.sin(pitch)], 1
        )
        move[~acting] = 0.0
        p0 = self.pos
        tau = np.full(b, np.inf)
        hit = np.full(b, HIT_NONE, dtype=np.int64)
        for task, rows in self._groups(acting):
            sl = slice(None) if rows is None else rows
            tau_g, hit_g = self.table.geoms[task].sweep(p0[sl], p0[sl] + move[sl], cfg.radius)
            tau[sl] = tau_g
            hit[sl] = hit_g
        collided = tau <= 1.0
        frac = np.where(collided, tau, 1.0)  # of the move, up to the first obstacle contact
        if self.n > 1:
            # Drones move along their (obstacle-truncated) paths; the first drone contact cuts
            # both paths at that moment.
            frac_dd, contact = self._drone_contacts(p0, move * frac[:, None], acting)
            frac = frac * frac_dd
            hit = np.where(contact & ~collided, HIT_DRONE, hit)
            collided |= contact
        disp = move * frac[:, None]
        self.pos = p0 + disp
        self.heading = heading
        self.safe_flight += np.hypot(disp[:, 0], disp[:, 1])
        self.last_action = np.where(acting[:, None], angles, self.last_action)
        self.last_hit = np.where(collided, hit, self.last_hit)
        self._cast(np.flatnonzero(acting) if not acting.all() else None)
        stat = reward_statistic(self.depth, cfg)
        crash = stat * cfg.camera.max_range < cfg.crash_distance
        term = acting & (collided | crash)
        reward = np.where(term, CRASH_REWARD, np.where(acting, stat, 0.0))
        self.last_hit = np.where(acting & crash & ~collided, HIT_CRASH, self.last_hit)
        self.crashed |= term
        self.active &= ~term
        self.t += 1
        trunc = self.active & (self.t[self.env_of] >= self.horizon)
        self.active &= ~trunc
        return reward, term, trunc, acting

    def _groups(self, rows_mask: np.ndarray | None) -> list[tuple[int, np.ndarray | None]]:
        """``(task, rows)`` groups of the given rows (``None`` rows: all of them)."""
        if self._single_task and (rows_mask is None or rows_mask.all()):
            return [(int(self.task[0]), None)]
        task = self.task if rows_mask is None else np.where(rows_mask, self.task, -1)
        out: list[tuple[int, np.ndarray | None]] = []
        for k in np.unique(task):
            if k >= 0:
                out.append((int(k), np.flatnonzero(task == k)))
        return out

    def _drone_contacts(
        self, p0: np.ndarray, disp: np.ndarray, acting: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Earliest contact (within two radii) of each drone with another drone of its world
        copy while both move linearly by ``disp``: ``(fraction in [0, 1], contact bool)``."""
        w, n = self.W, self.n
        p = p0.reshape(w, n, 3)
        v = disp.reshape(w, n, 3)
        live = acting.reshape(w, n)
        dp = p[:, :, None, :] - p[:, None, :, :]  # [W, n, n, 3]
        dv = v[:, :, None, :] - v[:, None, :, :]
        reach = 2.0 * self.config.radius
        a = (dv * dv).sum(-1)
        bq = (dp * dv).sum(-1)
        c = (dp * dp).sum(-1) - reach * reach
        disc = bq * bq - a * c
        safe_a = np.where(a > 0, a, 1.0)
        tau = np.where(c <= 0, 0.0, (-bq - np.sqrt(np.maximum(disc, 0.0))) / safe_a)
        touch = (c <= 0) | ((a > 0) & (disc >= 0) & (tau >= 0) & (tau <= 1))
        pair = live[:, :, None] & live[:, None, :] & ~np.eye(n, dtype=bool)[None]
        touch &= pair
        tau = np.where(touch, np.clip(tau, 0.0, 1.0), np.inf).min(axis=2)
        contact = np.isfinite(tau)
        return np.where(contact, tau, 1.0).reshape(-1), contact.reshape(-1)

    # -- cameras -------------------------------------------------------------------------------
    def _cast(self, rows: np.ndarray | None) -> None:
        """Recompute the clean depth (and hit ids for images) of ``rows`` (``None``: all)."""
        cfg = self.config
        mask = None
        if rows is not None:
            mask = np.zeros(self.B, dtype=bool)
            mask[rows] = True
        others_all = None
        if self.n > 1:
            vis = np.where(self.active[:, None], self.pos, FAR_AWAY).reshape(self.W, self.n, 3)
            others_all = vis[:, self._others].reshape(self.B, self.n - 1, 3)
        want = self._want_ids
        if want and self.hit_ids is None:
            self.hit_ids = np.zeros(self.depth.shape, dtype=np.int64)
        for task, grp in self._groups(mask):
            geom = self.table.geoms[task]
            sl = slice(None) if grp is None else grp
            others = None if others_all is None else others_all[sl]
            depth, ids = geom.camera_depth(self.pos[sl], self.heading[sl], others, cfg.radius, want)
            self.depth[sl] = depth
            if want:
                assert self.hit_ids is not None and ids is not None
                self.hit_ids[sl] = ids + self.table.color_offset[task]

    def observe(
        self, rows: np.ndarray | None = None, shown: np.ndarray | None = None
    ) -> np.ndarray:
        """Observations ``float32 [b, D]`` of ``rows`` (``None``: all), drawing the lighting.

        Rows not ``shown`` (``bool [B]``, default :attr:`active`) observe zeros; their draws are
        still made."""
        cfg = self.config
        sl: Any = slice(None) if rows is None else rows
        depth = self.depth[sl].reshape(-1, cfg.camera.n_rays).astype(np.float32)
        b, r = depth.shape
        tb = self.table
        noisy = depth + self.bias[sl]
        if tb.any_noise:
            noisy += self.rng.standard_normal((b, r), dtype=np.float32) * self.noise_std[sl]
        np.clip(noisy, 0.0, 1.0, out=noisy)
        drop = None
        if tb.any_dropout:
            drop = self.rng.random((b, r), dtype=np.float32) < self.dropout[sl]
            noisy[drop] = 0.0
        if cfg.obs_type == "image":
            assert self.hit_ids is not None
            ids = self.hit_ids[sl].reshape(b, r)
            shade = self.light[sl] * (1.0 - np.float32(SHADE_FALLOFF) * noisy)
            if drop is not None:
                shade[drop] = 0.0
            img = tb.colors[ids] * shade[:, :, None]
            cam_part = img.reshape(b, r * 3)
        else:
            cam_part = noisy
        if not cfg.extras:
            obs = cam_part
        else:
            parts = [cam_part]
            if "altitude" in cfg.extras:
                fl, ce = self.floor[sl], self.ceiling[sl]
                alt = np.clip((self.pos[sl, 2] - fl) / (ce - fl), 0.0, 1.0)
                parts.append(alt[:, None].astype(np.float32))
            if "last_action" in cfg.extras:
                parts.append(self.last_action[sl].astype(np.float32))
            obs = np.concatenate(parts, axis=1)
        show = (self.active if shown is None else shown)[sl]
        if not show.all():
            obs[~show] = 0.0
        return obs

    def state(self) -> np.ndarray:
        """Global state ``float32 [E, G * n * 6 + 1]``: per drone slot x, y, z normalised by its
        map's bounds, floor and ceiling, cos and sin of the heading, and 1 while flying; then the
        step count over the largest horizon of the environment's drones."""
        x0, y0, x1, y1 = (self.bounds[:, i] for i in range(4))
        cols = np.stack(
            [
                (self.pos[:, 0] - x0) / (x1 - x0),
                (self.pos[:, 1] - y0) / (y1 - y0),
                (self.pos[:, 2] - self.floor) / (self.ceiling - self.floor),
                np.cos(self.heading),
                np.sin(self.heading),
                self.active.astype(np.float64),
            ],
            axis=1,
        )
        cols[:, :3] = np.clip(cols[:, :3], 0.0, 1.0)
        per_env = cols.reshape(self.E, -1)
        h = self.horizon.reshape(self.E, -1).max(axis=1)
        frac = np.minimum(self.t / h, 1.0)
        return np.concatenate([per_env, frac[:, None]], axis=1).astype(np.float32)

    @property
    def state_dim(self) -> int:
        """Length of one environment's state."""
        return self.drones_per_env * STATE_PER_DRONE + 1


def _wrap(angle: np.ndarray) -> np.ndarray:
    """Angles wrapped to ``[-pi, pi)``."""
    return (angle + math.pi) % (2.0 * math.pi) - math.pi


def check_continuous(agent: str, action: Any) -> tuple[float, float]:
    """A continuous action as ``(yaw, pitch)`` floats in [-1, 1], or a ValueError saying why.

    NaN, infinite and out-of-range values are refused, never clipped.
    """
    try:
        arr = np.asarray(action, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"action {action!r} of {agent} is invalid: expected 2 numbers (yaw, pitch) in [-1, 1]"
        ) from None
    if arr.shape != (2,):
        raise ValueError(
            f"action of {agent} has shape {arr.shape}: expected (2,) = (yaw, pitch) in [-1, 1]"
        )
    if not np.all(np.isfinite(arr)):
        raise ValueError(
            f"action {arr.tolist()} of {agent} is not finite: expected values in [-1, 1]"
        )
    if np.any(np.abs(arr) > 1.0):
        raise ValueError(
            f"action {arr.tolist()} of {agent} is outside Box(-1, 1, (2,)): yaw and pitch must "
            "lie in [-1, 1] (they are not clipped)"
        )
    return float(arr[0]), float(arr[1])


def angles_of(actions: Sequence[int] | np.ndarray) -> np.ndarray:
    """Normalised ``(yaw, pitch) [B, 2]`` of discrete actions."""
    return ACTION_TABLE[np.asarray(actions, dtype=np.int64)]
