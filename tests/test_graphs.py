"""DCPG's communication graphs: lazy Metropolis weights, validation of user matrices, the
consensus step on numpy and torch parameters."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mt_agents.dcpg import (
    DCPG,
    check_weights,
    communication_weights,
    complete_graph,
    consensus_error,
    consensus_step,
    is_connected,
    lazy_metropolis_weights,
    random_connected_graph,
    ring_graph,
    spectral_gap,
    star_graph,
)
from mt_envs import gridworld_v0


def test_lazy_metropolis_on_a_ring_is_half_self_quarter_neighbours() -> None:
    w = lazy_metropolis_weights(ring_graph(6))
    expected = np.zeros((6, 6))
    for i in range(6):
        expected[i, i] = 0.5
        expected[i, (i + 1) % 6] = expected[i, (i - 1) % 6] = 0.25
    np.testing.assert_array_equal(w, expected)
    two = lazy_metropolis_weights(ring_graph(2))
    np.testing.assert_array_equal(two, [[0.5, 0.5], [0.5, 0.5]])


def test_other_graphs_give_valid_weights() -> None:
    # Complete graph on 4 nodes: every degree is 3, so 1/6 per neighbour and 1/2 self.
    w = lazy_metropolis_weights(complete_graph(4))
    np.testing.assert_allclose(w, np.full((4, 4), 1 / 6) + np.eye(4) * (0.5 - 1 / 6))
    # Star on 5 nodes: leaf-hub weight 1/(2*4), leaves keep 7/8, the hub 1/2.
    s = lazy_metropolis_weights(star_graph(5))
    assert s[0, 1] == pytest.approx(0.125) and s[1, 1] == pytest.approx(0.875)
    assert s[0, 0] == pytest.approx(0.5) and s[1, 2] == 0.0
    for seed in range(5):
        adj = random_connected_graph(7, 0.2, seed)
        assert is_connected(adj) and np.array_equal(adj, adj.T) and not adj.diagonal().any()
        check_weights(lazy_metropolis_weights(adj), adj)
    assert spectral_gap(lazy_metropolis_weights(complete_graph(5))) > spectral_gap(
        lazy_metropolis_weights(ring_graph(5))
    )


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        ([[0.5, 0.5, 0.0], [0.5, 0.25, 0.25], [0.0, 0.25, 0.5]], "row 2"),
        ([[0.6, 0.4, 0.0], [0.4, 0.6, 0.0], [0.1, 0.0, 0.9]], "row 2|column"),
        ([[1.2, -0.2, 0.0], [-0.2, 0.7, 0.5], [0.0, 0.5, 0.5]], "negative"),
        ([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], r"weights\[0, 0\]"),
        ([[0.5, 0.5], [0.5, 0.5], [0.0, 0.0]], "square"),
        ([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.0, 0.5, 0.5]], "not connected"),
    ],
)
def test_invalid_matrices_are_refused(matrix: list[list[float]], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        check_weights(np.array(matrix))


def test_user_matrix_must_match_its_graph() -> None:
    w = np.array([[0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.25, 0.25, 0.5]])
    np.testing.assert_array_equal(check_weights(w, complete_graph(3)), w)
    path = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], dtype=bool)
    with pytest.raises(ValueError, match="no edge"):
        check_weights(w, path)
    w_path = np.array([[0.5, 0.5, 0.0], [0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
    with pytest.raises(ValueError, match=r"weights\[1, 1\]"):
        check_weights(w_path, path)
    with pytest.raises(KeyError, match="ring"):
        communication_weights(3, "torus")
    env = gridworld_v0.parallel_env(tasks="gridworld-conflict-4")
    with pytest.raises(ValueError, match="no edge"):
        DCPG(env, graph="ring", weights=np.full((4, 4), 0.25))
    model = DCPG(env, graph="complete", weights=np.full((4, 4), 0.25))
    np.testing.assert_array_equal(model.weights, np.full((4, 4), 0.25))


def test_consensus_step_on_numpy_and_torch() -> None:
    rng = np.random.default_rng(0)
    w = lazy_metropolis_weights(ring_graph(5))
    params = rng.normal(size=(5, 3, 2))
    mixed = consensus_step(w, params)
    np.testing.assert_allclose(mixed[2], 0.5 * params[2] + 0.25 * (params[1] + params[3]))
    tensor = consensus_step(w, torch.tensor(params, dtype=torch.float32))
    assert isinstance(tensor, torch.Tensor) and tensor.dtype == torch.float32
    np.testing.assert_allclose(tensor.numpy(), mixed, atol=1e-6)
    # Repeated mixing keeps the mean (doubly stochastic) and drives the error to 0.
    x = params
    for _ in range(200):
        x = consensus_step(w, x)
    np.testing.assert_allclose(x.mean(axis=0), params.mean(axis=0), atol=1e-12)
    assert consensus_error(x) < 1e-8 < consensus_error(params)


def test_consensus_error_by_hand() -> None:
    p = np.array([[0.0, 0.0], [3.0, 4.0], [0.0, 0.0]])
    assert consensus_error(p) == pytest.approx((5.0 + 0.0 + 5.0) / 3)
    assert consensus_error(p[:1]) == 0.0
    assert consensus_error(torch.tensor(p)) == pytest.approx(10 / 3)
