"""DCPG (paper 003): exact gradients against the solver, convergence on the 2-task chain,
consensus, Monte-Carlo gradients, independent Q-learning's deterministic limit, files, CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mt_agents.dcpg import DCPG, exact_gradients
from mt_agents.tabular import QLearning
from mt_envs import chain_v0, gridworld_v0
from mt_envs.tabular import multitask_objective, policy_gradient, softmax_policy

GAMMA = 0.9
OPTIMUM = 2 * GAMMA / (2 - GAMMA**2)  # the best shared policy's value, summed over both tasks


def test_exact_gradients_match_the_solver() -> None:
    env = gridworld_v0.parallel_env(tasks="gridworld-conflict-4")
    model = DCPG(env, gamma=0.95, init_std=1.0, seed=3)
    for lam, start in ((0.0, None), (0.3, None), (0.1, "uniform")):
        mu = None if start is None else model.dense.starts * 0 + 1.0 / model.n_states
        got = exact_gradients(model.dense, model.theta, 0.95, lam, mu)
        for i, m in enumerate(model.models):
            ref = policy_gradient(m, model.theta[i], 0.95, lam, None if mu is None else mu[i])
            np.testing.assert_allclose(got[i], ref, atol=1e-10)


def test_start_mixture_and_full_support_mu_on_the_no_conflict_set() -> None:
    env = gridworld_v0.parallel_env(tasks="gridworld-noconflict-4")
    rho = DCPG(env)._mu
    uniform = DCPG(env, start="uniform")._mu
    np.testing.assert_allclose(DCPG(env, start=0.25)._mu, 0.75 * rho + 0.25 * uniform)
    np.testing.assert_allclose(DCPG(env, start=1.0)._mu, uniform)
    for bad in (1.5, -0.1, "corner"):
        with pytest.raises(ValueError, match="start"):
            DCPG(env, start=bad)  # type: ignore[arg-type]
    # mu = rho (one start cell) stops at a stationary point where tasks 2 and 3 loop (value 0);
    # a full-support mu and a small lambda reach the best shared value 3.613 (all four goals)
    stuck = DCPG(env, learning_rate=300.0, n_iterations=500, seed=0).learn(10**6)
    assert stuck.objective()[1][2:] == pytest.approx([0.0, 0.0], abs=1e-3)
    best = DCPG(env, learning_rate=300.0, start=0.25, lam=0.001, n_iterations=1000, seed=0)
    values = best.learn(10**6).objective()[1]
    assert values.sum() > 3.5
    assert np.all(values > 0.8)


def test_dcpg_on_the_chain_reaches_the_stochastic_optimum() -> None:
    env = chain_v0.parallel_env(tasks="chain-2")
    model = DCPG(
        env,
        gamma=GAMMA,
        learning_rate=20.0,
        learning_rate_power=0.5,
        init_std=1.0,
        seed=0,
    )
    start_error = consensus = None
    model.learn(5000)
    start_error = model.iteration_history[0]["consensus_error"]
    consensus = model.iteration_history[-1]["consensus_error"]
    for agent in model.possible_agents:
        assert model.policy_table(agent)[2, 0] == pytest.approx(0.5, abs=0.02)
    total, per_task = model.objective()
    assert total == pytest.approx(OPTIMUM, abs=1e-3)
    assert per_task == pytest.approx([OPTIMUM / 2] * 2, abs=1e-3)
    # The exact solver agrees on the learned shared policy.
    assert multitask_objective(model.models, model.mean_policy(), GAMMA)[0] == pytest.approx(
        total, abs=1e-12
    )
    # Consensus: the agents' parameters agree ever more closely as the steps shrink.
    assert consensus < 0.05 * start_error
    errors = [h["consensus_error"] for h in model.iteration_history]
    assert errors[-1] < errors[len(errors) // 2] < errors[len(errors) // 10]


def test_constant_step_agrees_only_up_to_alpha() -> None:
    env = chain_v0.parallel_env(tasks="chain-2")
    errs = []
    for alpha in (0.2, 0.05):
        model = DCPG(env, gamma=GAMMA, learning_rate=alpha, seed=0).learn(3000)
        errs.append(model.iteration_history[-1]["consensus_error"])
    assert errs[1] < 0.4 * errs[0]


def test_independent_q_learning_ends_at_gamma() -> None:
    # One Q-table for both tasks (the task is hidden): its greedy policy is deterministic, and no
    # deterministic shared policy is worth more than gamma summed over the tasks.
    env = chain_v0.vector_env(8, tasks="chain-2", mode="sampled")
    model = QLearning(env, gamma=GAMMA, exploration_decay=0.01, seed=0).learn(8000)
    greedy = model.policy_table("agent_0", greedy=True)
    assert set(np.unique(greedy[1:4])) == {0.0, 1.0}
    assert multitask_objective(model.models, greedy, GAMMA)[0] == pytest.approx(GAMMA, abs=1e-9)
    assert GAMMA < OPTIMUM - 0.1


def test_monte_carlo_gradient_is_unbiased() -> None:
    env = chain_v0.vector_env(4000, tasks="chain-2")
    model = DCPG(env, gamma=GAMMA, gradient="monte_carlo", init_std=0.5, seed=1)
    model._reset_env()
    mc = model._monte_carlo_gradients()
    exact = exact_gradients(model.dense, model.theta, GAMMA)
    live = slice(1, 4)  # S2..S4; the terminal rows have zero gradient in both
    np.testing.assert_allclose(mc[:, live], exact[:, live], atol=0.06)
    assert np.abs(exact[:, live]).max() > 0.2
    np.testing.assert_array_equal(mc[:, [0, 4]], 0.0)


def test_monte_carlo_dcpg_improves_on_the_no_conflict_gridworld() -> None:
    env = gridworld_v0.vector_env(8, tasks="gridworld-noconflict-4")
    model = DCPG(env, gradient="monte_carlo", learning_rate=0.5, n_iterations=150, seed=0)
    before = model.objective()[0]
    model.learn(10**9)
    after = model.objective()[0]
    assert after > before + 1.0
    assert model.num_timesteps > 0 and len(model.episode_history) == 150 * 8


def test_refuses_sampled_mode_and_round_trips(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="team-mode"):
        DCPG(chain_v0.parallel_env(tasks="chain-2", mode="sampled"))
    env = gridworld_v0.parallel_env(tasks="gridworld-6")
    model = DCPG(env, graph="random", graph_seed=2, init_std=0.3, seed=5).learn(20)
    again = DCPG(env, graph="random", graph_seed=2, init_std=0.3, seed=5).learn(20)
    np.testing.assert_array_equal(model.theta, again.theta)  # same seed, same tables
    path = model.save(tmp_path / "dcpg")
    loaded = DCPG.load(path)
    np.testing.assert_array_equal(loaded.theta, model.theta)
    np.testing.assert_array_equal(loaded.weights, model.weights)
    assert loaded.iteration == 20
    np.testing.assert_allclose(loaded.policy_table(3), softmax_policy(model.theta[3]))
    obs, _ = env.reset(seed=0)
    acts, _ = loaded.predict(obs, deterministic=True)
    assert acts == {a: int(np.argmax(model.theta[i, int(obs[a])])) for i, a in enumerate(obs)}


def test_cli_trains_dcpg(tmp_path: Path) -> None:
    from mt_agents import load_model
    from mt_agents.cli import main

    out = tmp_path / "run"
    args = ["train", "dcpg", "--env", "chain_v0", "--timesteps", "30", "--out", str(out)]
    assert main([*args, "--graph", "complete", "--lam", "0.01"]) == 0
    model = load_model(out / "model.zip")
    assert isinstance(model, DCPG) and model.iteration == 30 and model.lam == 0.01
