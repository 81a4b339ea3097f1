"""Same seed, same actions, same trajectories: ParallelEnv, AEC and the batched env, and the
batched core at B = 1 against the single-env kernel, step for step across episodes."""

from __future__ import annotations

import numpy as np
import pytest

import mt_envs
from mt_envs import mamt_v0, mast_v0
from mt_envs.capture import CaptureTask, GreedyPolicy
from mt_envs.test import rollout

PARITY_SETS = {
    "mamt-2a-3to6": ("mamt_v0", "mamt-2a-3to6"),
    "mamt-3a": ("mamt_v0", "mamt-3a"),
    "mast-2a-4to8": ("mast_v0", "mast-2a-4to8"),
    "evasive-mixed": (
        "mamt_v0",
        [
            CaptureTask.mamt(5, evasive=0.5, flicker=0.2),
            CaptureTask.mamt(4, n_agents=3, evasive=1.0, slip=0.3, assignment=(2, 0, 1)),
            CaptureTask.mamt(2, horizon=4),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(PARITY_SETS))
@pytest.mark.parametrize("encoding", ["coords", "onehot"])
@pytest.mark.parametrize("seed", [0, 7])
def test_batched_env_at_b1_replays_the_parallel_env(name, encoding, seed):
    env_id, tasks = PARITY_SETS[name]
    env = mt_envs.make(env_id, tasks=tasks, obs_encoding=encoding)
    venv = mt_envs.make_vec(env_id, 1, tasks=tasks, obs_encoding=encoding)
    rng = np.random.default_rng(seed)
    obs, infos = env.reset(seed=seed)
    vobs, vinfo = venv.reset(seed=seed)
    episodes = 0
    for _ in range(600):
        n = len(env.agents)
        np.testing.assert_array_equal(vobs[0, :n], np.stack([obs[a] for a in env.agents]))
        assert vinfo["task_id"][0] == infos["agent_0"]["task_id"]
        np.testing.assert_array_equal(vinfo["state"][0], env.state())
        actions = rng.integers(0, 5, (1, venv.num_agents))
        obs, rew, term, trunc, infos = env.step(
            {a: int(actions[0, i]) for i, a in enumerate(env.agents)}
        )
        vobs, vrew, vterm, vtrunc, vinfo = venv.step(actions)
        np.testing.assert_array_equal(vinfo["final_obs"][0, :n], np.stack(list(obs.values())))
        assert vrew[0, 0] == rew["agent_0"]
        assert vterm[0, 0] == term["agent_0"] and vtrunc[0, 0] == trunc["agent_0"]
        if not env.agents:
            episodes += 1
            obs, infos = env.reset()
    assert episodes >= 5


@pytest.mark.parametrize("make", [mamt_v0.parallel_env, mast_v0.parallel_env])
def test_parallel_and_aec_trajectories_are_reproducible(make):
    a = rollout(make(), seed=3, steps=500)
    assert a == rollout(make(), seed=3, steps=500)
    assert a != rollout(make(), seed=4, steps=500)


def test_aec_is_deterministic():
    def play(seed):
        env = mamt_v0.env()
        env.reset(seed=seed)
        rng = np.random.default_rng(0)
        out = []
        for _ in range(3):
            for agent in env.agent_iter(400):
                obs, rew, term, trunc, _ = env.last()
                out.append((agent, obs.tobytes(), rew, term, trunc))
                env.step(None if term or trunc else int(rng.integers(5)))
            env.reset()
        return out

    assert play(1) == play(1)
    assert play(1) != play(2)


def test_batched_env_is_reproducible_for_any_batch_size():
    def run(seed):
        venv = mt_envs.make_vec("mamt_v0", 32, seed=seed)
        obs, _ = venv.reset()
        policy = GreedyPolicy.for_env(venv)
        trace = [obs.copy()]
        start = np.ones(32, dtype=bool)
        info = {"task_id": venv.reset(seed=seed)[1]["task_id"]}
        for _ in range(200):
            act = policy.act(obs, info["task_id"], start)
            obs, rew, _term, _trunc, info = venv.step(act)
            start = info["_final"]
            trace.append(obs.copy())
            trace.append(rew.copy())
        return trace

    a, b, c = run(5), run(5), run(6)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(a, c, strict=True))


def test_seed_task_fixes_the_task_stream_independently_of_dynamics_seeds():
    def tasks(seed_task, seeds):
        env = mamt_v0.parallel_env(seed_task=seed_task)
        out = []
        for s in seeds:
            _, infos = env.reset(seed=s)
            out.append(infos["agent_0"]["task_id"])
        return out

    assert tasks(3, range(30)) == tasks(3, range(100, 130))
    assert tasks(None, range(30)) != tasks(None, range(100, 130))


def test_sync_vector_env_copy_b_replays_a_single_env_seeded_seed_plus_b():
    venv = mt_envs.make_vec("mamt_v0", 3, seed=10, native=False)
    obs, _ = venv.reset()
    env = mamt_v0.parallel_env()
    single, _ = env.reset(seed=12)
    np.testing.assert_array_equal(obs[2], np.stack(list(single.values())))
