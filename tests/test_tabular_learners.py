"""Tabular Q-learning, soft Q-learning and MultiDistral (paper 002): formulas against hand
computations, one-step updates, the M-step against hand-counted visits, V1 / V2 priors,
determinism, model files and the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mt_agents.common import ModelFileError
from mt_agents.tabular import (
    MultiDistral,
    QLearning,
    SoftQLearning,
    distral_policy,
    epsilon_greedy_policy,
    exponential_epsilon,
    prior_logits,
    soft_value,
    uniform_soft_value,
    visit_policy,
)
from mt_envs import chain_v0, corridor_v0

# -- formulas ---------------------------------------------------------------------------------


def test_soft_value_and_distral_policy_by_hand() -> None:
    q = np.array([1.0, 2.0, -1.0])
    prior = np.array([0.2, 0.5, 0.3])
    alpha, beta = 0.7, 0.5
    terms = [p**alpha * math.exp(beta * x) for p, x in zip(prior, q, strict=True)]
    v_hand = math.log(sum(terms)) / beta
    logits = prior_logits(prior, alpha)
    assert soft_value(q, logits, beta) == pytest.approx(v_hand, abs=1e-12)
    pi_hand = [p**alpha * math.exp(beta * (x - v_hand)) for p, x in zip(prior, q, strict=True)]
    np.testing.assert_allclose(distral_policy(q, logits, beta), pi_hand, atol=1e-12)
    assert sum(pi_hand) == pytest.approx(1.0, abs=1e-12)  # normalised by the definition of V
    # Large beta * Q does not overflow (log-sum-exp shift).
    big = soft_value(np.array([500.0, 499.0]), 0.0, 10.0)
    assert big == pytest.approx(500.0 + math.log(1 + math.exp(-10.0)) / 10.0, abs=1e-9)
    # A uniform prior enters as the scalar -alpha log A.
    assert soft_value(q, -alpha * math.log(3), beta) == pytest.approx(
        soft_value(q, prior_logits(np.full(3, 1 / 3), alpha), beta), abs=1e-12
    )


def test_uniform_soft_value_is_the_zero_reward_fixed_point() -> None:
    # ((1 - 0.7) / 0.5) log 5 / (1 - 0.99) = 0.6 * 1.6094379 / 0.01
    v = uniform_soft_value(0.7, 0.5, 0.99, 5)
    assert v == pytest.approx(0.6 * math.log(5) / 0.01, rel=1e-12)
    assert v == pytest.approx(96.5663, abs=1e-4)
    # zero reward: Q = gamma V on every action, and equation 3 gives back V
    logits = prior_logits(np.full(5, 0.2), 0.7)
    assert soft_value(np.full(5, 0.99 * v), logits, 0.5) == pytest.approx(v, rel=1e-12)
    assert uniform_soft_value(1.0, 0.5, 0.99, 5) == 0.0
    with pytest.raises(ValueError, match="gamma"):
        uniform_soft_value(0.7, 0.5, 1.0, 5)


def test_q_init_fills_the_soft_tables() -> None:
    env = chain_v0.parallel_env(tasks="chain-2", mode="sampled")
    model = MultiDistral(env, q_init="neutral", seed=0)
    assert np.all(model.q_table == uniform_soft_value(0.7, 0.5, 0.99, 2))
    assert np.all(MultiDistral(env, seed=0).q_table == 0.0)
    soft = SoftQLearning(chain_v0.vector_env(2, tasks="chain-2", mode="sampled"), q_init=2.5)
    assert np.all(soft.q_table == 2.5)
    for bad in ("optimistic", float("nan"), True):
        with pytest.raises(ValueError, match="q_init"):
            MultiDistral(env, q_init=bad)


def test_visit_policy_and_epsilon_by_hand() -> None:
    counts = np.array([[3.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(visit_policy(counts), [[0.75, 0.25, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    np.testing.assert_allclose(
        visit_policy(counts, 0.5), [[3.5 / 5.5, 1.5 / 5.5, 0.5 / 5.5], [1 / 3, 1 / 3, 1 / 3]]
    )
    np.testing.assert_allclose(
        epsilon_greedy_policy(np.array([1.0, 3.0, 3.0]), 0.3), [0.1, 0.45, 0.45]
    )
    assert exponential_epsilon(0, 1.0, 0.01, 0.001) == pytest.approx(1.0)
    assert exponential_epsilon(1000, 1.0, 0.01, 0.001) == pytest.approx(0.01 + 0.99 / math.e)


# -- one-step updates -----------------------------------------------------------------------------


def _one_step(model: QLearning | SoftQLearning) -> tuple[np.ndarray, np.ndarray]:
    before = model.q_table.copy()
    model.learn(1)
    return before, model.q_table


@pytest.mark.parametrize("soft", [False, True])
def test_td_backup_against_hand_computed_tables(soft: bool) -> None:
    # Chain task 0 from S3 (index 2): LEFT -> S2, RIGHT -> S4, reward 0, no termination.
    env = chain_v0.parallel_env(tasks="chain-2", mode="sampled")
    rng = np.random.default_rng(3)
    if soft:
        model: QLearning | SoftQLearning = SoftQLearning(env, seed=1, learning_rate=0.3)
    else:
        model = QLearning(env, seed=1, learning_rate=0.3, gamma=0.9)
    model.q_table[...] = rng.normal(size=model.q_table.shape)
    before, after = _one_step(model)
    changed = np.argwhere(before != after)
    assert len(changed) == 1
    g, i, s, a = changed[0]
    assert (g, i, s) == (0, 0, 2)
    nxt = 1 if a == 0 else 3
    row = before[0, 0, nxt]
    if soft:
        assert isinstance(model, SoftQLearning)
        v = math.log(sum(0.5**0.7 * math.exp(0.5 * x) for x in row)) / 0.5
        gamma = 0.99
    else:
        v, gamma = float(row.max()), 0.9
    expected = before[0, 0, 2, a] + 0.3 * (0.0 + gamma * v - before[0, 0, 2, a])
    assert after[0, 0, 2, a] == pytest.approx(expected, abs=1e-12)


def test_no_bootstrap_after_termination() -> None:
    # From S2 of task 0, LEFT enters S1: reward +1 and the episode terminates.
    env = chain_v0.parallel_env(tasks=chain_v0.ChainEnv().task_set[0], mode="sampled")
    model = QLearning(env, seed=0, learning_rate=1.0, gamma=0.9, exploration_initial_eps=0.0)
    model.q_table[0, 0, 2] = [1.0, 0.0]  # go LEFT from S3
    model.q_table[0, 0, 1] = [5.0, 0.0]  # and LEFT from S2
    model.q_table[0, 0, 0] = [100.0, 100.0]  # S1's row must not leak into the target
    model.learn(2)
    assert model.q_table[0, 0, 1, 0] == pytest.approx(1.0)
    assert model.q_table[0, 0, 2, 0] == pytest.approx(0.9 * 5.0)


# -- MultiDistral -----------------------------------------------------------------------------


def test_m_step_against_hand_counted_visits() -> None:
    gamma, smoothing = 0.8, 0.1
    env = chain_v0.parallel_env(tasks=chain_v0.ChainEnv().task_set[0], mode="sampled")
    model = MultiDistral(
        env,
        gamma=gamma,
        games_per_m_step=1,
        n_iterations=1,
        prior_smoothing=smoothing,
        seed=0,
    )
    model.q_table[0, 0, :, 0] = 1000.0  # the task policy plays LEFT everywhere (beta Q = 500)
    model.phase = "M"
    model.learn(10**6)
    # S3 --LEFT--> S2 --LEFT--> S1 (terminal): visits (S3, L) at t = 0 and (S2, L) at t = 1.
    hand = np.zeros((1, 5, 2))
    hand[0, 2, 0] = 1.0
    hand[0, 1, 0] = gamma
    np.testing.assert_allclose(model.visit_counts, hand, atol=1e-12)
    expected = np.full((1, 5, 2), 0.5)
    expected[0, 2] = [1.1 / 1.2, 0.1 / 1.2]
    expected[0, 1] = [(gamma + 0.1) / (gamma + 0.2), 0.1 / (gamma + 0.2)]
    np.testing.assert_allclose(model.prior, expected, atol=1e-12)
    np.testing.assert_allclose(model.policy_table(0), expected[0], atol=1e-12)
    assert model.iteration == 1 and model.phase == "E"
    assert [h["phase"] for h in model.episode_history] == ["M"]


def test_v1_keeps_one_prior_per_agent_v2_one_for_all() -> None:
    env = corridor_v0.parallel_env(tasks="corridor-5")
    kw = {"games_per_e_step": 2, "games_per_m_step": 2, "n_iterations": 1, "seed": 4}
    v1 = MultiDistral(env, version=1, **kw).learn(10**6)
    v2 = MultiDistral(env, version=2, **kw).learn(10**6)
    assert v1.prior.shape == (2, env.n_states, 5) and v2.prior.shape == (1, env.n_states, 5)
    assert not np.array_equal(v1.prior[0], v1.prior[1])
    np.testing.assert_array_equal(v1.policy_table("agent_1"), v1.prior[1])
    np.testing.assert_array_equal(v2.policy_table("agent_0"), v2.policy_table("agent_1"))
    # Same seed and a uniform prior in iteration 0: the same games, so V2 pools V1's counts.
    np.testing.assert_allclose(v2.visit_counts[0], v1.visit_counts.sum(axis=0), atol=1e-9)
    np.testing.assert_array_equal(v1.q_table, v2.q_table)
    # 2 + 2 games of each of the 5 tasks, both agents' returns recorded.
    assert v1.task_games.tolist() == [4] * 5
    assert len(v1.episode_history) == 20
    assert all(len(h["returns"]) == 2 for h in v1.episode_history)
    # Task policies are distributions; greedy ones put everything on the most probable actions.
    pi = v1.policy_table(0, task=3)
    greedy = v1.policy_table(0, task=3, greedy=True)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0)
    np.testing.assert_allclose(greedy.sum(axis=1), 1.0)
    top = pi == pi.max(axis=1, keepdims=True)
    assert np.all((greedy > 0) == top)


def test_multidistral_refuses_team_mode_and_bad_version() -> None:
    with pytest.raises(ValueError, match="mode='sampled'"):
        MultiDistral(chain_v0.parallel_env(tasks="chain-2"))
    with pytest.raises(ValueError, match="version"):
        MultiDistral(corridor_v0.parallel_env(), version=3)


# -- learning, determinism, files -------------------------------------------------------------


def test_q_learning_learns_the_chain_tasks() -> None:
    # Team mode: each agent learns its own task; both should reach their goal greedily.
    env = chain_v0.vector_env(8, tasks="chain-2")
    model = QLearning(env, seed=0, gamma=0.9, exploration_decay=0.01).learn(6000)
    assert np.argmax(model.policy_table("agent_0", greedy=True)[2]) == 0  # task 0: go LEFT
    recent = [h["returns"] for h in model.episode_history[-50:]]
    assert np.mean(recent, axis=0).min() > 0.6


@pytest.mark.parametrize("cls", [QLearning, SoftQLearning, MultiDistral])
def test_same_seed_same_tables(cls: type) -> None:
    def run() -> dict[str, np.ndarray]:
        env = corridor_v0.parallel_env(tasks="corridor-5")
        kw = {"games_per_e_step": 1, "games_per_m_step": 1} if cls is MultiDistral else {}
        model = cls(env, seed=7, **kw)
        model.learn(1500)
        return dict(model.get_parameters())

    a, b = run(), run()
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert any(np.abs(v).sum() > 0 for v in a.values())


def test_save_load_round_trip_and_predict(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "md.zip"
    env = corridor_v0.parallel_env(tasks="corridor-5")
    model = MultiDistral(env, version=2, games_per_e_step=1, games_per_m_step=1, seed=0)
    model.learn(2000)
    model.save(path)
    loaded = MultiDistral.load(path)  # without env: the env is rebuilt from the file
    for key, value in model.get_parameters().items():
        np.testing.assert_array_equal(loaded.get_parameters()[key], value)
    assert (loaded.iteration, loaded.phase) == (model.iteration, model.phase)
    obs, _ = env.reset(seed=0)
    acts, _ = loaded.predict(obs, deterministic=True)
    greedy = {a: int(np.argmax(loaded.policy_table(a)[env.state_index(o)])) for a, o in obs.items()}
    assert acts == greedy
    venv = corridor_v0.vector_env(3, tasks="corridor-5")
    vobs, info = venv.reset(seed=1)
    arr, _ = loaded.predict(vobs, deterministic=True)
    np.testing.assert_array_equal(arr, loaded.predict_indices(info["state_index"], None, True))
    with pytest.raises(ModelFileError, match="multidistral"):
        QLearning.load(path)
    q = QLearning(env, per_task=True, seed=0)
    with pytest.raises(ValueError, match="task_id"):
        q.predict(obs)
    assert q.predict(obs, task_id=2)[0].keys() == obs.keys()


def test_cli_trains_a_tabular_learner(tmp_path: object) -> None:
    from pathlib import Path

    from mt_agents import load_model
    from mt_agents.cli import main

    out = Path(str(tmp_path)) / "run"
    rc = main(
        [
            "train",
            "q-learning",
            "--env",
            "chain_v0",
            "--timesteps",
            "400",
            "--num-envs",
            "4",
            "--learning-rate",
            "0.5",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    model = load_model(out / "model.zip")
    assert isinstance(model, QLearning) and model.learning_rate == 0.5
    assert model.num_timesteps >= 400
