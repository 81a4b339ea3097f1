"""Recording episodes as frames and GIFs (needs ``pip install "mt-envs[render]"``).

Example::

    from mt_envs import mamt_v0
    from mt_envs.capture import GreedyPolicy
    from mt_envs.recording import record_episodes, save_gif

    env = mamt_v0.parallel_env(render_mode="rgb_array")
    frames, stats = record_episodes(env, GreedyPolicy.for_env(env), episodes=2, seed=0, task=3)
    save_gif(frames, "mamt_6x6.gif", fps=5)
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mt_envs.play import Policy, run_episodes

_EXTRA_HINT = 'pip install "mt-envs[render]"'
#: Extra copies of an episode's last frame, so its capture (or time-out) stays on screen.
HOLD_FRAMES = 3


def save_gif(frames: Sequence[np.ndarray], path: str | os.PathLike[str], fps: float = 5) -> Path:
    """Write ``frames`` as a looping GIF, atomically.

    The GIF is written to a temporary file in the destination folder and moved into place, so a
    reader never sees a half-written file. Identical consecutive frames are merged by the GIF
    encoder into one longer frame.

    Args:
        frames: ``uint8 [H, W, 3]`` images, all of one size.
        path: Destination file (its folder is created if missing).
        fps: Frames per second.

    Returns:
        The path written.

    Raises:
        ValueError: For no frames, frames of different shapes or a non-positive ``fps``.
        ImportError: When imageio (or pillow) is not installed.
    """
    if not frames:
        raise ValueError("save_gif got no frames: record at least one step")
    if not fps > 0:
        raise ValueError(f"fps={fps!r} is invalid: need a number > 0")
    shape = np.shape(frames[0])
    if len(shape) != 3 or shape[2] != 3:
        raise ValueError(f"frames must be uint8 [H, W, 3] images, got shape {shape}")
    for k, f in enumerate(frames):
        if np.shape(f) != shape:
            raise ValueError(
                f"frame {k} has shape {np.shape(f)}, frame 0 has {shape}: a GIF needs one size"
            )
    try:
        import imageio.v3 as iio
        import PIL  # noqa: F401  (imageio's GIF writer)
    except ImportError as exc:
        raise ImportError(f"save_gif needs imageio and pillow: {_EXTRA_HINT}") from exc
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    stack = np.stack([np.asarray(f, dtype=np.uint8) for f in frames])
    # A fresh hidden name in the same folder (so os.replace is atomic); not mkstemp, whose 0600
    # mode would survive the rename.
    tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.tmp"
    try:
        iio.imwrite(tmp, stack, extension=".gif", duration=1000.0 / fps, loop=0)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def frame_grabber(env: Any) -> Callable[[], np.ndarray]:
    """A function returning the current ``uint8 [H, W, 3]`` frame of ``env``, whatever its
    ``render_mode``: the env's ``render_rgb()`` where the family has one (tabular and drone
    families), else a private capture renderer (capture envs)."""
    base = getattr(env, "unwrapped", env)
    render_rgb = getattr(base, "render_rgb", None)
    if callable(render_rgb):
        return lambda: np.asarray(render_rgb())
    from mt_envs.capture.rendering import CaptureRenderer

    renderer = CaptureRenderer("rgb_array", int(base.metadata.get("render_fps", 5)))

    def grab() -> np.ndarray:
        frame = renderer.draw(base)
        assert frame is not None  # rgb_array mode always returns a frame
        return frame

    return grab


def record_episodes(
    env: Any,
    policy: Policy,
    episodes: int = 1,
    seed: int | None = 0,
    task: Any = None,
) -> tuple[list[np.ndarray], list[dict[str, Any]]]:
    """Play episodes of a capture ParallelEnv and collect one frame per state.

    Frames come from ``env.render()`` when the env was built with ``render_mode="rgb_array"``;
    for any other mode a private ``rgb_array`` renderer draws the same state, so an env shown in a
    window can be recorded too. Each episode contributes its reset frame, one frame per step and
    :data:`HOLD_FRAMES` copies of its last frame. Episodes are seeded as in
    :func:`mt_envs.play.run_episodes`, so a recording replays the first episodes of a run with the
    same seed and policy.

    Args:
        env: A capture ParallelEnv (``mast_v0`` / ``mamt_v0``).
        policy: ``(observations, infos) -> actions``, with an optional ``reset()``.
        episodes: Number of episodes.
        seed: Seed of the first reset.
        task: Task id (or task) of every episode; ``None`` lets the env's sampler choose.

    Returns:
        ``(frames, episode_stats)``: the ``uint8 [H, W, 3]`` frames and the
        :func:`~mt_envs.play.run_episodes` row of each episode.

    Raises:
        ImportError: When pygame-ce is not installed.
    """
    base = getattr(env, "unwrapped", env)
    if getattr(base, "render_mode", None) == "rgb_array":

        def grab() -> np.ndarray:
            return np.asarray(env.render())

    else:
        grab = frame_grabber(env)

    frames: list[np.ndarray] = []

    def on_step(_env: Any, _episode: int, done: bool) -> None:
        frame = grab()
        frames.append(frame)
        if done:
            frames.extend(frame.copy() for _ in range(HOLD_FRAMES))

    stats = run_episodes(env, policy, episodes, seed=seed, task=task, on_step=on_step)
    return frames, stats
