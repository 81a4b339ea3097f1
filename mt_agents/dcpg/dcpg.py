"""DCPG: decentralised consensus policy gradient for tabular softmax policies (paper 003).

Agent ``i`` plays task ``i`` (a team-mode env) and keeps its own softmax parameters
``theta_i [n_states, n_actions]`` (equation 4). Every iteration of algorithm 1, all agents at once:

1. mix with the neighbours: ``sum_j W_ij theta_j`` (:func:`~mt_agents.dcpg.graphs.consensus_step`);
2. add ``alpha g_i``, where ``g_i`` is the gradient of the agent's own term of the regularised
   objective (equation 7) at its current ``theta_i``:

   * ``gradient="exact"``: equation 8 from the task's model, for all agents in one batched
     linear solve (:func:`exact_gradients`; checked against
     :func:`mt_envs.tabular.policy_gradient` in the tests);
   * ``gradient="monte_carlo"``: REINFORCE from one episode per env copy of the agent's own
     task, ``sum_t gamma^t G_t grad log pi(a_t | s_t)`` averaged over the copies, plus the
     regulariser's exact gradient.

Logged: the objective of equation 5 for the agents' mean parameters (and per task), each
agent's own value, the consensus error and the norm of the mean gradient.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np

from mt_agents.common.base import MaybeCallback
from mt_agents.common.utils import key_name
from mt_agents.dcpg.graphs import communication_weights, consensus_error, consensus_step
from mt_agents.tabular.base import EpisodeTracker, TabularAlgorithm, sample_actions
from mt_agents.tabular.formulas import epsilon_greedy_policy
from mt_agents.tabular.q_learning import _check
from mt_envs.tabular import TabularModel, softmax_policy

__all__ = ["DCPG", "DenseModels", "exact_gradients"]

SelfDCPG = TypeVar("SelfDCPG", bound="DCPG")
GradientMode = Literal["exact", "monte_carlo"]
StartMode = Literal["env", "uniform"]


class DenseModels:
    """Dense transition and reward arrays of one model per agent, for batched exact solves.

    Args:
        models: One :class:`~mt_envs.tabular.TabularModel` per agent (equal state and action
            counts), single-agent or with rewards summed over agents.
        obs_index: ``int [N, S]``: the observation index of every model state, per agent.
        starts: ``[N, S]`` start distributions ``rho_i`` (or ``mu_i``).
    """

    def __init__(
        self, models: Sequence[TabularModel], obs_index: np.ndarray, starts: np.ndarray
    ) -> None:
        shapes = {(m.n_states, m.n_actions) for m in models}
        if len(shapes) != 1:
            raise ValueError(f"the agents' models differ in state or action counts: {shapes}")
        s, a = shapes.pop()
        n = len(models)
        self.P = np.zeros((n, s, a, s))
        self.R = np.zeros((n, s, a))
        for i, m in enumerate(models):
            si, ai, _ = np.indices(m.next_state.shape)
            np.add.at(self.P[i], (si, ai, m.next_state), m.prob)
            self.R[i] = m.reward.sum(axis=2)
        self.obs_index = np.asarray(obs_index, dtype=np.int64)
        self.starts = np.asarray(starts, dtype=np.float64)

    def solve(
        self, theta: np.ndarray, gamma: float, starts: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Policy, values, advantages and visitation of every agent's softmax policy.

        Args:
            theta: ``[N, n_obs, A]`` parameters over observation indices.
            gamma: Discount in [0, 1).
            starts: ``[N, S]`` start distributions (default the constructor's).

        Returns:
            ``pi [N, S, A]`` (over model states), ``V [N, S]``, ``adv [N, S, A]``,
            ``d [N, S]`` (normalised discounted visitation) and ``value [N]`` (``rho . V``).
        """
        n = theta.shape[0]
        pi = softmax_policy(
            np.take_along_axis(theta, self.obs_index[:, :, None], axis=1).reshape(
                -1, theta.shape[2]
            )
        ).reshape(n, -1, theta.shape[2])
        eye = np.eye(pi.shape[1])
        p_pi = np.einsum("nsa,nsat->nst", pi, self.P)
        m = eye - gamma * p_pi
        r_pi = (pi * self.R).sum(axis=2)
        v = np.linalg.solve(m, r_pi[..., None])[..., 0]
        q = self.R + gamma * np.einsum("nsat,nt->nsa", self.P, v)
        rho = self.starts if starts is None else starts
        d = (1.0 - gamma) * np.linalg.solve(np.swapaxes(m, 1, 2), rho[..., None])[..., 0]
        return {
            "pi": pi,
            "V": v,
            "adv": q - v[:, :, None],
            "d": d,
            "value": (rho * v).sum(axis=1),
        }


def exact_gradients(
    dense: DenseModels,
    theta: np.ndarray,
    gamma: float,
    lam: float = 0.0,
    starts: np.ndarray | None = None,
) -> np.ndarray:
    """Equation 8 for every agent at once: ``d(s) pi(a|s) A(s, a) / (1 - gamma)`` summed into
    the observation rows, plus ``lam / |S| (1/|A| - pi(a|s))`` on every row.

    Args:
        dense: The agents' models.
        theta: ``[N, n_obs, A]`` parameters.
        gamma: Discount in [0, 1).
        lam: Relative-entropy weight ``lambda >= 0``.
        starts: ``[N, S]`` distributions ``mu_i`` of the gradient (default the models').

    Returns:
        ``float64 [N, n_obs, A]``.
    """
    sol = dense.solve(theta, gamma, starts)
    per_state = sol["d"][:, :, None] * sol["pi"] * sol["adv"] / (1.0 - gamma)
    grad = np.zeros_like(theta, dtype=np.float64)
    n = theta.shape[0]
    agent = np.broadcast_to(np.arange(n)[:, None], dense.obs_index.shape)
    np.add.at(grad, (agent, dense.obs_index), per_state)
    if lam > 0:
        grad += lam / theta.shape[1] * (1.0 / theta.shape[2] - softmax_policy_rows(theta))
    return grad


def softmax_policy_rows(theta: np.ndarray) -> np.ndarray:
    """Softmax over the last axis of ``theta [..., A]``."""
    z = theta - theta.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


class DCPG(TabularAlgorithm):
    """Decentralised consensus policy gradient (paper 003, algorithm 1), tabular softmax.

    Example::

        from mt_envs import gridworld_v0
        from mt_agents.dcpg import DCPG

        env = gridworld_v0.parallel_env(tasks="gridworld-conflict-4")  # team mode
        model = DCPG(env, graph="ring", gradient="exact", seed=0)
        model.learn(total_timesteps=2000)  # exact gradients: one timestep per iteration
        shared = model.policy_table("agent_0")

    Args:
        env: A team-mode tabular env with one agent per task (gridworld_v0, chain_v0): agent
            ``i`` plays task ``i``.
        graph: ``"ring"``, ``"complete"``, ``"star"`` or ``"random"`` (connected; from
            ``graph_seed``).
        gradient: ``"exact"`` (equation 8 from the models) or ``"monte_carlo"`` (REINFORCE on
            the env's episodes).
        learning_rate: Step size ``alpha`` of equation 9 (at the first iteration).
        learning_rate_power: Step sizes ``alpha_k = alpha / (k + 1) ** power`` (0: constant).
            With a constant step the agents agree only up to ``O(alpha)`` (theorem 1); a
            decreasing one (e.g. 0.5) drives the consensus error to 0.
        gamma: Discount factor in [0, 1).
        lam: Weight ``lambda >= 0`` of the relative entropy to the uniform policy (equation 7).
        start: Start distribution ``mu_i`` of the exact gradient: ``"env"`` (the task's own,
            ``mu_i = rho_i``), ``"uniform"`` (every non-terminal state), or a number ``w`` in
            [0, 1] for the mixture ``(1 - w) rho_i + w uniform``. A ``mu`` with full support
            (``w > 0``) is what theorem 2's assumption 2 asks for: with ``mu = rho`` a single
            start cell, exact gradient ascent on the GridWorld sets often stops at a stationary
            point where some tasks' walks loop forever (value 0, vanishing gradient). The
            objective logged and returned is always the one from ``rho_i`` (equation 5).
        init_std: Standard deviation of the initial parameters, drawn independently per agent
            (0: every agent starts at the uniform policy, ``theta = 0``).
        weights: A user weight matrix ``[N, N]`` for ``graph``, validated (doubly stochastic,
            nonnegative, positive diagonal, positive exactly on the edges); ``None``: lazy
            Metropolis weights.
        graph_seed: Seed of the random graph.
        n_iterations: ``learn`` stops after this many iterations in all (``None``: only
            ``total_timesteps`` stops it).
        device: Ignored (the tables are numpy arrays).
        seed: Seed of the initial parameters, the action draws and the env's first reset.
        tensorboard_log: Folder of the csv / tensorboard logs.
        verbose: 0 silent, 1 prints the logger's tables.
        stats_window_size: Episodes per running mean of the ``rollout/`` statistics.
        _init_setup_model: Build the tables.

    Raises:
        ValueError: For an argument outside its range, an invalid weight matrix, or an env that
            is not in team mode with one agent per task.
    """

    algorithm_name: ClassVar[str] = "dcpg"

    def __init__(
        self,
        env: Any,
        graph: str = "ring",
        gradient: GradientMode = "exact",
        learning_rate: float = 0.1,
        learning_rate_power: float = 0.0,
        gamma: float = 0.99,
        lam: float = 0.0,
        start: StartMode | float = "env",
        init_std: float = 0.0,
        weights: Sequence[Sequence[float]] | np.ndarray | None = None,
        graph_seed: int | None = None,
        n_iterations: int | None = None,
        device: Any = "auto",
        seed: int | None = None,
        tensorboard_log: str | os.PathLike[str] | None = None,
        verbose: int = 0,
        stats_window_size: int = 100,
        _init_setup_model: bool = True,
    ) -> None:
        if gradient not in ("exact", "monte_carlo"):
            raise ValueError(f"gradient={gradient!r} is invalid: use 'exact' or 'monte_carlo'")
        if isinstance(start, str):
            if start not in ("env", "uniform"):
                raise ValueError(
                    f"start={start!r} is invalid: use 'env', 'uniform' or a mixture weight in "
                    "[0, 1]"
                )
        else:
            start = _check("start", start, 0.0, 1.0)
        self.graph = graph
        self.gradient = gradient
        self.lam = _check("lam", lam, 0.0, 1e9)
        self.learning_rate_power = _check("learning_rate_power", learning_rate_power, 0.0, 10.0)
        self.start = start
        self.init_std = _check("init_std", init_std, 0.0, 1e9)
        self.graph_seed = graph_seed
        if n_iterations is not None and (
            isinstance(n_iterations, bool) or not isinstance(n_iterations, int) or n_iterations < 1
        ):
            raise ValueError(f"n_iterations={n_iterations!r} is invalid: need an int >= 1 or None")
        self.n_iterations = n_iterations
        super().__init__(
            env,
            learning_rate=learning_rate,
            gamma=gamma,
            device=device,
            seed=seed,
            tensorboard_log=tensorboard_log,
            verbose=verbose,
            stats_window_size=stats_window_size,
            _init_setup_model=_init_setup_model,
        )
        if self.gamma >= 1.0:
            raise ValueError(f"gamma={gamma!r} is invalid: DCPG needs a discount in [0, 1)")
        if not self.team or self.group_size != 1:
            raise ValueError(
                "DCPG needs a team-mode env with one agent per task (agent i plays task i), "
                "e.g. gridworld_v0.parallel_env(tasks=..., mode='team') or chain_v0"
            )
        self.weights, self.adjacency = communication_weights(
            self.num_agents, graph, weights, seed=graph_seed
        )
        #: Completed iterations of algorithm 1.
        self.iteration = 0
        #: One record per iteration: objective (eq. 5 at the mean parameters), per-task values,
        #: consensus error, gradient norm.
        self.iteration_history: list[dict[str, Any]] = []
        obs_index = np.stack([o[:, 0] for o in self.obs_indices])
        self.dense = DenseModels(self.models, obs_index, np.stack([m.start for m in self.models]))
        mix = {"env": 0.0, "uniform": 1.0}[start] if isinstance(start, str) else start
        live = np.stack([~m.terminal for m in self.models]).astype(np.float64)
        uniform = live / live.sum(axis=1, keepdims=True)
        self._mu = (1.0 - mix) * self.dense.starts + mix * uniform
        if _init_setup_model:
            self._setup_model()

    # ------------------------------------------------------------------ tables

    def _setup_model(self) -> None:
        shape = (self.num_agents, self.n_states, self.n_actions)
        #: Every agent's softmax parameters ``[N, n_states, n_actions]``.
        self.theta = np.zeros(shape)
        if self.init_std > 0:
            self.theta += self.init_std * self.np_random.standard_normal(shape)

    def _tables(self) -> dict[str, np.ndarray]:
        return {"theta": self.theta}

    def _hyperparameters(self) -> dict[str, Any]:
        w = self.weights if hasattr(self, "weights") else None
        return {
            **super()._hyperparameters(),
            "graph": self.graph,
            "gradient": self.gradient,
            "learning_rate_power": self.learning_rate_power,
            "lam": self.lam,
            "start": self.start,
            "init_std": self.init_std,
            "weights": None if w is None else np.asarray(w).tolist(),
            "graph_seed": self.graph_seed,
            "n_iterations": self.n_iterations,
        }

    def _extra_state(self) -> dict[str, Any]:
        return {**super()._extra_state(), "iteration": self.iteration}

    def _set_extra_state(self, state: Any) -> None:
        self.iteration = int(state.get("iteration", 0))

    # ------------------------------------------------------------------ policies

    def policy_table(
        self, agent: int | str, task: int | str | None = None, greedy: bool = False
    ) -> np.ndarray:
        """The agent's softmax policy ``[n_states, n_actions]`` (``task`` is ignored: DCPG's
        policy is shared by all tasks). ``greedy``: its most probable actions."""
        del task
        probs = softmax_policy(self.theta[self.agent_index(agent)])
        return epsilon_greedy_policy(probs, 0.0) if greedy else probs

    def mean_policy(self) -> np.ndarray:
        """The softmax policy of the agents' mean parameters (the consensus point)."""
        return softmax_policy(self.theta.mean(axis=0))

    def _action_probs(
        self, state_index: np.ndarray, task_id: np.ndarray | None, greedy: bool
    ) -> np.ndarray:
        del task_id
        slots = np.arange(self.num_agents)[None, :]
        probs = softmax_policy_rows(self.theta[slots, state_index])
        return epsilon_greedy_policy(probs, 0.0) if greedy else probs

    def step_size(self, iteration: int | None = None) -> float:
        """``alpha_k`` of iteration ``k`` (default: the next one)."""
        k = self.iteration if iteration is None else iteration
        return float(self.learning_rate / (k + 1) ** self.learning_rate_power)

    def objective(self, theta: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """The exact multi-task objective (equation 5) of one shared parameter table.

        Args:
            theta: ``[n_states, n_actions]`` (default: the agents' mean).

        Returns:
            ``(sum over tasks, per-task values [T])`` from each task's start distribution.
        """
        th = self.theta.mean(axis=0) if theta is None else np.asarray(theta, dtype=np.float64)
        stacked = np.broadcast_to(th, self.theta.shape)
        values = self.dense.solve(np.ascontiguousarray(stacked), self.gamma)["value"]
        return float(values.sum()), values

    # ------------------------------------------------------------------ learning

    def learn(
        self: SelfDCPG,
        total_timesteps: int,
        callback: MaybeCallback = None,
        log_interval: int | None = 100,
        tb_log_name: str = "run",
        reset_num_timesteps: bool = True,
        progress_bar: bool = False,
    ) -> SelfDCPG:
        """Run iterations of algorithm 1 until ``n_iterations`` in all or ``total_timesteps``.

        With exact gradients no env is stepped and each iteration counts as one timestep; with
        Monte-Carlo gradients the env steps of the episodes are counted (``B`` per vector step
        while some copy is still in its iteration's episode).

        Args:
            total_timesteps: Budget (see above).
            callback: SB3 callback(s) called after every iteration.
            log_interval: Dump the logs every this many iterations (``None``: never).
            tb_log_name: Name of the log folder under ``tensorboard_log``.
            reset_num_timesteps: Start counting from zero (the parameters are kept).
            progress_bar: Show a progress bar.

        Returns:
            ``self``.
        """
        total, cb = self._setup_learn(
            total_timesteps, callback, reset_num_timesteps, tb_log_name, progress_bar
        )
        cb.on_training_start(locals(), globals())
        while self.num_timesteps < total and (
            self.n_iterations is None or self.iteration < self.n_iterations
        ):
            if self.gradient == "exact":
                grad = exact_gradients(self.dense, self.theta, self.gamma, self.lam, self._mu)
                self.num_timesteps += 1
            else:
                grad = self._monte_carlo_gradients()
            # Equation 9: mix with the neighbours, then each agent's own gradient step.
            alpha = self.step_size()
            self.theta = consensus_step(self.weights, self.theta) + alpha * grad
            self.iteration += 1
            self._record_iteration(grad)
            cb.update_locals(locals())
            if not cb.on_step():
                break
            if log_interval and self.iteration % log_interval == 0:
                self._dump_logs()
        cb.on_training_end()
        return self

    def _record_iteration(self, grad: np.ndarray) -> None:
        total, values = self.objective()
        own = self.dense.solve(self.theta, self.gamma)["value"]
        err = consensus_error(self.theta)
        gnorm = float(np.linalg.norm(grad.mean(axis=0)))
        rec = self.logger.record
        rec("train/iteration", self.iteration)
        rec("train/objective", total)
        rec("train/consensus_error", err)
        rec("train/grad_norm", gnorm)
        for t, v in enumerate(values.tolist()):
            rec(f"train/task/{key_name(self.task_name(t))}/value", v)
        self.iteration_history.append(
            {
                "iteration": self.iteration,
                "timesteps": int(self.num_timesteps),
                "objective": total,
                "task_values": values.tolist(),
                "agent_values": own.tolist(),
                "consensus_error": err,
                "grad_norm": gnorm,
            }
        )

    def _monte_carlo_gradients(self) -> np.ndarray:
        """REINFORCE estimate of every agent's gradient from one fresh episode per env copy."""
        assert self.env is not None
        _obs, info = self.env.reset()
        b, n = self.num_envs, self.num_agents
        probs_all = softmax_policy_rows(self.theta)  # [N, S, A]: fixed during the iteration
        slots = np.arange(n)[None, :]
        collecting = np.asarray(info["agent_mask"]).copy()  # slots still in their episode
        steps_idx, steps_act, steps_rew, steps_live = [], [], [], []
        terminated = np.zeros((b, n), dtype=bool)
        while collecting.any():
            idx = np.asarray(info["state_index"])
            actions = sample_actions(probs_all[slots, idx], self.np_random)
            _obs, rew, term, trunc, info = self.env.step(actions)
            self.num_timesteps += int(collecting.any(axis=1).sum())
            steps_idx.append(idx)
            steps_act.append(actions)
            steps_rew.append(np.where(collecting, np.asarray(rew, dtype=np.float64), 0.0))
            steps_live.append(collecting.copy())
            terminated |= collecting & np.asarray(term)
            collecting &= ~(np.asarray(term) | np.asarray(trunc))
        idx_a = np.stack(steps_idx)  # [L, B, N]
        act_a = np.stack(steps_act)
        rew_a = np.stack(steps_rew)
        live_a = np.stack(steps_live)
        length = idx_a.shape[0]
        # Returns-to-go G_t and the discount gamma^t of each step.
        ret = np.zeros_like(rew_a)
        acc = np.zeros((b, n))
        for t in range(length - 1, -1, -1):
            acc = rew_a[t] + self.gamma * acc
            ret[t] = acc
        weight = (self.gamma ** np.arange(length))[:, None, None] * ret * live_a
        ti, bi, ni = np.nonzero(live_a)
        w = weight[ti, bi, ni]
        s = idx_a[ti, bi, ni]
        grad = np.zeros_like(self.theta)
        # grad log softmax = e_a - pi(.|s)
        np.add.at(grad, (ni, s, act_a[ti, bi, ni]), w)
        np.add.at(grad, (ni, s), -w[:, None] * probs_all[ni, s])
        grad /= b
        if self.lam > 0:
            grad += self.lam / self.n_states * (1.0 / self.n_actions - probs_all)
        self._record_mc_episodes(rew_a, live_a, terminated)
        return grad

    def _record_mc_episodes(
        self, rew_a: np.ndarray, live_a: np.ndarray, terminated: np.ndarray
    ) -> None:
        b, n = rew_a.shape[1:]
        tracker = EpisodeTracker(b, n, self.gamma)
        tracker.restart(np.arange(b), live_a[0])
        for t in range(rew_a.shape[0]):
            tracker.add(rew_a[t])
        tracker.length[:] = live_a.any(axis=2).sum(axis=0)
        self._record_episodes(
            tracker,
            np.arange(b),
            np.zeros(b, dtype=np.int64),
            terminated,
            {"iteration": self.iteration},
        )
