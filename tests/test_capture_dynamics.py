"""Dynamics of MAST / MAMT against SPECS.md section 1: statistics within 99% confidence bounds
over many steps, exact values where the rules give them."""

from __future__ import annotations

import numpy as np
import pytest

import mt_envs
from mt_envs import mamt_v0, mast_v0
from mt_envs.capture import EAST, NORTH, SOUTH, STAY, WEST, CaptureTask, GreedyPolicy
from mt_envs.capture.core import DELTA, BatchCore, TaskTable
from mt_envs.tasks import TaskSet

Z99 = 2.576
STILL = (0.0, 0.0, 0.0, 0.0, 1.0)


def within_99(count: int, n: int, p: float) -> None:
    """The frequency ``count / n`` lies within the 99% normal interval around ``p``."""
    half = Z99 * np.sqrt(p * (1 - p) / n)
    assert abs(count / n - p) <= half, f"{count}/{n} = {count / n:.4f}, expected {p} +- {half:.4f}"


def make_core(tasks, b: int, seed: int = 0, encoding: str = "coords") -> BatchCore:
    ts = TaskSet.coerce(tasks)
    core = BatchCore(TaskTable(ts), b, encoding)
    core.seed(seed)
    core.reset(np.arange(b), np.zeros(b, dtype=np.int64))
    return core


def displacement(before: np.ndarray, after: np.ndarray, m: int) -> np.ndarray:
    """Map (row, col) steps on the torus to action ids (NORTH..STAY), -1 for anything else."""
    d = (after - before + 1) % m - 1  # in {-1, 0, 1} for single steps on m >= 3
    out = np.full(d.shape[:-1], -1)
    for k, delta in enumerate(DELTA):
        out[(d == delta).all(-1)] = k
    return out


@pytest.mark.parametrize("action", [NORTH, SOUTH, EAST, WEST])
def test_moves_succeed_with_0_9_and_slip_perpendicular_with_0_05_each(action):
    # Targets never move and sit far away: agents only move.
    b, m = 20000, 7
    core = make_core(CaptureTask.mast(m, target_policy=STILL, horizon=10**6), b, seed=action)
    before = core.pos.copy()
    core.step(np.full((b, 2), action))
    moved = displacement(before, core.pos, m).ravel()
    n = moved.size
    perp = {NORTH: (EAST, WEST), SOUTH: (EAST, WEST), EAST: (NORTH, SOUTH), WEST: (NORTH, SOUTH)}
    within_99(int((moved == action).sum()), n, 0.9)
    for p in perp[action]:
        within_99(int((moved == p).sum()), n, 0.05)
    backwards = {NORTH: SOUTH, SOUTH: NORTH, EAST: WEST, WEST: EAST}[action]
    assert not np.any(moved == backwards), "a move slipped backwards"
    assert not np.any(moved == STAY) and not np.any(moved == -1)


def test_stay_never_moves_and_slip_parameter_scales():
    b, m = 5000, 6
    core = make_core(CaptureTask.mast(m, target_policy=STILL, slip=1.0, horizon=10**6), b)
    before = core.pos.copy()
    core.step(np.full((b, 2), STAY))
    np.testing.assert_array_equal(core.pos, before)
    core.step(np.full((b, 2), EAST))  # slip=1: always perpendicular
    moved = displacement(before, core.pos, m).ravel()
    assert set(np.unique(moved)) <= {NORTH, SOUTH}
    within_99(int((moved == NORTH).sum()), moved.size, 0.5)


def test_toroidal_wrap_is_exact():
    m = 5
    core = make_core(CaptureTask.mast(m, slip=0.0, target_policy=STILL, horizon=10**6), 4)
    core.pos[:] = [[0, 0], [m - 1, m - 1]]
    core.tpos[:] = [[2, 2]]
    core.step(np.array([[NORTH, SOUTH]] * 4))
    np.testing.assert_array_equal(core.pos[:, 0], [[m - 1, 0]] * 4)
    np.testing.assert_array_equal(core.pos[:, 1], [[0, m - 1]] * 4)
    core.step(np.array([[WEST, EAST]] * 4))
    np.testing.assert_array_equal(core.pos[:, 0], [[m - 1, m - 1]] * 4)
    np.testing.assert_array_equal(core.pos[:, 1], [[0, 0]] * 4)


def test_targets_follow_their_task_policy():
    policy = (0.4, 0.05, 0.25, 0.1, 0.2)
    b, m = 40000, 9
    core = make_core(CaptureTask.mamt(m, target_policy=policy, horizon=10**6), b, seed=3)
    before = core.tpos.copy()
    _, captured, _ = core.step(np.full((b, 2), STAY))
    moved = displacement(before, core.tpos, m)[~captured].ravel()
    assert not np.any(moved == -1)
    for k, p in enumerate(policy):
        within_99(int((moved == k).sum()), moved.size, p)


def test_targets_move_independently():
    b, m = 40000, 9
    core = make_core(CaptureTask.mamt(m, horizon=10**6), b, seed=4)
    before = core.tpos.copy()
    _, captured, _ = core.step(np.full((b, 2), STAY))
    moved = displacement(before, core.tpos, m)[~captured]
    both_stay = (moved[:, 0] == STAY) & (moved[:, 1] == STAY)
    within_99(int(both_stay.sum()), len(moved), 0.04)


def test_evasive_target_takes_the_move_maximising_distance_to_the_nearest_agent():
    b, m = 3000, 7
    core = make_core(CaptureTask.mast(m, n_agents=2, evasive=1.0, horizon=10**6), b, seed=5)
    before_t, pos = core.tpos.copy(), None
    _, captured, _ = core.step(np.full((b, 2), STAY))
    pos = core.pos
    for e in np.flatnonzero(~captured)[:500]:
        r0, c0 = before_t[e, 0]

        def nearest(r, c, e=e):
            d = [
                min(abs(r - pr), m - abs(r - pr)) + min(abs(c - pc), m - abs(c - pc))
                for pr, pc in pos[e]
            ]
            return min(d)

        scores = [nearest((r0 + dr) % m, (c0 + dc) % m) for dr, dc in DELTA]
        r1, c1 = core.tpos[e, 0]
        assert nearest(r1, c1) == max(scores)


def test_flicker_hides_targets_with_probability_pf_independently_per_agent():
    pf, b = 0.3, 20000
    core = make_core(CaptureTask.mamt(5, flicker=pf), b, seed=6)
    obs = core.observe()
    hidden = obs[:, :, 4] == 0.0  # visible bit of target 0
    hidden_other = obs[:, :, 7] == 0.0
    np.testing.assert_array_equal(hidden, hidden_other)  # all targets hidden together
    assert not np.any(obs[hidden][:, 2:]), "a hidden target must read (0, 0, 0)"
    within_99(int(hidden.sum()), hidden.size, pf)
    within_99(int((hidden[:, 0] & hidden[:, 1]).sum()), b, pf * pf)


def test_observation_and_state_encode_normalised_positions():
    m = 5
    core = make_core(CaptureTask.mamt(m, flicker=0.0), 1)
    core.pos[0] = [[1, 2], [4, 0]]
    core.tpos[0] = [[3, 4], [0, 1]]
    obs = core.observe()[0]
    np.testing.assert_allclose(obs[0], [2 / 4, 1 / 4, 1, 3 / 4, 1, 1 / 4, 0, 1])
    np.testing.assert_allclose(obs[1, :2], [0, 1])
    state = core.state()[0]
    np.testing.assert_allclose(state, [0.5, 0.25, 0, 1, 1, 0.75, 0.25, 0, 0], atol=1e-7)
    onehot = make_core(CaptureTask.mamt(m, flicker=0.0), 1, encoding="onehot")
    onehot.pos[0] = [[1, 2], [4, 0]]
    onehot.tpos[0] = [[3, 4], [0, 1]]
    grids = onehot.observe()[0].reshape(2, 3, m, m)
    assert grids[0, 0, 1, 2] == 1 and grids[0, 1, 3, 4] == 1 and grids[0, 2, 0, 1] == 1
    assert grids.sum() == 6


def _mamt3(pos, tpos):
    core = make_core(CaptureTask.mamt(5, n_agents=3, slip=0.0, target_policy=STILL, horizon=100), 1)
    core.pos[0], core.tpos[0] = pos, tpos
    return core.step(np.full((1, 3), STAY))


def test_mamt_reward_only_when_every_agent_is_on_its_own_target():
    targets = [[0, 0], [1, 1], [2, 2]]
    rew, term, trunc = _mamt3([[0, 0], [1, 1], [2, 2]], targets)
    assert rew[0] == 1.0 and term[0] and not trunc[0]
    rew, term, _ = _mamt3([[0, 0], [1, 1], [3, 3]], targets)  # two of three: nothing
    assert rew[0] == 0.0 and not term[0]
    rew, term, _ = _mamt3([[1, 1], [0, 0], [2, 2]], targets)  # wrong targets: nothing
    assert rew[0] == 0.0 and not term[0]


def test_capture_is_checked_after_agents_move_and_before_targets_move():
    core = make_core(CaptureTask.mast(5, slip=0.0, horizon=100), 1)
    core.pos[0], core.tpos[0] = [[0, 1], [1, 0]], [[0, 0]]
    rew, term, _ = core.step(np.array([[WEST, NORTH]]))
    assert rew[0] == 1.0 and term[0]
    np.testing.assert_array_equal(core.tpos[0], [[0, 0]])  # targets do not move on capture


def test_truncation_at_horizon_without_reward():
    env = mast_v0.parallel_env(tasks=CaptureTask.mast(8, horizon=3, target_policy=STILL))
    lengths, truncs = [], 0
    env.reset(seed=0)
    for _ in range(200):
        env.reset()
        t = 0
        while env.agents:
            _, rew, term, trunc, _ = env.step(dict.fromkeys(env.agents, STAY))
            t += 1
        assert t <= 3
        if trunc["agent_0"]:
            truncs += 1
            assert t == 3 and rew == {"agent_0": 0.0, "agent_1": 0.0}
            assert not term["agent_0"]
        lengths.append(t)
    assert truncs > 150


def test_reset_never_starts_captured_and_positions_are_uniform():
    b, m = 30000, 2  # a 2x2 torus: 1/16 of MAST starts would be captured
    core = make_core(CaptureTask.mast(m), b, seed=7)
    assert not core._captured(slice(None)).any()
    cells = core.pos[:, 0, 0] * m + core.pos[:, 0, 1]
    # each cell of agent 0 has probability 1/4 (rejection is symmetric over cells)
    for c in range(m * m):
        within_99(int((cells == c).sum()), b, 0.25)


def test_reward_and_termination_only_at_capture_in_random_play():
    venv = mt_envs.make_vec("mamt_v0", 512, tasks="mamt-2a-3to6", seed=0)
    venv.reset()
    rng = np.random.default_rng(0)
    captures = 0
    for _ in range(200):
        _obs, rew, term, trunc, info = venv.step(rng.integers(0, 5, (512, 2)))
        assert np.array_equal(rew[:, 0] == 1.0, term[:, 0])
        assert not np.any(rew[trunc])
        s = info["final_state"][term[:, 0]]
        # on capture every agent (x, y) equals its assigned target's (x, y) in the final state
        asg = np.array([venv.task_set[t].assignment for t in info["final_info"]["task_id"]])
        asg = asg[term[:, 0]]
        agents = s[:, :4].reshape(-1, 2, 2)
        targets = s[:, 4:8].reshape(-1, 2, 2)
        mine = np.take_along_axis(targets, asg[:, :, None], axis=1)
        np.testing.assert_allclose(agents, mine)
        captures += int(term[:, 0].sum())
    assert captures > 100


def _capture_rate(env, policy, episodes: int, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    caps, disc = 0, 0.0
    for _ in range(episodes):
        obs, infos = env.reset()
        if policy is not None:
            policy.reset()
        t = 0
        while env.agents:
            if policy is None:
                acts = {a: int(rng.integers(5)) for a in env.agents}
            else:
                acts = policy(obs, infos)
            obs, _rew, term, _, infos = env.step(acts)
            if term["agent_0"]:
                caps += 1
                disc += 0.95**t
            t += 1
    return caps / episodes, disc / episodes


@pytest.mark.parametrize(
    ("env_id", "tasks"), [("mast_v0", "mast-2a-4to8"), ("mamt_v0", "mamt-2a-3to7")]
)
def test_greedy_captures_far_more_often_than_random_without_flicker(env_id, tasks):
    ts = mt_envs.task_sets.get(tasks)
    no_flicker = TaskSet(
        "no-flicker", tuple(CaptureTask.from_dict({**t.to_dict(), "flicker": 0.0}) for t in ts)
    )
    env = mt_envs.make(env_id, tasks=no_flicker)
    greedy, _ = _capture_rate(env, GreedyPolicy.for_env(env), 300, seed=1)
    rand, _ = _capture_rate(env, None, 300, seed=1)
    assert greedy > 0.8 and greedy > 3 * rand, (greedy, rand)


@pytest.mark.parametrize(("m", "expected"), [(3, 0.92), (4, 0.84), (8, 0.69)])
def test_greedy_discounted_return_matches_the_specs_reference(m, expected):
    # SPECS.md section 1: "a greedy chaser scores about 0.69 there [MAST 8x8, n=2, Pf=0],
    # 0.84 on 4x4 and 0.92 on 3x3" (gamma 0.95).
    env = mast_v0.parallel_env(tasks=CaptureTask.mast(m))
    _, disc = _capture_rate(env, GreedyPolicy.for_env(env), 2000, seed=2)
    assert abs(disc - expected) < 0.03, (m, disc)


def test_mamt_env_rejects_mast_tasks_and_vice_versa():
    with pytest.raises(ValueError, match="mamt_v0 needs n_targets=n_agents"):
        mamt_v0.parallel_env(tasks=CaptureTask.mast(4))
    with pytest.raises(ValueError, match="mast_v0 needs n_targets=1"):
        mast_v0.parallel_env(tasks=CaptureTask.mamt(4))
