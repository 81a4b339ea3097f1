"""The 2-task chain (chain_v0, paper 003 section 2.2): tasks, exact values the paper states,
Monte-Carlo agreement of the env with the solver, the stochastic variant, rendering, the checkers
and the Gymnasium face."""

from __future__ import annotations

import math

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env

from mt_envs import chain_v0
from mt_envs.chain import LEFT, RIGHT, ChainEnv, ChainTask, chain_model, shared_policy
from mt_envs.chain.task_sets import chain_2, chain_2_stochastic
from mt_envs.tabular import (
    evaluate_policy,
    multitask_objective,
    policy_gradient,
    register_gymnasium,
    value_iteration,
)
from mt_envs.tasks import task_from_dict
from mt_envs.test import check_env, check_vector_env

S1, S2, S3, S4, S5 = range(5)
GAMMAS = (0.5, 0.9, 0.99)
Z99 = 2.5758  # two-sided 99% normal quantile


# -- tasks ----------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"variant": 3}, "variant=3"),
        ({"variant": True}, "variant=True"),
        ({"p": -0.1}, r"p=-0.1 is invalid: need a probability in \[0, 1\]"),
        ({"p": 1.5}, r"p=1.5 is invalid"),
        ({"p": math.nan}, "p=nan"),
        ({"p": "0.5"}, "p='0.5'"),
        ({"horizon": 0}, "horizon=0"),
    ],
)
def test_bad_chain_tasks_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ChainTask(**kwargs)


def test_env_p_outside_unit_interval_is_a_clear_error():
    for p in (-0.01, 1.01):
        with pytest.raises(ValueError, match=r"need a probability in \[0, 1\]"):
            chain_v0.parallel_env(p=p)


def test_task_names_and_round_trip():
    tasks = [ChainTask(1), ChainTask(2, p=0.75), ChainTask(1, horizon=20), ChainTask(2, p=1)]
    assert [t.name for t in tasks] == ["chain-t1", "chain-t2-p0.75", "chain-t1-h20", "chain-t2-p1"]
    for t in tasks:
        assert task_from_dict(t.to_dict()) == t
    assert chain_2().names == ["chain-t1", "chain-t2"]
    assert chain_2_stochastic().names == ["chain-t1-p0.75", "chain-t2-p0.75"]


def test_env_p_keyword_makes_every_task_stochastic():
    env = chain_v0.parallel_env(tasks="chain-2", p=0.6)
    assert [t.p for t in env.task_set] == [0.6, 0.6] and env.compiled.stochastic


# -- the model --------------------------------------------------------------------------------
def _successors(model, s, a):
    return {
        int(n): float(p)
        for n, p in zip(model.next_state[s, a], model.prob[s, a], strict=False)
        if p > 0
    }


def test_deterministic_dynamics_follow_figure_1():
    t1, t2 = chain_model(ChainTask(1)), chain_model(ChainTask(2))
    for s in (S2, S3, S4):
        assert _successors(t1, s, LEFT) == {s - 1: 1.0}
        assert _successors(t1, s, RIGHT) == {s + 1: 1.0}
    assert _successors(t2, S2, LEFT) == {S3: 1.0} and _successors(t2, S2, RIGHT) == {S1: 1.0}
    assert _successors(t2, S4, LEFT) == {S5: 1.0} and _successors(t2, S4, RIGHT) == {S3: 1.0}
    assert _successors(t2, S3, LEFT) == {S2: 1.0} and _successors(t2, S3, RIGHT) == {S4: 1.0}
    for m, sign in ((t1, 1.0), (t2, -1.0)):
        assert m.terminal.tolist() == [True, False, False, False, True]
        assert m.start.tolist() == [0, 0, 1, 0, 0]
        for s, a in ((S2, LEFT), (S2, RIGHT), (S4, LEFT), (S4, RIGHT)):
            (nxt,) = _successors(m, s, a)
            expected = {S1: sign, S5: -sign}.get(nxt, 0.0)
            assert m.reward[s, a, 0] == expected


def test_stochastic_dynamics_are_action_independent_with_probability_p():
    p = 0.7
    t1, t2 = chain_model(ChainTask(1, p=p)), chain_model(ChainTask(2, p=p))
    for a in (LEFT, RIGHT):
        assert _successors(t1, S2, a) == pytest.approx({S1: 1 - p, S3: p})
        assert _successors(t1, S4, a) == pytest.approx({S3: 1 - p, S5: p})
        assert _successors(t2, S2, a) == pytest.approx({S1: p, S3: 1 - p})
        assert _successors(t2, S4, a) == pytest.approx({S3: p, S5: 1 - p})
        # expected rewards: task 1 pays +1 on S1, -1 on S5; task 2 the opposite
        assert t1.reward[S2, a, 0] == pytest.approx(1 - p)
        assert t1.reward[S4, a, 0] == pytest.approx(-p)
        assert t2.reward[S2, a, 0] == pytest.approx(-p)
        assert t2.reward[S4, a, 0] == pytest.approx(1 - p)
    assert _successors(t1, S3, LEFT) == {S2: 1.0}


# -- the paper's values -----------------------------------------------------------------------
@pytest.mark.parametrize("gamma", GAMMAS)
def test_best_shared_policy_value_is_2g_over_2_minus_g2_and_deterministic_ones_get_g(gamma):
    models = [chain_model(t) for t in chain_2()]
    total, per_task = multitask_objective(models, shared_policy(0.5), gamma)
    assert total == pytest.approx(2 * gamma / (2 - gamma**2), abs=1e-12)
    assert per_task == pytest.approx([gamma / (2 - gamma**2)] * 2, abs=1e-12)
    # pi_l: task 1 reaches S1 in two steps (gamma), task 2 oscillates S3 <-> S2 forever (0).
    total_l, per_l = multitask_objective(models, shared_policy(1.0), gamma)
    total_r, per_r = multitask_objective(models, shared_policy(0.0), gamma)
    assert total_l == pytest.approx(gamma, abs=1e-12) and total_r == pytest.approx(gamma, abs=1e-12)
    assert per_l == pytest.approx([gamma, 0.0], abs=1e-12)
    assert per_r == pytest.approx([0.0, gamma], abs=1e-12)
    assert total > total_l


@pytest.mark.parametrize("gamma", GAMMAS)
def test_uniform_at_s3_is_the_best_shared_policy_and_no_deterministic_one_beats_gamma(gamma):
    models = [chain_model(t) for t in chain_2()]
    best = multitask_objective(models, shared_policy(0.5), gamma)[0]
    for q in np.linspace(0, 1, 41):
        assert multitask_objective(models, shared_policy(float(q)), gamma)[0] <= best + 1e-12
    # every deterministic shared policy over S2, S3, S4 (S1, S5 are absorbing)
    values = []
    for bits in range(8):
        pi = np.full((5, 2), 0.5)
        for j, s in enumerate((S2, S3, S4)):
            pi[s] = (1.0, 0.0) if bits >> j & 1 else (0.0, 1.0)
        values.append(multitask_objective(models, pi, gamma)[0])
    assert max(values) == pytest.approx(gamma, abs=1e-12)


@pytest.mark.parametrize("p", [0.6, 0.75, 0.9])
def test_stochastic_variant_uniform_is_a_non_optimal_stationary_point(p):
    gamma = 0.9
    models = [chain_model(t) for t in chain_2_stochastic(p)]
    f_half = multitask_objective(models, shared_policy(0.5), gamma)[0]
    f_left = multitask_objective(models, shared_policy(1.0), gamma)[0]
    f_right = multitask_objective(models, shared_policy(0.0), gamma)[0]
    assert f_left == pytest.approx(f_right, abs=1e-12)
    for q in np.linspace(0, 1, 21):
        assert multitask_objective(models, shared_policy(float(q)), gamma)[0] <= f_left + 1e-12
    assert f_half < f_left - 1e-3

    # closed form: with q = P(LEFT | S3), task 1 at S3 is gamma (q - p) / (1 - gamma^2 (1 - p +
    # q (2p - 1))); task 2 is task 1 at 1 - q.
    def v1(q: float) -> float:
        return gamma * (q - p) / (1 - gamma**2 * (1 - p + q * (2 * p - 1)))

    assert f_half == pytest.approx(2 * v1(0.5), abs=1e-12)
    assert f_left == pytest.approx(v1(1.0) + v1(0.0), abs=1e-12)
    # The gradient of (5) vanishes at the uniform policy (theta = 0): a stationary point.
    grad = sum(policy_gradient(m, np.zeros((5, 2)), gamma) for m in models)
    assert np.abs(grad).max() < 1e-12


def test_single_task_optima():
    for variant, first in ((1, LEFT), (2, RIGHT)):
        v, q, greedy = value_iteration(chain_model(ChainTask(variant)), 0.9)
        assert v[S3] == pytest.approx(0.9)  # two steps to the +1 end
        assert greedy[S3, first] == 1.0 or variant == 2
        assert q[S3].max() == pytest.approx(0.9)


# -- Monte Carlo ------------------------------------------------------------------------------
def _mc_returns(env, policy, gamma, episodes, seed):
    """Discounted return of every agent's episode under ``policy`` (a [5, 2] array)."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[float]] = {a: [] for a in env.possible_agents}
    env.reset(seed=seed)
    for _ in range(episodes):
        obs, _ = env.reset()
        ret = dict.fromkeys(env.agents, 0.0)
        disc = 1.0
        while env.agents:
            acts = {a: int(rng.random() >= policy[int(obs[a]), LEFT]) for a in env.agents}
            obs, rew, _, _, _ = env.step(acts)
            for a, r in rew.items():
                ret[a] += disc * r
            disc *= gamma
        for a, r in ret.items():
            out[a].append(r)
    return {a: np.array(v) for a, v in out.items()}


def _assert_within_ci(samples, exact, horizon, gamma):
    # 99% normal interval, widened by the truncation bias (at most gamma^horizon per episode).
    mean, sd = samples.mean(), samples.std(ddof=1)
    half = Z99 * max(sd, 1e-3) / np.sqrt(samples.size) + gamma**horizon
    assert abs(mean - exact) <= half, (mean, exact, half)


@pytest.mark.parametrize(("tasks", "q"), [("chain-2", 0.5), ("chain-2-stochastic", 0.3)])
def test_monte_carlo_returns_agree_with_the_solver(tasks, q):
    gamma = 0.9
    env = chain_v0.parallel_env(tasks=tasks, mode="team")
    policy = shared_policy(q)
    returns = _mc_returns(env, policy, gamma, 3000, seed=7)
    for k, model in enumerate(env.models):
        exact = evaluate_policy(model, policy, gamma)[S3, 0]
        _assert_within_ci(returns[f"agent_{k}"], exact, env.tables[k].horizon, gamma)


def test_monte_carlo_of_the_batched_env_agrees_with_the_solver():
    gamma, b = 0.9, 2000
    venv = chain_v0.vector_env(b, tasks="chain-2-stochastic", mode="sampled", seed=3)
    _, info = venv.reset(options={"task": np.arange(b) % 2})
    policy = shared_policy(0.5)
    rng = np.random.default_rng(0)
    ret, disc = np.zeros(b), np.ones(b)
    first = np.ones(b, dtype=bool)  # still in the first episode
    task = info["task_id"].copy()
    while first.any():
        left = rng.random(b) < policy[info["state_index"][:, 0], LEFT]
        _obs, rew, _term, _trunc, info = venv.step(np.where(left, LEFT, RIGHT)[:, None])
        ret += first * disc * rew[:, 0]
        disc *= gamma
        first &= ~info["_final"]
    for k in range(2):
        exact = evaluate_policy(venv.models[k], policy, gamma)[S3, 0]
        _assert_within_ci(ret[task == k], exact, 100, gamma)


def test_stochastic_transition_frequencies_match_p():
    p, n = 0.75, 4000
    venv = chain_v0.vector_env(n, tasks="chain-2-stochastic", mode="team", seed=11)
    venv.reset()
    left = np.zeros((n, 2), dtype=np.int64)
    venv.step(left)  # S3 -> S2 in both tasks
    assert (venv.core.s - venv.compiled.offset == S2).all()
    # the action does not matter in S2; final_state is the state before any auto-reset
    *_, info = venv.step(np.ones((n, 2), dtype=np.int64))
    local = info["final_state"].astype(np.int64)
    # task 1 goes S2 -> S3 with probability p, task 2 with probability 1 - p
    for k, expect in ((0, p), (1, 1 - p)):
        freq = np.mean(local[:, k] == S3)
        half = Z99 * np.sqrt(expect * (1 - expect) / n)
        assert abs(freq - expect) <= half, (k, freq, expect)
        assert set(np.unique(local[:, k])) <= {S1, S3}


# -- env API ----------------------------------------------------------------------------------
def test_env_basics_team_and_sampled():
    env = chain_v0.parallel_env()
    assert env.mode == "team" and env.possible_agents == ["agent_0", "agent_1"]
    assert (env.n_states, env.n_actions) == (5, 2) and env.deterministic
    obs, infos = env.reset(seed=0)
    assert obs == {"agent_0": 2, "agent_1": 2} and obs["agent_0"].dtype == np.int64
    assert [infos[a]["task_id"] for a in env.agents] == [0, 1]
    assert env.state_index(obs["agent_0"]) == 2 and env.state().tolist() == [2.0, 2.0]
    env = chain_v0.parallel_env(mode="sampled", seed_task=0)
    assert env.possible_agents == ["agent_0"] and not env.deterministic
    tasks = {env.reset()[1]["agent_0"]["task_id"] for _ in range(30)}
    assert tasks == {0, 1}


@pytest.mark.parametrize("tasks", ["chain-2", "chain-2-stochastic"])
def test_checkers_sampled_mode(tasks):
    check_env(
        lambda render_mode=None: chain_v0.parallel_env(
            tasks=tasks, mode="sampled", render_mode=render_mode
        ),
        num_cycles=200,
    )


@pytest.mark.parametrize("mode", ["team", "sampled"])
@pytest.mark.parametrize("tasks", ["chain-2", "chain-2-stochastic"])
def test_vector_env_conformance(tasks, mode):
    check_vector_env(chain_v0.vector_env(64, tasks=tasks, mode=mode, seed=0), steps=200)


def test_rendering_shows_the_state():
    env = chain_v0.parallel_env(render_mode="rgb_array")
    env.reset(seed=0)
    first = env.render()
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[2] == 3
    env.step({"agent_0": LEFT, "agent_1": RIGHT})
    second = env.render()
    assert second.shape == first.shape and not np.array_equal(first, second)
    text = chain_v0.parallel_env(render_mode="ansi")
    text.reset(seed=0)
    out = text.render()
    assert "agent_0 + . @ . -" in out and "agent_1 - x @ x +" in out
    stoch = chain_v0.parallel_env(tasks="chain-2-stochastic", mode="sampled", render_mode="ansi")
    stoch.reset(seed=0)
    assert "~ @ ~" in stoch.render()


# -- Gymnasium --------------------------------------------------------------------------------
def test_gymnasium_registration_and_checker():
    register_gymnasium()
    register_gymnasium()  # idempotent
    env = gymnasium.make("mt_envs/Chain-v0", task=1)
    gym_check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=0)
    assert obs == 2 and info["task_id"] == 1
    obs, rew, term, trunc, info = env.step(RIGHT)  # task 2: S3 -> S4, then RIGHT is left
    assert obs == S4 and rew == 0.0
    obs, rew, term, trunc, info = env.step(LEFT)  # task 2 swaps in S4: LEFT goes to S5 (+1)
    assert (obs, rew, term, trunc) == (S5, 1.0, True, False)
    sampled = gymnasium.make("mt_envs/Chain-v0", tasks="chain-2-stochastic")
    gym_check_env(sampled.unwrapped, skip_render_check=True)
    named = chain_v0.gym_env(task="chain-t1", render_mode="ansi")
    _, info = named.reset(seed=0)
    assert info["task_id"] == 0 and "@" in named.render()
    _, info = named.reset(options={"task": 1})
    assert info["task_id"] == 1
    with pytest.raises(ValueError, match="not in task set"):
        chain_v0.gym_env(task="chain-t9")
    with pytest.raises(ValueError, match="out of range"):
        chain_v0.gym_env(task=2)


def test_env_class_is_the_shim_class():
    assert isinstance(chain_v0.parallel_env(), ChainEnv)
    assert chain_v0.raw_env().metadata["name"] == "chain_v0"
