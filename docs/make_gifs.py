"""Make the GIFs shown in the docs: scripted agents on every task of an env's default task set.

Usage (from the repository root; needs the ``render`` extra)::

    python docs/make_gifs.py                 # every registered env id
    python docs/make_gifs.py mamt_v0         # one id

Each GIF plays one short episode per task of the env's default task set, in task-id order, with the
family's scripted policy (``mt_envs.play.make_policy("scripted", env)``: the greedy chaser for
capture envs, shortest paths for GridWorld, ...; seeded random actions for families without one).
Frames are downscaled, then thinned, until the file is under ``--max-kb`` kilobytes, so the
committed GIFs stay small. The output is ``docs/_static/<env_id>.gif``: the name the env cards use
in their ``.. figure::``.
Seeds are fixed, so a rerun rewrites the same pictures.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

STATIC = Path(__file__).resolve().parent / "_static"
#: (width in pixels, keep every k-th frame) tried in turn until a GIF fits the size limit.
#: Downscaling alone gains little (smoothed edges add colours), so later tries also drop frames.
ATTEMPTS = ((320, 1), (240, 1), (320, 2), (240, 2), (200, 3), (160, 4))


def scripted_policy(env: Any) -> Any:
    """The family's scripted baseline (``env.scripted_policy()``) where it has one, else random."""
    from mt_envs.play import make_policy

    try:
        return make_policy("scripted", env)
    except ValueError:  # no scripted baseline for this family
        return make_policy("random", env, seed=0)


def _resize(frames: Sequence[np.ndarray], width: int) -> list[np.ndarray]:
    from PIL import Image

    out = []
    for frame in frames:
        h, w = frame.shape[:2]
        if w <= width:
            out.append(np.asarray(frame, dtype=np.uint8))
            continue
        size = (width, max(1, round(h * width / w)))
        img = Image.fromarray(np.asarray(frame, dtype=np.uint8))
        out.append(np.asarray(img.resize(size, Image.Resampling.LANCZOS)))
    return out


def _env_kwargs(env_id: str) -> dict[str, Any]:
    """Env keywords of the GIF: the default task set, except for the drone, whose 500-step
    flights are cut to 30 steps on four maps so the GIF stays small."""
    if env_id == "drone_nav_v0":
        from mt_envs.drone import DroneTask

        maps = ("corridor", "pillars", "rooms", "zigzag")
        return {"tasks": [DroneTask(map=m, horizon=30) for m in maps]}
    return {}


def episode_frames(env_id: str) -> list[np.ndarray]:
    """Frames of one episode per task of ``env_id``'s default task set, in task order."""
    import mt_envs
    from mt_envs.recording import record_episodes

    env = mt_envs.make(env_id, render_mode="rgb_array", **_env_kwargs(env_id))
    policy = scripted_policy(env)
    frames: list[np.ndarray] = []
    try:
        if getattr(env.unwrapped, "mode", None) == "team":  # every task in one episode
            frames, _stats = record_episodes(env, policy, episodes=1, seed=0)
        for task_id in range(len(env.task_set) if not frames else 0):
            # record_episodes already holds each episode's last frame for a moment.
            ep, _stats = record_episodes(env, policy, episodes=1, seed=0, task=task_id)
            frames += ep
    finally:
        env.close()
    return frames


def make_gif(env_id: str, out_dir: Path = STATIC, max_kb: int = 300, fps: int = 5) -> Path:
    """Write ``out_dir/<env_id>.gif``, downscaled and thinned until it is under ``max_kb`` KB."""
    from mt_envs.recording import save_gif

    frames = episode_frames(env_id)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{env_id}.gif"
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / path.name
        for width, every in ATTEMPTS:
            save_gif(_resize(frames[::every], width), trial, fps=fps / every)
            if trial.stat().st_size <= max_kb * 1024:
                break
        else:
            raise RuntimeError(
                f"{env_id}: the GIF is still {trial.stat().st_size // 1024} KB at width "
                f"{width} px with every {every}th frame; raise --max-kb or shorten the episodes"
            )
        path.write_bytes(trial.read_bytes())
    return path


def main(argv: Sequence[str] | None = None) -> int:
    import mt_envs

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("env_ids", nargs="*", help="env ids (default: all registered)")
    parser.add_argument("--out", type=Path, default=STATIC, help="output folder")
    parser.add_argument("--max-kb", type=int, default=300, help="size limit of each GIF")
    parser.add_argument("--fps", type=int, default=5, help="frames per second")
    args = parser.parse_args(argv)
    for env_id in args.env_ids or mt_envs.env_ids():
        path = make_gif(env_id, args.out, args.max_kb, args.fps)
        print(f"{path}: {path.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
