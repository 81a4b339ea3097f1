"""Rendering of the drone env: top-down map, drones, camera rays and camera strips."""

from __future__ import annotations

import json
import math
import os
import time

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import numpy as np
import pytest

from mt_envs.drone.env import DroneNavEnv
from mt_envs.drone.raycast import cast_rays
from mt_envs.drone.rendering import (
    CRASH_RED,
    DEPTH_LUT,
    HIT_DOT,
    _depth_lut,
    draw_text,
    drone_colour,
    layout_of,
    level_row,
    ray_endpoints,
    render_frame,
    text_width,
)
from mt_envs.drone.task import DroneTask

ALL_MAPS = ("corridor", "pillars", "rooms", "zigzag", "warehouse")


def _tasks(horizon: int = 500) -> list[DroneTask]:
    return [DroneTask(map=m, horizon=horizon) for m in ALL_MAPS]


def _room(tmp_path) -> str:
    """A closed 30 x 30 m blue-walled room without noise; starts facing east at a green crate."""
    data = {
        "name": "render-room",
        "bounds": [0, 0, 30, 30],
        "ceiling": 3.0,
        "lighting": {"noise_std": 0.0, "dropout": 0.0, "bias": 0.0, "light": 0.8},
        "colors": {"wall": [0.2, 0.4, 0.8], "floor": [0.5, 0.5, 0.5], "ceiling": [0.9, 0.9, 0.9]},
        "boxes": [
            {"name": "south", "xy": [0, 0, 30, 0.2]},
            {"name": "north", "xy": [0, 29.8, 30, 30]},
            {"name": "west", "xy": [0, 0.2, 0.2, 29.8]},
            {"name": "east", "xy": [29.8, 0.2, 30, 29.8]},
            {"name": "crate 1", "xy": [12, 9, 13, 11], "color": [0.3, 0.7, 0.3]},
            {"name": "crate 2", "xy": [12, 19, 13, 21], "color": [0.3, 0.7, 0.3]},
        ],
        "starts": [[5, 10, 1.5, 0], [5, 20, 1.5, 0]],
    }
    path = tmp_path / "render-room.json"
    path.write_text(json.dumps(data))
    return str(path)


def _exact(path: str, horizon: int = 50) -> DroneTask:
    return DroneTask(
        map=path, horizon=horizon, angle_noise_deg=0.0, start_jitter=0.0, yaw_jitter_deg=0.0
    )


# -- shape, size, differences --------------------------------------------------------------------
def test_frames_have_a_fixed_size_and_dtype() -> None:
    env = DroneNavEnv(_tasks(), n_drones=2, render_mode="rgb_array")
    layout = layout_of(env)
    policy = env.scripted_policy()
    shapes = set()
    for task in range(len(ALL_MAPS)):
        obs, infos = env.reset(seed=task, options={"task": task})
        for _ in range(3):
            frame = env.render()
            assert isinstance(frame, np.ndarray)
            assert frame.dtype == np.uint8
            shapes.add(frame.shape)
            obs, _, _, _, infos = env.step(policy(obs, infos))
    assert shapes == {(layout.height, layout.width, 3)}


def test_frames_differ_between_maps_and_poses() -> None:
    env = DroneNavEnv(_tasks(), render_mode="rgb_array")
    first = []
    for task in range(len(ALL_MAPS)):
        env.reset(seed=0, options={"task": task})
        first.append(env.render())
    for i in range(len(first)):
        for j in range(i):
            assert not np.array_equal(first[i], first[j]), (ALL_MAPS[i], ALL_MAPS[j])
    env.reset(seed=0, options={"task": 1})
    before = env.render()
    env.step({"drone_0": 12})
    after = env.render()
    assert not np.array_equal(before, after)
    env.reset(seed=5, options={"task": 1})  # another start pose
    assert not np.array_equal(before, env.render())


def test_same_run_gives_same_frames() -> None:
    frames = []
    for _ in range(2):
        env = DroneNavEnv(_tasks(40), n_drones=2, render_mode="rgb_array")
        policy = env.scripted_policy()
        obs, infos = env.reset(seed=7, options={"task": 2})
        run = [env.render()]
        while env.agents:
            obs, _, _, _, infos = env.step(policy(obs, infos))
            run.append(env.render())
        frames.append(run)
    assert len(frames[0]) == len(frames[1])
    assert all(np.array_equal(a, b) for a, b in zip(*frames, strict=True))


def test_team_mode_draws_one_panel_per_map() -> None:
    env = DroneNavEnv(_tasks(), mode="team", render_mode="rgb_array")
    layout = layout_of(env)
    assert layout.n_panels == len(ALL_MAPS)
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (layout.height, layout.width, 3)
    # Every panel's depth image shows its own drone's camera.
    for p in range(layout.n_panels):
        y, x = layout.cell_origin(p, 0)
        shown = frame[y : y + layout.cam_h : layout.cam_ky, x : x + layout.cam_w : layout.cam_kx]
        expected = DEPTH_LUT[np.clip(np.rint(env.last_depth[p] * 255), 0, 255).astype(int)]
        assert np.array_equal(shown, expected)


# -- rays ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(("task", "seed"), [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)])
def test_rays_end_at_their_hit_points(task: int, seed: int) -> None:
    env = DroneNavEnv(_tasks(), render_mode="rgb_array")
    policy = env.scripted_policy()
    obs, infos = env.reset(seed=seed, options={"task": task})
    for _ in range(5):
        obs, _, _, _, infos = env.step(policy(obs, infos))
    assert env.agents
    world = env.worlds[task]
    cam = env.camera
    row = level_row(cam)
    assert abs(cam.pitches[row]) == pytest.approx(math.radians(45.0 / 16))
    # Reference: the general ray caster on the same rays.
    pos = env.positions[0]
    dirs = env.ray_directions(0)[row]
    dist, ids = cast_rays(world, pos, dirs, cam.max_range)
    xy, hit = ray_endpoints(env, 0)
    assert np.allclose(xy, pos[:2] + dist[:, None] * dirs[:, :2], atol=1e-9)
    assert np.array_equal(hit, ids != world.n_obstacles + 3)
    # In the frame, each hit point carries the dark dot; the middle of each ray is drawn.
    frame = env.render()
    layout = layout_of(env)
    ey, ex = layout.to_pixels(0, world, xy)
    cy, cx = layout.to_pixels(0, world, pos[:2])
    far = np.hypot(ey - cy, ex - cx) > 10
    assert np.all(
        frame[np.floor(ey[hit & far]).astype(int), np.floor(ex[hit & far]).astype(int)] == HIT_DOT
    )
    my, mx = (ey + cy) / 2, (ex + cx) / 2
    mid = frame[np.floor(my[far]).astype(int), np.floor(mx[far]).astype(int)]
    pale = np.array(drone_colour(0)) * 0.45 + 255 * 0.55
    close = np.abs(mid.astype(float) - pale).max(axis=1) <= 1
    assert close.mean() >= 0.9


def test_no_rays_of_a_crashed_drone_and_crash_is_marked(tmp_path) -> None:
    env = DroneNavEnv([_exact(_room(tmp_path))], render_mode="rgb_array")
    env.reset(seed=0)
    frame = env.render()
    assert not np.any(np.all(frame == CRASH_RED, axis=-1))
    steps = 0
    while env.agents:
        env.step({"drone_0": 22})  # dive into the floor
        steps += 1
    assert env.crashed[0] and steps == 11
    frame = env.render()
    red = np.argwhere(np.all(frame == CRASH_RED, axis=-1))
    assert len(red) > 0
    layout = layout_of(env)
    world = env.worlds[0]
    cy, cx = layout.to_pixels(0, world, env.positions[0, :2])
    near = np.hypot(red[:, 0] + 0.5 - cy, red[:, 1] + 0.5 - cx) <= 13
    y0, x0 = layout.cell_origin(0, 0)
    in_cell_box = (
        (red[:, 0] >= y0 - 1)
        & (red[:, 0] <= y0 + layout.cam_h)
        & (red[:, 1] >= x0 - 1)
        & (red[:, 1] <= x0 + layout.cell_w)
    )
    label = (red[:, 0] >= y0 - 14) & (red[:, 0] < y0)
    assert np.all(near | in_cell_box | label)
    assert near.sum() > 10 and in_cell_box.sum() > 2 * layout.cam_h and label.sum() > 0
    # The crashed drone draws no rays: no hit dots anywhere on the map.
    assert not np.any(np.all(frame[: y0 - 14] == HIT_DOT, axis=-1))


# -- camera strip --------------------------------------------------------------------------------
def test_depth_strip_shows_each_drone_camera() -> None:
    env = DroneNavEnv(_tasks(), n_drones=3, render_mode="rgb_array")
    env.reset(seed=2, options={"task": 2})
    env.step(dict.fromkeys(env.agents, 12))
    frame = env.render()
    layout = layout_of(env)
    depth = env.last_depth
    for j in range(3):
        y, x = layout.cell_origin(0, j)
        block = frame[y : y + layout.cam_h, x : x + layout.cam_w]
        idx = np.clip(np.rint(depth[j] * 255), 0, 255).astype(int)
        expected = np.repeat(np.repeat(DEPTH_LUT[idx], layout.cam_ky, 0), layout.cam_kx, 1)
        assert np.array_equal(block, expected)


def test_image_strip_matches_the_noise_free_image_observation(tmp_path) -> None:
    env = DroneNavEnv([_exact(_room(tmp_path))], obs_type="image", render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    frame = env.render()
    layout = layout_of(env)
    assert layout.images == 2
    cam = env.camera
    y, x = layout.cell_origin(0, 0)
    x2 = x + layout.cam_w + 4
    shown = frame[y : y + layout.cam_h : layout.cam_ky, x2 : x2 + layout.cam_w : layout.cam_kx]
    expected = np.rint(obs["drone_0"].reshape(cam.rows, cam.cols, 3) * 255)
    assert np.abs(shown.astype(float) - expected).max() <= 1
    # A crate (green) is in view: the shaded image has green pixels, darkened by light 0.8.
    assert (shown[..., 1] > shown[..., 0] + 20).any()


def test_depth_colours_run_from_bright_near_to_dark_far() -> None:
    lut = _depth_lut()
    luma = lut @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(luma) <= 1e-9)
    assert luma[0] > 200 > 40 > luma[-1]


# -- text, timing, modes, GIF --------------------------------------------------------------------
def test_text_is_drawn_with_the_bitmap_font() -> None:
    frame = np.zeros((7, 20, 3), dtype=np.uint8)
    w = draw_text(frame, 1, 1, "1.", (255, 255, 255), px=1)
    assert w == text_width("1.", 1) == 7
    on = frame[..., 0] > 0
    one = np.array([[0, 1, 0], [1, 1, 0], [0, 1, 0], [0, 1, 0], [1, 1, 1]], dtype=bool)
    assert np.array_equal(on[1:6, 1:4], one)
    assert on[5, 6] and on[1:5, 5:8].sum() == 0


def test_frames_are_fast_enough_for_gifs() -> None:
    env = DroneNavEnv(_tasks(), n_drones=4, obs_type="image", render_mode="rgb_array")
    policy = env.scripted_policy()
    obs, infos = env.reset(seed=0, options={"task": 1})
    for _ in range(10):
        obs, _, _, _, infos = env.step(policy(obs, infos))
    render_frame(env)
    start = time.perf_counter()
    for _ in range(20):
        render_frame(env)
    per_frame = (time.perf_counter() - start) / 20
    assert per_frame < 0.04  # about 4 ms on a laptop core; the bound leaves room for CI load


def test_render_before_reset_and_human_mode() -> None:
    env = DroneNavEnv(_tasks(), render_mode="rgb_array")
    frame = env.render()  # before reset: drones at their zero state, no crash
    assert frame.shape == (layout_of(env).height, layout_of(env).width, 3)
    pytest.importorskip("pygame")
    human = DroneNavEnv(_tasks(20), render_mode="human")
    human.reset(seed=0)
    assert human.render() is None
    human.step({"drone_0": 12})
    human.close()


def test_episode_records_to_a_gif(tmp_path) -> None:
    pytest.importorskip("imageio")
    pytest.importorskip("PIL")
    from mt_envs.recording import record_episodes, save_gif

    env = DroneNavEnv(_tasks(12), render_mode="rgb_array")
    frames, stats = record_episodes(env, env.scripted_policy(), episodes=1, seed=0, task=3)
    assert stats[0]["length"] == 12
    assert len(frames) == 1 + 12 + 3
    path = save_gif(frames, tmp_path / "drone.gif", fps=10)
    import imageio.v3 as iio

    back = iio.imread(path, index=None)
    assert back.shape[1:3] == frames[0].shape[:2]
