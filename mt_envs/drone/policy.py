"""The scripted drone baseline: steer toward the deepest column of the camera, hold mid-height.

:class:`DeepestColumnPolicy` reads only the drone's own camera (as a learner does); its one
piece of memory is the direction of a dead-end turn:

* **free path per bearing.** Every column of the depth image is a bearing; the smallest range
  that the rays of the middle rows (the reward's centre rows) measure along it, times the cosine
  of their pitch, is the horizontal distance to what the column sees. The candidate headings are
  the yaws of the action grid (the five discrete ones, or 17 evenly spread ones for continuous
  actions). A candidate's *clearance* is how far the drone's body (``half_width`` to either
  side, default radius + 0.2 m) could fly along it: the forward distance of the nearest
  reading that lies ahead within ``half_width`` of its line. Readings at the camera's range hit
  nothing and block nothing. (The column with the farthest reading is the "deepest column";
  measuring a body-wide path instead of a single ray keeps the drone off corners.)
* **steering.** The drone flies straight while the clearance ahead is at least
  ``straight_clearance`` metres (or as good as any other); otherwise it takes the candidate with
  the largest clearance (the nearest one to straight ahead on ties). When even the best
  clearance is under ``turn_clearance`` (a dead end) it turns as hard as it can toward the half
  of the view with the larger mean depth, and keeps turning that way until the best clearance is
  back above 1.5 times ``turn_clearance``, so it does not dither between left and right.
* **height.** The top row of rays looks up at the ceiling (or whatever is above), the bottom
  row down at the floor; their vertical reach (range times the sine of the row's pitch, median
  over the columns) says how much room is above and below. The drone pitches toward the side
  with more room, in proportion to the imbalance (``pitch_gain``), so it settles halfway
  between floor and ceiling and climbs over low furniture or ducks under beams. With the
  ``altitude`` observation extra it aims at mid-height directly.
* **bad readings.** Depths of exactly 0 (dropped rays) are ignored; noise and bias are not
  filtered (they cost MSF in the noisier maps, as they would cost a learner).

With ``obs_type="image"`` the observation holds no depth: the policy then reads the env's clean
depth image (:attr:`~mt_envs.drone.DroneNavEnv.last_depth`), privileged information that makes
it the same pilot in both observation types; build it with :meth:`DeepestColumnPolicy.for_env`.

Use ``policy(observations, infos)`` on PettingZoo dicts, or :meth:`DeepestColumnPolicy.act` on
depth arrays of any batch (vector envs).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from mt_envs.drone.core import GRID, DroneConfig

#: Half the side of the action grid: grid index ``k = _HALF - _HALF * yaw``.
_HALF = (GRID - 1) / 2.0


def _positive(value: Any, strict: bool = True) -> bool:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    return ok and math.isfinite(value) and (value > 0 if strict else value >= 0)


def discrete_action(yaw: np.ndarray, pitch: np.ndarray) -> np.ndarray:
    """The discrete action nearest to normalised ``(yaw, pitch)`` in [-1, 1] (``int64``).

    Args:
        yaw: Normalised yaw (positive turns left), any shape.
        pitch: Normalised pitch (positive climbs), broadcastable to ``yaw``.

    Returns:
        Actions ``5 * i + k`` with ``k = 2 - 2 yaw`` and ``i = 2 - 2 pitch`` rounded.
    """
    k = np.clip(np.rint(_HALF - _HALF * np.asarray(yaw)), 0, GRID - 1).astype(np.int64)
    i = np.clip(np.rint(_HALF - _HALF * np.asarray(pitch)), 0, GRID - 1).astype(np.int64)
    return GRID * i + k


class DeepestColumnPolicy:
    """Steer toward the deepest column of the depth camera, pitch to hold mid-height.

    See the module docstring for the rules.

    Args:
        config: The env's :class:`~mt_envs.drone.DroneConfig` (camera, action type, extras).
        half_width: Half the width of the path the drone needs (metres), > 0; ``None``: the
            drone radius plus 0.2 m.
        straight_clearance: Fly straight while the clearance ahead is at least this (metres),
            > 0.
        turn_clearance: Below this best clearance (metres, > 0) the drone is in a dead end and
            turns hard.
        pitch_gain: Normalised pitch per unit of up/down imbalance, >= 0.
        env: The env whose live agents the policy acts for (``None``: every agent in the
            observations) and, for ``obs_type="image"``, whose depth it reads.

    Raises:
        ValueError: A parameter out of range, or ``obs_type="image"`` without an env.
    """

    def __init__(
        self,
        config: DroneConfig,
        half_width: float | None = None,
        straight_clearance: float = 3.0,
        turn_clearance: float = 2.0,
        pitch_gain: float = 2.0,
        env: Any = None,
    ) -> None:
        if not isinstance(config, DroneConfig):
            raise TypeError(f"config must be a DroneConfig, got {type(config).__name__}")
        if half_width is None:
            half_width = config.radius + 0.2
        for name, value in (
            ("half_width", half_width),
            ("straight_clearance", straight_clearance),
            ("turn_clearance", turn_clearance),
        ):
            if not _positive(value):
                raise ValueError(f"{name}={value!r} is invalid: need a number > 0 (metres)")
        if not _positive(pitch_gain, strict=False):
            raise ValueError(f"pitch_gain={pitch_gain!r} is invalid: need a number >= 0")
        self.env = getattr(env, "unwrapped", env)
        if config.obs_type == "image" and self.env is None:
            raise ValueError(
                "obs_type='image' observations hold no depth: build the policy with "
                "DeepestColumnPolicy.for_env(env) so it can read env.last_depth"
            )
        self.config = config
        self.half_width = float(half_width)
        self.straight_clearance = float(straight_clearance)
        self.turn_clearance = float(turn_clearance)
        self.pitch_gain = float(pitch_gain)
        cam = config.camera
        self._band = config.window_slices[0]
        pitches = cam.pitches
        #: Horizontal metres per unit of normalised depth, per band row.
        self._h_scale = cam.max_range * np.cos(pitches[self._band])
        #: Vertical metres per unit of normalised depth of the top and bottom rows.
        self._v_up = cam.max_range * max(math.sin(pitches[0]), 0.0)
        self._v_down = cam.max_range * max(-math.sin(pitches[-1]), 0.0)
        # Candidate bearings: the yaws of the action grid (discrete), or a fine fan over the
        # same range (continuous); relative angle to every column's bearing.
        if config.continuous_actions:
            yaw = np.linspace(-1.0, 1.0, 4 * (GRID - 1) + 1)
        else:
            yaw = np.linspace(-1.0, 1.0, GRID)
        self._bearing_yaw = yaw
        rel = cam.yaw_offsets[None, :] - (yaw * config.yaw_max)[:, None]  # [n_bearings, C]
        self._cos = np.cos(rel)
        self._sin = np.abs(np.sin(rel))
        self._straight = int(np.argmin(np.abs(yaw)))
        # Tie-break: a tiny preference for bearings near the heading.
        self._tie = 1e-6 * np.abs(yaw)
        self._left = cam.yaw_offsets > 0
        self._right = cam.yaw_offsets < 0
        self._alt_index = config.image_dim if "altitude" in config.extras else None
        self._commit: dict[str, int] = {}

    @classmethod
    def for_env(cls, env: Any, **kwargs: Any) -> DeepestColumnPolicy:
        """The policy for a drone env (ParallelEnv, vector env or a wrapper of one).

        Args:
            env: The env; its ``config`` gives the camera and the action type.
            **kwargs: Parameters of :class:`DeepestColumnPolicy` (``half_width``, ...).
        """
        base = getattr(env, "unwrapped", env)
        return cls(base.config, env=base, **kwargs)

    def reset(self) -> None:
        """Forget the dead-end turns of the last episode."""
        self._commit.clear()

    # -- batched -------------------------------------------------------------------------------
    def clearance(self, depth: np.ndarray) -> np.ndarray:
        """Free path length (metres) along each candidate bearing, ``[B, n_bearings]``.

        A reading of column ``j`` at horizontal distance ``s_j`` blocks bearing ``b`` when it
        lies ahead of the drone within ``half_width`` of the line along ``b``; the clearance is
        the forward distance of the nearest blocking reading (the camera range when none
        blocks). Readings at the camera range hit nothing and block nothing.
        """
        d = np.asarray(depth, dtype=np.float64)
        band = d[:, self._band]
        usable = (band > 0.0) & (band < 1.0)
        s = np.where(usable, band * self._h_scale[None, :, None], np.inf).min(axis=1)  # [B, C]
        fwd = s[:, None, :] * self._cos[None]  # [B, n_bearings, C]
        lat = s[:, None, :] * self._sin[None]
        block = (lat < self.half_width) & (self._cos[None] > 0.0)
        clear = np.where(block, fwd, np.inf).min(axis=2)
        return np.minimum(clear, self.config.camera.max_range)

    def angles(
        self,
        depth: np.ndarray,
        altitude: np.ndarray | None = None,
        commit: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Normalised ``(yaw, pitch)`` for depth images ``[B, rows, cols]`` (before rounding).

        Args:
            depth: Normalised depths in [0, 1] (0: no reading).
            altitude: Optional ``[B]`` height above the floor over the room height.
            commit: Optional ``int8 [B]`` memory of the dead-end turn (``+1`` left, ``-1``
                right, 0 none), updated in place; ``None``: no memory (the side is chosen
                afresh every step).

        Returns:
            ``yaw [B]`` and ``pitch [B]`` in [-1, 1].
        """
        d = np.asarray(depth, dtype=np.float64)
        valid = d > 0.0
        clear = self.clearance(d)  # [B, n_bearings]
        n = len(clear)
        best = np.argmax(clear - self._tie[None, :], axis=1)
        best_clear = clear[np.arange(n), best]
        ahead = clear[:, self._straight]
        yaw = np.where(
            (ahead >= self.straight_clearance) | (ahead >= best_clear),
            0.0,
            self._bearing_yaw[best],
        )
        # Dead end: every bearing is short; turn hard toward the roomier half of the view.
        stuck = best_clear < self.turn_clearance
        if stuck.any():
            h = np.where(valid, d, 1.0)[stuck][:, self._band].mean(axis=1)  # [b, C]
            left = h[:, self._left].sum(axis=1) / max(int(self._left.sum()), 1)
            right = h[:, self._right].sum(axis=1) / max(int(self._right.sum()), 1)
            side = np.where(left >= right, 1, -1)
            if commit is not None:
                kept = commit[stuck]
                side = np.where(kept != 0, kept, side)
                commit[stuck] = side
            yaw[stuck] = side
        if commit is not None:
            commit[best_clear >= 1.5 * self.turn_clearance] = 0

        if altitude is not None:
            pitch = self.pitch_gain * (0.5 - np.asarray(altitude, dtype=np.float64)) * 2.0
        else:
            up = self._vertical(d[:, 0], valid[:, 0]) * self._v_up
            down = self._vertical(d[:, -1], valid[:, -1]) * self._v_down
            total = np.maximum(up + down, 1e-9)
            pitch = self.pitch_gain * (up - down) / total
        return yaw, np.clip(pitch, -1.0, 1.0)

    @staticmethod
    def _vertical(row: np.ndarray, valid: np.ndarray) -> np.ndarray:
        """Median over columns of the valid readings of one row (1 when none is valid)."""
        masked = np.where(valid, row, np.nan)
        out = np.full(len(row), 1.0)
        some = valid.any(axis=1)
        if some.any():
            out[some] = np.nanmedian(masked[some], axis=1)
        return out

    def act(
        self,
        depth: np.ndarray,
        altitude: np.ndarray | None = None,
        commit: np.ndarray | None = None,
    ) -> np.ndarray:
        """Actions for depth images ``[B, rows, cols]``: ``int64 [B]`` (discrete) or
        ``float32 [B, 2]`` (continuous); arguments as :meth:`angles`."""
        yaw, pitch = self.angles(depth, altitude, commit)
        if self.config.continuous_actions:
            return np.stack([yaw, pitch], axis=1).astype(np.float32)
        return discrete_action(yaw, pitch)

    def act_observations(self, obs: np.ndarray, commit: np.ndarray | None = None) -> np.ndarray:
        """Actions for flat depth observations ``[B, obs_dim]`` (``obs_type="depth"``); ``commit``
        as in :meth:`angles`."""
        cfg = self.config
        if cfg.obs_type != "depth":
            raise ValueError(
                "act_observations reads depth observations; with obs_type='image' call "
                "act(env.last_depth[...]) instead"
            )
        o = np.asarray(obs)
        cam = cfg.camera
        depth = o[:, : cfg.image_dim].reshape(-1, cam.rows, cam.cols)
        alt = None if self._alt_index is None else o[:, self._alt_index]
        return self.act(depth, alt, commit)

    # -- PettingZoo ----------------------------------------------------------------------------
    def __call__(
        self, observations: Mapping[str, Any], infos: Mapping[str, Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Actions of a PettingZoo step, ``{agent: action}``, for the live agents (the env's
        ``agents`` when the policy knows its env, else every agent in ``observations``)."""
        who = list(observations)
        if self.env is not None:
            live = set(self.env.agents)
            who = [a for a in who if a in live]
        if not who:
            return {}
        cfg = self.config
        commit = np.array([self._commit.get(a, 0) for a in who], dtype=np.int8)
        if cfg.obs_type == "image":
            slots = [self.env.possible_agents.index(a) for a in who]
            depth = self.env.last_depth[slots]
            alt = None
            if self._alt_index is not None:
                alt = np.array([float(observations[a][self._alt_index]) for a in who])
            actions = self.act(depth, alt, commit)
        else:
            obs = np.stack([np.asarray(observations[a]) for a in who])
            actions = self.act_observations(obs, commit)
        self._commit.update((a, int(c)) for a, c in zip(who, commit, strict=True))
        if cfg.continuous_actions:
            return {a: actions[j] for j, a in enumerate(who)}
        return {a: int(actions[j]) for j, a in enumerate(who)}
