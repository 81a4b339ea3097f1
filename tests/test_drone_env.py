"""drone_nav_v0: dynamics, reward and crash rules, MSF accounting, lighting statistics, modes,
determinism and single/batched parity, conformance checkers and bad input."""

from __future__ import annotations

import functools
import json
import math

import gymnasium
import numpy as np
import pytest

from mt_envs import drone_nav_v0
from mt_envs.drone import DroneConfig, DroneTask, reward_statistic, task_sets
from mt_envs.drone.core import ACTION_TABLE, STRAIGHT
from mt_envs.drone.raycast import Camera
from mt_envs.test import check_env, check_vector_env

task_sets.register_all()  # normally done by ``import mt_envs`` once the family is wired

WALLS = [
    {"name": "south", "xy": [0, 0, 20, 0.2]},
    {"name": "north", "xy": [0, 9.8, 20, 10]},
    {"name": "west", "xy": [0, 0.2, 0.2, 9.8]},
    {"name": "east", "xy": [19.8, 0.2, 20, 9.8]},
]


@pytest.fixture
def room_map(tmp_path):
    """Path of a JSON map: an empty 20 x 10 x 3 m room with four start poses facing east."""

    def make(lighting=None, boxes=(), starts=None):
        data = {
            "name": "room",
            "bounds": [0, 0, 20, 10],
            "ceiling": 3.0,
            "lighting": lighting or {},
            "boxes": [*WALLS, *boxes],
            "starts": starts or [[2, 2, 1.5, 0], [2, 4, 1.5, 0], [2, 6, 1.5, 0], [2, 8, 1.5, 0]],
        }
        path = tmp_path / f"room{len(list(tmp_path.iterdir()))}.json"
        path.write_text(json.dumps(data))
        return str(path)

    return make


def quiet_task(path: str, **kw) -> DroneTask:
    """A task without randomness in the dynamics (no angle noise, no start jitter)."""
    base = {"angle_noise_deg": 0.0, "start_jitter": 0.0, "yaw_jitter_deg": 0.0}
    return DroneTask(map=path, **{**base, **kw})


def place(env, drone: int, x: float, y: float, z: float = 1.5, heading: float = 0.0) -> None:
    env.core.pos[drone] = (x, y, z)
    env.core.heading[drone] = heading


# -- actions and dynamics ---------------------------------------------------------------------
def test_action_grid():
    assert STRAIGHT == 12 and tuple(ACTION_TABLE[12]) == (0.0, 0.0)
    assert tuple(ACTION_TABLE[0]) == (1.0, 1.0)  # top-left: turn left and climb
    assert tuple(ACTION_TABLE[24]) == (-1.0, -1.0)  # bottom-right: turn right and descend
    assert tuple(ACTION_TABLE[14]) == (-1.0, 0.0)
    cfg = DroneConfig()
    assert math.degrees(cfg.yaw_max) == pytest.approx(32.0)
    assert math.degrees(cfg.pitch_max) == pytest.approx(18.0)


def test_moves_follow_the_grid_without_noise(room_map):
    env = drone_nav_v0.parallel_env(tasks=quiet_task(room_map()))
    env.reset(seed=0)
    place(env, 0, 5.0, 5.0)
    env.step({"drone_0": 12})
    np.testing.assert_allclose(env.positions[0], [5.4, 5.0, 1.5], atol=1e-12)
    env.step({"drone_0": 1})  # yaw +16 deg (left), pitch +18 deg (up)
    h, p = math.radians(16), math.radians(18)
    want = [5.4 + 0.4 * math.cos(p) * math.cos(h), 5.0 + 0.4 * math.cos(p) * math.sin(h)]
    np.testing.assert_allclose(env.positions[0, :2], want, atol=1e-12)
    assert env.positions[0, 2] == pytest.approx(1.5 + 0.4 * math.sin(p))
    assert env.headings[0] == pytest.approx(h)
    assert env.safe_flight[0] == pytest.approx(0.4 + 0.4 * math.cos(p))
    cont = drone_nav_v0.parallel_env(tasks=quiet_task(room_map()), continuous_actions=True)
    cont.reset(seed=0)
    place(cont, 0, 5.0, 5.0)
    cont.step({"drone_0": np.array([0.5, 1.0], dtype=np.float32)})  # = discrete action 1
    want = [5 + 0.4 * math.cos(p) * math.cos(h), 5 + 0.4 * math.cos(p) * math.sin(h)]
    np.testing.assert_allclose(cont.positions[0, :2], want, atol=1e-7)


def test_angular_noise_has_the_task_std(room_map):
    env = drone_nav_v0.parallel_env(tasks=quiet_task(room_map(), angle_noise_deg=3.0))
    env.reset(seed=3)
    turns = []
    for _ in range(400):
        place(env, 0, 10.0, 5.0, heading=0.0)
        env.step({"drone_0": 12})
        turns.append(env.headings[0])
        env.reset()
    std = math.degrees(float(np.std(turns)))
    assert 3.0 * 0.85 < std < 3.0 * 1.15  # 400 samples: the sd estimate is within ~4 %
    assert abs(math.degrees(float(np.mean(turns)))) < 4 * 3.0 / math.sqrt(400)


# -- reward, crash and collision --------------------------------------------------------------
def test_reward_statistic_on_hand_built_images():
    cfg = DroneConfig()  # 8 x 32 camera, centre window rows 2..5, cols 8..23, k = 4
    assert cfg.reward_k == 4
    depth = np.full((8, 32), 0.9)
    depth[0, :] = 0.01  # outside the window: ignored
    depth[:, :8] = 0.02
    assert reward_statistic(depth, cfg) == pytest.approx(0.9)
    depth[2, 8], depth[5, 23], depth[3, 10], depth[4, 20], depth[3, 11] = 0.1, 0.2, 0.3, 0.4, 0.5
    assert reward_statistic(depth, cfg) == pytest.approx((0.1 + 0.2 + 0.3 + 0.4) / 4)
    small = DroneConfig(camera=Camera(rows=5, cols=9), centre_window=(3, 7))  # 21 rays: k = 2
    assert small.reward_k == 2
    img = np.ones((2, 5, 9))
    img[1, 2, 4], img[1, 1, 1], img[1, 3, 2], img[1, 0, 4] = 0.3, 0.2, 0.0, 0.0  # (0, 4): out
    np.testing.assert_allclose(reward_statistic(img, small), [1.0, (0.2 + 0.0) / 2])


def test_reward_is_the_centre_statistic_of_the_clean_view(room_map):
    env = drone_nav_v0.parallel_env(tasks=quiet_task(room_map(lighting={"noise_std": 0.2})))
    env.reset(seed=0)
    place(env, 0, 12.0, 5.0)
    _, rew, term, _, _ = env.step({"drone_0": 12})
    # The four centre rays (pitch +-2.8125, yaw +-1.25 degrees) meet the east wall at x = 19.8.
    d = (19.8 - 12.4) / (math.cos(math.radians(2.8125)) * math.cos(math.radians(1.25)))
    assert not term["drone_0"] and rew["drone_0"] == pytest.approx(d / 10.0, abs=1e-12)


def test_crash_threshold_and_collision_end_the_episode(room_map):
    path = room_map()
    env = drone_nav_v0.parallel_env(tasks=quiet_task(path))
    env.reset(seed=0)
    place(env, 0, 19.15, 5.0)  # after the step the wall is 0.25 m ahead: a crash, no contact
    _, rew, term, trunc, infos = env.step({"drone_0": 12})
    assert rew["drone_0"] == -1.0 and term["drone_0"] and not trunc["drone_0"]
    assert infos["drone_0"]["crashed"] and infos["drone_0"]["safe_flight"] == pytest.approx(0.4)
    assert env.positions[0, 0] == pytest.approx(19.55) and env.agents == []
    env.reset(seed=0)
    place(env, 0, 19.3, 5.0)  # contact when the centre reaches 19.6
    _, rew, term, _, infos = env.step({"drone_0": 12})
    assert rew["drone_0"] == -1.0 and term["drone_0"]
    assert env.positions[0, 0] == pytest.approx(19.6)
    assert infos["drone_0"]["safe_flight"] == pytest.approx(0.3)
    env.reset(seed=0)
    place(env, 0, 10.0, 5.0, z=0.3)  # flying down into the floor
    _, rew, term, _, infos = env.step({"drone_0": 22})
    assert term["drone_0"] and env.positions[0, 2] == pytest.approx(0.2)
    env.reset(seed=0)
    place(env, 0, 10.0, 5.0)
    _, rew, term, _, _ = env.step({"drone_0": 12})
    assert not term["drone_0"] and rew["drone_0"] > 0


def test_drone_contact_ends_both_episodes(room_map):
    env = drone_nav_v0.parallel_env(tasks=quiet_task(room_map()), n_drones=2)
    env.reset(seed=0)
    place(env, 0, 8.0, 5.0, heading=0.0)
    place(env, 1, 9.0, 5.0, heading=math.pi)
    # Before moving, drone 0's straight-ahead view meets drone 1's sphere at 1 - 0.2 m.
    env.core._cast(None)
    # The centre rays are off the line of centres by angle a: t = cos a - sqrt(r^2 - sin^2 a).
    cos_a = math.cos(math.radians(2.8125)) * math.cos(math.radians(1.25))
    t = cos_a - math.sqrt(0.2**2 - (1 - cos_a**2))
    assert env.last_depth[0, 3:5, 15:17] * 10 == pytest.approx(np.full((2, 2), t), abs=1e-9)
    place(env, 1, 8.7, 5.0, heading=math.pi)
    _, rew, term, _, infos = env.step({"drone_0": 12, "drone_1": 12})
    assert term == {"drone_0": True, "drone_1": True} and set(rew.values()) == {-1.0}
    # Closing at 0.8 m per step from 0.7 m apart, contact at 0.4 m: after 0.15 m each.
    assert infos["drone_0"]["safe_flight"] == pytest.approx(0.15)
    np.testing.assert_allclose(env.positions[:, 0], [8.15, 8.55])


def test_team_drones_never_meet(room_map):
    tasks = [quiet_task(room_map()), quiet_task(room_map())]
    env = drone_nav_v0.parallel_env(tasks=tasks, mode="team")
    env.reset(seed=0)
    place(env, 0, 8.0, 5.0)
    place(env, 1, 8.0, 5.0, heading=math.pi)  # same place, other copy of the map
    _, rew, term, _, _ = env.step({"drone_0": 12, "drone_1": 12})
    assert term == {"drone_0": False, "drone_1": False} and min(rew.values()) > 0


# -- mean safe flight accounting --------------------------------------------------------------
def test_safe_flight_sums_steps_and_resets_per_episode(room_map):
    env = drone_nav_v0.parallel_env(tasks=quiet_task(room_map(), horizon=6))
    for episode in range(2):
        env.reset(seed=episode)
        assert env.safe_flight[0] == 0.0
        place(env, 0, 3.0, 5.0)
        total = 0.0
        for k in range(6):
            action = [12, 7, 17][k % 3]  # straight, up 9 deg, down 9 deg
            _, _, term, trunc, infos = env.step({"drone_0": action})
            total += 0.4 * math.cos(math.radians(ACTION_TABLE[action, 1] * 18))
            assert ("safe_flight" in infos["drone_0"]) == (k == 5)
        assert trunc["drone_0"] and not term["drone_0"]
        assert infos["drone_0"]["safe_flight"] == pytest.approx(total)
        assert infos["drone_0"]["crashed"] is False


def test_vector_env_reports_safe_flight_at_episode_end(room_map):
    venv = drone_nav_v0.vector_env(3, tasks=quiet_task(room_map(), horizon=4), seed=0)
    venv.reset()
    for _ in range(3):
        _, _, _, _, info = venv.step(np.full((3, 1), 12))
        assert not info["_final"].any()
    np.testing.assert_allclose(info["safe_flight"], 1.2)
    _, _, _, trunc, info = venv.step(np.full((3, 1), 12))
    assert info["_final"].all() and trunc.all()
    np.testing.assert_allclose(info["episode"]["safe_flight"], 1.6)
    assert not info["episode"]["crashed"].any()
    np.testing.assert_allclose(info["safe_flight"], 0.0)  # the new episodes


# -- lighting ---------------------------------------------------------------------------------
def test_noise_bias_and_dropout_match_their_parameters(room_map):
    light = {"noise_std": 0.05, "dropout": 0.1, "bias": 0.02}
    env = drone_nav_v0.parallel_env(tasks=quiet_task(room_map(lighting=light)))
    env.reset(seed=5)
    place(env, 0, 13.5, 5.0)
    env.core._cast(None)
    clean = env.last_depth[0].reshape(-1).astype(np.float32)
    assert clean.min() > 0.2 and clean.max() < 0.9  # no clipping at these depths
    obs = np.stack([env.core.observe()[0] for _ in range(200)])  # 51200 readings
    dropped = obs == 0.0
    n = dropped.size
    p = dropped.mean()
    assert abs(p - 0.1) < 4 * math.sqrt(0.1 * 0.9 / n)
    resid = (obs - clean)[~dropped]
    assert abs(resid.mean() - 0.02) < 4 * 0.05 / math.sqrt(resid.size)
    assert abs(resid.std() / 0.05 - 1.0) < 4 / math.sqrt(2 * resid.size)


def test_clean_map_observes_exact_depth(room_map):
    env = drone_nav_v0.parallel_env(tasks=quiet_task(room_map()))
    obs, _ = env.reset(seed=0)
    np.testing.assert_array_equal(obs["drone_0"], env.last_depth[0].reshape(-1).astype(np.float32))


def test_maps_differ_in_the_image_observation():
    env = drone_nav_v0.parallel_env(tasks="drone-4maps", obs_type="image")
    means = []
    for t in range(4):
        obs, _ = env.reset(seed=t, options={"task": t})
        img = obs["drone_0"].reshape(8, 32, 3)
        assert img.min() >= 0 and img.max() <= 1
        means.append(img.mean(axis=(0, 1)))
    for i in range(4):
        for j in range(i):
            assert np.abs(means[i] - means[j]).max() > 0.03, (i, j, means)


def test_image_is_colour_times_light_times_shading(room_map):
    colors = {"wall": [0.8, 0.4, 0.2], "floor": [0.1, 0.2, 0.3], "ceiling": [1, 1, 1]}
    path = room_map(lighting={"light": 0.5})
    with open(path) as f:
        data = json.load(f)
    data["colors"] = colors
    with open(path, "w") as f:
        json.dump(data, f)
    env = drone_nav_v0.parallel_env(tasks=quiet_task(path), obs_type="image")
    obs, _ = env.reset(seed=0)
    assert obs["drone_0"].reshape(8, 32, 3)[4, 16].max() == 0.0  # wall beyond 10 m: black
    place(env, 0, 14.0, 5.0)
    env.core._cast(None)
    img = env.core.observe()[0].reshape(8, 32, 3)
    depth = env.last_depth[0]
    shade = 0.5 * (1 - 0.75 * depth)
    np.testing.assert_allclose(img[4, 16], np.array(colors["wall"]) * shade[4, 16], rtol=1e-6)
    np.testing.assert_allclose(img[7, 16], np.array(colors["floor"]) * shade[7, 16], rtol=1e-6)
    np.testing.assert_allclose(img[0, 16], np.array(colors["ceiling"]) * shade[0, 16], rtol=1e-6)


def test_extras_are_appended(room_map):
    env = drone_nav_v0.parallel_env(
        tasks=quiet_task(room_map()), extras=("last_action", "altitude")
    )
    obs, _ = env.reset(seed=0)
    space = env.observation_spaces["drone_0"]
    assert isinstance(space, gymnasium.spaces.Box)
    assert space.shape == (259,) and space.low[-1] == -1.0 and space.low[-3] == 0.0
    np.testing.assert_allclose(obs["drone_0"][-3:], [0.5, 0.0, 0.0])
    obs, *_ = env.step({"drone_0": 3})
    np.testing.assert_allclose(obs["drone_0"][-2:], ACTION_TABLE[3])


# -- determinism and parity -------------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        {"tasks": "drone-4maps"},
        {"tasks": "drone-4maps", "mode": "team"},
        {"tasks": "drone-rooms", "n_drones": 3, "obs_type": "image"},
        {"tasks": "drone-zigzag", "continuous_actions": True, "extras": ("altitude",)},
    ],
)
def test_vector_env_with_one_env_replays_the_parallel_env(kwargs):
    env = drone_nav_v0.parallel_env(**kwargs)
    venv = drone_nav_v0.vector_env(1, seed=7, **kwargs)
    n = venv.num_agents
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=7)
    vobs, _ = venv.reset()
    episodes = 0
    for _ in range(150):
        for k, agent in enumerate(env.possible_agents):
            want = obs[agent] if agent in env.agents else np.zeros_like(vobs[0, k])
            np.testing.assert_array_equal(vobs[0, k], want)
        acts: np.ndarray
        if kwargs.get("continuous_actions"):
            acts = rng.uniform(-1, 1, (1, n, 2))
            actions = {a: acts[0, env.possible_agents.index(a)] for a in env.agents}
        else:
            acts = rng.integers(0, 25, (1, n))
            actions = {a: int(acts[0, env.possible_agents.index(a)]) for a in env.agents}
        obs, rew, term, trunc, _ = env.step(actions)
        vobs, vrew, vterm, vtrunc, info = venv.step(acts)
        for agent, r in rew.items():
            k = env.possible_agents.index(agent)
            assert vrew[0, k] == np.float32(r) and vterm[0, k] == term[agent]
            assert vtrunc[0, k] == trunc[agent]
        if not env.agents:
            assert info["_final"][0]
            obs, _ = env.reset()
            episodes += 1
    assert episodes >= 3


def test_same_seed_same_flight_other_seed_other_flight():
    def flight(seed):
        env = drone_nav_v0.parallel_env(tasks="drone-pillars", n_drones=2)
        env.reset(seed=seed)
        out = []
        for _ in range(30):
            if not env.agents:
                env.reset()
            env.step({a: 12 for a in env.agents})
            out.append(env.positions.copy())
        return np.array(out)

    np.testing.assert_array_equal(flight(1), flight(1))
    assert not np.array_equal(flight(1), flight(2))


# -- conformance ------------------------------------------------------------------------------
@pytest.mark.parametrize("task_set", ["drone-4maps", "drone-5maps", "drone-warehouse"])
def test_shared_mode_passes_the_checkers(task_set):
    fn = functools.partial(drone_nav_v0.parallel_env, tasks=task_set)
    check_env(fn, num_cycles=150, render=task_set == "drone-4maps")


def test_team_mode_and_image_and_drones_pass_the_checkers():
    check_env(
        functools.partial(drone_nav_v0.parallel_env, tasks="drone-4maps", mode="team"),
        num_cycles=150,
        render=False,
    )
    fn = functools.partial(
        drone_nav_v0.parallel_env, tasks="drone-corridor", n_drones=3, obs_type="image"
    )
    check_env(fn, num_cycles=150, render=False)


def test_continuous_actions_pass_the_checkers():
    fn = functools.partial(
        drone_nav_v0.parallel_env, tasks="drone-4maps", continuous_actions=True, n_drones=2
    )
    check_env(fn, num_cycles=150, render=False)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"tasks": "drone-4maps"},
        {"tasks": "drone-4maps", "mode": "team", "n_drones": 2},
        {"tasks": "drone-rooms", "n_drones": 3, "obs_type": "image"},
    ],
)
def test_native_vector_env_conformance(kwargs):
    check_vector_env(drone_nav_v0.vector_env(16, seed=0, **kwargs), steps=150)


def test_continuous_vector_env_shapes_and_errors():
    venv = drone_nav_v0.vector_env(4, tasks="drone-4maps", continuous_actions=True, seed=0)
    obs, info = venv.reset()
    assert obs.shape == (4, 1, 256) and "action_mask" not in info
    acts = np.zeros((4, 1, 2))
    obs, rew, _, _, info = venv.step(acts)
    assert rew.shape == (4, 1) and rew.dtype == np.float32
    for bad, match in [
        (np.full((4, 1, 2), np.nan), "not finite"),
        (np.full((4, 1, 2), 1.5), "outside Box"),
        (np.zeros((4, 1)), "expected floats of shape"),
    ]:
        with pytest.raises(ValueError, match=match):
            venv.step(bad)


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"rows": 0}, "rows=0 is invalid"),
        ({"cols": -1}, "cols=-1 is invalid"),
        ({"fov_h": 0}, "fov_h=0 is invalid"),
        ({"fov_v": -30.0}, "fov_v=-30.0 is invalid"),
        ({"max_range": -1}, "max_range=-1 is invalid"),
        ({"mode": "solo"}, "mode='solo' is invalid"),
        ({"n_drones": 0}, "n_drones=0 is invalid"),
        ({"n_drones": 7, "tasks": "drone-rooms"}, "n_drones=7 is invalid for map 'rooms'"),
        ({"obs_type": "rgb"}, "obs_type='rgb' is invalid"),
        ({"extras": ("speed",)}, "extras entry 'speed' is invalid"),
        ({"radius": 0}, "radius=0 is invalid"),
        ({"step_length": float("nan")}, "step_length=nan is invalid"),
        ({"centre_window": (9, 4)}, r"centre_window=\(9, 4\) is invalid"),
        ({"radius": 1.2}, r"start \d at .* needs 1.341 m of clearance"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        drone_nav_v0.parallel_env(**kwargs)


def test_bad_tasks_and_maps(room_map):
    with pytest.raises(KeyError, match="Did you mean 'pillars'"):
        DroneTask(map="pilars")
    with pytest.raises(ValueError, match="DroneTask.horizon=0 is invalid"):
        DroneTask(map="corridor", horizon=0)
    with pytest.raises(ValueError, match=r"Lighting.noise_std=-0.1 is invalid"):
        DroneTask(map="corridor", noise_std=-0.1)
    with pytest.raises(ValueError, match="map 'room' is open"):
        DroneTask(map=_open_map(room_map))
    crate = [{"name": "crate", "xy": [1.5, 3.5, 2.5, 4.5]}]
    with pytest.raises(ValueError, match=r"start 1 at \[2.0, 4.0, 1.5\] is inside 'crate'"):
        DroneTask(map=room_map(boxes=crate))
    close = [[2, 2, 1.5, 0], [2.3, 2, 1.5, 0]]
    task = DroneTask(map=room_map(starts=close))  # fine alone
    drone_nav_v0.parallel_env(tasks=task)
    with pytest.raises(ValueError, match="starts 0 and 1 are 0.300 m apart"):
        drone_nav_v0.parallel_env(tasks=task, n_drones=2)


def _open_map(room_map) -> str:
    path = room_map()
    with open(path) as f:
        data = json.load(f)
    data["boxes"] = [b for b in data["boxes"] if b["name"] != "north"]
    with open(path, "w") as f:
        json.dump(data, f)
    return path


@pytest.mark.parametrize(
    ("action", "match"),
    [
        ((float("nan"), 0.0), "not finite"),
        ((0.0, float("inf")), "not finite"),
        ((1.01, 0.0), "outside Box"),
        ((0.0, -2.0), "outside Box"),
        ((0.0, 0.0, 0.0), r"has shape \(3,\)"),
        ("up", "invalid"),
    ],
)
def test_bad_continuous_actions(action, match):
    env = drone_nav_v0.parallel_env(tasks="drone-corridor", continuous_actions=True)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step({"drone_0": action})


@pytest.mark.parametrize(
    ("action", "match"), [(25, "outside Discrete"), (2.0, "float"), (True, "bool")]
)
def test_bad_discrete_actions(action, match):
    env = drone_nav_v0.parallel_env(tasks="drone-corridor")
    env.reset(seed=0)
    with pytest.raises(ValueError, match=match):
        env.step({"drone_0": action})
    with pytest.raises(ValueError, match="missing action"):
        env.step({})


def test_team_mode_refuses_a_reset_task():
    env = drone_nav_v0.parallel_env(mode="team")
    with pytest.raises(ValueError, match="is for mode='shared'"):
        env.reset(seed=0, options={"task": 1})
