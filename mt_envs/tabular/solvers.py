"""Exact dynamic programming on :class:`~mt_envs.tabular.TabularModel` (numpy only).

Values are infinite-horizon discounted returns with the reward paid on each transition, as in
paper 003 (equations 1-2): ``V(s) = sum_a pi(a|s) [r(s, a) + gamma sum_s' P(s'|s, a) V(s')]``.
Terminal states are absorbing with zero reward (a model invariant), so ``V`` equals the expected
discounted return of an env episode that is not truncated first.

Policies are ``float [S, A]`` arrays over the model's (joint) actions, each row a distribution;
:func:`decentralized_policy` builds the joint policy of agents that each read their own
observation index. Linear systems ``(I - gamma P_pi) V = r_pi`` are solved exactly (dense LU) for
models of up to :data:`DIRECT_MAX_STATES` states and by restarted GMRES on the sparse successor
lists otherwise (relative residual ``tol``, default ``1e-12``), which evaluates a policy on a
joint corridor model of ~10^4 states in a fraction of a second.

Paper 003's quantities: :func:`multitask_objective` is equation (5) (``lam = 0``) or its
relative-entropy regularised form (7); :func:`visitation` is ``d_rho^pi``; :func:`policy_gradient`
is equation (8) for the softmax parameterisation (4).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence

import numpy as np

from mt_envs.tabular.model import TabularModel

#: Models with at most this many states are solved with a dense LU factorisation.
DIRECT_MAX_STATES = 1500
#: Default relative residual of the iterative solver.
DEFAULT_TOL = 1e-12
#: Tolerance of "the policy sums to one" and of ties between optimal actions.
POLICY_ATOL = 1e-8


# -- checks ----------------------------------------------------------------------------------------
def _check_gamma(gamma: float) -> float:
    if not isinstance(gamma, (int, float, np.floating)) or not 0.0 <= float(gamma) < 1.0:
        raise ValueError(f"gamma={gamma!r} is invalid: need a discount factor in [0, 1)")
    return float(gamma)


def _check_policy(model: TabularModel, policy: np.ndarray, what: str = "policy") -> np.ndarray:
    pi = np.asarray(policy, dtype=np.float64)
    want = (model.n_states, model.n_actions)
    if pi.shape != want:
        raise ValueError(f"{what} has shape {pi.shape}: expected [S, A] = {want} for this model")
    if not np.all(np.isfinite(pi)) or (pi < 0).any():
        raise ValueError(f"{what} must hold finite probabilities >= 0")
    sums = pi.sum(axis=1)
    if not np.allclose(sums, 1.0, atol=POLICY_ATOL):
        bad = int(np.argmax(np.abs(sums - 1.0)))
        raise ValueError(f"{what} row {bad} sums to {sums[bad]!r}: each row must sum to 1")
    return pi


def _start(model: TabularModel, start: np.ndarray | None) -> np.ndarray:
    if start is None:
        return np.asarray(model.start)
    rho = np.asarray(start, dtype=np.float64)
    if rho.shape != (model.n_states,) or (rho < 0).any() or not np.isclose(rho.sum(), 1.0):
        raise ValueError(f"start must be a distribution over the model's {model.n_states} states")
    return rho


# -- policies --------------------------------------------------------------------------------------
def uniform_policy(model: TabularModel) -> np.ndarray:
    """The uniform policy ``float64 [S, A]`` over the model's (joint) actions."""
    return np.full((model.n_states, model.n_actions), 1.0 / model.n_actions)


def softmax_policy(theta: np.ndarray) -> np.ndarray:
    """Softmax policy of parameters ``theta [S, A]`` (paper 003, equation 4)."""
    th = np.asarray(theta, dtype=np.float64)
    z = np.exp(th - th.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def decentralized_policy(
    obs_index: np.ndarray,
    agent_policies: Sequence[np.ndarray] | np.ndarray,
    alive: np.ndarray | None = None,
) -> np.ndarray:
    """Joint policy of ``n`` agents that each act on their own observation index.

    ``joint[s, a] = prod_i pi_i(a_i | obs_index[s, i])`` with the joint action ``a`` flattened in C
    order over the agents' actions (as :class:`~mt_envs.tabular.TabularModel`). An agent that is
    not alive in ``s`` plays the last action of its space (the engine's convention for done agents,
    the grid families' no-op) with probability 1.

    Args:
        obs_index: ``int [S, n]`` observation index of each agent in each model state
            (``env.obs_indices[task_id]``).
        agent_policies: One ``[n_obs, n_act]`` policy per agent, or a single ``[n_obs, n_act]``
            array shared by every agent.
        alive: Optional ``bool [S, n]`` (``tables.alive``); ``None``: every agent is alive.

    Returns:
        ``float64 [S, n_act ** n]``.

    Raises:
        ValueError: Shapes disagree or a policy row is not a distribution.
    """
    idx = np.asarray(obs_index, dtype=np.int64)
    if idx.ndim != 2:
        raise ValueError(f"obs_index must have shape [S, n], got {idx.shape}")
    s, n = idx.shape
    if isinstance(agent_policies, np.ndarray) and agent_policies.ndim == 2:
        pols = [agent_policies] * n
    else:
        pols = [np.asarray(p, dtype=np.float64) for p in agent_policies]
    if len(pols) != n:
        raise ValueError(f"got {len(pols)} agent policies for n={n} agents")
    n_act = pols[0].shape[1] if pols[0].ndim == 2 else -1
    for i, p in enumerate(pols):
        if p.ndim != 2 or p.shape[1] != n_act:
            raise ValueError(f"agent policy {i} has shape {p.shape}: expected [n_obs, {n_act}]")
        if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=POLICY_ATOL):
            raise ValueError(f"agent policy {i} rows must be distributions")
        if idx[:, i].min(initial=0) < 0 or idx[:, i].max(initial=0) >= p.shape[0]:
            raise ValueError(
                f"obs_index of agent {i} exceeds its policy's {p.shape[0]} observation rows"
            )
    live = np.ones((s, n), dtype=bool) if alive is None else np.asarray(alive, dtype=bool)
    if live.shape != (s, n):
        raise ValueError(f"alive must have shape [S, n] = {(s, n)}, got {live.shape}")
    noop = np.zeros(n_act)
    noop[-1] = 1.0
    joint = np.ones((s, 1))
    for i, p in enumerate(pols):
        f = np.where(live[:, i, None], p[idx[:, i]], noop)
        joint = (joint[:, :, None] * f[:, None, :]).reshape(s, -1)
    return joint


def greedy_policy(q: np.ndarray) -> np.ndarray:
    """Deterministic policy ``[S, A]`` taking the first action of largest ``q[s]``."""
    q = np.asarray(q, dtype=np.float64)
    out = np.zeros_like(q)
    out[np.arange(q.shape[0]), np.argmax(q, axis=1)] = 1.0
    return out


# -- the linear systems ----------------------------------------------------------------------------
class _PolicyOperator:
    """``A = I - gamma P_pi`` on the successor lists, with a two-level preconditioner.

    ``P_pi x`` is a gather over the padded successor lists ``idx [S, A K]`` with weights
    ``w [S, A K]``. The preconditioner (right, multiplicative) first corrects on a coarse space,
    then does one Jacobi sweep: ``z = Q Ac^-1 R y; z += D^-1 (y - A z)``. The coarse space
    aggregates states whose transition rows (successors, probabilities, rewards) are identical:
    such states differ only in what the agents observe (the corridor's previous actions), so their
    values move together and the slow, smooth error modes live on the aggregates. Without such
    structure (or with too many aggregates) only the Jacobi sweep is used.
    """

    def __init__(self, model: TabularModel, pi: np.ndarray, gamma: float) -> None:
        s = model.n_states
        self.n = s
        self.gamma = gamma
        self.idx = model.next_state.reshape(s, -1)
        self.w = (pi[:, :, None] * model.prob).reshape(s, -1)
        self_loop = np.where(self.idx == np.arange(s)[:, None], self.w, 0.0).sum(axis=1)
        self.dinv = 1.0 / (1.0 - gamma * self_loop)
        self.agg: np.ndarray | None = None
        aggregates = _aggregates(model)
        if aggregates is not None:
            agg, size = aggregates
            c = size.size
            width = self.w.shape[1]
            flat = np.repeat(agg * c, width) + agg[self.idx].ravel()
            ac = np.bincount(flat, self.w.ravel(), minlength=c * c).reshape(c, c)
            ac = np.eye(c) - gamma * ac / size[:, None]
            self.agg = agg
            self.size = size
            # A preconditioner needs no more than float32 accuracy (GMRES corrects the rest),
            # and the float32 inverse costs half as much.
            self.coarse_inv = np.linalg.inv(ac.astype(np.float32)).astype(np.float64)

    def matvec(self, x: np.ndarray, transpose: bool) -> np.ndarray:
        """``A x`` or ``A^T x``."""
        if transpose:
            px = np.bincount(self.idx.ravel(), (self.w * x[:, None]).ravel(), minlength=self.n)
        else:
            px = np.einsum("sj,sj->s", self.w, np.take(x, self.idx))
        return x - self.gamma * px

    def precond(self, y: np.ndarray, transpose: bool) -> np.ndarray:
        """The preconditioner ``M^-1 y`` of ``A`` (or of ``A^T``)."""
        if self.agg is None:
            return y * self.dinv
        agg = self.agg
        if transpose:  # the transpose of the coarse step: Q^T -> R^T
            yc = np.bincount(agg, y, minlength=self.size.size)
            z = (self.coarse_inv.T @ yc)[agg] / self.size[agg]
        else:
            yc = np.bincount(agg, y, minlength=self.size.size) / self.size
            z = (self.coarse_inv @ yc)[agg]
        return z + self.dinv * (y - self.matvec(z, transpose))


#: Largest coarse space of the preconditioner (a dense inverse of this size is built).
_COARSE_MAX = 2500
_AGGREGATES: weakref.WeakKeyDictionary[TabularModel, tuple[np.ndarray, np.ndarray] | None] = (
    weakref.WeakKeyDictionary()
)


def _aggregates(model: TabularModel) -> tuple[np.ndarray, np.ndarray] | None:
    """Aggregate of each state (states with identical successors, probabilities and rewards) and
    aggregate sizes; ``None`` when that gives no coarse space worth using. Cached per model."""
    if model in _AGGREGATES:
        return _AGGREGATES[model]
    s = model.n_states
    rows = np.concatenate(
        [
            model.next_state.reshape(s, -1).astype(np.float64),
            model.prob.reshape(s, -1),
            model.successor_reward.reshape(s, -1),
        ],
        axis=1,
    )
    # Group by two random projections of the rows, then verify that the groups are exact.
    proj = rows @ np.random.default_rng(0).standard_normal((rows.shape[1], 2))
    _, first, agg, size = np.unique(
        proj, axis=0, return_index=True, return_inverse=True, return_counts=True
    )
    agg = agg.reshape(-1)
    out: tuple[np.ndarray, np.ndarray] | None = None
    if size.size <= _COARSE_MAX and size.size < s and np.array_equal(rows, rows[first[agg]]):
        out = (agg, size.astype(np.float64))
    _AGGREGATES[model] = out
    return out


def _solve(
    model: TabularModel,
    pi: np.ndarray,
    gamma: float,
    rhs: np.ndarray,
    transpose: bool,
    method: str,
    tol: float,
) -> np.ndarray:
    """Solve ``(I - gamma P_pi) x = rhs`` (or with ``P_pi^T``) for ``rhs [S, m]``."""
    if method not in ("auto", "direct", "iterative"):
        raise ValueError(f"method={method!r} is invalid: use 'auto', 'direct' or 'iterative'")
    n_states = model.n_states
    if method == "direct" or (method == "auto" and n_states <= DIRECT_MAX_STATES):
        w = pi[:, :, None] * model.prob
        keep = w > 0
        rows = np.broadcast_to(np.arange(n_states)[:, None, None], w.shape)[keep]
        cols = model.next_state[keep]
        if transpose:
            rows, cols = cols, rows
        a = np.eye(n_states)
        np.add.at(a, (rows, cols), -gamma * w[keep])
        return np.linalg.solve(a, rhs)
    op = _PolicyOperator(model, pi, gamma)
    return _gmres(op, rhs, transpose, tol)


def _gmres(
    op: _PolicyOperator,
    b: np.ndarray,
    transpose: bool,
    tol: float,
    restart: int = 40,
    max_iter: int = 5000,
) -> np.ndarray:
    """Restarted, right-preconditioned GMRES on all columns of ``b [S, m]`` at once.

    The columns share one Krylov polynomial (``A`` acts on each column; inner products sum over
    columns), so ``m`` reward channels cost about as many iterations as one.
    """
    n, m = b.shape

    def apply(x: np.ndarray) -> np.ndarray:
        return np.stack([op.matvec(x[:, j], transpose) for j in range(m)], axis=1)

    def prec(x: np.ndarray) -> np.ndarray:
        return np.stack([op.precond(x[:, j], transpose) for j in range(m)], axis=1)

    bnorm = float(np.linalg.norm(b))
    if bnorm == 0.0:
        return np.zeros((n, m))
    x = prec(b)
    used = 0
    while used < max_iter:
        r = b - apply(x)
        beta = float(np.linalg.norm(r))
        if beta <= tol * bnorm:
            return x
        basis = np.zeros((restart + 1, n * m))
        h = np.zeros((restart + 1, restart))
        cs, sn = np.zeros(restart), np.zeros(restart)
        g = np.zeros(restart + 1)
        g[0] = beta
        basis[0] = (r / beta).ravel()
        k = 0
        for j in range(restart):
            w = apply(prec(basis[j].reshape(n, m))).ravel()
            for _ in range(2):  # classical Gram-Schmidt, twice
                c = basis[: j + 1] @ w
                w -= c @ basis[: j + 1]
                h[: j + 1, j] += c
            h[j + 1, j] = float(np.linalg.norm(w))
            for i in range(j):  # apply the earlier Givens rotations to the new column
                h[i, j], h[i + 1, j] = (
                    cs[i] * h[i, j] + sn[i] * h[i + 1, j],
                    -sn[i] * h[i, j] + cs[i] * h[i + 1, j],
                )
            rho = float(np.hypot(h[j, j], h[j + 1, j]))
            cs[j], sn[j] = (1.0, 0.0) if rho == 0.0 else (h[j, j] / rho, h[j + 1, j] / rho)
            lucky = h[j + 1, j] <= 1e-300
            if not lucky:
                basis[j + 1] = w / h[j + 1, j]
            h[j, j], h[j + 1, j] = rho, 0.0
            g[j], g[j + 1] = cs[j] * g[j], -sn[j] * g[j]
            used += 1
            k = j + 1
            if abs(g[j + 1]) <= 0.5 * tol * bnorm or lucky:
                break
        y = np.linalg.solve(
            np.triu(h[:k, :k]) + np.diag(np.where(np.diag(h[:k, :k]) == 0, 1, 0)), g[:k]
        )
        x = x + prec((y @ basis[:k]).reshape(n, m))
    if float(np.linalg.norm(b - apply(x))) <= 10 * tol * bnorm:
        return x
    raise RuntimeError(
        f"GMRES did not reach a relative residual of {tol:g} in {max_iter} iterations; pass "
        "method='direct' (small models) or a larger tol"
    )


# -- values ----------------------------------------------------------------------------------------
def evaluate_policy(
    model: TabularModel,
    policy: np.ndarray,
    gamma: float,
    *,
    method: str = "auto",
    tol: float = DEFAULT_TOL,
) -> np.ndarray:
    """Value of every state for every agent under ``policy``.

    Args:
        model: The task model.
        policy: ``[S, A]`` distribution over (joint) actions in each state.
        gamma: Discount factor in [0, 1).
        method: ``"auto"`` (dense for up to :data:`DIRECT_MAX_STATES` states, else iterative),
            ``"direct"`` or ``"iterative"``.
        tol: Relative residual of the iterative solver.

    Returns:
        ``float64 [S, N]``: ``V[s, i]`` is agent ``i``'s expected discounted return from ``s``.

    Raises:
        ValueError: Bad shapes, a policy row that is not a distribution, or ``gamma`` outside
            [0, 1).
    """
    gamma = _check_gamma(gamma)
    pi = _check_policy(model, policy)
    r = np.einsum("sa,san->sn", pi, model.reward)
    return _solve(model, pi, gamma, r, False, method, tol)


def q_values(model: TabularModel, values: np.ndarray, gamma: float) -> np.ndarray:
    """Action values ``Q[s, a] = r(s, a) + gamma sum_s' P(s'|s, a) V(s')``.

    Args:
        model: The task model.
        values: ``[S]`` or ``[S, N]`` state values.
        gamma: Discount factor in [0, 1).

    Returns:
        ``[S, A]`` for ``[S]`` values (read against the reward summed over agents when ``N > 1``,
        else agent 0's), or ``[S, A, N]`` for ``[S, N]`` values.
    """
    gamma = _check_gamma(gamma)
    v = np.asarray(values, dtype=np.float64)
    if v.shape[0] != model.n_states or v.ndim not in (1, 2):
        raise ValueError(f"values must have shape [S] or [S, N] with S={model.n_states}")
    if v.ndim == 1:
        r = model.reward.sum(axis=2)
        return r + gamma * np.einsum("sak,sak->sa", model.prob, v[model.next_state])
    if v.shape[1] != model.n_agents:
        raise ValueError(f"values have {v.shape[1]} columns for a model of {model.n_agents} agents")
    return model.reward + gamma * np.einsum("sak,sakn->san", model.prob, v[model.next_state])


def _channel(model: TabularModel, agent: int | str) -> TabularModel:
    """A one-reward model for ``agent`` (an index, or ``"sum"`` of all agents)."""
    if agent == "sum":
        reward = model.reward.sum(axis=2)
    elif isinstance(agent, (int, np.integer)) and 0 <= int(agent) < model.n_agents:
        reward = model.reward[:, :, int(agent)]
    else:
        raise ValueError(
            f"agent={agent!r} is invalid: use an agent index in [0, {model.n_agents - 1}] or 'sum'"
        )
    return TabularModel(
        model.next_state, model.prob, reward, model.start, model.terminal, (model.n_actions,)
    )


def value_iteration(
    model: TabularModel,
    gamma: float,
    agent: int | str = 0,
    *,
    method: str = "auto",
    tol: float = DEFAULT_TOL,
    max_iter: int = 1000,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Optimal single-task values of one reward channel (exact, by policy iteration).

    The result is the fixed point of value iteration; it is computed by Howard's policy iteration
    (exact policy evaluation, greedy improvement), which ends in finitely many steps with the
    exact optimum. For a multi-agent model, ``agent="sum"`` gives the centralised team optimum
    over joint actions.

    Args:
        model: The task model.
        gamma: Discount factor in [0, 1).
        agent: Reward channel: an agent index or ``"sum"``.
        method: Linear solver (see :func:`evaluate_policy`).
        tol: Relative residual of the iterative solver.
        max_iter: Most improvement steps.

    Returns:
        ``V [S]`` optimal values, ``Q [S, A]`` optimal action values and ``greedy [S, A]`` an
        optimal deterministic policy (the first best action in each state).

    Raises:
        RuntimeError: No convergence within ``max_iter`` steps (should not happen).
    """
    gamma = _check_gamma(gamma)
    single = _channel(model, agent)
    r = single.reward[:, :, 0]
    pi = greedy_policy(r)
    scale = max(1.0, float(np.abs(r).max()) / (1.0 - gamma))
    for _ in range(max_iter):
        v = evaluate_policy(single, pi, gamma, method=method, tol=tol)[:, 0]
        q = q_values(single, v, gamma)
        best = q.max(axis=1)
        current = (q * pi).sum(axis=1)
        if np.all(best - current <= POLICY_ATOL * scale):
            return v, q, pi
        # Improve only where it is strictly better (keeps ties stable, so no cycling).
        improve = best - current > POLICY_ATOL * scale
        new = greedy_policy(q)
        pi = np.where(improve[:, None], new, pi)
    raise RuntimeError(f"policy iteration did not converge in {max_iter} steps")


def visitation(
    model: TabularModel,
    policy: np.ndarray,
    gamma: float,
    start: np.ndarray | None = None,
    *,
    method: str = "auto",
    tol: float = DEFAULT_TOL,
) -> np.ndarray:
    """Normalised discounted state visitation ``d(s) = (1 - gamma) sum_k gamma^k P(s_k = s)``.

    Args:
        model: The task model.
        policy: ``[S, A]`` policy.
        gamma: Discount factor in [0, 1).
        start: Start distribution (default ``model.start``; paper 003's ``rho`` or ``mu``).
        method: Linear solver (see :func:`evaluate_policy`).
        tol: Relative residual of the iterative solver.

    Returns:
        ``float64 [S]``, summing to 1 (terminal states included: the process stays in them).
    """
    gamma = _check_gamma(gamma)
    pi = _check_policy(model, policy)
    rho = _start(model, start)
    d = _solve(model, pi, gamma, rho[:, None], True, method, tol)
    return (1.0 - gamma) * d[:, 0]


def start_value(
    model: TabularModel, values: np.ndarray, start: np.ndarray | None = None
) -> float | np.ndarray:
    """``E_{s ~ start}[V(s)]``: a float for ``[S]`` values, ``[N]`` for ``[S, N]`` values."""
    v = np.asarray(values, dtype=np.float64)
    rho = _start(model, start)
    if v.ndim == 1:
        return float(rho @ v)
    return rho @ v


def relative_entropy(policy: np.ndarray) -> float:
    """``RE(pi) = E_{s ~ Unif}[KL(U_A, pi(.|s))]`` (paper 003, equation 6); ``inf`` when some
    action has probability 0."""
    pi = np.asarray(policy, dtype=np.float64)
    s, a = pi.shape
    with np.errstate(divide="ignore"):
        logs = np.log(pi)
    return float(-logs.sum() / (s * a) - np.log(a))


def multitask_objective(
    models: Sequence[TabularModel],
    policy: np.ndarray | Sequence[np.ndarray],
    gamma: float | Sequence[float],
    lam: float = 0.0,
    starts: Sequence[np.ndarray | None] | None = None,
    *,
    method: str = "auto",
) -> tuple[float, np.ndarray]:
    """Paper 003's multi-task objective: ``sum_i V_i^pi(rho_i)`` (equation 5), minus
    ``lam * RE(pi)`` per task when ``lam > 0`` (equation 7).

    Args:
        models: One model per task (a shared policy needs equal state and action counts).
        policy: One ``[S, A]`` policy shared by every task, or one per task (e.g. the
            :func:`decentralized_policy` of shared agent policies on each task's joint model).
        gamma: Discount factor, or one per task.
        lam: Regularisation weight ``lambda >= 0``.
        starts: Start distribution per task (default each ``model.start``).
        method: Linear solver (see :func:`evaluate_policy`).

    Returns:
        ``(total, per_task)``: the objective and ``float64 [T]`` task terms ``V_i(rho_i) -
        lam RE(pi_i)``; a task's value is summed over its agents.
    """
    models = list(models)
    t = len(models)
    if t == 0:
        raise ValueError("multitask_objective needs at least one model")
    if isinstance(policy, np.ndarray) and policy.ndim == 2:
        pols = [policy] * t
    else:
        pols = [np.asarray(p) for p in policy]
    gammas = [gamma] * t if isinstance(gamma, (int, float, np.floating)) else list(gamma)
    starts_ = [None] * t if starts is None else list(starts)
    if not len(pols) == len(gammas) == len(starts_) == t:
        raise ValueError(f"give one policy, gamma and start per task ({t} tasks) or one shared")
    if lam < 0:
        raise ValueError(f"lam={lam!r} is invalid: need a regularisation weight >= 0")
    per_task = np.zeros(t)
    for i, (m, p, g, s0) in enumerate(zip(models, pols, gammas, starts_, strict=True)):
        v = evaluate_policy(m, p, g, method=method)
        per_task[i] = float(np.sum(start_value(m, v, s0)))
        if lam > 0:
            per_task[i] -= lam * relative_entropy(p)
    return float(per_task.sum()), per_task


def advantages(
    model: TabularModel, policy: np.ndarray, gamma: float, *, method: str = "auto"
) -> np.ndarray:
    """``A(s, a) = Q(s, a) - V(s)`` of ``policy`` for the reward summed over agents (``[S, A]``)."""
    v = evaluate_policy(model, policy, gamma, method=method).sum(axis=1)
    return q_values(model, v, gamma) - v[:, None]


def policy_gradient(
    model: TabularModel,
    theta: np.ndarray,
    gamma: float,
    lam: float = 0.0,
    start: np.ndarray | None = None,
    *,
    method: str = "auto",
) -> np.ndarray:
    """Exact gradient of one task's term of equation (7) for the softmax policy of ``theta``
    (paper 003, equation 8), with the reward summed over agents.

    ``dL/dtheta[s, a] = d(s) pi(a|s) A(s, a) / (1 - gamma) + lam / |S| (1/|A| - pi(a|s))``.

    Args:
        model: The task model.
        theta: ``[S, A]`` softmax parameters.
        gamma: Discount factor in [0, 1).
        lam: Regularisation weight.
        start: Start distribution ``rho`` (default ``model.start``).
        method: Linear solver (see :func:`evaluate_policy`).

    Returns:
        ``float64 [S, A]``. Sum it over tasks for the gradient of the multi-task objective.
    """
    gamma = _check_gamma(gamma)
    pi = softmax_policy(theta)
    d = visitation(model, pi, gamma, start, method=method)
    adv = advantages(model, pi, gamma, method=method)
    s, a = pi.shape
    return d[:, None] * pi * adv / (1.0 - gamma) + lam / s * (1.0 / a - pi)
