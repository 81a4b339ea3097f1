"""The scripted drone baseline (DeepestColumnPolicy) and the mean-safe-flight evaluation helpers."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from mt_envs.drone.core import ACTION_TABLE, STRAIGHT
from mt_envs.drone.env import DroneNavEnv
from mt_envs.drone.evaluate import (
    compare_msf,
    evaluate_msf,
    format_msf_table,
    run_msf_episodes,
    summarize_msf,
)
from mt_envs.drone.policy import DeepestColumnPolicy, discrete_action
from mt_envs.drone.raycast import Camera
from mt_envs.drone.task import DroneTask
from mt_envs.play import RandomPolicy, make_policy

ALL_MAPS = ("corridor", "pillars", "rooms", "zigzag", "warehouse")
#: Pitch of the lowest row of the action grid (2/5 of the 45 degree vertical field of view).
PITCH_MAX = math.radians(18.0)


def _room(tmp_path) -> str:
    """A closed 30 x 30 m room without noise: two starts facing east, 10 m apart."""
    data = {
        "name": "test-room",
        "bounds": [0, 0, 30, 30],
        "floor": 0.0,
        "ceiling": 3.0,
        "lighting": {"noise_std": 0.0, "dropout": 0.0, "bias": 0.0, "light": 1.0},
        "colors": {"wall": [0.2, 0.4, 0.8], "floor": [0.5, 0.5, 0.5], "ceiling": [0.9, 0.9, 0.9]},
        "boxes": [
            {"name": "south", "xy": [0, 0, 30, 0.2]},
            {"name": "north", "xy": [0, 29.8, 30, 30]},
            {"name": "west", "xy": [0, 0.2, 0.2, 29.8]},
            {"name": "east", "xy": [29.8, 0.2, 30, 29.8]},
        ],
        "starts": [[5, 10, 1.5, 0], [5, 20, 1.5, 0]],
    }
    path = tmp_path / "test-room.json"
    path.write_text(json.dumps(data))
    return str(path)


def _exact(path: str, horizon: int) -> DroneTask:
    """A task on the test room without any randomness in the flight."""
    return DroneTask(
        map=path, horizon=horizon, angle_noise_deg=0.0, start_jitter=0.0, yaw_jitter_deg=0.0
    )


# -- actions -------------------------------------------------------------------------------------
def test_discrete_action_inverts_the_action_table() -> None:
    for a in range(25):
        yaw, pitch = ACTION_TABLE[a]
        assert discrete_action(np.array(yaw), np.array(pitch)) == a
    assert discrete_action(np.array(0.0), np.array(0.0)) == STRAIGHT
    # Rounding to the nearest grid point, clipping beyond it.
    assert discrete_action(np.array(0.3), np.array(-0.2)) == discrete_action(
        np.array(0.5), np.array(0.0)
    )
    assert discrete_action(np.array(7.0), np.array(-7.0)) == 20  # hard left, hard down


# -- steering on hand-built depth images ----------------------------------------------------------
def _policy(**kwargs) -> DeepestColumnPolicy:
    env = DroneNavEnv([DroneTask(map="pillars")], **kwargs)
    return DeepestColumnPolicy(env.config)


def _wall_depth(distance: float, cam: Camera) -> np.ndarray:
    """The clean depth image of a wall perpendicular to the heading at ``distance`` metres,
    with floor and ceiling out of range."""
    d = cam.directions(0.0)
    t = distance / d[..., 0]
    return np.minimum(t / cam.max_range, 1.0)[None]


def test_clearance_ahead_of_a_perpendicular_wall_is_its_distance() -> None:
    policy = _policy()
    cam = policy.config.camera
    for dist in (1.5, 2.5, 6.0):
        clear = policy.clearance(_wall_depth(dist, cam))
        # Every hit point of a perpendicular wall is exactly `dist` ahead along the heading.
        assert clear[0, policy._straight] == pytest.approx(dist, abs=1e-9)
        # A turned bearing b meets the wall at dist / cos(b) on its centre line; its body edge
        # (half_width to the side) at (dist - half_width sin|b|) / cos(b); the rays sample the
        # wall in between.
        yaw = policy._bearing_yaw * policy.config.yaw_max
        for j, b in enumerate(yaw):
            lo = (dist - policy.half_width * abs(math.sin(b))) / math.cos(b)
            assert lo - 1e-9 <= clear[0, j] <= dist / math.cos(b) + 1e-9
        assert np.allclose(clear[0], clear[0, ::-1])


def test_goes_straight_when_clear_and_turns_to_the_open_side() -> None:
    policy = _policy()
    cam = policy.config.camera
    far = np.ones((1, cam.rows, cam.cols))
    yaw, _ = policy.angles(far)
    assert yaw[0] == 0.0
    assert policy.act(far)[0] == STRAIGHT
    # A wall 2.5 m ahead on the right half, open on the left: turn left (positive yaw).
    img = _wall_depth(2.5, cam)
    img[..., : cam.cols // 2] = 1.0
    yaw, _ = policy.angles(img)
    assert yaw[0] > 0
    mirrored = img[..., ::-1].copy()
    yaw_m, _ = policy.angles(mirrored)
    assert yaw_m[0] == -yaw[0]


def test_dropped_rays_are_ignored() -> None:
    policy = _policy()
    cam = policy.config.camera
    img = np.ones((1, cam.rows, cam.cols))
    rng = np.random.default_rng(0)
    img[rng.random(img.shape) < 0.2] = 0.0  # dropout reads 0
    assert policy.act(img)[0] == STRAIGHT


def test_dead_end_turn_is_kept_until_clear() -> None:
    policy = _policy()
    cam = policy.config.camera
    near = _wall_depth(1.0, cam)
    left_roomier = near.copy()
    left_roomier[..., :4] = 0.15  # the wall reaches out of the view on the left: farther
    right_roomier = left_roomier[..., ::-1].copy()
    commit = np.zeros(1, dtype=np.int8)
    yaw, _ = policy.angles(left_roomier, commit=commit)
    assert yaw[0] == 1.0
    assert commit[0] == 1
    yaw, _ = policy.angles(right_roomier, commit=commit)  # still stuck: keep turning left
    assert yaw[0] == 1.0
    yaw, _ = policy.angles(right_roomier)  # without memory it would turn right
    assert yaw[0] == -1.0
    policy.angles(np.ones_like(near), commit=commit)  # clear again: memory dropped
    assert commit[0] == 0


def test_pitch_holds_mid_height() -> None:
    policy = _policy()
    cam = policy.config.camera
    img = np.ones((2, cam.rows, cam.cols))
    # Drone 0 close to the floor (bottom row short), drone 1 close to the ceiling.
    img[0, -1] = 0.1
    img[1, 0] = 0.1
    _, pitch = policy.angles(img)
    assert pitch[0] > 0 > pitch[1]
    assert pitch[0] == pytest.approx(-pitch[1])
    level = np.ones((1, cam.rows, cam.cols))
    assert policy.angles(level)[1][0] == pytest.approx(0.0, abs=1e-12)
    assert policy.act(level)[0] == STRAIGHT
    alt = _policy(extras=("altitude",))
    _, p = alt.angles(level, altitude=np.array([0.2, 0.5, 0.8]))
    assert p[0] > 0 and p[1] == 0.0 and p[2] < 0


def test_continuous_actions_lie_in_the_box() -> None:
    env = DroneNavEnv([DroneTask(map="rooms", horizon=30)], continuous_actions=True)
    policy = env.scripted_policy()
    obs, infos = env.reset(seed=0)
    while env.agents:
        actions = policy(obs, infos)
        for a in actions.values():
            assert a.shape == (2,) and a.dtype == np.float32
            assert env.action_space("drone_0").contains(a)
        obs, _, _, _, infos = env.step(actions)


def test_bad_parameters_are_refused() -> None:
    cfg = DroneNavEnv([DroneTask(map="rooms")]).config
    with pytest.raises(ValueError, match="half_width"):
        DeepestColumnPolicy(cfg, half_width=-1.0)
    with pytest.raises(ValueError, match="pitch_gain"):
        DeepestColumnPolicy(cfg, pitch_gain=float("nan"))
    img_cfg = DroneNavEnv([DroneTask(map="rooms")], obs_type="image").config
    with pytest.raises(ValueError, match="for_env"):
        DeepestColumnPolicy(img_cfg)


# -- env integration -----------------------------------------------------------------------------
def test_scripted_policy_is_the_env_baseline_and_acts_for_live_drones_only() -> None:
    env = DroneNavEnv([DroneTask(map="zigzag", horizon=60)], n_drones=3)
    policy = make_policy("scripted", env)
    assert isinstance(policy, DeepestColumnPolicy)
    obs, infos = env.reset(seed=4)
    policy.reset()
    while env.agents:
        actions = policy(obs, infos)
        assert set(actions) == set(env.agents)
        obs, _, _, _, infos = env.step(actions)
    # Random actions crash drones quickly; here the observations also hold finished drones.
    env2 = DroneNavEnv([DroneTask(map="zigzag", horizon=60)], n_drones=3)
    rnd = RandomPolicy(env2, seed=0)
    obs, infos = env2.reset(seed=4)
    pol2 = env2.scripted_policy()
    while env2.agents:
        acts = rnd(obs, infos)
        live = {a: acts[a] for a in env2.agents}
        obs, _, _, _, infos = env2.step(live)
        if env2.agents:
            assert set(pol2(obs, infos)) == set(env2.agents)


def test_image_observations_use_the_env_depth() -> None:
    env = DroneNavEnv([DroneTask(map="rooms", horizon=20)], obs_type="image", n_drones=2)
    policy = env.scripted_policy()
    ref = DeepestColumnPolicy(env.config, env=env)
    obs, infos = env.reset(seed=1)
    while env.agents:
        actions = policy(obs, infos)
        slots = [env.possible_agents.index(a) for a in env.agents]
        expected = ref.act(env.last_depth[slots])
        assert [actions[a] for a in env.agents] == expected.tolist()
        obs, _, _, _, infos = env.step(actions)


def test_baseline_flies_farther_than_random_on_every_map() -> None:
    tasks = [DroneTask(map=m, horizon=80) for m in ALL_MAPS]
    env = DroneNavEnv(tasks)
    scripted = run_msf_episodes(env, env.scripted_policy(), 8, seed=0)
    random = run_msf_episodes(env, RandomPolicy(env, seed=0), 8, seed=0)
    for k, name in enumerate(ALL_MAPS):
        a = np.array([r["safe_flight"] for r in scripted if r["task_id"] == k])
        b = np.array([r["safe_flight"] for r in random if r["task_id"] == k])
        assert len(a) == len(b) == 8
        # Welch's t statistic of the difference, with a floor on the spread (over seeds 0-3
        # the smallest is above 4).
        se = math.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b) + 1e-2)
        t = (a.mean() - b.mean()) / se
        assert t > 3.0, (name, a, b)


# -- evaluate_msf accounting ---------------------------------------------------------------------
class _ByTask:
    """Dive to the floor in task 0, fly straight in task 1 (actions from infos)."""

    def __call__(self, observations, infos):
        return {a: 22 if infos[a]["task_id"] == 0 else STRAIGHT for a in observations}


def _manual(env: DroneNavEnv, task: int, seed: int | None) -> list[tuple[float, bool, float, int]]:
    """(safe flight, crashed, return, length) per drone of one episode, by hand."""
    obs, infos = env.reset(seed=seed, options={"task": task})
    ret = dict.fromkeys(env.agents, 0.0)
    length = dict.fromkeys(env.agents, 0)
    out = {}
    policy = _ByTask()
    while env.agents:
        live = list(env.agents)
        obs, rew, term, trunc, infos = env.step(policy({a: obs[a] for a in live}, infos))
        for a in live:
            ret[a] += rew[a]
            length[a] += 1
            if term[a] or trunc[a]:
                out[a] = (infos[a]["safe_flight"], infos[a]["crashed"], ret[a], length[a])
    return [out[a] for a in sorted(out)]


def test_evaluate_msf_on_a_hand_checked_run(tmp_path) -> None:
    path = _room(tmp_path)
    env = DroneNavEnv([_exact(path, 50), _exact(path, 5)])
    rows = evaluate_msf(env, _ByTask(), episodes=3, seed=0)
    assert [r["task_id"] for r in rows] == [0, 1]
    dive, level = rows
    # Diving at the grid's largest pitch from 1.5 m: the body (radius 0.2 m) touches the floor
    # after 1.3 / tan(18 deg) metres flown horizontally, in the 11th step.
    assert dive["msf"] == pytest.approx(1.3 / math.tan(PITCH_MAX), abs=1e-9)
    assert dive["crash_rate"] == 1.0
    assert dive["length"] == 11
    assert dive["episodes"] == 3
    assert dive["msf_ci95"] == pytest.approx(0.0, abs=1e-9)
    # Level flight truncated after 5 steps of 0.4 m.
    assert level["msf"] == pytest.approx(2.0, abs=1e-9)
    assert level["crash_rate"] == 0.0
    assert level["length"] == 5
    # Returns: the rewards summed per drone, as a hand-written loop sums them.
    (sf0, crashed0, ret0, len0), *_ = _manual(env, 0, seed=0)
    assert crashed0 and len0 == 11 and sf0 == pytest.approx(dive["msf"])
    assert dive["return"] == pytest.approx(ret0)
    (_, _, ret1, _), *_ = _manual(env, 1, seed=1)
    assert level["return"] == pytest.approx(ret1)


def test_team_mode_counts_every_drone_of_every_map(tmp_path) -> None:
    path = _room(tmp_path)
    env = DroneNavEnv([_exact(path, 50), _exact(path, 5)], mode="team", n_drones=2)
    records = run_msf_episodes(env, _ByTask(), episodes=2, seed=3)
    assert len(records) == 2 * 2 * 2
    assert sorted({r["episode"] for r in records}) == [0, 1]
    rows = summarize_msf(records)
    assert [(r["task_id"], r["episodes"]) for r in rows] == [(0, 4), (1, 4)]
    assert rows[0]["msf"] == pytest.approx(1.3 / math.tan(PITCH_MAX), abs=1e-9)
    assert rows[1]["msf"] == pytest.approx(2.0, abs=1e-9)
    with pytest.raises(ValueError, match="team mode"):
        run_msf_episodes(env, _ByTask(), episodes=1, tasks=[0])


def test_summarize_msf_statistics() -> None:
    recs = [
        {"task_id": 2, "task": "b", "safe_flight": v, "crashed": c, "return": r, "length": n}
        for v, c, r, n in ((1.0, True, 0.5, 3), (2.0, True, 1.5, 5), (3.0, False, 2.5, 8))
    ]
    recs.append(
        {
            "task_id": 2,
            "task": "b",
            "safe_flight": 4.0,
            "crashed": False,
            "return": 3.5,
            "length": 8,
        }
    )
    recs.append(
        {
            "task_id": 0,
            "task": "a",
            "safe_flight": 7.0,
            "crashed": True,
            "return": -1.0,
            "length": 2,
        }
    )
    a, b = summarize_msf(recs)
    assert (a["task_id"], a["episodes"], a["msf"], a["msf_ci95"]) == (0, 1, 7.0, None)
    assert b["msf"] == 2.5
    std = math.sqrt(5.0 / 3.0)
    assert b["msf_std"] == pytest.approx(std)
    assert b["msf_ci95"] == pytest.approx(1.96 * std / 2.0)
    assert b["crash_rate"] == 0.5
    assert b["return"] == 2.0
    assert b["length"] == 6.0


def test_tables_and_comparison() -> None:
    rows = [
        {
            "task_id": 0,
            "task": "drone-corridor",
            "episodes": 4,
            "msf": 12.5,
            "msf_ci95": 1.25,
            "msf_std": 1.0,
            "crash_rate": 0.5,
            "return": 3.0,
            "length": 40.0,
        }
    ]
    md = format_msf_table(rows)
    assert "MSF (m)" in md and "12.50 ± 1.25" in md and "msf_std" not in md
    csv_text = format_msf_table(rows, "csv")
    assert csv_text.splitlines()[0].split(",")[3] == "msf"
    assert json.loads(format_msf_table(rows, "json")) == rows
    both = compare_msf({"scripted": rows, "random": [dict(rows[0], msf=2.0, msf_ci95=None)]})
    assert both[0]["scripted_msf"] == 12.5 and both[0]["random_msf"] == 2.0
    md = format_msf_table(both)
    assert "scripted MSF (m)" in md and "random MSF (m)" in md and "| 2.00 " in md
    with pytest.raises(ValueError, match="same maps"):
        compare_msf({"a": rows, "b": [dict(rows[0], task_id=1)]})
    with pytest.raises(ValueError, match="unknown table format"):
        format_msf_table(rows, "html")


def test_bad_evaluation_arguments() -> None:
    env = DroneNavEnv([DroneTask(map="rooms", horizon=5)])
    policy = env.scripted_policy()
    with pytest.raises(ValueError, match="episodes"):
        evaluate_msf(env, policy, 0)
    with pytest.raises(ValueError, match="task id"):
        evaluate_msf(env, policy, 1, tasks=[3])
    from mt_envs import chain_v0

    chain = chain_v0.parallel_env()
    with pytest.raises(ValueError, match="safe_flight"):
        evaluate_msf(chain, RandomPolicy(chain, seed=0), 1)
