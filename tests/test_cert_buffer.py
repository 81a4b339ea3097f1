"""CERT replay (paper 000, section 5.1.2-5.1.3): storage from the auto-reset stream, sampling."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import mt_envs
from mt_agents.dec_hdrqn.buffers import CERTBatch, CERTBuffer

N_AGENTS, OBS_DIM, N_ACTIONS = 3, 4, 5


def _obs(b: int, ep: int, t: int) -> np.ndarray:
    """Observation of env ``b``, its episode ``ep``, step ``t``: ``[b, ep, t, agent]`` per agent."""
    return np.array([[b, ep, t, i] for i in range(N_AGENTS)], dtype=np.float32)


def _feed(buf: CERTBuffer, plans: list[list[tuple[int, bool]]]) -> list[tuple[int, int, int, bool]]:
    """Feed a synthetic auto-reset stream. ``plans[b]`` lists ``(length, terminated)`` of env
    ``b``'s episodes; envs end episodes at different steps. Returns ``(b, ep, length, term)`` of
    the episodes in the order they ended."""
    n_env = len(plans)
    ep = [0] * n_env
    t = [0] * n_env
    ended: list[tuple[int, int, int, bool]] = []
    steps = {sum(length for length, _ in p) for p in plans}
    assert len(steps) == 1, "every env's plan must last the same number of steps"
    for _ in range(steps.pop()):
        obs = np.stack([_obs(b, ep[b], t[b]) for b in range(n_env)])
        acts = np.array([[(t[b] + i) % N_ACTIONS for i in range(N_AGENTS)] for b in range(n_env)])
        rew = np.array([[t[b] + 0.5] * N_AGENTS for b in range(n_env)], dtype=np.float32)
        term = np.zeros((n_env, N_AGENTS), bool)
        trunc = np.zeros((n_env, N_AGENTS), bool)
        done = np.zeros(n_env, bool)
        next_obs = np.stack([_obs(b, ep[b], t[b] + 1) for b in range(n_env)])
        for b in range(n_env):
            length, is_term = plans[b][ep[b]]
            if t[b] + 1 == length:
                done[b] = True
                term[b], trunc[b] = is_term, not is_term
        amask = np.ones((n_env, N_AGENTS, N_ACTIONS), bool)
        amask[:, 2, :-1] = False  # agent slot 2 is padding: only its no-op is legal
        agent_mask = np.ones((n_env, N_AGENTS), bool)
        agent_mask[:, 2] = False
        buf.add(
            obs,
            acts,
            rew,
            term,
            trunc,
            next_obs,
            done,
            agent_mask,
            amask,
            np.arange(n_env) + 10,
        )
        for b in range(n_env):
            if done[b]:
                ended.append((b, ep[b], t[b] + 1, bool(term[b, 0])))
                ep[b] += 1
                t[b] = 0
            else:
                t[b] += 1
    return ended


def _buffer(capacity: int = 100, max_steps: int = 12, tau: int = 4, **kw: Any) -> CERTBuffer:
    return CERTBuffer(capacity, max_steps, 3, N_AGENTS, OBS_DIM, N_ACTIONS, tau, **kw)


PLANS = [  # 13 steps each, episodes ending at different steps
    [(3, True), (1, False), (7, True), (2, True)],
    [(5, False), (2, True), (6, True)],
    [(1, True), (4, True), (2, False), (6, True)],
]


def test_episodes_stored_whole_in_end_order() -> None:
    buf = _buffer()
    ended = _feed(buf, PLANS)
    assert buf.size == len(ended) == sum(len(p) for p in PLANS)
    assert buf.num_transitions == sum(length for p in PLANS for length, _ in p)
    for slot, (b, ep, length, is_term) in enumerate(ended):
        assert buf.lengths[slot] == length
        assert buf.task_id[slot] == 10 + b
        # o_0 .. o_len, the last being the final observation before the auto-reset
        expect = np.stack([_obs(b, ep, t) for t in range(length + 1)])
        np.testing.assert_array_equal(buf.obs[slot, : length + 1], expect)
        assert not buf.obs[slot, length + 1 :].any()
        np.testing.assert_array_equal(buf.rewards[slot, :length, 0], np.arange(length) + 0.5)
        term, trunc = buf.terminated[slot], buf.truncated[slot]
        assert term[: length - 1].sum() == 0 and trunc[: length - 1].sum() == 0
        assert term[length - 1].all() == is_term and trunc[length - 1].all() == (not is_term)
        assert not term[length:].any() and not trunc[length:].any()
        assert buf.agent_mask[slot, :length].tolist() == [[True, True, False]] * length


def test_fifo_drops_oldest_episode_first() -> None:
    buf = _buffer(capacity=4)
    ended = _feed(buf, PLANS)
    assert buf.size == 4 and buf.full and buf.episodes_added == len(ended)
    # The ring holds the last 4 episodes; slot order follows the ring position.
    last = ended[-4:]
    slots = [(len(ended) - 4 + j) % 4 for j in range(4)]
    for slot, (b, ep, length, _) in zip(slots, last, strict=True):
        assert buf.lengths[slot] == length
        assert buf.obs[slot, 0, 0, :2].tolist() == [b, ep]


def test_overlong_episode_is_cut_and_bootstraps() -> None:
    buf = _buffer(max_steps=4)
    ended = _feed(buf, [[(10, True)], [(3, True), (4, True), (3, False)], [(1, False), (9, True)]])
    assert sorted(e[2] for e in ended) == [1, 3, 3, 4, 9, 10]
    lengths = buf.lengths[: buf.size].tolist()
    # env 0's 10 steps: pieces 4 (cut, truncated), 4 (cut), 2 (terminated); env 2's 9: 4, 4, 1
    assert sorted(lengths) == sorted([4, 4, 2, 3, 4, 3, 1, 4, 4, 1])
    pieces = [s for s in range(buf.size) if buf.obs[s, 0, 0, 0] == 0]
    assert [int(buf.obs[s, 0, 0, 2]) for s in pieces] == [0, 4, 8]
    for s in pieces[:2]:
        assert buf.truncated[s, 3, :2].all() and not buf.terminated[s].any()
        np.testing.assert_array_equal(buf.obs[s, 4, 0, 2], buf.obs[s, 3, 0, 2] + 1)
    assert buf.terminated[pieces[2], 1, :2].all()


def _check_trace(buf: CERTBuffer, b: CERTBatch, m: int) -> None:
    tau = buf.trace_length
    e, t0, n_real = int(b.episode[m]), int(b.start[m]), int(b.length[m])
    ep_len = int(buf.lengths[e])
    assert -tau + 1 <= t0 <= ep_len - 1
    first = max(t0, 0)
    assert n_real == min(t0 + tau - 1, ep_len - 1) - first + 1 >= 1
    for k in range(tau + 1):
        if k <= n_real:  # real observation, the same step for every agent
            np.testing.assert_array_equal(b.obs[m, k], buf.obs[e, first + k])
            assert (b.obs[m, k, :, 2] == first + k).all()
        else:  # suffix padding
            assert not b.obs[m, k].any()
    for k in range(tau):
        real = k < n_real
        t = first + k
        assert b.mask[m, k].tolist() == ([1.0, 1.0, 0.0] if real else [0.0] * N_AGENTS)
        if real:
            assert b.actions[m, k, :2].tolist() == [(t + i) % N_ACTIONS for i in range(2)]
            assert b.rewards[m, k, 0] == t + 0.5
            last_term = t == ep_len - 1 and buf.terminated[e, t, 0]
            assert b.terminated[m, k].tolist() == [float(last_term)] * 2 + [0.0]
            np.testing.assert_array_equal(b.next_action_mask[m, k], buf.action_mask[e, t + 1])
        else:
            assert not b.actions[m, k].any() and not b.rewards[m, k].any()
            assert not b.terminated[m, k].any() and not b.next_action_mask[m, k].any()


@pytest.mark.parametrize("sampling", ["transition", "episode"])
def test_traces_padding_and_masks(sampling: str) -> None:
    buf = _buffer(sampling=sampling)
    _feed(buf, PLANS)
    batch = buf.sample(400, np.random.default_rng(0))
    assert batch.obs.shape == (400, 5, N_AGENTS, OBS_DIM) and batch.obs.dtype == np.float32
    assert batch.actions.shape == (400, 4, N_AGENTS) and batch.actions.dtype == np.int64
    assert batch.next_action_mask.shape == (400, 4, N_AGENTS, N_ACTIONS)
    for m in range(400):
        _check_trace(buf, batch, m)
    # Every start time of a long episode occurs, negative ones included.
    long_ep = int(np.argmax(buf.lengths[: buf.size]))
    seen = set(batch.start[batch.episode == long_ep].tolist())
    assert seen == set(range(-3, int(buf.lengths[long_ep])))


def _chi2_ok(counts: np.ndarray, expected: np.ndarray) -> tuple[bool, float]:
    # Pearson's statistic against df + 5 sd (df - 1 + 5 sqrt(2 df)): a false alarm has odds
    # below 1e-5 at these sizes.
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    df = counts.size - 1
    return chi2 < df + 5 * np.sqrt(2 * df), chi2


@pytest.mark.slow
def test_start_times_uniform_and_every_transition_equally_used() -> None:
    tau = 4
    buf = _buffer(max_steps=16, tau=tau)
    _feed(
        buf,
        [
            [(12, True), (3, False)],
            [(8, False), (5, True), (2, True)],
            [(1, True), (4, False), (10, True)],
        ],
    )
    rng = np.random.default_rng(1)
    batches = [buf.sample(1000, rng) for _ in range(120)]
    episode = np.concatenate([b.episode for b in batches])
    start = np.concatenate([b.start for b in batches])
    total = episode.size
    ep_len = buf.lengths[: buf.size]
    weights = ep_len + tau - 1  # H_e + tau start times per episode
    # Episodes drawn in proportion to their number of start times ...
    ok, chi2 = _chi2_ok(np.bincount(episode, minlength=buf.size), total * weights / weights.sum())
    assert ok, chi2
    # ... and, within each episode, t0 uniform over {-tau+1, ..., H_e}.
    for e in range(buf.size):
        t0 = start[episode == e]
        assert t0.min() >= -tau + 1 and t0.max() <= ep_len[e] - 1
        counts = np.bincount(t0 + tau - 1, minlength=int(weights[e]))
        ok, chi2 = _chi2_ok(counts, np.full(counts.size, t0.size / counts.size))
        assert ok, (e, chi2)
    # Every stored transition is used equally often: tau / sum(H_e + tau) per trace.
    used = np.zeros((buf.size, buf.max_steps))
    for b in batches:
        first = np.maximum(b.start, 0)
        for k in range(tau):
            real = k < b.length
            np.add.at(used, (b.episode[real], first[real] + k), 1)
    cells = np.concatenate([used[e, : ep_len[e]] for e in range(buf.size)])
    ok, chi2 = _chi2_ok(cells, np.full(cells.size, total * tau / weights.sum()))
    assert ok, chi2
    assert used.sum() == sum(b.mask[:, :, 0].sum() for b in batches)


def test_episode_mode_draws_episodes_uniformly() -> None:
    buf = _buffer(sampling="episode")
    _feed(buf, PLANS)
    episode = buf.sample(30_000, np.random.default_rng(2)).episode
    ok, chi2 = _chi2_ok(
        np.bincount(episode, minlength=buf.size), np.full(buf.size, 30_000 / buf.size)
    )
    assert ok, chi2


def test_real_env_stream_matches_episode_stats() -> None:
    venv = mt_envs.make_vec("mast_v0", num_envs=4, tasks="mast-2a-4to8", seed=3)
    obs, info = venv.reset(seed=3)
    horizon = 5 * 8 + 10  # the default horizon of the set's largest grid
    buf = CERTBuffer(50, horizon, 4, venv.num_agents, obs.shape[-1], 5, trace_length=4)
    rng = np.random.default_rng(0)
    lengths: list[int] = []
    returns: list[float] = []
    first_obs = {b: obs[b].copy() for b in range(4)}
    starts: list[np.ndarray] = []
    for _ in range(300):
        act = rng.integers(5, size=(4, venv.num_agents))
        nxt, rew, term, trunc, nxt_info = venv.step(act)
        buf.add(
            obs,
            act,
            rew,
            term,
            trunc,
            nxt_info["final_obs"],
            nxt_info["_final"],
            info["agent_mask"],
            info["action_mask"],
            info["task_id"],
        )
        for b in np.flatnonzero(nxt_info["_final"]).tolist():
            lengths.append(int(nxt_info["episode"]["l"][b]))
            returns.append(float(nxt_info["episode"]["r"][b, 0]))
            starts.append(first_obs[b])
            first_obs[b] = nxt[b].copy()
        obs, info = nxt, nxt_info
    n = min(len(lengths), buf.capacity)
    assert n >= 10
    kept = slice(len(lengths) - n, None) if buf.full else slice(0, n)
    order = [(buf.pos + j) % buf.capacity for j in range(n)] if buf.full else list(range(n))
    assert buf.lengths[order].tolist() == lengths[kept]
    np.testing.assert_allclose(buf.rewards[order].sum(axis=1)[:, 0], returns[kept])
    np.testing.assert_array_equal(buf.obs[order, 0], np.stack(starts[kept]))
    # Reward only with termination (capture), on the last step.
    for s in order:
        last = buf.lengths[s] - 1
        assert buf.terminated[s, last, 0] == (buf.rewards[s, last, 0] == 1.0)
        assert buf.terminated[s, last, 0] != buf.truncated[s, last, 0]


def test_errors_name_the_fix() -> None:
    with pytest.raises(ValueError, match="capacity=0"):
        CERTBuffer(0, 5, 1, 2, 3, 5)
    with pytest.raises(ValueError, match="sampling='bogus'"):
        CERTBuffer(5, 5, 1, 2, 3, 5, sampling="bogus")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="learning_starts"):
        _buffer().sample(4, np.random.default_rng(0))
