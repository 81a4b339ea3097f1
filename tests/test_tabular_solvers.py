"""Exact solvers of mt_envs.tabular.solvers: hand-computable values, direct vs iterative
agreement, visitation, optimality against brute force, the policy gradient of paper 003
(equation 8) against finite differences, decentralised joint policies, bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from mt_envs.chain import ChainTask, chain_model, shared_policy
from mt_envs.tabular import (
    TabularModel,
    advantages,
    decentralized_policy,
    evaluate_policy,
    greedy_policy,
    multitask_objective,
    policy_gradient,
    q_values,
    relative_entropy,
    softmax_policy,
    start_value,
    uniform_policy,
    value_iteration,
    visitation,
)
from mt_envs.tabular.solvers import _aggregates


def two_state() -> TabularModel:
    """State 0: action 0 enters terminal state 1 with reward 1, action 1 stays with reward 0."""
    ns = np.array([[1, 0], [1, 1]])
    reward = np.array([[1.0, 0.0], [0.0, 0.0]])
    return TabularModel(ns, np.ones((2, 2)), reward, [1.0, 0.0], [False, True])


def random_model(s: int, a: int, k: int, seed: int, n_agents: int = 1) -> TabularModel:
    """A random model with ``k`` successors per (state, action) and two terminal states."""
    rng = np.random.default_rng(seed)
    ns = rng.integers(0, s, size=(s, a, k))
    prob = rng.dirichlet(np.ones(k), size=(s, a))
    reward = rng.normal(size=(s, a, n_agents))
    terminal = np.zeros(s, dtype=bool)
    terminal[:2] = True
    ns[terminal] = np.arange(s)[terminal, None, None]
    reward[terminal] = 0.0
    start = np.zeros(s)
    start[2:] = rng.random(s - 2)
    return TabularModel(ns, prob, reward, start / start.sum(), terminal)


def random_policy(model: TabularModel, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).dirichlet(np.ones(model.n_actions), size=model.n_states)


# -- hand-computable values ---------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.99])
def test_two_state_values_by_hand(gamma):
    m = two_state()
    # uniform: V0 = 0.5 * 1 + 0.5 * gamma * V0
    v = evaluate_policy(m, uniform_policy(m), gamma)
    assert v[:, 0] == pytest.approx([0.5 / (1 - 0.5 * gamma), 0.0], abs=1e-12)
    q = q_values(m, v[:, 0], gamma)
    assert q[0] == pytest.approx([1.0, gamma * v[0, 0]], abs=1e-12)
    # d(0) = (1 - gamma) sum_t (gamma / 2)^t
    d = visitation(m, uniform_policy(m), gamma)
    d0 = (1 - gamma) / (1 - 0.5 * gamma)
    assert d == pytest.approx([d0, 1 - d0], abs=1e-12)
    v_opt, _q_opt, greedy = value_iteration(m, gamma)
    assert v_opt == pytest.approx([1.0, 0.0], abs=1e-12)
    assert greedy[0].tolist() == [1.0, 0.0]
    assert start_value(m, v_opt) == pytest.approx(1.0)


def test_iterative_and_direct_solvers_agree():
    m = random_model(400, 4, 3, seed=1, n_agents=2)
    pi = random_policy(m, 2)
    for gamma in (0.9, 0.99):
        direct = evaluate_policy(m, pi, gamma, method="direct")
        iterative = evaluate_policy(m, pi, gamma, method="iterative")
        np.testing.assert_allclose(iterative, direct, atol=1e-9)
        d_direct = visitation(m, pi, gamma, method="direct")
        d_iter = visitation(m, pi, gamma, method="iterative")
        np.testing.assert_allclose(d_iter, d_direct, atol=1e-11)


def test_iterative_solver_with_a_coarse_space_is_exact():
    # Copies of each state that differ only in what is observed (identical transition rows) let
    # the preconditioner aggregate; values must still be exact, for any policy.
    base = random_model(60, 3, 2, seed=4)
    copies = 8
    s = base.n_states
    idx = np.arange(s * copies)
    orig = idx % s
    rng = np.random.default_rng(5)
    ns = base.next_state[orig] + s * rng.integers(0, copies, size=(s, 3, 2))[orig]
    ns[base.terminal[orig]] = idx[base.terminal[orig], None, None]
    start = np.repeat(base.start[None], copies, axis=0).ravel() / copies
    m = TabularModel(ns, base.prob[orig], base.reward[orig], start, base.terminal[orig])
    aggregates = _aggregates(m)
    assert aggregates is not None and aggregates[1].size == 58 + 2 * copies
    pi = random_policy(m, 6)
    for gamma in (0.9, 0.999):
        direct = evaluate_policy(m, pi, gamma, method="direct")
        np.testing.assert_allclose(
            evaluate_policy(m, pi, gamma, method="iterative"), direct, atol=1e-8
        )
        np.testing.assert_allclose(
            visitation(m, pi, gamma, method="iterative"),
            visitation(m, pi, gamma, method="direct"),
            atol=1e-11,
        )


@pytest.mark.parametrize("seed", range(3))
def test_visitation_sums_to_one_and_gives_the_value(seed):
    m = random_model(30, 3, 2, seed=seed)
    pi = random_policy(m, seed)
    gamma = 0.95
    d = visitation(m, pi, gamma)
    assert d.sum() == pytest.approx(1.0, abs=1e-12) and (d >= -1e-15).all()
    # V(rho) = sum_s d(s) r_pi(s) / (1 - gamma)
    r_pi = np.einsum("sa,sa->s", pi, m.reward[:, :, 0])
    v = evaluate_policy(m, pi, gamma)
    assert start_value(m, v[:, 0]) == pytest.approx(d @ r_pi / (1 - gamma), abs=1e-10)
    # another start distribution
    rho = np.zeros(m.n_states)
    rho[5] = 1.0
    assert visitation(m, pi, gamma, rho).sum() == pytest.approx(1.0, abs=1e-12)


def test_q_values_are_consistent_with_v():
    m = random_model(25, 4, 2, seed=3, n_agents=2)
    pi = random_policy(m, 4)
    v = evaluate_policy(m, pi, 0.9)
    q = q_values(m, v, 0.9)
    assert q.shape == (25, 4, 2)
    np.testing.assert_allclose(np.einsum("sa,san->sn", pi, q), v, atol=1e-12)
    adv = advantages(m, pi, 0.9)
    np.testing.assert_allclose(np.einsum("sa,sa->s", pi, adv), 0.0, atol=1e-12)


# -- optimality ---------------------------------------------------------------------------------
def _brute_force(m: TabularModel, gamma: float) -> np.ndarray:
    best = np.full(m.n_states, -np.inf)
    for choice in itertools.product(range(m.n_actions), repeat=m.n_states):
        pi = np.zeros((m.n_states, m.n_actions))
        pi[np.arange(m.n_states), choice] = 1.0
        best = np.maximum(best, evaluate_policy(m, pi, gamma)[:, 0])
    return best


@pytest.mark.parametrize("variant", [1, 2])
@pytest.mark.parametrize("p", [None, 0.75])
def test_value_iteration_matches_brute_force_on_the_chain(variant, p):
    m = chain_model(ChainTask(variant, p=p))
    for gamma in (0.5, 0.9):
        v, q, greedy = value_iteration(m, gamma)
        np.testing.assert_allclose(v, _brute_force(m, gamma), atol=1e-12)
        np.testing.assert_allclose(evaluate_policy(m, greedy, gamma)[:, 0], v, atol=1e-12)
        np.testing.assert_allclose(q.max(axis=1), v, atol=1e-12)


def test_value_iteration_matches_brute_force_on_random_models():
    for seed in range(3):
        m = random_model(6, 2, 2, seed=seed)
        v, _, _greedy = value_iteration(m, 0.8)
        np.testing.assert_allclose(v, _brute_force(m, 0.8), atol=1e-11)


def test_value_iteration_channels():
    m = random_model(8, 3, 2, seed=9, n_agents=2)
    v_sum, _, _ = value_iteration(m, 0.9, agent="sum")
    v0, _, _ = value_iteration(m, 0.9, agent=0)
    v1, _, _ = value_iteration(m, 0.9, agent=1)
    assert np.all(v_sum <= v0 + v1 + 1e-12)  # a joint optimum never beats separate optima
    with pytest.raises(ValueError, match="agent=2 is invalid"):
        value_iteration(m, 0.9, agent=2)


# -- paper 003 quantities -----------------------------------------------------------------------
def test_policy_gradient_matches_finite_differences():
    models = [chain_model(t) for t in (ChainTask(1, p=0.7), ChainTask(2))]
    rng = np.random.default_rng(0)
    theta = rng.normal(size=(5, 2))
    gamma, lam, eps = 0.9, 0.3, 1e-6

    def objective(th: np.ndarray) -> float:
        return multitask_objective(models, softmax_policy(th), gamma, lam)[0]

    grad = sum(policy_gradient(m, theta, gamma, lam) for m in models)
    numeric = np.zeros_like(theta)
    for s, a in np.ndindex(theta.shape):
        step = np.zeros_like(theta)
        step[s, a] = eps
        numeric[s, a] = (objective(theta + step) - objective(theta - step)) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, atol=1e-7)


def test_regularised_objective_and_relative_entropy():
    models = [chain_model(ChainTask(1)), chain_model(ChainTask(2))]
    assert relative_entropy(np.full((5, 2), 0.5)) == pytest.approx(0.0, abs=1e-15)
    pi = shared_policy(0.5)  # deterministic in S2 and S4: log 0 gives an infinite penalty
    assert relative_entropy(pi) == np.inf
    soft = softmax_policy(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [2.0, 0.0], [0, 0]]))
    re = relative_entropy(soft)
    expected = -np.log(soft).sum() / 10 - np.log(2)
    assert re == pytest.approx(expected)
    plain, per = multitask_objective(models, soft, 0.9)
    reg, per_reg = multitask_objective(models, soft, 0.9, lam=0.5)
    np.testing.assert_allclose(per_reg, per - 0.5 * re)
    assert reg == pytest.approx(plain - 2 * 0.5 * re)
    # per-task policies and discounts
    total, _ = multitask_objective(models, [shared_policy(1.0), shared_policy(0.0)], [0.9, 0.8])
    assert total == pytest.approx(0.9 + 0.8)


def test_decentralized_policy_is_a_product_with_noop_for_done_agents():
    # Two agents, 3 observations each, 2 actions: joint action a = 2 * a0 + a1.
    obs_index = np.array([[0, 1], [2, 2], [1, 0]])
    p0 = np.array([[0.2, 0.8], [0.5, 0.5], [1.0, 0.0]])
    p1 = np.array([[0.6, 0.4], [0.3, 0.7], [0.1, 0.9]])
    alive = np.array([[True, True], [True, True], [False, True]])
    joint = decentralized_policy(obs_index, [p0, p1], alive)
    assert joint.shape == (3, 4)
    np.testing.assert_allclose(joint[0], [0.2 * 0.3, 0.2 * 0.7, 0.8 * 0.3, 0.8 * 0.7])
    np.testing.assert_allclose(joint[1], [0.1, 0.9, 0.0, 0.0])
    # agent 0 done in state 2: it plays its last action (1) with probability 1
    np.testing.assert_allclose(joint[2], [0.0, 0.0, 0.6, 0.4])
    shared = decentralized_policy(obs_index, p0)
    np.testing.assert_allclose(shared.sum(axis=1), 1.0)
    with pytest.raises(ValueError, match="2 agents"):
        decentralized_policy(obs_index, [p0])
    with pytest.raises(ValueError, match="exceeds"):
        decentralized_policy(obs_index + 5, [p0, p1])


def test_greedy_policy_takes_the_first_best_action():
    q = np.array([[1.0, 3.0, 3.0], [0.0, -1.0, -2.0]])
    assert greedy_policy(q).tolist() == [[0, 1, 0], [1, 0, 0]]


# -- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [1.0, -0.1, 1.5, "0.9"])
def test_bad_gamma(gamma):
    m = two_state()
    with pytest.raises(ValueError, match="gamma"):
        evaluate_policy(m, uniform_policy(m), gamma)


def test_bad_policies_and_methods():
    m = two_state()
    with pytest.raises(ValueError, match="shape"):
        evaluate_policy(m, np.ones((3, 2)) / 2, 0.9)
    with pytest.raises(ValueError, match="row 0 sums to"):
        evaluate_policy(m, np.array([[0.5, 0.6], [0.5, 0.5]]), 0.9)
    with pytest.raises(ValueError, match=">= 0"):
        evaluate_policy(m, np.array([[1.5, -0.5], [0.5, 0.5]]), 0.9)
    with pytest.raises(ValueError, match="method"):
        evaluate_policy(m, uniform_policy(m), 0.9, method="lu")
    with pytest.raises(ValueError, match="start must be a distribution"):
        visitation(m, uniform_policy(m), 0.9, start=np.array([0.5, 0.2]))
    with pytest.raises(ValueError, match="lam"):
        multitask_objective([m], uniform_policy(m), 0.9, lam=-1.0)
