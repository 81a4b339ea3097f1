"""Videos of any ParallelEnv with ``rgb_array`` rendering: :class:`RecordEpisodes` and
:func:`record_parallel_env`.

GIFs need ``imageio`` and ``pillow`` (``pip install "mt-envs[render]"``); MP4 files need
``imageio-ffmpeg`` as well. Files are written atomically (a temporary file in the destination
folder, then a rename), so a reader never sees half a video.

Example::

    from mpe2 import simple_spread_v3
    from wrappers import record_parallel_env

    env = simple_spread_v3.parallel_env(render_mode="rgb_array", max_cycles=25)
    path, episodes = record_parallel_env(env, "spread.gif", episodes=2, seed=0)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from pettingzoo import ParallelEnv

from mt_envs.play import Policy, RandomPolicy, run_episodes
from mt_envs.recording import save_gif
from mt_envs.utils import check_seed
from wrappers.base import BaseWrapper

__all__ = ["FORMATS", "RecordEpisodes", "pad_frames", "record_parallel_env", "save_video"]

#: File formats :func:`save_video` writes.
FORMATS = ("gif", "mp4")
#: Extra copies of an episode's last frame, so its end stays on screen.
HOLD_FRAMES = 3


def _check_rgb_array(env: Any, who: str) -> None:
    mode = getattr(env, "render_mode", None)
    if mode != "rgb_array":
        raise ValueError(
            f"{who} needs an env built with render_mode='rgb_array' (this one has "
            f"render_mode={mode!r}); for example module.parallel_env(render_mode='rgb_array')"
        )


def _frame(env: Any) -> np.ndarray:
    frame = np.asarray(env.render())
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"render() returned shape {frame.shape}: expected an [H, W, 3] image")
    return frame.astype(np.uint8, copy=False)


def pad_frames(frames: Sequence[np.ndarray], multiple: int = 1) -> list[np.ndarray]:
    """Frames of different sizes centred on black canvases of one size.

    Slots of a multi-task env may render at different sizes; a video needs one.

    Args:
        frames: ``uint8 [H, W, 3]`` images.
        multiple: Round the canvas up to a multiple of this (2 for H.264 video).

    Returns:
        The frames, all of the largest height and width (rounded up); frames that already have
        that size are returned as they are.
    """
    if not frames:
        return []
    h = max(f.shape[0] for f in frames)
    w = max(f.shape[1] for f in frames)
    h, w = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    out = []
    for f in frames:
        if f.shape[:2] == (h, w):
            out.append(f)
            continue
        canvas = np.zeros((h, w, 3), dtype=np.uint8)
        y, x = (h - f.shape[0]) // 2, (w - f.shape[1]) // 2
        canvas[y : y + f.shape[0], x : x + f.shape[1]] = f
        out.append(canvas)
    return out


def save_video(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: float = 5) -> Path:
    """Write frames as a GIF or an MP4 (chosen by the file suffix), atomically.

    Frames of different sizes are centred on one canvas (:func:`pad_frames`).

    Args:
        frames: ``uint8 [H, W, 3]`` images.
        path: Destination ending in ``.gif`` or ``.mp4``.
        fps: Frames per second (> 0).

    Returns:
        The path written.

    Raises:
        ValueError: For an unknown suffix, no frames or a bad ``fps``.
        ImportError: When the writer's package is missing (imageio and pillow for GIF,
            imageio-ffmpeg for MP4).
    """
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(
            f"cannot tell the video format of {str(path)!r}: use a name ending in "
            f"{' or '.join('.' + f for f in FORMATS)}"
        )
    if not frames:
        raise ValueError("no frames to save: record at least one step")
    if suffix == "gif":
        return save_gif(pad_frames(frames), path, fps=fps)
    if not fps > 0:
        raise ValueError(f"fps={fps!r} is invalid: need a number > 0")
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401  (imageio's MP4 writer)
    except ImportError as exc:
        raise ImportError(
            'MP4 output needs imageio-ffmpeg: pip install imageio-ffmpeg (or save a ".gif")'
        ) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp.mp4"
    try:
        # H.264 with yuv420p needs even sides; padding ourselves avoids imageio's resize.
        padded: list[Any] = pad_frames(frames, multiple=2)
        imageio.mimwrite(
            tmp,
            padded,
            fps=fps,
            macro_block_size=1,
            format="FFMPEG",
        )
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _check_fps(fps: Any) -> float:
    """``fps`` as a float > 0, or a ``ValueError`` naming it."""
    if isinstance(fps, (bool, np.bool_)) or not isinstance(
        fps, (int, float, np.integer, np.floating)
    ):
        raise ValueError(f"fps={fps!r} is invalid: need a number > 0")
    rate = float(fps)
    if not rate > 0 or not np.isfinite(rate):
        raise ValueError(f"fps={fps!r} is invalid: need a finite number > 0")
    return rate


class RecordEpisodes(BaseWrapper):
    """Save episodes of a ParallelEnv with ``rgb_array`` rendering as GIF or MP4 files.

    Each recorded episode becomes ``folder/{name_prefix}-{index:05d}.{format}``: its reset
    frame, one frame per step and :data:`HOLD_FRAMES` copies of its last frame. Episodes are
    counted from 0 at each ``reset``; an episode cut short by ``reset`` or ``close`` is saved as it
    is. The paths written are listed in :attr:`saved`.

    Args:
        env: A ParallelEnv built with ``render_mode="rgb_array"``.
        folder: Where the files go (created when missing).
        episode_trigger: ``episode_index -> bool``, which episodes to record (default all).
        name_prefix: Start of each file name.
        fps: Frames per second (default ``metadata["render_fps"]``, else 5).
        video_format: ``"gif"`` or ``"mp4"``.

    Raises:
        ValueError: For an env without ``rgb_array`` rendering, an unknown format, a bad ``fps``
            or an empty ``name_prefix``.
        TypeError: For a ``folder`` that is not a path or an ``episode_trigger`` that is not
            callable.
    """

    def __init__(
        self,
        env: ParallelEnv,
        folder: str | os.PathLike[str],
        *,
        episode_trigger: Callable[[int], bool] | None = None,
        name_prefix: str = "episode",
        fps: float | None = None,
        video_format: str = "gif",
    ) -> None:
        super().__init__(env)
        _check_rgb_array(env, "RecordEpisodes")
        if video_format not in FORMATS:
            raise ValueError(f"video_format={video_format!r} is invalid: use one of {FORMATS}")
        if not isinstance(folder, (str, os.PathLike)):
            raise TypeError(f"folder={folder!r} is invalid: need a str or path")
        if episode_trigger is not None and not callable(episode_trigger):
            raise TypeError(
                f"episode_trigger={episode_trigger!r} is invalid: need None or a callable "
                "episode_index -> bool"
            )
        if not isinstance(name_prefix, str) or not name_prefix:
            raise ValueError(f"name_prefix={name_prefix!r} is invalid: need a non-empty str")
        self.folder = Path(folder)
        self.episode_trigger = episode_trigger
        self.name_prefix = name_prefix
        self.fps = _check_fps(fps if fps is not None else self.metadata.get("render_fps", 5) or 5)
        self.video_format = video_format
        #: Paths of the files written so far.
        self.saved: list[Path] = []
        self.episode = -1
        self._frames: list[np.ndarray] | None = None

    def _flush(self) -> None:
        if self._frames:
            path = self.folder / f"{self.name_prefix}-{self.episode:05d}.{self.video_format}"
            self.saved.append(save_video(self._frames, path, fps=self.fps))
        self._frames = None

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Reset the inner env and start recording the episode if the trigger says so."""
        self._flush()
        out = self.env.reset(seed=seed, options=options)
        self.agents = self.env.agents
        self.episode += 1
        if self.episode_trigger is None or self.episode_trigger(self.episode):
            self._frames = [_frame(self.env)]
        return out

    def step(
        self, actions: dict[str, Any]
    ) -> tuple[
        dict[str, Any],
        dict[str, float],
        dict[str, bool],
        dict[str, bool],
        dict[str, dict[str, Any]],
    ]:
        """Step the inner env and record the frame; save the file when the episode ends."""
        out = self.env.step(actions)
        self.agents = self.env.agents
        if self._frames is not None:
            frame = _frame(self.env)
            self._frames.append(frame)
            if not self.agents:
                self._frames.extend([frame] * HOLD_FRAMES)
                self._flush()
        return out

    def close(self) -> None:
        """Save an unfinished recording and close the inner env."""
        self._flush()
        self.env.close()


def record_parallel_env(
    env: ParallelEnv,
    path: str | os.PathLike[str],
    policy: Policy | None = None,
    *,
    episodes: int = 1,
    seed: int | None = 0,
    task: Any = None,
    fps: float | None = None,
) -> tuple[Path, list[dict[str, Any]]]:
    """Play episodes of any ParallelEnv with ``rgb_array`` rendering into one GIF or MP4.

    Args:
        env: A ParallelEnv built with ``render_mode="rgb_array"``.
        path: Destination ending in ``.gif`` or ``.mp4``.
        policy: ``(observations, infos) -> actions`` (default: seeded random legal actions,
            :class:`mt_envs.play.RandomPolicy`).
        episodes: Number of episodes (>= 1).
        seed: Seed of the first reset and of the default policy.
        task: ``reset(options={"task": task})`` for every episode (``None``: the env chooses).
        fps: Frames per second (default ``metadata["render_fps"]``, else 5).

    Returns:
        ``(path, episodes)``: the file written and the :func:`mt_envs.play.run_episodes` row of
        each episode (return, length, task).

    Raises:
        ValueError: For an env without ``rgb_array`` rendering, ``episodes`` not an int >= 1, an
            unknown suffix, a bad ``fps`` or a negative ``seed``.
        TypeError: For a ``path`` that is not a path, a ``policy`` that is not callable or a
            ``seed`` that is not an int.
        ImportError: When the writer's package is missing.
    """
    _check_rgb_array(env, "record_parallel_env")
    if isinstance(episodes, bool) or not isinstance(episodes, (int, np.integer)) or episodes < 1:
        raise ValueError(f"episodes={episodes!r} is invalid: record at least 1 (an int)")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path={path!r} is invalid: need a str or path ending in .gif or .mp4")
    if policy is not None and not callable(policy):
        raise TypeError(
            f"policy={policy!r} is invalid: need None or a callable (observations, infos) -> "
            "actions"
        )
    seed = check_seed(seed)
    if fps is not None:
        fps = _check_fps(fps)
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(
            f"cannot tell the video format of {str(path)!r}: use a name ending in .gif or .mp4"
        )
    if policy is None:
        policy = RandomPolicy(env, seed=seed)
    frames: list[np.ndarray] = []

    def on_step(_env: Any, _episode: int, done: bool) -> None:
        frame = _frame(env)
        frames.append(frame)
        if done:
            frames.extend([frame] * HOLD_FRAMES)

    rows = run_episodes(env, policy, episodes, seed=seed, task=task, on_step=on_step)
    meta = getattr(env, "metadata", None) or {}
    rate = float(fps if fps is not None else meta.get("render_fps", 5) or 5)
    return save_video(frames, path, fps=rate), rows
