"""Communication graphs, weight matrices and the consensus step of DCPG (paper 003, algorithm 1).

Agents sit on the nodes of an undirected, connected graph and mix their parameters with their
neighbours' through a weight matrix ``W`` (equation 9: ``theta_i <- sum_j W_ij theta_j + alpha
g_i``). Assumption 1 of the paper asks ``W`` to be doubly stochastic, nonnegative, with a
positive diagonal, and ``W_ij > 0`` exactly on the graph's edges; :func:`check_weights` enforces
that for user matrices, and :func:`lazy_metropolis_weights` builds such a ``W`` for any graph
(Olshevsky's lazy Metropolis rule: ``W_ij = 1 / (2 max(deg_i, deg_j))`` on an edge, the rest of
the row on the diagonal; on a ring that is 1/2 self and 1/4 for each neighbour).

Everything here is independent of how parameters are stored: :func:`consensus_step` and
:func:`consensus_error` take any stacked parameter array ``[N, ...]`` (numpy, or a torch tensor
for a neural DCPG), with agents on the first axis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mt_envs.utils import unknown_name_error

__all__ = [
    "GRAPHS",
    "check_weights",
    "communication_weights",
    "complete_graph",
    "consensus_error",
    "consensus_step",
    "is_connected",
    "lazy_metropolis_weights",
    "random_connected_graph",
    "ring_graph",
    "spectral_gap",
    "star_graph",
]

#: Graph names :func:`communication_weights` accepts.
GRAPHS = ("ring", "complete", "star", "random")
#: Tolerance of the row and column sums of a user matrix.
WEIGHT_ATOL = 1e-9


def _check_n(n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n={n!r} is invalid: a graph needs an int >= 1 of nodes")
    return int(n)


def ring_graph(n: int) -> np.ndarray:
    """Adjacency ``bool [n, n]`` of the ring ``0 - 1 - ... - (n-1) - 0`` (one edge for
    ``n = 2``, none for ``n = 1``)."""
    n = _check_n(n)
    adj = np.zeros((n, n), dtype=bool)
    if n > 1:
        i = np.arange(n)
        adj[i, (i + 1) % n] = True
        adj[(i + 1) % n, i] = True
    return adj


def complete_graph(n: int) -> np.ndarray:
    """Adjacency of the complete graph on ``n`` nodes."""
    n = _check_n(n)
    return ~np.eye(n, dtype=bool)


def star_graph(n: int, center: int = 0) -> np.ndarray:
    """Adjacency of the star whose hub is ``center``."""
    n = _check_n(n)
    if not 0 <= center < n:
        raise ValueError(f"center={center!r} is invalid: need a node in [0, {n - 1}]")
    adj = np.zeros((n, n), dtype=bool)
    adj[center, :] = True
    adj[:, center] = True
    adj[center, center] = False
    return adj


def random_connected_graph(
    n: int, edge_prob: float = 0.5, seed: int | np.random.Generator | None = None
) -> np.ndarray:
    """A random connected graph: a random spanning tree plus every other edge with
    probability ``edge_prob``.

    Args:
        n: Nodes.
        edge_prob: Probability of each edge outside the tree, in [0, 1].
        seed: Seed or generator.

    Returns:
        Adjacency ``bool [n, n]``.
    """
    n = _check_n(n)
    if not 0.0 <= edge_prob <= 1.0:
        raise ValueError(f"edge_prob={edge_prob!r} is invalid: need a probability in [0, 1]")
    rng = np.random.default_rng(seed)
    upper = np.triu(rng.random((n, n)) < edge_prob, k=1)
    adj = upper | upper.T
    order = rng.permutation(n)
    for k in range(1, n):  # attach each node to a random earlier one: a spanning tree
        i, j = order[k], order[rng.integers(k)]
        adj[i, j] = adj[j, i] = True
    return adj


def is_connected(adjacency: np.ndarray) -> bool:
    """Whether the undirected graph ``adjacency [n, n]`` is connected."""
    adj = np.asarray(adjacency, dtype=bool)
    n = adj.shape[0]
    seen = np.zeros(n, dtype=bool)
    seen[0] = True
    frontier = seen.copy()
    while frontier.any():
        new = adj[frontier].any(axis=0) & ~seen
        seen |= new
        frontier = new
    return bool(seen.all())


def _check_adjacency(adjacency: np.ndarray) -> np.ndarray:
    adj = np.asarray(adjacency)
    if adj.ndim != 2 or adj.shape[0] != adj.shape[1] or adj.shape[0] < 1:
        raise ValueError(f"adjacency has shape {adj.shape}: need a square [n, n] matrix")
    adj = adj.astype(bool)
    if not np.array_equal(adj, adj.T):
        raise ValueError("adjacency is not symmetric: DCPG's graph is undirected")
    adj = adj & ~np.eye(adj.shape[0], dtype=bool)
    if not is_connected(adj):
        raise ValueError(
            "the graph is not connected: agents in different components can never agree "
            "(add edges, or use graph='ring' / 'complete')"
        )
    return adj


def lazy_metropolis_weights(adjacency: np.ndarray) -> np.ndarray:
    """Lazy Metropolis weights of a connected undirected graph.

    ``W_ij = 1 / (2 max(deg_i, deg_j))`` for every edge ``ij``, 0 off the graph, and
    ``W_ii = 1 - sum_j W_ij`` (at least 1/2): symmetric, hence doubly stochastic.

    Args:
        adjacency: ``bool [n, n]`` symmetric adjacency (the diagonal is ignored).

    Returns:
        ``float64 [n, n]``.

    Raises:
        ValueError: For a non-square, asymmetric or disconnected graph.
    """
    adj = _check_adjacency(adjacency)
    deg = adj.sum(axis=1)
    big = np.maximum(deg[:, None], deg[None, :])
    w = np.where(adj, 1.0 / (2.0 * np.maximum(big, 1)), 0.0)
    w[np.diag_indices_from(w)] = 1.0 - w.sum(axis=1)
    return w


def check_weights(
    weights: np.ndarray | Sequence[Sequence[float]],
    adjacency: np.ndarray | None = None,
    atol: float = WEIGHT_ATOL,
) -> np.ndarray:
    """Validate a user weight matrix against Assumption 1 of paper 003.

    Args:
        weights: ``[n, n]`` matrix.
        adjacency: The graph it must match (``W_ij > 0`` exactly on edges, ``i != j``);
            ``None``: the graph is read from the matrix's off-diagonal support.
        atol: Tolerance of the row and column sums.

    Returns:
        The matrix as ``float64 [n, n]``.

    Raises:
        ValueError: Not square, not finite, a negative entry, a row or column not summing to 1,
            a zero diagonal entry, a support that differs from ``adjacency``, or a graph that is
            not connected. The message names the entry.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 2 or w.shape[0] != w.shape[1] or w.shape[0] < 1:
        raise ValueError(f"weights have shape {w.shape}: need a square [n, n] matrix")
    if not np.all(np.isfinite(w)):
        raise ValueError("weights must be finite numbers")
    if (w < 0).any():
        i, j = np.argwhere(w < 0)[0]
        raise ValueError(f"weights[{i}, {j}] = {w[i, j]!r} is negative: W must be nonnegative")
    rows, cols = w.sum(axis=1), w.sum(axis=0)
    if not np.allclose(rows, 1.0, atol=atol):
        i = int(np.argmax(np.abs(rows - 1.0)))
        raise ValueError(f"row {i} of the weights sums to {rows[i]!r}: W must be doubly stochastic")
    if not np.allclose(cols, 1.0, atol=atol):
        j = int(np.argmax(np.abs(cols - 1.0)))
        raise ValueError(
            f"column {j} of the weights sums to {cols[j]!r}: W must be doubly stochastic"
        )
    diag = np.diag(w)
    if (diag <= 0).any():
        i = int(np.argmin(diag))
        raise ValueError(f"weights[{i}, {i}] = {diag[i]!r}: every agent must keep a share > 0")
    support = (w > 0) & ~np.eye(w.shape[0], dtype=bool)
    if adjacency is None:
        adj = _check_adjacency(support | support.T)
        if not np.array_equal(support, support.T):
            raise ValueError("weights are not symmetric in support: W_ij > 0 needs W_ji > 0")
    else:
        adj = _check_adjacency(adjacency)
        if adj.shape != w.shape:
            raise ValueError(f"weights {w.shape} and adjacency {adj.shape} differ in size")
        if not np.array_equal(support, adj):
            i, j = np.argwhere(support != adj)[0]
            what = "an edge" if adj[i, j] else "no edge"
            raise ValueError(
                f"weights[{i}, {j}] = {w[i, j]!r} but the graph has {what} between {i} and "
                f"{j}: W_ij must be > 0 exactly on the edges"
            )
    return w


def communication_weights(
    n: int,
    graph: str | np.ndarray = "ring",
    weights: np.ndarray | Sequence[Sequence[float]] | None = None,
    seed: int | None = None,
    edge_prob: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """The weight matrix and graph of ``n`` agents.

    Args:
        n: Agents.
        graph: ``"ring"``, ``"complete"``, ``"star"``, ``"random"`` (connected, from
            ``seed`` and ``edge_prob``) or an adjacency matrix.
        weights: A user matrix, validated against the graph by :func:`check_weights`;
            ``None``: lazy Metropolis weights of the graph.
        seed: Seed of the random graph.
        edge_prob: Edge probability of the random graph.

    Returns:
        ``(W float64 [n, n], adjacency bool [n, n])``.

    Raises:
        KeyError: For an unknown graph name (the message lists the valid ones).
        ValueError: For an invalid matrix or a disconnected graph.
    """
    n = _check_n(n)
    if isinstance(graph, str):
        builders = {
            "ring": lambda: ring_graph(n),
            "complete": lambda: complete_graph(n),
            "star": lambda: star_graph(n),
            "random": lambda: random_connected_graph(n, edge_prob, seed),
        }
        if graph not in builders:
            raise unknown_name_error("graph", graph, GRAPHS)
        adj = builders[graph]()
    else:
        adj = np.asarray(graph, dtype=bool)
        if adj.shape != (n, n):
            raise ValueError(f"the adjacency has shape {adj.shape}, there are {n} agents")
    adj = _check_adjacency(adj) if n > 1 else np.zeros((1, 1), dtype=bool)
    if weights is None:
        return (lazy_metropolis_weights(adj) if n > 1 else np.ones((1, 1))), adj
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (n, n):
        raise ValueError(f"weights have shape {w.shape}: need [n, n] = [{n}, {n}]")
    return (check_weights(w, adj) if n > 1 else check_weights(w)), adj


def consensus_step(weights: np.ndarray, params: Any) -> Any:
    """``sum_j W_ij theta_j`` for every agent ``i``: the mixing half of equation 9.

    Args:
        weights: ``W [N, N]``.
        params: Stacked parameters ``[N, ...]``: a numpy array or a torch tensor (then the
            result is a tensor on its device and dtype).

    Returns:
        Mixed parameters, of ``params``' type and shape.
    """
    w = np.asarray(weights, dtype=np.float64)
    if isinstance(params, np.ndarray):
        if params.shape[0] != w.shape[0]:
            raise ValueError(f"params have {params.shape[0]} agents, W has {w.shape[0]}")
        return np.tensordot(w, params, axes=1)
    import torch  # a neural DCPG: keep the tensor where it is

    if not isinstance(params, torch.Tensor):
        raise TypeError(f"params must be a numpy array or a torch tensor, got {type(params)}")
    if params.shape[0] != w.shape[0]:
        raise ValueError(f"params have {params.shape[0]} agents, W has {w.shape[0]}")
    wt = torch.as_tensor(w, dtype=params.dtype, device=params.device)
    return torch.tensordot(wt, params, dims=1)


def consensus_error(params: Any) -> float:
    """``mean_{i<j} ||theta_i - theta_j||`` (Euclidean norm of the flattened difference), 0 for
    one agent. ``params``: ``[N, ...]`` numpy array or torch tensor."""
    if not isinstance(params, np.ndarray):
        params = params.detach().cpu().numpy()
    flat = np.asarray(params, dtype=np.float64).reshape(params.shape[0], -1)
    n = flat.shape[0]
    if n < 2:
        return 0.0
    i, j = np.triu_indices(n, k=1)
    return float(np.linalg.norm(flat[i] - flat[j], axis=1).mean())


def spectral_gap(weights: np.ndarray) -> float:
    """``1 - sigma_2(W)``: the gap between the largest (1) and second largest singular values,
    which sets how fast consensus is reached (paper 003, theorem 1)."""
    s = np.linalg.svd(np.asarray(weights, dtype=np.float64), compute_uv=False)
    return float(1.0 - (s[1] if s.size > 1 else 0.0))
